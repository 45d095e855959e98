//! Cancellation and panics.

use loop_tests::{DropFlag, Log};
use r#loop as aio;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[test]
fn cancel_before_first_poll_never_runs_the_future() {
    let _watchdog = loop_tests::watchdog();
    let ran = Rc::new(Cell::new(false));
    let dropped = Rc::new(Cell::new(false));
    let (r, d) = (ran.clone(), dropped.clone());
    let out = aio::run(async move {
        let guard = DropFlag(d);
        let task = aio::spawn(async move {
            let _guard = guard;
            r.set(true);
        });
        assert!(task.cancel());
        assert!(task.cancel_requested());
        assert!(!task.is_cancelled(), "not ended yet: cancelled() means ended cancelled, as in asyncio");
        task.await
    });
    assert_eq!(out, Err(aio::TaskError::Cancelled));
    assert!(!ran.get());
    assert!(dropped.get(), "the future's captures were dropped");
}

#[test]
fn cancel_while_pending_drops_the_future_and_runs_destructors() {
    let _watchdog = loop_tests::watchdog();
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    let out = ev.run_until_complete(async move {
        let task = aio::spawn(async move {
            let _guard = DropFlag(d);
            aio::sleep(Duration::from_secs(3600)).await;
            "finished"
        });
        aio::sleep(Duration::from_millis(1)).await; // let it start and block
        assert!(!task.is_done());
        assert!(task.cancel());
        task.await
    });
    assert_eq!(out, Err(aio::TaskError::Cancelled));
    assert!(dropped.get());
    assert_eq!(ev.stats().timers_pending, 0, "the sleep's timer was removed");
}

#[test]
fn cancel_after_completion_returns_false_and_keeps_the_result() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(async {
        let task = aio::spawn(async { 5 });
        aio::yield_now().await;
        assert!(task.is_done());
        assert!(!task.cancel());
        assert!(!task.is_cancelled());
        task.await
    });
    assert_eq!(out, Ok(5));
}

#[test]
fn a_panicking_task_is_isolated() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(async {
        let bad = aio::spawn(async {
            panic!("task exploded");
        });
        let good = aio::spawn(async { 1 });
        (bad.await, good.await)
    });
    assert_eq!(out.0, Err(aio::TaskError::Panicked("task exploded".into())));
    assert_eq!(out.1, Ok(1));
}

#[test]
fn a_panic_nobody_awaits_goes_to_the_exception_handler_with_the_task_name() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let seen = Log::new();
    let s = seen.clone();
    ev.set_exception_handler(move |ctx| {
        s.push(format!("{} / {:?}", ctx.message, ctx.task_name));
    });
    ev.run_until_complete(async {
        aio::TaskBuilder::new().name("doomed").spawn(async { panic!("nobody listens") }).detach();
        aio::yield_now().await;
        aio::yield_now().await;
    });
    assert_eq!(seen.entries(), ["panic in a task nobody awaited: nobody listens / Some(\"doomed\")"]);
}

#[test]
fn a_destructor_that_panics_during_cancellation_ends_the_task_panicked() {
    let _watchdog = loop_tests::watchdog();
    struct Boom;
    impl Drop for Boom {
        fn drop(&mut self) {
            panic!("cleanup failed");
        }
    }
    let out = aio::run(async {
        let t = aio::spawn(async {
            let _guard = Boom;
            std::future::pending::<()>().await
        });
        aio::yield_now().await;
        assert!(t.cancel());
        let result = t.await;
        (result, aio::spawn(async { 5 }).await)
    });
    // Reported, not swallowed; and the loop goes on.
    assert_eq!(out, (Err(aio::TaskError::Panicked("cleanup failed".into())), Ok(5)));
}

#[test]
fn a_panicking_callback_is_reported_and_the_loop_goes_on() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let seen = Log::new();
    let s = seen.clone();
    ev.set_exception_handler(move |ctx| s.push(ctx.message.clone()));
    ev.call_soon(|| panic!("callback exploded"));
    let out = ev.run_until_complete(async { 3 });
    let out2 = ev.run_until_complete(async {
        aio::yield_now().await;
        4
    });
    assert_eq!((out, out2), (3, 4));
    assert_eq!(seen.entries(), ["panic in a callback: callback exploded"]);
}

#[test]
fn dropping_a_task_detaches_it() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    ev.run_until_complete(async move {
        let l2 = l.clone();
        drop(aio::spawn(async move {
            aio::sleep(Duration::from_secs(1)).await;
            l2.push("detached task finished");
        }));
        aio::sleep(Duration::from_secs(2)).await;
    });
    assert_eq!(log.entries(), ["detached task finished"]);
}

#[test]
fn closing_the_loop_cancels_leftover_tasks_and_drops_them_here() {
    let _watchdog = loop_tests::watchdog();
    let dropped = Rc::new(Cell::new(0));
    let ev = aio::EventLoop::new().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let d = dropped.clone();
        tasks.push(ev.spawn(async move {
            struct Count(Rc<Cell<i32>>);
            impl Drop for Count {
                fn drop(&mut self) {
                    self.0.set(self.0.get() + 1);
                }
            }
            let _c = Count(d);
            std::future::pending::<()>().await;
        }));
    }
    ev.run_until_complete(aio::yield_now());
    ev.close();
    assert!(ev.is_closed());
    assert_eq!(dropped.get(), 10);
    // The handles see the cancellation (polled by hand: the loop is closed).
    let mut cx = Context::from_waker(Waker::noop());
    for mut t in tasks {
        assert!(t.is_done());
        assert_eq!(Pin::new(&mut t).poll(&mut cx), Poll::Ready(Err(aio::TaskError::Cancelled)));
    }
}
