//! loom model of the loop's park/notify handshake, on the same
//! `park_with` / `notify_with` the reactor uses: a wake queued by another
//! thread is never lost while the loop goes to sleep. The OS poller is
//! modelled as a sticky notification (eventfd) behind a condition
//! variable. Run with `cargo xtask loom` (it sets `--cfg loop_loom`).
#![cfg(loop_loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loop_core::__model::{notify_with, park_with, ParkFlag};

struct Flag(AtomicBool);

impl ParkFlag for Flag {
    fn swap_flag(&self, v: bool) -> bool {
        self.0.swap(v, Ordering::SeqCst)
    }
}

/// The poller: a notification stays pending until a wait consumes it.
struct Poller {
    pending: Mutex<bool>,
    cv: Condvar,
}

impl Poller {
    fn notify(&self) {
        *self.pending.lock().unwrap() = true;
        self.cv.notify_one();
    }
    /// Blocks until notified (when `block`), consuming the notification.
    fn wait(&self, block: bool) {
        let mut pending = self.pending.lock().unwrap();
        if block {
            while !*pending {
                pending = self.cv.wait(pending).unwrap();
            }
        }
        *pending = false;
    }
}

struct Loop {
    parked: Flag,
    poller: Poller,
    injector: Mutex<Vec<u32>>,
}

#[test]
fn a_wake_is_never_lost_while_the_loop_parks() {
    loom::model(|| {
        let lp = Arc::new(Loop {
            parked: Flag(AtomicBool::new(false)),
            poller: Poller { pending: Mutex::new(false), cv: Condvar::new() },
            injector: Mutex::new(Vec::new()),
        });
        let waker = {
            let lp = lp.clone();
            thread::spawn(move || {
                lp.injector.lock().unwrap().push(7);
                notify_with(&lp.parked, || lp.poller.notify());
            })
        };
        // The loop: park until the remote work is there (a lost wake-up
        // would block forever, which loom reports as a deadlock).
        loop {
            if let Some(work) = lp.injector.lock().unwrap().pop() {
                assert_eq!(work, 7);
                break;
            }
            park_with(&lp.parked, || lp.injector.lock().unwrap().is_empty(), |block| lp.poller.wait(block));
        }
        waker.join().unwrap();
    });
}

#[test]
fn many_wakers_make_one_interrupt_between_them_and_none_is_lost() {
    loom::model(|| {
        let lp = Arc::new(Loop {
            parked: Flag(AtomicBool::new(false)),
            poller: Poller { pending: Mutex::new(false), cv: Condvar::new() },
            injector: Mutex::new(Vec::new()),
        });
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let lp = lp.clone();
                thread::spawn(move || {
                    lp.injector.lock().unwrap().push(i);
                    notify_with(&lp.parked, || lp.poller.notify())
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 2 {
            let drained: Vec<u32> = std::mem::take(&mut *lp.injector.lock().unwrap());
            got.extend(drained);
            if got.len() < 2 {
                park_with(&lp.parked, || lp.injector.lock().unwrap().is_empty(), |block| lp.poller.wait(block));
            }
        }
        let interrupts = wakers.into_iter().map(|w| w.join().unwrap()).filter(|&i| i).count();
        assert!(interrupts <= 2);
        got.sort();
        assert_eq!(got, [0, 1]);
    });
}
