//! `TaskGroup`: a failing child cancels its siblings, every error is
//! reported, values come back in spawn order, and dropping a group cancels
//! its children.

use loop_tests::paused;
use loop_tests::Log;
use r#loop as aio;
use r#loop::{ChildError, TaskGroup};
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
