//! Structured concurrency, waiting combinators and seeing into the loop.

use loop_tests::paused;
use loop_tests::Log;
use r#loop as aio;
use r#loop::{ChildError, ReturnWhen, TaskGroup, TimeoutScope};
use std::time::Duration;

#[test]
fn a_failing_child_cancels_its_siblings_and_every_error_is_reported() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let log = Log::new();
    let l = log.clone();
    let t0 = ev.time();
    let out = ev.run_until_complete(async move {
        let group: TaskGroup<u32, String> = TaskGroup::new();
        let l2 = l.clone();
        group
            .spawn(async move {
                struct Dropped(Log);
                impl Drop for Dropped {
                    fn drop(&mut self) {
                        self.0.push("sibling cancelled");
                    }
                }
                let _d = Dropped(l2);
                aio::sleep(Duration::from_secs(3600)).await;
                Ok(0)
            })
            .unwrap();
        group.spawn(async { Err("first".to_string()) }).unwrap();
        group.spawn(async { Err("second".to_string()) }).unwrap();
        group.spawn(async { panic!("third") }).unwrap();
        group.join().await
    });
    // The first failure cancels everything still pending — including the
    // two later failing children, which had not started yet (as in asyncio,
    // a child cancelled before it ran reports nothing).
    let errors = out.unwrap_err().errors;
    assert_eq!(errors, [ChildError::Failed("first".to_string())]);
    assert_eq!(log.entries(), ["sibling cancelled"]);
    assert!(ev.time() - t0 < Duration::from_secs(1), "did not wait for the cancelled sibling");
}

#[test]
fn a_sibling_that_fails_while_being_cancelled_is_reported_too() {
    let _watchdog = loop_tests::watchdog();
    struct FailingCleanup;
    impl Drop for FailingCleanup {
        fn drop(&mut self) {
            panic!("cleanup of b failed");
        }
    }
    let ev = paused();
    let out = ev.run_until_complete(async {
        let group: TaskGroup<(), String> = TaskGroup::new();
        group
            .spawn(async {
                let _cleanup = FailingCleanup;
                aio::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .unwrap();
        group
            .spawn(async {
                aio::sleep(Duration::from_secs(1)).await;
                Err("a".to_string())
            })
            .unwrap();
        group
            .spawn(async {
                aio::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .unwrap();
        group.join().await
    });
    // asyncio's ExceptionGroup holds the error and the one raised while
    // handling the cancellation; so does the group's result.
    let mut errors = out.unwrap_err().errors;
    errors.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(errors, [ChildError::Failed("a".to_string()), ChildError::Panicked("cleanup of b failed".to_string())]);
}

#[test]
fn the_first_failure_is_reported_first() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let out = ev.run_until_complete(async {
        let group: TaskGroup<(), String> = TaskGroup::new();
        // Both would fail in their first poll; the first to run wins and
        // cancels the other before it starts.
        group.spawn(async { Err("a".to_string()) }).unwrap();
        group.spawn(async { panic!("b") }).unwrap();
        aio::yield_now().await;
        aio::yield_now().await;
        group.join().await
    });
    let errors = out.unwrap_err().errors;
    assert!(!errors.is_empty());
    assert_eq!(errors[0], ChildError::Failed("a".to_string()));
}

#[test]
fn a_successful_group_returns_values_in_spawn_order_and_nests() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let out = ev.run_until_complete(async {
        let outer: TaskGroup<Vec<u64>, ()> = TaskGroup::new();
        for base in [10u64, 20] {
            outer
                .spawn(async move {
                    let inner: TaskGroup<u64, ()> = TaskGroup::new();
                    for i in 0..3 {
                        inner
                            .spawn(async move {
                                aio::sleep(Duration::from_millis(30 - i * 10)).await;
                                Ok(base + i)
                            })
                            .unwrap();
                    }
                    inner.join().await.map_err(|_| ())
                })
                .unwrap();
        }
        outer.join().await
    });
    assert_eq!(out, Ok(vec![vec![10, 11, 12], vec![20, 21, 22]]));
}

#[test]
fn dropping_a_group_cancels_its_children() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let log = Log::new();
    let l = log.clone();
    ev.run_until_complete(async move {
        let group: TaskGroup<(), ()> = TaskGroup::new();
        let l2 = l.clone();
        group
            .spawn(async move {
                aio::sleep(Duration::from_secs(1)).await;
                l2.push("child finished");
                Ok(())
            })
            .unwrap();
        drop(group);
        aio::sleep(Duration::from_secs(2)).await;
    });
    assert!(log.entries().is_empty(), "the child did not outlive its group");
}

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

/// asyncio's `timeout(None)`, `reschedule(None)` and the state errors,
/// as CPython 3.13 behaves: no deadline, then one; a deadline removed; a
/// reschedule after expiry and a second entry refused.
#[test]
fn a_timeout_scope_may_have_no_deadline_and_get_or_lose_one() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let t0 = aio::get_running_loop().time();
        // None: the block runs as long as it takes.
        let scope = TimeoutScope::never();
        assert_eq!(scope.deadline(), None);
        assert_eq!(
            scope
                .run(async {
                    aio::sleep(Duration::from_secs(3600)).await;
                    7
                })
                .await,
            Ok(7)
        );
        assert_eq!(aio::get_running_loop().time() - t0, Duration::from_secs(3600));
        // None, then a deadline: it expires then.
        let scope = TimeoutScope::never();
        let s = scope.clone();
        let t1 = aio::get_running_loop().time();
        let r = scope
            .run(async move {
                s.reschedule(aio::get_running_loop().time() + Duration::from_secs(2));
                aio::sleep(Duration::from_secs(60)).await;
            })
            .await;
        assert!(r.is_err() && scope.expired());
        assert_eq!(aio::get_running_loop().time() - t1, Duration::from_secs(2));
        // A deadline, removed while it runs: no expiry.
        let scope = TimeoutScope::after(Duration::from_millis(10));
        let s = scope.clone();
        let r = scope
            .run(async move {
                s.reschedule(None);
                aio::sleep(Duration::from_millis(50)).await;
            })
            .await;
        assert!(r.is_ok() && !scope.expired() && scope.deadline().is_none());
    });
}

