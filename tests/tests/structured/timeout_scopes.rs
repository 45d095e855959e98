//! `TimeoutScope` (asyncio's `timeout`): no deadline, rescheduling, the
//! state errors, and nested scopes expiring together.

use loop_tests::paused;
use r#loop as aio;
use r#loop::TimeoutScope;
use std::time::Duration;

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
