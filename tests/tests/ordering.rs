//! asyncio's execution order.

use loop_tests::Log;
use r#loop as aio;
use std::time::Duration;

#[test]
fn two_tasks_yielding_interleave() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let mk = |name: &'static str, log: Log| async move {
            log.push(format!("{name}1"));
            aio::yield_now().await;
            log.push(format!("{name}2"));
        };
        let a = aio::spawn(mk("a", l.clone()));
        let b = aio::spawn(mk("b", l.clone()));
        a.await.unwrap();
        b.await.unwrap();
    });
    assert_eq!(log.entries(), ["a1", "b1", "a2", "b2"]);
}

#[test]
fn call_soon_runs_before_call_later_zero() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let log = Log::new();
    let l = log.clone();
    ev.call_later(Duration::ZERO, move || l.push("later(0)"));
    let l = log.clone();
    ev.call_soon(move || l.push("soon"));
    let l = log.clone();
    ev.call_soon(move || l.push("soon 2"));
    ev.run_until_complete(aio::sleep(Duration::from_millis(3)));
    assert_eq!(log.entries(), ["soon", "soon 2", "later(0)"]);
}

#[test]
fn a_spawned_task_does_not_run_before_the_spawner_yields() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let l2 = l.clone();
        let child = aio::spawn(async move { l2.push("child") });
        l.push("parent before yield");
        assert!(!child.is_done());
        aio::yield_now().await;
        l.push("parent after yield");
        child.await.unwrap();
    });
    assert_eq!(log.entries(), ["parent before yield", "child", "parent after yield"]);
}

#[test]
fn timers_with_equal_deadlines_fire_in_insertion_order() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    let log = Log::new();
    let when = ev.time() + Duration::from_millis(10);
    for i in 0..5 {
        let l = log.clone();
        ev.call_at(when, move || l.push(format!("t{i}")));
    }
    let l = log.clone();
    ev.call_at(when - Duration::from_millis(1), move || l.push("earlier"));
    ev.run_until_complete(aio::sleep(Duration::from_millis(20)));
    assert_eq!(log.entries(), ["earlier", "t0", "t1", "t2", "t3", "t4"]);
}

#[test]
fn callbacks_can_be_cancelled() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    let log = Log::new();
    let l = log.clone();
    let soon = ev.call_soon(move || l.push("soon"));
    let l = log.clone();
    let later = ev.call_later(Duration::from_secs(1), move || l.push("later"));
    let l = log.clone();
    ev.call_later(Duration::from_secs(2), move || l.push("kept"));
    soon.cancel();
    later.cancel();
    assert!(soon.cancelled() && later.cancelled());
    ev.run_until_complete(aio::sleep(Duration::from_secs(3)));
    assert_eq!(log.entries(), ["kept"]);
    assert_eq!(ev.stats().timers_pending, 0);
}

#[test]
fn run_forever_until_stop_from_a_callback() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    let r = ev.loop_ref().clone();
    let log = Log::new();
    let l = log.clone();
    ev.call_later(Duration::from_secs(5), move || {
        l.push("stopping");
        r.stop();
    });
    ev.run_forever();
    assert_eq!(log.entries(), ["stopping"]);
    assert!(!ev.is_running());
}

#[test]
fn current_task_and_all_tasks_describe_tasks() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        assert!(aio::current_task().is_none(), "the main future is not a task");
        let named = aio::TaskBuilder::new().name("worker-1").spawn(async {
            let me = aio::current_task().expect("inside a task");
            assert_eq!(me.state, aio::TaskState::Running);
            me
        });
        let id = named.id();
        let sleeper = aio::spawn(aio::sleep(Duration::from_secs(60)));
        let listed = aio::all_tasks();
        assert_eq!(listed.len(), 2);
        let info = listed.iter().find(|t| t.id == id).unwrap();
        assert_eq!(info.name.as_deref(), Some("worker-1"));
        assert_eq!(info.state, aio::TaskState::Scheduled);
        assert!(info.location.file().ends_with("ordering.rs"));
        let me = named.await.unwrap();
        assert_eq!(me.id, id);
        assert_eq!(me.polls, 1);
        sleeper.cancel();
        assert!(sleeper.await.unwrap_err().is_cancelled());
        assert!(aio::all_tasks().is_empty());
    });
}