#[test]
#[should_panic(expected = "TimeoutScope::reschedule on a scope that has expired")]
fn rescheduling_an_expired_timeout_scope_panics() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let scope = TimeoutScope::after(Duration::from_millis(10));
        assert!(scope.run(aio::sleep(Duration::from_secs(1))).await.is_err());
        scope.reschedule(None);
    });
}

#[test]
#[should_panic(expected = "TimeoutScope::run called twice on one scope")]
fn running_a_timeout_scope_twice_panics() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let scope = TimeoutScope::after(Duration::from_secs(1));
        assert_eq!(scope.run(async { 1 }).await, Ok(1));
        let _ = scope.clone().run(async { 2 }).await;
    });
}

#[test]
fn timeout_scopes_reschedule_and_only_the_expired_one_reports() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        // Moved later while running: finishes.
        let scope = TimeoutScope::after(Duration::from_secs(1));
        let s = scope.clone();
        let r = scope
            .run(async move {
                s.reschedule(s.deadline().unwrap() + Duration::from_secs(10));
                aio::sleep(Duration::from_secs(5)).await;
            })
            .await;
        assert!(r.is_ok());
        // Nested: the inner one expires, the outer does not.
        let outer = TimeoutScope::after(Duration::from_secs(10));
        let r = outer
            .run(async {
                let inner = TimeoutScope::after(Duration::from_secs(1));
                inner.run(aio::sleep(Duration::from_secs(5))).await
            })
            .await;
        assert!(matches!(r, Ok(Err(_))), "only the inner scope timed out");
        // Moved earlier: expires sooner.
        let t0 = aio::get_running_loop().time();
        let scope = TimeoutScope::after(Duration::from_secs(100));
        let s = scope.clone();
        let r = scope
            .run(async move {
                s.reschedule(aio::get_running_loop().time() + Duration::from_secs(2));
                aio::sleep(Duration::from_secs(50)).await;
            })
            .await;
        assert!(r.is_err());
        assert_eq!(aio::get_running_loop().time() - t0, Duration::from_secs(2));
    });
}

#[test]
fn a_blocking_poll_is_reported_with_the_task_name_and_location() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().debug(true).slow_callback_duration(Duration::from_millis(20)).build().unwrap();
    let seen = Log::new();
    let s = seen.clone();
    ev.set_exception_handler(move |ctx| {
        s.push(format!("{} | {:?} | {}", ctx.message, ctx.task_name, ctx.location.map(|l| l.file()).unwrap_or("")))
    });
    ev.run_until_complete(async {
        let t = aio::TaskBuilder::new().name("blocker").spawn(async {
            std::thread::sleep(Duration::from_millis(40)); // blocks the loop on purpose
            aio::sleep(Duration::from_millis(1)).await;
        });
        t.await.unwrap();
    });
    let entries = seen.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("slow poll"), "{entries:?}");
    // Where the slow poll ended up waiting: right after the blocking code.
    let then = format!("it then waited on sleep at {}:{}", file!(), line!() - 8);
    assert!(entries[0].contains(&then), "{entries:?}");
    assert!(entries[0].contains("Some(\"blocker\")"), "{entries:?}");
    assert!(entries[0].ends_with("structured.rs"), "{entries:?}");
}

