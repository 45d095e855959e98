//! Sleeping, timeouts and the paused clock.

use loop_tests::paused;
use loop_tests::{DropFlag, Log};
use r#loop as aio;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[test]
fn an_hour_of_sleep_on_a_paused_clock_is_instant_and_exact() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let wall = Instant::now();
    let t0 = ev.time();
    ev.run_until_complete(aio::sleep(Duration::from_secs(3600)));
    assert_eq!(ev.time() - t0, Duration::from_secs(3600));
    assert!(wall.elapsed() < Duration::from_secs(60), "the paused clock did not wait for real");
}

#[test]
fn sleeps_wake_in_deadline_order() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let log = Log::new();
    let l = log.clone();
    ev.run_until_complete(async move {
        let mut tasks = Vec::new();
        for (name, ms) in [("c", 30u64), ("a", 10), ("b", 20), ("a2", 10)] {
            let l = l.clone();
            tasks.push(aio::spawn(async move {
                aio::sleep(Duration::from_millis(ms)).await;
                l.push(name);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(log.entries(), ["a", "a2", "b", "c"]);
}

#[test]
fn wait_for_drops_the_inner_future_before_reporting_the_timeout() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let t0 = ev.time();
    let seen_dropped_at_timeout = ev.run_until_complete(async move {
        let inner = async move {
            let _guard = DropFlag(d);
            aio::sleep(Duration::from_secs(10)).await;
        };
        let r = aio::wait_for(inner, Duration::from_secs(2)).await;
        assert!(r.is_err());
        r.unwrap_err().to_string()
    });
    assert_eq!(seen_dropped_at_timeout, "deadline has elapsed");
    assert!(dropped.get());
    assert_eq!(ev.time() - t0, Duration::from_secs(2));
    assert_eq!(ev.stats().timers_pending, 0);
}

#[test]
fn wait_for_returns_the_value_when_in_time() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let out = ev.run_until_complete(aio::wait_for(
        async {
            aio::sleep(Duration::from_secs(1)).await;
            "ok"
        },
        Duration::from_secs(2),
    ));
    assert_eq!(out, Ok("ok"));
}

#[test]
fn timeout_at_uses_loop_time() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let deadline = ev.time() + Duration::from_millis(500);
    let out = ev.run_until_complete(aio::timeout_at(std::future::pending::<()>(), deadline));
    assert!(out.is_err());
    assert_eq!(ev.time(), deadline);
}

#[test]
fn interval_ticks_on_schedule() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let t0 = ev.time();
    let ticks = ev.run_until_complete(async {
        let mut iv = aio::interval(Duration::from_millis(100));
        let mut ticks = Vec::new();
        for _ in 0..4 {
            ticks.push(iv.tick().await);
        }
        ticks
    });
    let offsets: Vec<_> = ticks.iter().map(|t| (*t - t0).as_millis()).collect();
    assert_eq!(offsets, [0, 100, 200, 300]);
}

#[test]
fn advance_by_hand_fires_due_timers() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    ev.call_later(Duration::from_secs(30), move || f.set(true));
    ev.advance(Duration::from_secs(30));
    ev.run_until_complete(aio::yield_now());
    assert!(fired.get());
}

#[test]
fn real_clock_sleep_never_returns_early() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let t0 = ev.time();
    ev.run_until_complete(aio::sleep(Duration::from_millis(15)));
    assert!(ev.time() - t0 >= Duration::from_millis(15));
}

#[test]
fn many_sleeps_registered_and_dropped_leave_no_timer() {
    let _watchdog = loop_tests::watchdog();
    let ev = paused();
    ev.run_until_complete(async {
        for i in 0..10_000u64 {
            let s = aio::sleep(Duration::from_millis(1 + i % 5000));
            let r = aio::wait_for(s, Duration::ZERO).await;
            assert!(r.is_err());
        }
    });
    assert_eq!(ev.stats().timers_pending, 0);
}

/// asyncio runs overdue timers by deadline, equal deadlines in the order
/// they were scheduled (CPython 3.13 prints the same order for this
/// program, with `loop.call_at(now - 0.010, ...)` and so on). Right after a
/// loop starts, both deadlines are before it was made: they used to round
/// to one tick and run in scheduling order.
#[test]
fn overdue_timers_run_in_deadline_order_even_before_the_loop_began() {
    let _watchdog = loop_tests::watchdog();
    use std::cell::RefCell;
    use std::rc::Rc;
    let out = aio::run(async {
        let ev = aio::get_running_loop();
        let out = Rc::new(RefCell::new(Vec::new()));
        let now = ev.time();
        // Windows's `Instant` cannot go below boot: a second after it,
        // there is no past for ticks to count from.
        now.checked_sub(Duration::from_secs(1))?;
        let at = |ms| now.checked_sub(Duration::from_millis(ms)).expect("a second of past, checked above");
        for (ms, name) in [(10, "later deadline, scheduled first"), (20, "earlier, second"), (20, "earlier, third")] {
            let out = out.clone();
            ev.call_at(at(ms), move || out.borrow_mut().push(name));
        }
        aio::sleep(Duration::from_millis(5)).await;
        let got = out.borrow().clone();
        Some(got)
    });
    // On Unix `Instant` has a past before boot; elsewhere it may not.
    assert!(out.is_some() || cfg!(windows), "skipped only on Windows, a second after boot");
    if let Some(out) = out {
        assert_eq!(out, ["earlier, second", "earlier, third", "later deadline, scheduled first"]);
    }
}
