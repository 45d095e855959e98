//! Cancellation travels through `await` (asyncio: cancelling a task
//! cancels what it awaits), and `is_cancelled` means "ended cancelled".
//! Written from asyncio's documentation of `Task.cancel`, `wait_for` and
//! `shield`, and CPython's `test_tasks.py` (`test_cancel_at_end`,
//! `test_wait_for` cancelling the inner task, `test_shield`).

use loop_tests::{drop_flag, paused};
use r#loop as aio;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

#[test]
fn wait_for_a_task_that_times_out_cancels_the_task() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let (dropped, guard) = drop_flag();
        let task = aio::spawn(async move {
            let _guard = guard;
            aio::sleep(Duration::from_secs(3600)).await;
        });
        let r = aio::wait_for(task, Duration::from_millis(10)).await;
        assert!(r.is_err());
        aio::yield_now().await;
        assert!(dropped.get(), "the task was cancelled: its future dropped");
        assert!(aio::all_tasks().is_empty());
    });
}

#[test]
fn a_cancelled_parent_awaiting_a_child_cancels_the_child() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let (child_dropped, guard) = drop_flag();
        let parent = aio::spawn(async move {
            let child = aio::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            child.await
        });
        aio::yield_now().await;
        aio::yield_now().await;
        assert_eq!(aio::all_tasks().len(), 2);
        assert!(parent.cancel());
        assert_eq!(parent.await, Err(aio::TaskError::Cancelled));
        aio::yield_now().await;
        assert!(child_dropped.get(), "the child went with its awaiting parent");
        assert!(aio::all_tasks().is_empty());
    });
}

#[test]
fn a_handle_never_awaited_and_dropped_detaches() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        drop(aio::spawn(async move {
            aio::sleep(Duration::from_millis(5)).await;
            d.set(true);
        }));
        aio::sleep(Duration::from_millis(10)).await;
        assert!(done.get(), "a dropped, never-awaited handle leaves its task running");
    });
}

#[test]
fn shield_and_detach_are_the_opt_outs() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        // shield: the wait times out, the task runs on and finishes.
        let mut task = aio::spawn(async {
            aio::sleep(Duration::from_millis(20)).await;
            7
        });
        assert!(aio::wait_for(aio::shield(&mut task), Duration::from_millis(5)).await.is_err());
        assert!(!task.is_done() && !task.cancel_requested());
        assert_eq!(task.await, Ok(7));

        // detach: awaited (through &mut), timed out, then let go on purpose.
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let mut task = aio::spawn(async move {
            aio::sleep(Duration::from_millis(20)).await;
            d.set(true);
        });
        assert!(aio::wait_for(&mut task, Duration::from_millis(5)).await.is_err());
        task.detach();
        aio::sleep(Duration::from_millis(30)).await;
        assert!(done.get(), "a detached task runs on");

        // Without the opt-out, dropping the awaited handle cancels.
        let (dropped, guard) = drop_flag();
        let mut task = aio::spawn(async move {
            let _guard = guard;
            aio::sleep(Duration::from_millis(20)).await;
        });
        assert!(aio::wait_for(&mut task, Duration::from_millis(5)).await.is_err());
        drop(task);
        aio::yield_now().await;
        assert!(dropped.get());
    });
}

#[test]
fn gather_of_tasks_that_times_out_cancels_them_all() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let (a_dropped, ga) = drop_flag();
        let (b_dropped, gb) = drop_flag();
        let a = aio::spawn(async move {
            let _g = ga;
            aio::sleep(Duration::from_secs(60)).await;
        });
        let b = aio::spawn(async move {
            let _g = gb;
            aio::sleep(Duration::from_secs(60)).await;
        });
        assert!(aio::wait_for(aio::gather(vec![a, b]), Duration::from_secs(1)).await.is_err());
        aio::yield_now().await;
        assert!(a_dropped.get() && b_dropped.get());
    });
}

/// CPython's `test_cancel_at_end`: a task that requests its own
/// cancellation and returns without another await point ends cancelled.
#[test]
fn a_task_cancelled_in_its_last_poll_ends_cancelled_not_with_its_value() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let me: Rc<RefCell<Option<aio::Task<i32>>>> = Rc::default();
        let m = me.clone();
        let task = aio::spawn(async move {
            let cancelled = m.borrow().as_ref().expect("the handle is there").cancel();
            assert!(cancelled);
            12
        });
        *me.borrow_mut() = Some(task);
        aio::yield_now().await;
        let task = me.borrow_mut().take().unwrap();
        assert!(task.is_done());
        assert!(task.is_cancelled(), "ended cancelled");
        assert!(!task.cancel(), "a finished task cannot be cancelled again");
        assert_eq!(task.await, Err(aio::TaskError::Cancelled));
    });
}

#[test]
fn is_cancelled_is_never_true_for_a_task_that_returned_ok() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let task = aio::spawn(async { 5 });
        aio::yield_now().await;
        assert!(task.is_done());
        assert!(!task.cancel(), "already finished");
        assert!(!task.is_cancelled() && !task.cancel_requested());
        assert_eq!(task.await, Ok(5));
        // Requested, then ended: cancelled.
        let task = aio::spawn(std::future::pending::<()>());
        assert!(task.cancel());
        assert!(task.cancel_requested() && !task.is_cancelled());
        aio::yield_now().await;
        assert!(task.is_cancelled());
    });
}