#[test]
fn tasks_show_what_they_wait_on_and_where() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let sem = std::rc::Rc::new(r#loop::sync::Semaphore::new(0));
        let s = sem.clone();
        let waiter = aio::TaskBuilder::new().name("fetch-3").spawn(async move {
            let (line, acquire) = (line!(), s.acquire());
            let _p = acquire.await;
            line
        });
        let sleeper = aio::spawn(aio::sleep(Duration::from_secs(60)));
        aio::sleep(Duration::from_millis(1300)).await;
        let tasks = aio::all_tasks();
        let w = tasks.iter().find(|t| t.id == waiter.id()).unwrap().waiting.unwrap();
        assert_eq!(w.kind, r#loop::sync::WaitKind::Semaphore);
        assert!(w.location.file().ends_with("structured.rs"));
        assert_eq!(w.waited, Duration::from_millis(1300));
        let z = tasks.iter().find(|t| t.id == sleeper.id()).unwrap().waiting.unwrap();
        assert_eq!(z.kind, r#loop::sync::WaitKind::Sleep);
        let dump = aio::dump_tasks();
        assert!(dump.contains("`fetch-3` spawned at"), "{dump}");
        assert!(dump.contains("waiting on Semaphore::acquire at"), "{dump}");
        sem.release(1);
        let line = waiter.await.unwrap();
        assert_eq!(w.location.line(), line);
        sleeper.cancel();
    });
}

#[test]
fn dump_tasks_lists_what_is_alive() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let t = aio::TaskBuilder::new().name("fetch-3").spawn(aio::sleep(Duration::from_secs(60)));
        aio::yield_now().await;
        let dump = aio::dump_tasks();
        assert!(dump.starts_with("1 task(s) alive"), "{dump}");
        assert!(dump.contains("`fetch-3` spawned at"), "{dump}");
        assert!(dump.contains("structured.rs"), "{dump}");
        t.cancel();
    });
}

#[test]
fn many_tasks_come_back_in_completion_order_from_as_completed_wait_and_groups() {
    let _watchdog = loop_tests::watchdog();
    // Thousands of tasks finishing one by one: every result arrives, in
    // order, and the combinators look only at the tasks that woke them.
    let n = 3_000u64;
    let ev = paused();
    ev.run_until_complete(async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                aio::spawn(async move {
                    aio::sleep(Duration::from_millis((i * 7919) % n)).await;
                    (i * 7919) % n
                })
            })
            .collect();
        let mut order = Vec::new();
        let mut results = aio::as_completed(tasks);
        while let Some(r) = results.next().await {
            order.push(r.unwrap());
        }
        assert_eq!(order, (0..n).collect::<Vec<_>>());

        let tasks: Vec<_> = (0..n).map(|i| aio::spawn(aio::sleep(Duration::from_millis(1 + (i * 7919) % n)))).collect();
        let (done, pending) = aio::wait(tasks, ReturnWhen::FirstCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, n as usize - 1));
        let (done, pending) = aio::wait(pending, ReturnWhen::AllCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (n as usize - 1, 0));

        let group: TaskGroup<u64, ()> = TaskGroup::new();
        for i in 0..n {
            group
                .spawn(async move {
                    aio::sleep(Duration::from_millis((i * 7919) % n)).await;
                    Ok(i)
                })
                .unwrap();
        }
        assert_eq!(group.join().await, Ok((0..n).collect()));
    });
}

#[test]
fn tasks_finishing_in_one_turn_all_come_out_of_as_completed() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let gate = std::rc::Rc::new(aio::sync::Event::new());
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let g = gate.clone();
                aio::spawn(async move {
                    g.wait().await;
                    i
                })
            })
            .collect();
        let mut results = aio::as_completed(tasks);
        aio::yield_now().await;
        gate.set();
        let mut got = Vec::new();
        while let Some(r) = results.next().await {
            got.push(r.unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4]);
    });
}

