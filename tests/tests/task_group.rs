//! The scoped `TaskGroup` (asyncio's `async with TaskGroup() as tg:`),
//! from CPython's `test_taskgroups.py`: a failing child cancels its
//! siblings and the body (`test_taskgroup_03/04`, `test_children_cancel_on_error`),
//! children spawn grandchildren into the group, and the group returns only
//! once every descendant's future is gone.

use loop_tests::{drop_flag, paused};
use r#loop as aio;
use r#loop::{ChildError, GroupClosed, TaskGroup};
use std::time::Duration;

#[test]
fn a_failing_child_cancels_the_body_running_inside_the_group_and_its_siblings() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let t0 = ev.time();
    let (body_dropped, body_guard) = drop_flag();
    let (sibling_dropped, sibling_guard) = drop_flag();
    let (bd, sd) = (body_dropped.clone(), sibling_dropped.clone());
    let out = ev.run_until_complete(async move {
        let out = TaskGroup::<(), &str>::run(|tg| async move {
            let _guard = body_guard;
            tg.spawn(async move {
                let _g = sibling_guard;
                aio::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .unwrap();
            tg.spawn(async {
                aio::sleep(Duration::from_millis(10)).await;
                Err("boom")
            })
            .unwrap();
            aio::sleep(Duration::from_secs(3600)).await;
            "the body finished"
        })
        .await;
        // When the group returns, every descendant's future is gone.
        assert!(bd.get() && sd.get(), "body and sibling dropped before the group returned");
        out
    });
    assert_eq!(out.unwrap_err().errors, [ChildError::Failed("boom")]);
    assert!(body_dropped.get() && sibling_dropped.get());
    assert_eq!(ev.time() - t0, Duration::from_millis(10), "cancelled at the failure, not an hour later");
}

#[test]
fn children_spawn_grandchildren_into_the_group_and_the_group_waits_for_them() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let out = TaskGroup::<u32, ()>::run(|tg| async move {
            let h = tg.clone();
            tg.spawn(async move {
                let h2 = h.clone();
                h.spawn(async move {
                    aio::sleep(Duration::from_millis(50)).await;
                    // A great-grandchild, spawned while the group is joining.
                    h2.spawn(async { Ok(4) }).unwrap();
                    Ok(3)
                })
                .unwrap();
                Ok(2)
            })
            .unwrap();
            1
        })
        .await;
        let (body, mut values) = out.unwrap();
        values.sort();
        assert_eq!((body, values), (1, vec![2, 3, 4]));
    });
}

#[test]
fn a_failing_grandchild_cancels_the_whole_group_and_join_returns_after_every_future_is_dropped() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let group: TaskGroup<(), &str> = TaskGroup::new();
        let handle = group.handle();
        let (f0, g0) = drop_flag();
        let (f1, g1) = drop_flag();
        let (f2, g2) = drop_flag();
        group
            .spawn(async move {
                let _g = g0;
                handle
                    .spawn(async move {
                        let _g = g1;
                        aio::sleep(Duration::from_millis(5)).await;
                        Err("grandchild failed")
                    })
                    .unwrap();
                aio::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .unwrap();
        group
            .spawn(async move {
                let _g = g2;
                aio::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .unwrap();
        let handle = group.handle();
        let errors = group.join().await.unwrap_err().errors;
        assert_eq!(errors, [ChildError::Failed("grandchild failed")]);
        assert!(f0.get() && f1.get() && f2.get(), "every descendant's future was dropped when join returned");
        assert_eq!(handle.spawn(async { Ok(()) }).unwrap_err(), GroupClosed, "a finished group takes no children");
        assert!(aio::all_tasks().is_empty());
    });
}

#[test]
fn a_timed_out_scoped_group_cancels_its_children() {
    let _watchdog = loop_tests::watchdog();
    paused().run_until_complete(async {
        let (child_dropped, guard) = drop_flag();
        let r = aio::wait_for(
            TaskGroup::<(), ()>::run(|tg| async move {
                tg.spawn(async move {
                    let _g = guard;
                    aio::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                })
                .unwrap();
            }),
            Duration::from_millis(10),
        )
        .await;
        assert!(r.is_err());
        aio::yield_now().await;
        assert!(child_dropped.get(), "dropping the group cancelled its child");
    });
}

/// asyncio's `tg.create_task` returns the task: one child can be cancelled
/// or waited for on its own, and a cancelled child is not a failure.
#[test]
fn spawn_returns_a_handle_to_cancel_or_wait_for_one_child() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let t0 = ev.time();
    ev.run_until_complete(async {
        let group: TaskGroup<u32, ()> = TaskGroup::new();
        let (slow_dropped, guard) = drop_flag();
        let slow = group
            .spawn(async move {
                let _g = guard;
                aio::sleep(Duration::from_secs(60)).await;
                Ok(1)
            })
            .unwrap();
        let fast = group
            .spawn(async {
                aio::sleep(Duration::from_secs(1)).await;
                Ok(2)
            })
            .unwrap();
        assert!(!fast.is_done());
        fast.finished().await;
        assert!(fast.is_done() && !fast.cancel(), "a finished child cannot be cancelled");
        assert!(slow.cancel());
        slow.finished().await;
        assert!(slow_dropped.get());
        assert_eq!(group.join().await, Ok(vec![2]), "the cancelled child is not a failure");
    });
    assert_eq!(ev.time() - t0, Duration::from_secs(1));
}
