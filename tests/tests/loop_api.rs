//! The loop API to the letter of asyncio's: `stop` and `run_forever`, and
//! callbacks scheduled on a closed loop. Each case is CPython 3.13's
//! behaviour, checked with its interpreter (see the comments).

use loop_tests::Log;
use r#loop as aio;
use std::time::Duration;

/// CPython `test_base_events.test_run_forever_pre_stopped`: `stop()` before
/// `run_forever()` is remembered; the loop runs one iteration (without
/// waiting: nothing is ready and no timer is set, so a blocking wait would
/// hang until the watchdog) and returns.
#[test]
fn a_stop_before_run_forever_gives_one_turn_that_does_not_wait() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let log = Log::new();
    ev.stop();
    let l = log.clone();
    ev.call_soon(move || l.push("queued before"));
    ev.run_forever();
    assert_eq!(log.entries(), ["queued before"]);
    // Nothing queued now: the stop is not remembered twice, so a second
    // pre-stopped run also returns after one (empty) turn.
    ev.stop();
    ev.run_forever();
    assert_eq!(log.entries(), ["queued before"]);
    ev.close();
}

/// asyncio's `_run_once` runs the whole batch that was ready when the
/// iteration began: with `call_soon(A)`, `call_soon(stop)`,
/// `call_soon(B)`, both A and B run; what a callback schedules meanwhile
/// (C) waits for the next iteration, which does not come.
#[test]
fn a_stop_in_a_callback_lets_the_turns_batch_finish() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let log = Log::new();
    let (l, r) = (log.clone(), (*ev).clone());
    ev.call_soon(move || {
        l.push("A");
        let l = l.clone();
        r.call_soon(move || l.push("C"));
    });
    let r = (*ev).clone();
    ev.call_soon(move || r.stop());
    let l = log.clone();
    ev.call_soon(move || l.push("B"));
    ev.run_forever();
    assert_eq!(log.entries(), ["A", "B"]);
    // C runs on the next run.
    let r = (*ev).clone();
    ev.call_soon(move || r.stop());
    ev.run_forever();
    assert_eq!(log.entries(), ["A", "B", "C"]);
    ev.close();
}

/// A `stop()` made inside `run_until_complete` does not end that call early
/// and is then forgotten: it does not cut the next `run_forever` short.
#[test]
fn a_stop_during_run_until_complete_is_forgotten() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let out = ev.run_until_complete(async {
        aio::get_running_loop().stop();
        aio::sleep(Duration::from_millis(1)).await;
        7
    });
    assert_eq!(out, 7);
    let log = Log::new();
    let (l, r) = (log.clone(), (*ev).clone());
    // Two turns: a stale stop would return after the first.
    ev.call_soon(move || {
        l.push("first turn");
        let (l, r2) = (l.clone(), r.clone());
        r.call_soon(move || {
            l.push("second turn");
            r2.stop();
        });
    });
    ev.run_forever();
    assert_eq!(log.entries(), ["first turn", "second turn"]);
    ev.close();
}

/// CPython: `call_soon`, `call_later` and `call_at` on a closed loop raise
/// `RuntimeError('Event loop is closed')`. Here they panic, saying so.
#[test]
fn callbacks_on_a_closed_loop_panic_with_a_message() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let r = (*ev).clone();
    ev.close();
    let message = |f: &dyn Fn()| {
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("it must panic");
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let soon = message(&|| drop(r.call_soon(|| {})));
    let later = message(&|| drop(r.call_later(Duration::from_secs(1), || {})));
    let at = message(&|| drop(r.call_at(r.time(), || {})));
    for (what, msg) in [("call_soon", soon), ("call_later", later), ("call_at", at)] {
        assert!(msg.contains(&format!("{what} on a closed event loop")), "{what}: {msg}");
    }
    // The thread-safe variant already returns an error.
    assert!(r.handle().call_soon_threadsafe(|| {}).is_err());
}

