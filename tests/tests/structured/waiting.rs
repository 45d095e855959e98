//! The waiting combinators: `wait` with each `ReturnWhen`, `as_completed`,
//! `shield` and `select`.

use loop_tests::paused;
use loop_tests::Log;
use r#loop as aio;
use r#loop::ReturnWhen;
use std::time::Duration;

#[test]
fn wait_with_each_return_when() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let mk = |secs: u64, fail: bool| {
            aio::spawn(async move {
                aio::sleep(Duration::from_secs(secs)).await;
                if fail {
                    panic!("task {secs} failed");
                }
                secs
            })
        };
        let (done, pending) =
            aio::wait(vec![mk(1, false), mk(5, false)], ReturnWhen::FirstCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        let (done, pending) = aio::wait(pending, ReturnWhen::AllCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 0));
        let (done, pending) =
            aio::wait(vec![mk(1, false), mk(2, true), mk(9, false)], ReturnWhen::FirstException, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (2, 1), "returned at the first failure, not before");
        assert!(done.iter().any(|t| t.is_panicked()));
        assert!(!pending[0].is_cancelled(), "wait never cancels the pending ones");
        let (done, pending) = aio::wait(pending, ReturnWhen::AllCompleted, Some(Duration::from_secs(1))).await.unwrap();
        assert_eq!((done.len(), pending.len()), (0, 1), "the timeout returns what is done so far");
        let empty: Vec<aio::Task<()>> = Vec::new();
        assert!(aio::wait(empty, ReturnWhen::AllCompleted, None).await.is_err());
    });
}

/// CPython 3.13 (checked with its interpreter): `wait(.., FIRST_EXCEPTION)`
/// over a task that finishes in 0.2 s and one cancelled at once returns
/// only when the first finished (done = both, pending = none): a
/// cancelled task is not an exception.
#[test]
fn wait_first_exception_does_not_count_a_cancelled_task() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let slow = aio::spawn(async {
            aio::sleep(Duration::from_millis(200)).await;
            1
        });
        let cancelled = aio::spawn(async {
            aio::sleep(Duration::from_secs(10)).await;
            2
        });
        aio::yield_now().await;
        cancelled.cancel();
        let t0 = aio::get_running_loop().time();
        let (done, pending) = aio::wait(vec![slow, cancelled], ReturnWhen::FirstException, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0), "returned when all finished, not at the cancellation");
        assert_eq!(aio::get_running_loop().time() - t0, Duration::from_millis(200));
        assert!(done.iter().any(|t| t.is_cancelled()));
    });
}

#[test]
fn as_completed_yields_in_completion_order_with_an_overall_timeout() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let tasks = [30u64, 10, 20].map(|ms| {
            aio::spawn(async move {
                aio::sleep(Duration::from_millis(ms)).await;
                ms
            })
        });
        let mut stream = aio::as_completed(tasks);
        let mut order = Vec::new();
        while let Some(r) = stream.next().await {
            order.push(r.unwrap());
        }
        assert_eq!(order, [10, 20, 30]);

        let tasks = [5u64, 50].map(|ms| {
            aio::spawn(async move {
                aio::sleep(Duration::from_millis(ms)).await;
                ms
            })
        });
        let mut stream = aio::as_completed(tasks).timeout(Duration::from_millis(20));
        assert_eq!(stream.next().await, Some(Ok(Ok(5))));
        assert!(matches!(stream.next().await, Some(Err(_))), "then the timeout");
        assert_eq!(stream.next().await, None);
        assert_eq!(stream.into_pending().len(), 1, "the slow task is still there, running");
    });
}

/// CPython `test_tasks.test_as_completed_same_tasks_in_as_out` (3.13's
/// async-iterator form): the tasks given come back themselves as they
/// finish, so the caller can tell which one it was; with a timeout, the
/// finished ones come back, then `TimeoutError` once, and the rest stay
/// pending (`test_as_completed_with_timeout`).
#[test]
fn as_completed_tasks_gives_back_the_tasks_themselves() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let tasks: Vec<_> = [30u64, 10, 20].map(|ms| aio::spawn(aio::sleep(Duration::from_millis(ms)))).into();
        let ids: Vec<_> = tasks.iter().map(|t| t.id()).collect();
        let mut finished = aio::as_completed(tasks).tasks();
        let mut order = Vec::new();
        while let Some(task) = finished.next().await {
            assert!(task.is_done(), "yielded once finished");
            order.push(task.id());
            assert_eq!(task.await, Ok(()), "its result is there at once");
        }
        assert_eq!(order, [ids[1], ids[2], ids[0]]);

        let tasks = [5u64, 50].map(|ms| {
            aio::spawn(async move {
                aio::sleep(Duration::from_millis(ms)).await;
                ms
            })
        });
        let fast = tasks[0].id();
        let mut finished = aio::as_completed(tasks).timeout(Duration::from_millis(20)).tasks();
        let first = finished.next().await.expect("one").expect("before the timeout");
        assert_eq!(first.id(), fast);
        assert!(matches!(finished.next().await, Some(Err(_))), "then the timeout");
        assert!(finished.next().await.is_none());
        let mut pending = finished.into_pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending.pop().unwrap().await, Ok(50), "the slow one ran on");
    });
}

#[test]
fn shield_survives_the_awaiters_cancellation() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let mut task = aio::spawn(async {
            aio::sleep(Duration::from_secs(2)).await;
            "done"
        });
        let r = aio::wait_for(aio::shield(&mut task), Duration::from_secs(1)).await;
        assert!(r.is_err(), "the awaiter timed out and was dropped");
        assert!(!task.is_cancelled());
        assert_eq!(task.await, Ok("done"), "the result is still reachable");
    });
}

#[test]
fn select_takes_the_first_ready_branch_and_drops_the_others() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let log = Log::new();
    let l = log.clone();
    let out = ev.run_until_complete(async move {
        let l2 = l.clone();
        aio::select! {
            v = async move {
                struct Dropped(Log);
                impl Drop for Dropped {
                    fn drop(&mut self) {
                        self.0.push("loser dropped");
                    }
                }
                let _d = Dropped(l2);
                aio::sleep(Duration::from_secs(10)).await;
                1
            } => v,
            v = async { aio::sleep(Duration::from_secs(1)).await; 2 } => v * 10,
        }
    });
    assert_eq!(out, 20);
    assert_eq!(log.entries(), ["loser dropped"]);
    // Biased: when both are ready, the first branch wins.
    let first = aio::run(async {
        aio::select! {
            a = async { "a" } => a,
            b = async { "b" } => b,
        }
    });
    assert_eq!(first, "a");
}

/// asyncio's `test_wait_really_done`: with `FirstCompleted`, the done set
/// is computed when the waiter resumes, so a task that finished in the
/// meantime is in it too.
#[test]
fn wait_first_completed_reports_every_task_done_by_the_time_it_resumes() {
    let _watchdog = loop_tests::watchdog();
    for waiter_is_a_task in [false, true] {
        aio::run(async move {
            let body = async {
                let a = aio::spawn(async {
                    aio::yield_now().await;
                    1
                });
                let b = aio::spawn(async {
                    aio::yield_now().await;
                    aio::yield_now().await;
                    2
                });
                let (done, pending) = aio::wait(vec![a, b], ReturnWhen::FirstCompleted, None).await.unwrap();
                (done.len(), pending.len())
            };
            let counts = if waiter_is_a_task { aio::spawn(body).await.unwrap() } else { body.await };
            assert_eq!(counts, (2, 0), "waiter polled as a task: {waiter_is_a_task}");
        });
    }
}
