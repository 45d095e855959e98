//! Reaping: how the exit of a child is noticed without blocking the loop.
//!
//! On Linux a pidfd registered with the reactor becomes readable when the
//! child exits. Elsewhere (or when pidfds are unavailable) every waiting
//! child shares one `SIGCHLD` listener per thread and looks again on each
//! signal, with a slow poll as a backstop in case another library took the
//! signal over. A child dropped before it exited is reaped by a thread.

use std::cell::RefCell;
use std::io;
use std::process::{self as stdp, ExitStatus};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(target_os = "linux")]
use loop_core::Async;
#[cfg(target_os = "linux")]
use std::os::fd::OwnedFd;

use crate::signal::Signals;

/// How the exit of a child is noticed.
pub(super) enum ExitWatch {
    /// Linux: a pidfd, readable once the child has exited.
    #[cfg(target_os = "linux")]
    Pidfd(Async<OwnedFd>),
    /// Elsewhere (or without pidfd support): every `SIGCHLD` (some child
    /// exited) makes the waiter look again, with a slow poll as a backstop
    /// in case another library took the signal over.
    Sigchld,
}

/// How often a `SIGCHLD` waiter looks even without a signal, in ms (1 s;
/// tests move it away to prove the signal alone wakes waiters).
static SIGCHLD_BACKSTOP_MS: AtomicU64 = AtomicU64::new(1000);

/// Sets the backstop period of `SIGCHLD` waiters started from now on (for
/// tests of that path: an hour means only the signal can wake them).
#[doc(hidden)]
pub fn __set_sigchld_backstop(every: Duration) {
    SIGCHLD_BACKSTOP_MS.store(every.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
}

/// The `SIGCHLD` listener that every waiting child on this thread shares:
/// one signal slot (there are 64 in the process) however many children
/// wait. Any `SIGCHLD` wakes every waiter, and each looks at its own child.
struct SharedSigchld(RefCell<Signals>);

impl SharedSigchld {
    /// Drains the notifications that arrived and registers `cx`'s task for
    /// the next one. (A read error leaves the task to the backstop poll.)
    fn listen(&self, cx: &mut Context<'_>) {
        let mut signals = self.0.borrow_mut();
        while let Poll::Ready(Ok(_)) = signals.poll_recv(cx) {}
    }
}

/// This thread's shared `SIGCHLD` listener: made by the first waiter, and
/// dropped with the last (the signal then goes back to its default). `None`
/// when no listener can be made.
fn shared_sigchld() -> Option<Rc<SharedSigchld>> {
    thread_local! {
        static SIGCHLD: RefCell<Weak<SharedSigchld>> = const { RefCell::new(Weak::new()) };
    }
    SIGCHLD.with(|slot| {
        if let Some(shared) = slot.borrow().upgrade() {
            return Some(shared);
        }
        let signals = Signals::new([libc::SIGCHLD]).ok()?;
        let shared = Rc::new(SharedSigchld(RefCell::new(signals)));
        *slot.borrow_mut() = Rc::downgrade(&shared);
        Some(shared)
    })
}

/// Use the `SIGCHLD` path even where pidfds work (for its tests).
static FORCE_SIGCHLD: AtomicBool = AtomicBool::new(false);

/// Makes children spawned from now on be waited for through `SIGCHLD`, as on
/// systems without pidfds (for tests of that path on Linux).
#[doc(hidden)]
pub fn __force_sigchld_reaping(on: bool) {
    FORCE_SIGCHLD.store(on, Ordering::Relaxed);
}

impl ExitWatch {
    /// The best way this system offers to watch child `pid`.
    pub(super) fn new(pid: u32) -> ExitWatch {
        #[cfg(target_os = "linux")]
        if !FORCE_SIGCHLD.load(Ordering::Relaxed) {
            let pid = rustix::process::Pid::from_raw(pid as i32);
            if let Some(pid) = pid {
                if let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
                    if let Ok(fd) = Async::new(fd) {
                        return ExitWatch::Pidfd(fd);
                    }
                }
            }
        }
        let _ = pid;
        ExitWatch::Sigchld
    }

    /// Waits until `child` has exited and reaps it.
    pub(super) async fn wait(&self, child: &mut stdp::Child) -> io::Result<ExitStatus> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::Pidfd(fd) => {
                fd.read_with(|_| match child.try_wait()? {
                    Some(status) => Ok(status),
                    None => Err(io::ErrorKind::WouldBlock.into()),
                })
                .await
            }
            ExitWatch::Sigchld => match shared_sigchld() {
                Some(sigchld) => loop {
                    let exited = std::future::poll_fn(|cx| {
                        // Listen, then look: this task is registered for the
                        // next SIGCHLD before it checks, so an exit in
                        // between still wakes it.
                        sigchld.listen(cx);
                        match child.try_wait() {
                            Ok(None) => Poll::Pending,
                            done => Poll::Ready(done),
                        }
                    });
                    let backstop = Duration::from_millis(SIGCHLD_BACKSTOP_MS.load(Ordering::Relaxed));
                    if let Ok(done) = loop_exec::wait_for(exited, backstop).await {
                        return Ok(done?.expect("a finished child has a status"));
                    }
                },
                None => {
                    // No signal listener could be made: poll with back-off.
                    let mut backoff = Duration::from_millis(1);
                    loop {
                        if let Some(status) = child.try_wait()? {
                            return Ok(status);
                        }
                        loop_exec::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(50));
                    }
                }
            },
        }
    }
}

/// Reaps a dropped child that has not exited yet, so it never lingers as
/// a zombie. A thread blocked in `wait` is simple and works with or without
/// a running loop.
pub(super) fn reap_later(mut child: stdp::Child) {
    let spawned = std::thread::Builder::new().name("loop-reaper".into()).spawn(move || {
        let _ = child.wait();
    });
    drop(spawned);
}
