//! loom models of the waiter-queue hand-offs. Run with `cargo xtask loom`
//! (which sets `--cfg loop_loom`); skipped otherwise.
#![cfg(loop_loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use loom::sync::Arc;
use loom::thread;
use loop_sync::{Event, Queue, Semaphore};

/// Polls a future once with a no-op waker.
fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// A release on one thread hands the permit to a waiter on another.
#[test]
fn semaphore_release_hands_off_across_threads() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        held.forget();
        let s = sem.clone();
        let releaser = thread::spawn(move || s.release(1));
        let permit = loom::future::block_on(sem.acquire());
        drop(permit);
        releaser.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A waiter dropped while a release races with it never loses the permit.
#[test]
fn semaphore_cancelled_waiter_never_loses_the_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        sem.try_acquire().unwrap().forget();
        let s = sem.clone();
        let releaser = thread::spawn(move || s.release(1));
        {
            let mut acquire = pin!(sem.acquire());
            if let Poll::Ready(permit) = poll_once(acquire.as_mut()) {
                drop(permit);
            }
            // Dropped here: queued, granted, or done — the permit survives.
        }
        releaser.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

/// `set` on one thread releases a waiter registered on another.
#[test]
fn event_set_reaches_a_waiter() {
    loom::model(|| {
        let ev = Arc::new(Event::new());
        let e = ev.clone();
        let setter = thread::spawn(move || e.set());
        loom::future::block_on(ev.wait());
        setter.join().unwrap();
        assert!(ev.is_set());
    });
}

/// A put racing with a getter that gives up: the item is delivered once or
/// stays in the queue, never lost.
#[test]
fn queue_item_survives_a_cancelled_get() {
    loom::model(|| {
        let q: Queue<u8> = Queue::new(0);
        let q2 = q.clone();
        let putter = thread::spawn(move || q2.put_nowait(7).unwrap());
        let got = {
            let mut get = pin!(q.get());
            match poll_once(get.as_mut()) {
                Poll::Ready(item) => Some(item.unwrap()),
                Poll::Pending => None,
            }
        };
        putter.join().unwrap();
        let left = q.get_nowait().ok();
        assert_eq!(got.or(left), Some(7));
        assert!(got.is_none() || left.is_none(), "delivered twice");
    });
}
