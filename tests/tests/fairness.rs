//! A busy task cannot starve timers, remote wakes or other tasks. Each
//! busy loop is bounded: starvation is a failure with a message, not a hang.

use r#loop as aio;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// How many turns a busy task may spin before the thing it waits for is
/// taken as starved: far more than fairness needs (the loop looks at
/// timers every turn and at I/O every 61 polls), far less than a hang.
const SPIN_BOUND: u64 = 20_000_000;

#[test]
fn a_task_yielding_in_a_loop_does_not_starve_a_timer() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let spins = ev.run_until_complete(async move {
        let f2 = f.clone();
        aio::get_running_loop().call_later(Duration::from_millis(1), move || f2.set(true));
        let mut spins = 0u64;
        while !f.get() && spins < SPIN_BOUND {
            spins += 1;
            aio::yield_now().await;
        }
        spins
    });
    assert!(fired.get(), "the timer never fired in {spins} turns of a busy task: starved");
}

#[test]
fn a_task_that_is_always_ready_does_not_starve_remote_wakes() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    let cell = ev.create_future::<()>();
    let setter = cell.clone();
    let out = ev.run_until_complete(async move {
        let t =
            std::thread::spawn(move || handle.call_soon_threadsafe(move || setter.set_result(()).unwrap()).unwrap());
        let mut spins = 0u64;
        while !cell.is_done() && spins < SPIN_BOUND {
            spins += 1;
            aio::yield_now().await;
        }
        t.join().unwrap();
        (cell.is_done(), spins)
    });
    assert!(out.0, "the remote call never ran in {} turns of a busy task: starved", out.1);
}

/// The main future of `run` is not a task in the run queue: when only it
/// was busy (yielding while it waits for a connection another task
/// accepts), the loop counted no polls and never looked at the reactor,
/// so the accept never came (found by the `close_clients` proxy test).
#[test]
fn a_main_future_yielding_in_a_loop_does_not_starve_sockets() {
    let _watchdog = loop_tests::watchdog();
    let accepted = aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let _acceptor = aio::spawn(async move {
            let _conn = listener.accept().await.unwrap();
            d.set(true);
        });
        let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
        let mut spins = 0u64;
        while !done.get() && spins < SPIN_BOUND {
            spins += 1;
            aio::yield_now().await;
        }
        drop(client.join().unwrap());
        (done.get(), spins)
    });
    assert!(accepted.0, "the accept never completed in {} turns of a busy main future: starved", accepted.1);
}

#[test]
fn a_task_that_wakes_itself_without_yield_now_still_lets_others_run() {
    let _watchdog = loop_tests::watchdog();
    // A future that wakes itself every poll (no yield_now): the budget still
    // hands the turn to the other task.
    let other_ran = Rc::new(Cell::new(false));
    let o = other_ran.clone();
    aio::run(async move {
        let o2 = o.clone();
        let mut spins = 0u64;
        let busy = aio::spawn(std::future::poll_fn(move |cx| {
            spins += 1;
            assert!(spins < SPIN_BOUND, "the other task never ran in {spins} polls of a busy task: starved");
            if o2.get() {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }));
        let other = aio::spawn(async move { o.set(true) });
        busy.await.unwrap();
        other.await.unwrap();
    });
    assert!(other_ran.get());
}

#[test]
fn a_loop_that_never_idles_gives_its_core_to_the_os_now_and_then() {
    let _watchdog = loop_tests::watchdog();
    // Busy: 10,000 turns of a yielding task, never a park.
    let ev = aio::EventLoop::new().unwrap();
    ev.run_until_complete(async {
        for _ in 0..10_000 {
            aio::yield_now().await;
        }
    });
    let busy = ev.stats();
    assert_eq!(busy.parks, 0, "{busy:?}");
    assert!((2..=3).contains(&busy.os_yields), "one sched_yield per 4,096 busy turns: {busy:?}");
    // Idle between turns: 10,000 sleeps on a paused clock park every turn,
    // and a loop that parks never needs to give its core away.
    let ev = aio::Builder::new().paused_clock().build().unwrap();
    ev.run_until_complete(async {
        for _ in 0..10_000 {
            aio::sleep(Duration::from_millis(1)).await;
        }
    });
    let idle = ev.stats();
    assert!(idle.parks >= 10_000, "{idle:?}");
    assert_eq!(idle.os_yields, 0, "{idle:?}");
}
