//! loom model of the loop's park/notify handshake, on the same
//! `park_with` / `notify_with` the reactor uses: a wake queued by another
//! thread is never lost while the loop goes to sleep. The OS poller is
//! modelled as a sticky notification (eventfd) behind a condition
//! variable; the injection queue as a lock-free set of bits, pushed with a
//! release and looked at with an acquire, as `SegQueue` does (a mutex there
//! would order the two sides by itself and hide a missing fence). The
//! same fence closes the handshake between a remote push and the loop's
//! close. Run with `cargo xtask loom` (it sets `--cfg loop_loom`).
#![cfg(loop_loom)]

use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loop_core::__model::{notify_with, park_with, ParkFlag};

struct Flag(AtomicBool);

impl ParkFlag for Flag {
    fn swap_flag(&self, v: bool) -> bool {
        self.0.swap(v, Ordering::SeqCst)
    }
    fn load_flag(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    fn fence(&self) {
        loom::sync::atomic::fence(Ordering::SeqCst);
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

/// The injection queue: bit `i` is item `i`.
struct Injector(AtomicU32);

impl Injector {
    fn push(&self, item: u32) {
        self.0.fetch_or(1 << item, Ordering::Release);
    }
    /// Takes every queued item.
    fn take(&self) -> Vec<u32> {
        let bits = self.0.swap(0, Ordering::Acquire);
        (0..32).filter(|i| bits & (1 << i) != 0).collect()
    }
    fn is_empty(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }
}

struct Loop {
    parked: Flag,
    poller: Poller,
    injector: Injector,
}

impl Loop {
    /// An awake loop with nothing queued and no notification pending.
    fn new() -> Arc<Loop> {
        Arc::new(Loop {
            parked: Flag(AtomicBool::new(false)),
            poller: Poller { pending: Mutex::new(false), cv: Condvar::new() },
            injector: Injector(AtomicU32::new(0)),
        })
    }
}

#[test]
fn a_wake_is_never_lost_while_the_loop_parks() {
    loom::model(|| {
        let lp = Loop::new();
        let waker = {
            let lp = lp.clone();
            thread::spawn(move || {
                lp.injector.push(7);
                notify_with(&lp.parked, || lp.poller.notify());
            })
        };
        // The loop: park until the remote work is there (a lost wake-up
        // would block forever, which loom reports as a deadlock).
        loop {
            let work = lp.injector.take();
            if !work.is_empty() {
                assert_eq!(work, [7]);
                break;
            }
            park_with(&lp.parked, || lp.injector.is_empty(), |block| lp.poller.wait(block));
        }
        waker.join().unwrap();
    });
}

#[test]
fn many_wakers_make_one_interrupt_between_them_and_none_is_lost() {
    loom::model(|| {
        let lp = Loop::new();
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let lp = lp.clone();
                thread::spawn(move || {
                    lp.injector.push(i);
                    notify_with(&lp.parked, || lp.poller.notify())
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 2 {
            got.extend(lp.injector.take());
            if got.len() < 2 {
                park_with(&lp.parked, || lp.injector.is_empty(), |block| lp.poller.wait(block));
            }
        }
        let interrupts = wakers.into_iter().map(|w| w.join().unwrap()).filter(|&i| i).count();
        assert!(interrupts <= 2);
        got.sort();
        assert_eq!(got, [0, 1]);
    });
}

/// `push_remote` against `close` (loop-exec's `LoopShared` and
/// `LoopCore::close`): the pusher queues, then looks at `closed` after the
/// `SeqCst` fence that `notify_with` begins with; the closer stores
/// `closed`, fences, then drains. Whichever comes first, no work stays in
/// the queue of a closed loop, where a spawned task would never resolve its
/// handle: the closer's drain takes it, or the pusher sees `closed` and
/// drains it itself.
#[test]
fn work_pushed_while_the_loop_closes_is_never_left_in_its_queue() {
    loom::model(|| {
        let lp = Loop::new();
        let closed = Arc::new(AtomicBool::new(false));
        let pusher = {
            let (lp, closed) = (lp.clone(), closed.clone());
            thread::spawn(move || {
                lp.injector.push(3);
                notify_with(&lp.parked, || lp.poller.notify());
                if closed.load(Ordering::SeqCst) {
                    lp.injector.take();
                }
            })
        };
        closed.store(true, Ordering::SeqCst);
        loom::sync::atomic::fence(Ordering::SeqCst);
        lp.injector.take();
        pusher.join().unwrap();
        assert!(lp.injector.is_empty(), "work was left in a closed loop's queue");
    });
}

mod readiness {
    //! The readiness protocol of a socket polled from another thread than
    //! its reactor's (`readiness.rs`), on loom's atomic and mutex.

    use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;
    use loop_core::__model::{clear_ready_with, poll_ready_with, set_ready_with, StateWord, WakerList, READY};
    use std::task::{Wake, Waker};

    pub(super) struct Word(pub(super) AtomicU32);

    impl StateWord for Word {
        fn load_acquire(&self) -> u32 {
            self.0.load(Ordering::Acquire)
        }
        fn compare_exchange(&self, current: u32, new: u32) -> bool {
            self.0.compare_exchange(current, new, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        }
        fn update(&self, mut f: impl FnMut(u32) -> u32) {
            let _ = self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| Some(f(s)));
        }
    }

    pub(super) struct List(pub(super) Mutex<Vec<Waker>>);

    impl WakerList for List {
        fn with<R>(&self, f: impl FnOnce(&mut Vec<Waker>) -> R) -> R {
            f(&mut self.0.lock().unwrap())
        }
    }

    /// A waker that records that it was woken.
    pub(super) struct Woken(pub(super) AtomicBool);

    impl Wake for Woken {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    struct Dir {
        state: Word,
        wakers: List,
    }

    #[test]
    fn a_poll_racing_the_reactors_event_is_woken_or_sees_it() {
        loom::model(|| {
            let dir = Arc::new(Dir { state: Word(AtomicU32::new(0)), wakers: List(Mutex::new(Vec::new())) });
            let reactor = {
                let dir = dir.clone();
                thread::spawn(move || set_ready_with(&dir.state, &dir.wakers, false))
            };
            // A task on another thread polls while the event arrives.
            let woken = std::sync::Arc::new(Woken(AtomicBool::new(false)));
            let waker = Waker::from(woken.clone());
            let saw_ready = poll_ready_with(&dir.state, &dir.wakers, &waker).is_some();
            reactor.join().unwrap();
            assert!(saw_ready || woken.0.load(Ordering::SeqCst), "the wake-up was lost");
        });
    }

    #[test]
    fn a_clear_after_would_block_never_forgets_a_newer_event() {
        loom::model(|| {
            let dir = Arc::new(Dir { state: Word(AtomicU32::new(READY)), wakers: List(Mutex::new(Vec::new())) });
            let reactor = {
                let dir = dir.clone();
                thread::spawn(move || set_ready_with(&dir.state, &dir.wakers, false))
            };
            // The task: ready, tries the read, it would block, clears.
            let woken = std::sync::Arc::new(Woken(AtomicBool::new(false)));
            let waker = Waker::from(woken.clone());
            let seen = poll_ready_with(&dir.state, &dir.wakers, &waker).expect("starts ready");
            clear_ready_with(&dir.state, seen);
            // Then it polls again: either still ready (the event came after
            // its first look) or it waits and is woken.
            let again = poll_ready_with(&dir.state, &dir.wakers, &waker).is_some();
            reactor.join().unwrap();
            assert!(again || woken.0.load(Ordering::SeqCst), "the event after the first look was forgotten");
        });
    }
}

mod arming {
    //! One-shot drivers (Windows): a task that starts waiting while the
    //! reactor handles a report of the same source is either woken or left
    //! armed for (`arm.rs`), on loom's mutex. The OS is modelled as the
    //! armed bits it holds, whether data is there, and a pending report;
    //! a report disarms the registration, and arming reports data that is
    //! already there.

    use super::readiness::{List, Woken, Word};
    use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;
    use loop_core::__model::{clear_ready_with, poll_ready_with, rearm_with, set_ready_with, ArmedBits, ARM_READ};
    use std::task::Waker;

    struct Bits(Mutex<u8>);

    impl ArmedBits for Bits {
        fn with<R>(&self, f: impl FnOnce(&mut u8) -> R) -> R {
            f(&mut self.0.lock().unwrap())
        }
    }

    /// What the OS holds for the socket.
    #[derive(Default)]
    struct Os {
        armed: u8,
        data: bool,
        report: bool,
    }

    impl Os {
        /// An armed read direction with data reports once and disarms.
        fn check(&mut self) {
            if self.armed & ARM_READ != 0 && self.data {
                self.report = true;
                self.armed = 0;
            }
        }
    }

    /// One source's read direction, its armed bits, and the OS.
    struct Source {
        state: Word,
        wakers: List,
        armed: Bits,
        os: Mutex<Os>,
    }

    impl Source {
        /// A source whose read registration just reported: the OS disarmed
        /// it, the report waits for the reactor, our bits still say armed,
        /// and the last read would block (not `READY`). `data`: whether
        /// the data that report was about is still unread.
        fn after_report(data: bool) -> Arc<Source> {
            Arc::new(Source {
                state: Word(AtomicU32::new(0)),
                wakers: List(Mutex::new(Vec::new())),
                armed: Bits(Mutex::new(ARM_READ)),
                os: Mutex::new(Os { armed: 0, data, report: true }),
            })
        }

        fn rearm(&self, fired: bool) {
            let waiting = || if self.wakers.0.lock().unwrap().is_empty() { 0 } else { ARM_READ };
            let _ = rearm_with(&self.armed, fired, waiting, |bits| {
                let mut os = self.os.lock().unwrap();
                os.armed = bits;
                os.check();
                Ok::<(), ()>(())
            });
        }

        /// The reactor: takes a pending report, wakes, re-arms. False when
        /// there was none.
        fn dispatch(&self) -> bool {
            let report = std::mem::take(&mut self.os.lock().unwrap().report);
            if report {
                set_ready_with(&self.state, &self.wakers, false);
                self.rearm(true);
            }
            report
        }
    }

    /// The second wait of a socket: the task read the first message before
    /// the reactor handled its report (which disarmed the registration),
    /// and its next read would block. Now, all at once: the reactor handles
    /// that report, the peer sends the second message, and the task waits
    /// again. A re-arm that trusted the bits the report made stale would
    /// leave the registration unarmed, and the task would never be woken.
    #[test]
    fn a_wait_after_a_report_is_woken_by_the_next_message() {
        loom::model(|| {
            let src = Source::after_report(false);
            let reactor = {
                let src = src.clone();
                thread::spawn(move || {
                    src.dispatch();
                })
            };
            let peer = {
                let src = src.clone();
                thread::spawn(move || {
                    let mut os = src.os.lock().unwrap();
                    os.data = true;
                    os.check();
                })
            };
            // The task: read until it has the message or must wait.
            let woken = std::sync::Arc::new(Woken(AtomicBool::new(false)));
            let waker = Waker::from(woken.clone());
            let mut got = false;
            let mut waits = false;
            for _ in 0..3 {
                match poll_ready_with(&src.state, &src.wakers, &waker) {
                    Some(seen) => {
                        let mut os = src.os.lock().unwrap();
                        if std::mem::take(&mut os.data) {
                            got = true;
                            break;
                        }
                        drop(os);
                        clear_ready_with(&src.state, seen);
                    }
                    None => {
                        src.rearm(false);
                        waits = true;
                        break;
                    }
                }
            }
            reactor.join().unwrap();
            peer.join().unwrap();
            // The loop goes on handling reports until the OS has none.
            while src.dispatch() {}
            assert!(got || waits, "three looks and neither data nor a wait");
            assert!(got || woken.0.load(Ordering::SeqCst), "the wait was never woken: the registration was not armed");
        });
    }

    #[test]
    fn a_report_with_no_waiter_left_does_not_arm_again() {
        loom::model(|| {
            let src = Source::after_report(true);
            let reactor = {
                let src = src.clone();
                thread::spawn(move || while src.dispatch() {})
            };
            reactor.join().unwrap();
            let os = src.os.lock().unwrap();
            assert_eq!(os.armed, 0, "nobody waits: the registration stays disarmed (no report storm)");
            assert!(!os.report);
        });
    }
}