/// CPython `test_base_events.test_set_exc_handler_custom`: no handler is
/// set at first (`get_exception_handler()` is None); a handler set is the
/// one returned, and is called with the callback's panic, its message and
/// its payload (asyncio's `exception`); after a reset the default handler
/// takes over and the old one is not called again.
#[test]
fn the_exception_handler_is_set_got_and_given_the_panic() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    assert!(ev.get_exception_handler().is_none());
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = seen.clone();
    ev.set_exception_handler(move |ctx| s.borrow_mut().push(ctx.clone()));
    assert!(ev.get_exception_handler().is_some());
    ev.run_until_complete(async {
        aio::get_running_loop().call_soon(|| panic!("zero division"));
        aio::yield_now().await;
    });
    {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "one report: {seen:?}");
        assert_eq!(seen[0].message, "panic in a callback: zero division");
        let payload = seen[0].payload.as_ref().expect("a callback's panic keeps its payload");
        assert_eq!(payload.message().as_deref(), Some("zero division"));
        let taken = payload.take().expect("the payload, once");
        assert_eq!(taken.downcast_ref::<&str>(), Some(&"zero division"));
        assert!(payload.take().is_none(), "taken once");
    }
    ev.reset_exception_handler();
    assert!(ev.get_exception_handler().is_none());
    ev.run_until_complete(async {
        aio::get_running_loop().call_soon(|| panic!("printed by the default handler"));
        aio::yield_now().await;
    });
    assert_eq!(seen.borrow().len(), 1, "the old handler is not called after a reset");
    ev.close();
}

/// asyncio's context for a task's error names the task; ours carries its
/// id, name and spawn location. A task's panic became its message when
/// the task ended, so there is no payload.
#[test]
fn a_detached_tasks_panic_reaches_the_handler_with_the_task() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = seen.clone();
    ev.set_exception_handler(move |ctx| s.borrow_mut().push(ctx.clone()));
    let line = line!() + 2;
    let id = ev.run_until_complete(async {
        let task = aio::TaskBuilder::new().name("doomed").spawn(async { panic!("task boom") });
        let id = task.id();
        drop(task);
        aio::sleep(Duration::from_millis(1)).await;
        id
    });
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].message, "panic in a task nobody awaited: task boom");
    assert_eq!(seen[0].task_id, Some(id));
    assert_eq!(seen[0].task_name.as_deref(), Some("doomed"));
    assert_eq!(seen[0].location.map(|l| l.line()), Some(line));
    assert!(seen[0].payload.is_none());
    drop(seen);
    ev.close();
}

/// `call_exception_handler` hands a context of the caller's to the
/// handler set (asyncio's `call_exception_handler(context)`).
#[test]
fn call_exception_handler_reaches_the_handler_set() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let ev = aio::get_running_loop();
        // With the default handler it prints and returns.
        ev.call_exception_handler(&aio::ExceptionContext::new("to stderr"));
        ev.set_exception_handler(move |ctx| l.push(format!("{}: {:?}", ctx.message, ctx.task_name)));
        let mut ctx = aio::ExceptionContext::new("cache refresh failed");
        ctx.task_name = Some("refresher".into());
        ev.call_exception_handler(&ctx);
    });
    assert_eq!(log.entries(), ["cache refresh failed: Some(\"refresher\")"]);
}

/// CPython `test_base_events.test_set_exc_handler_broken`: a handler that
/// raises does not take the loop down; the default handler reports it
/// ("Unhandled error in exception handler", with the original context)
/// and the loop goes on with its next callback and its next report.
#[test]
fn a_panicking_exception_handler_does_not_stop_the_loop() {
    let _watchdog = loop_tests::watchdog();
    let log = Log::new();
    let l = log.clone();
    aio::run(async move {
        let ev = aio::get_running_loop();
        let calls = l.clone();
        ev.set_exception_handler(move |ctx| {
            calls.push(format!("handler: {}", ctx.message));
            panic!("spam");
        });
        ev.call_soon(|| panic!("zero division"));
        let after = l.clone();
        ev.call_soon(move || after.push("next callback"));
        aio::yield_now().await;
        ev.call_exception_handler(&aio::ExceptionContext::new("second report"));
    });
    assert_eq!(
        log.entries(),
        ["handler: panic in a callback: zero division", "next callback", "handler: second report"]
    );
}
