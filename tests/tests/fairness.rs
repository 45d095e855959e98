//! A busy task cannot starve timers, remote wakes or other tasks.

use r#loop as aio;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn a_task_yielding_in_a_loop_does_not_starve_a_timer() {
    let ev = aio::EventLoop::new().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let spins = ev.run_until_complete(async move {
        let f2 = f.clone();
        aio::get_running_loop().call_later(Duration::from_millis(1), move || f2.set(true));
        let mut spins = 0u64;
        while !f.get() {
            spins += 1;
            aio::yield_now().await;
        }
        spins
    });
    assert!(fired.get());
    assert!(spins > 0);
}

#[test]
fn a_task_that_is_always_ready_does_not_starve_remote_wakes() {
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    let cell = ev.create_future::<()>();
    let setter = cell.clone();
    let out = ev.run_until_complete(async move {
        let t =
            std::thread::spawn(move || handle.call_soon_threadsafe(move || setter.set_result(()).unwrap()).unwrap());
        while !cell.is_done() {
            aio::yield_now().await;
        }
        t.join().unwrap();
        true
    });
    assert!(out);
}

#[test]
fn a_task_that_wakes_itself_without_yield_now_still_lets_others_run() {
    // A future that wakes itself every poll (no yield_now): the budget still
    // hands the turn to the other task.
    let other_ran = Rc::new(Cell::new(false));
    let o = other_ran.clone();
    aio::run(async move {
        let o2 = o.clone();
        let busy = aio::spawn(std::future::poll_fn(move |cx| {
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
