//! Misuse gets a panic that says what was wrong and what to do.

use r#loop as aio;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[test]
fn run_inside_a_running_loop_says_to_await_instead() {
    let _watchdog = loop_tests::watchdog();
    let msg = aio::run(async { panic_message(|| aio::run(async {})) });
    assert!(msg.contains("already running on this thread"), "{msg}");
    assert!(msg.contains(".await"), "{msg}");
}

#[test]
fn run_until_complete_inside_a_running_loop_panics() {
    let _watchdog = loop_tests::watchdog();
    let other = aio::EventLoop::new().unwrap();
    let msg = aio::run(async { panic_message(|| other.run_until_complete(async {})) });
    assert!(msg.contains("run_until_complete called while an event loop is already running"), "{msg}");
}

#[test]
fn spawn_outside_a_loop_says_where_to_call_it() {
    let _watchdog = loop_tests::watchdog();
    let msg = panic_message(|| drop(aio::spawn(async {})));
    assert!(msg.contains("spawn() called outside a running event loop"), "{msg}");
    let msg = panic_message(|| drop(aio::spawn_blocking(|| ())));
    assert!(msg.contains("spawn_blocking() called outside"), "{msg}");
}

#[test]
fn awaiting_sleep_outside_a_loop_panics_with_a_message() {
    let _watchdog = loop_tests::watchdog();
    let msg = panic_message(|| {
        let mut s = std::pin::pin!(aio::sleep(std::time::Duration::from_secs(1)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = std::future::Future::poll(s.as_mut(), &mut cx);
    });
    assert!(msg.contains("sleep() called outside a running event loop"), "{msg}");
}

#[test]
fn a_closed_loop_cannot_run_again() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    ev.close();
    ev.close(); // twice is fine
    let msg = panic_message(|| ev.run_until_complete(async {}));
    assert!(msg.contains("closed event loop"), "{msg}");
}

#[test]
fn waiting_on_a_threadsafe_task_from_its_own_loop_is_refused() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    let msg = ev.run_until_complete(async move {
        let t = handle.spawn_threadsafe(async {}).unwrap();
        panic_message(move || drop(t.wait()))
    });
    assert!(msg.contains("would block that loop forever"), "{msg}");
}

#[test]
fn a_loop_recovers_after_its_main_future_panics() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let msg = panic_message(|| ev.run_until_complete(async { panic!("main failed") }));
    assert_eq!(msg, "main failed");
    assert!(!ev.is_running());
    assert_eq!(ev.run_until_complete(async { 1 }), 1);
}

#[test]
fn zero_blocking_threads_is_refused() {
    let _watchdog = loop_tests::watchdog();
    let msg = panic_message(|| {
        let _ = aio::EventLoop::builder().blocking_threads(0);
    });
    assert!(msg.contains("at least one thread"), "{msg}");
}