/// A tiny deterministic generator for the randomized test below.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn randomized_mixes_of_gather_wait_groups_and_timeouts_always_finish() {
    let _watchdog = loop_tests::watchdog();
    // Nested combinators over sleeping tasks, with timeouts and
    // cancellations at random, under the paused clock: every run must
    // finish (no lost wake-up), with the right count, and leave no task.
    // Each seed also permutes the order ready tasks run in (seeded
    // scheduling), which no result may depend on.
    aio::check_seeds(0..200, |seed| async move {
        {
            let mut rng = Lcg(seed);
            let n = 5 + rng.below(40) as usize;
            let delays: Vec<u64> = (0..n).map(|_| rng.below(50)).collect();
            let deadline = rng.below(60);
            // At equal deadlines the inner future is polled first and wins.
            let expected = delays.iter().filter(|&&d| d <= deadline).count();
            // gather of wait_for'ed sleeps: those past the deadline time out.
            let gathered = aio::gather(
                delays
                    .iter()
                    .map(|&d| aio::wait_for(aio::sleep(Duration::from_millis(d)), Duration::from_millis(deadline))),
            )
            .await;
            let on_time = gathered.iter().filter(|r| r.is_ok()).count();
            assert_eq!(on_time, expected, "seed {seed}");
            // as_completed over tasks, some cancelled before they finish.
            let tasks: Vec<_> = delays.iter().map(|&d| aio::spawn(aio::sleep(Duration::from_millis(d)))).collect();
            let cancel = rng.below(n as u64) as usize;
            for t in tasks.iter().take(cancel) {
                t.cancel();
            }
            let mut done = 0;
            let mut results = aio::as_completed(tasks);
            while let Some(r) = results.next().await {
                done += usize::from(r.is_ok());
            }
            assert!(done >= n - cancel, "seed {seed}: {done} of {n} with {cancel} cancelled");
            // a group whose children sleep, one failing at a random time.
            let group: TaskGroup<(), u64> = TaskGroup::new();
            let failing = rng.below(n as u64);
            for (i, &d) in delays.iter().enumerate() {
                group
                    .spawn(async move {
                        aio::sleep(Duration::from_millis(d)).await;
                        if i as u64 == failing {
                            Err(d)
                        } else {
                            Ok(())
                        }
                    })
                    .unwrap();
            }
            let errors = group.join().await.unwrap_err().errors;
            assert!(!errors.is_empty(), "seed {seed}");
            assert_eq!(aio::all_tasks().len(), 0, "seed {seed}: tasks left behind");
        }
    });
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

/// asyncio's `test_nested_timeouts`: an outer and an inner scope expiring
/// at the same instant; only the outermost reports `TimeoutError`, the inner
/// block is dropped with it, and both say `expired()`.
#[test]
fn nested_scopes_expiring_together_report_the_timeout_once_at_the_outermost() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        let deadline = aio::get_running_loop().time() + Duration::from_millis(10);
        let (outer, inner) = (TimeoutScope::at(deadline), TimeoutScope::at(deadline));
        let inner_returned = std::rc::Rc::new(std::cell::Cell::new(false));
        let dropped = std::rc::Rc::new(std::cell::Cell::new(false));
        let (i2, r2, d2) = (inner.clone(), inner_returned.clone(), dropped.clone());
        let result = outer
            .run(async move {
                let _flag = loop_tests::DropFlag(d2);
                let r = i2.run(aio::sleep(Duration::from_secs(10))).await;
                r2.set(true);
                r
            })
            .await;
        assert!(result.is_err(), "the outer scope reports the timeout");
        assert!(!inner_returned.get(), "the inner scope did not report it: its block was dropped");
        assert!(dropped.get());
        assert!(outer.expired() && inner.expired());
        // Independent deadlines: each scope reports only its own expiry.
        let now = aio::get_running_loop().time();
        let (outer, inner) =
            (TimeoutScope::at(now + Duration::from_secs(5)), TimeoutScope::at(now + Duration::from_secs(1)));
        let i2 = inner.clone();
        let r = outer.run(async move { i2.run(aio::sleep(Duration::from_secs(3))).await }).await;
        assert!(matches!(r, Ok(Err(aio::TimeoutError { .. }))), "the inner scope reports its own expiry");
        assert!(inner.expired() && !outer.expired());
        let now = aio::get_running_loop().time();
        let (outer, inner) =
            (TimeoutScope::at(now + Duration::from_secs(1)), TimeoutScope::at(now + Duration::from_secs(5)));
        let i2 = inner.clone();
        let r = outer.run(async move { i2.run(aio::sleep(Duration::from_secs(3))).await }).await;
        assert!(r.is_err());
        assert!(outer.expired() && !inner.expired(), "the inner deadline had not passed");
    });
}
