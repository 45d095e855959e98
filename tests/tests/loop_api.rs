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
