//! The cooperative budget (`Builder::coop_budget`, `loop::unconstrained`):
//! a task whose awaits are always ready yields to the loop after a budget
//! of ready results, so timers, I/O and other tasks still run; the
//! budget is per poll, can be turned off, and never costs a waiter its
//! permit or item.

use aio::sync::{Event, Lock, Queue, Semaphore};
use r#loop as aio;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

/// Runs `spin` (a task whose awaits are always ready, looping until told
/// to stop) beside a 2 ms timer; returns whether the timer fired and the
/// loop's budget yields meanwhile.
fn beside_a_timer<F, Fut>(spin: F) -> (bool, u64)
where
    F: FnOnce(Rc<Cell<bool>>) -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let ev = aio::EventLoop::new().unwrap();
    ev.run_until_complete(async move {
        let stop = Rc::new(Cell::new(false));
        let spinner = aio::spawn(spin(stop.clone()));
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        aio::get_running_loop().call_later(Duration::from_millis(2), move || f.set(true));
        aio::sleep(Duration::from_millis(10)).await;
        stop.set(true);
        spinner.await.unwrap();
        (fired.get(), aio::get_running_loop().stats().budget_yields)
    })
}

#[test]
fn always_ready_primitives_do_not_starve_the_loop() {
    let _watchdog = loop_tests::watchdog();
    let event = beside_a_timer(|stop| async move {
        let event = Event::new();
        event.set();
        while !stop.get() {
            event.wait().await;
        }
    });
    let lock = beside_a_timer(|stop| async move {
        let lock = Lock::new();
        while !stop.get() {
            drop(lock.acquire().await);
        }
    });
    let queue = beside_a_timer(|stop| async move {
        let queue = Queue::new(0);
        while !stop.get() {
            queue.put(1u8).await.unwrap();
            queue.get().await.unwrap();
        }
    });
    let semaphore = beside_a_timer(|stop| async move {
        let semaphore = Semaphore::new(1);
        while !stop.get() {
            drop(semaphore.acquire().await);
        }
    });
    let sleep_zero = beside_a_timer(|stop| async move {
        while !stop.get() {
            aio::sleep(Duration::ZERO).await;
        }
    });
    let joins = beside_a_timer(|stop| async move {
        let done = aio::spawn(async {});
        aio::yield_now().await;
        let mut done = Some(done);
        while !stop.get() {
            // A finished task's result, then a result cell that is set.
            if let Some(task) = done.take() {
                task.await.unwrap();
            }
            let cell = aio::sync::ResultCell::new();
            cell.set_result(1).unwrap();
            cell.await.unwrap();
        }
    });
    for (what, (fired, yields)) in [
        ("event", event),
        ("lock", lock),
        ("queue", queue),
        ("semaphore", semaphore),
        ("sleep(0)", sleep_zero),
        ("joins", joins),
    ] {
        assert!(fired, "{what}: the timer never fired");
        // `sleep(0)` yields by itself, as asyncio's does: no budget needed.
        assert!(yields > 0 || what == "sleep(0)", "{what}: no budget yield");
    }
}

/// A socket that always has data: its reader yields too.
#[test]
fn a_reader_that_always_has_data_does_not_starve_the_loop() {
    let _watchdog = loop_tests::watchdog();
    let (fired, yields) = beside_a_timer(|stop| async move {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            // Until the reader hangs up.
            while s.write_all(&[7u8; 64 * 1024]).is_ok() {}
        });
        let (conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 16];
        while !stop.get() {
            // Small reads: the socket buffer holds thousands of them.
            assert!(conn.read(&mut buf).await.unwrap() > 0);
        }
        drop(conn);
        writer.join().unwrap();
    });
    assert!(fired, "the timer never fired");
    assert!(yields > 0, "no budget yield");
}

/// The budget is per poll: with a budget of 10, 25 ready waits make the
/// task yield exactly twice (after the 10th and the 20th).
#[test]
fn the_budget_is_per_poll_and_configurable() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().coop_budget(Some(10)).build().unwrap();
    let yields = ev.run_until_complete(async {
        let task = aio::spawn(async {
            let event = Event::new();
            event.set();
            for _ in 0..25 {
                event.wait().await;
            }
        });
        task.await.unwrap();
        aio::get_running_loop().stats().budget_yields
    });
    assert_eq!(yields, 2);
}

/// `unconstrained` lifts the budget for one future; `coop_budget(None)`
/// for the whole loop.
#[test]
fn the_budget_can_be_lifted_for_a_future_or_a_loop() {
    let _watchdog = loop_tests::watchdog();
    let ready_waits = || async {
        let event = Event::new();
        event.set();
        for _ in 0..10_000 {
            event.wait().await;
        }
    };
    let ev = aio::EventLoop::new().unwrap();
    let (lifted, budgeted) = ev.run_until_complete(async {
        let before = aio::get_running_loop().stats().budget_yields;
        aio::unconstrained(ready_waits()).await;
        let lifted = aio::get_running_loop().stats().budget_yields - before;
        ready_waits().await;
        (lifted, aio::get_running_loop().stats().budget_yields - before)
    });
    assert_eq!(lifted, 0, "no yield inside unconstrained");
    assert!(budgeted >= 10_000 / 128, "the budget is back after it: {budgeted}");
    let ev = aio::EventLoop::builder().coop_budget(None).build().unwrap();
    ev.run_until_complete(ready_waits());
    assert_eq!(ev.stats().budget_yields, 0);
}

#[test]
fn a_budget_of_zero_is_refused_with_a_message() {
    let _watchdog = loop_tests::watchdog();
    let err = std::panic::catch_unwind(|| aio::EventLoop::builder().coop_budget(Some(0))).unwrap_err();
    let message = err.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| err.downcast_ref::<String>().cloned());
    assert!(message.unwrap().contains("None for no limit"));
}

/// A waiter made to yield by the budget and then dropped loses nothing:
/// the permit and the item it could have taken are still there.
#[test]
fn a_waiter_stopped_by_the_budget_and_dropped_loses_nothing() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().coop_budget(Some(1)).build().unwrap();
    ev.run_until_complete(async {
        let semaphore = Rc::new(Semaphore::new(1));
        let queue = Rc::new(Queue::new(0));
        queue.put_nowait(5u8).unwrap();
        let (s, q) = (semaphore.clone(), queue.clone());
        let task = aio::spawn(async move {
            let event = Event::new();
            event.set();
            event.wait().await; // spends the whole budget of 1
                                // Both would be ready, but the budget is spent: dropped here
                                // while they return Pending.
            let mut acquire = std::pin::pin!(s.acquire());
            let mut get = std::pin::pin!(q.get());
            let polled = std::future::poll_fn(|cx| {
                let a = acquire.as_mut().poll(cx).is_pending();
                let g = get.as_mut().poll(cx).is_pending();
                std::task::Poll::Ready((a, g))
            })
            .await;
            polled
        });
        assert_eq!(task.await.unwrap(), (true, true), "both made to yield");
        assert_eq!(semaphore.available_permits(), 1, "the permit is still there");
        assert_eq!(queue.qsize(), 1, "the item is still there");
        assert_eq!(queue.get().await, Ok(5));
    });
}
