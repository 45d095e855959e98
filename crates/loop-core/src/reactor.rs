//! Parking a loop's thread in the OS poller (the `Driver` of `sys/`), and
//! waking it from anywhere.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::park::{notify_with, park_with};
use crate::reactor_core::ReactorCore;
use crate::source::{EnterGuard, SourceTable};
use crate::sys::{Driver, EventBuffer, Events, Sys};

/// Where an event loop waits for something to happen.
///
/// Owned by one loop and used only on its thread; [`Reactor::notifier`] hands
/// out the `Send + Sync` part that other threads use to wake it.
pub struct Reactor {
    /// The driver and the parked flag, shared with every notifier and
    /// source.
    core: Arc<ReactorCore>,
    /// Reused buffer for the events of one wait.
    events: Events,
    /// The registered I/O sources; while there are none a non-blocking poll
    /// has nothing to report and is skipped without a syscall.
    sources: Arc<SourceTable>,
}

/// Wakes a parked [`Reactor`] from any thread. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    core: Arc<ReactorCore>,
}

impl Reactor {
    /// Creates a reactor with its own OS poller.
    pub fn new() -> io::Result<Reactor> {
        let core = Arc::new(ReactorCore {
            poller: Sys::new()?,
            parked: AtomicBool::new(false),
            notifies: AtomicU64::new(0),
            #[cfg(target_os = "linux")]
            id: crate::reactor_core::next_id(),
        });
        Ok(Reactor { sources: Arc::new(SourceTable::new(core.clone())), core, events: Events::new() })
    }

    /// Makes this reactor the one I/O objects created on this thread
    /// register with, until the guard is dropped. The event loop enters its
    /// reactor while it runs.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard::new(self.sources.clone())
    }

    /// A handle that wakes this reactor from any thread.
    pub fn notifier(&self) -> Notifier {
        Notifier { core: self.core.clone() }
    }

    /// Number of registered I/O sources.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Parks the calling thread until an event arrives, a [`Notifier`]
    /// fires, or `timeout` passes (`None` waits without bound).
    ///
    /// `may_block` is called after the reactor has announced that it is
    /// parking: any wake-up queued by another thread before that point is
    /// seen by `may_block`, any queued after it makes the notifier interrupt
    /// the wait. When it returns `false` the reactor only polls without
    /// blocking. Returns the number of events received.
    pub fn park(&mut self, timeout: Option<Duration>, may_block: impl FnOnce() -> bool) -> io::Result<usize> {
        let Reactor { core, sources, events } = self;
        // The announce / look / wait order is `park_with`'s (model-checked).
        let result = park_with(&core.parked, may_block, |block| {
            let timeout = if block { timeout } else { Some(Duration::ZERO) };
            #[cfg(target_os = "linux")]
            if let Some(foreign) = crate::foreign::installed() {
                // Events left in the kernel by a full buffer would not mark
                // the poller readable again: collect them before blocking.
                if timeout == Some(Duration::ZERO) || Sys::filled(events) {
                    foreign.turn();
                } else if !crate::foreign::park_in(&*foreign, core.poller.fd(), core.id, timeout) {
                    // Woken by the loop's own thread (the foreign driver's
                    // work queued a task), not by an event of ours: nothing
                    // to collect, and the poller's readiness (if any) is
                    // still cached for next time.
                    events.clear();
                    return Ok(0);
                }
                // Collect even with no source: the foreign driver cleared
                // its cache of the poller's readiness, so a notification
                // left in the poller would not wake its next park.
                events.clear();
                return core.poller.wait(events, Some(Duration::ZERO));
            }
            if timeout == Some(Duration::ZERO) && sources.len() == 0 {
                return Ok(0);
            }
            events.clear();
            core.poller.wait(events, timeout)
        });
        match result {
            Ok(n) => {
                self.sources.dispatch(&self.events);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Collects whatever events are ready without blocking (and turns an
    /// installed [`ForeignDriver`](crate::ForeignDriver)). Free (no syscall)
    /// while no I/O source is registered and no foreign driver is installed.
    pub fn poll_now(&mut self) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        let idle = self.sources.len() == 0 && crate::foreign::installed().is_none();
        #[cfg(not(target_os = "linux"))]
        let idle = self.sources.len() == 0;
        if idle {
            return Ok(0);
        }
        self.park(Some(Duration::ZERO), || false)
    }

    /// How many times a notifier had to interrupt a parked wait.
    pub fn notify_count(&self) -> u64 {
        self.core.notifies.load(Ordering::Relaxed)
    }
}

impl Notifier {
    /// Wakes the reactor if it is parked (or about to park); otherwise does
    /// nothing, because the loop will look at its queues before parking.
    ///
    /// It begins with a `SeqCst` fence (the park handshake's, see
    /// `park.rs`): the caller's writes before it are ordered before its
    /// reads after it, so a caller with a handshake of its own (a queue
    /// and a closed flag) need not fence again.
    #[inline]
    pub fn notify(&self) {
        notify_with(&self.core.parked, || {
            self.core.notifies.fetch_add(1, Ordering::Relaxed);
            // An error here means the poller is gone or broken; the loop will
            // surface that from its own `wait`, so nothing is lost by
            // ignoring it in the waker.
            let _ = self.core.poller.notify();
        });
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor").field("sources", &self.sources.len()).finish_non_exhaustive()
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    use std::time::Instant;

    #[test]
    fn park_times_out_without_events() {
        let mut reactor = Reactor::new().unwrap();
        let start = Instant::now();
        assert_eq!(reactor.park(Some(Duration::from_millis(5)), || true).unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_millis(5));
    }

    /// Parks `reactor` without bound while another thread notifies it. The
    /// notifier only learns it may notify once the reactor is about to park,
    /// so the notify interrupts the park (it is not a notify of a loop that
    /// was awake, which the reactor skips).
    pub(crate) fn park_until_notified_from_another_thread(reactor: &mut Reactor) {
        let notifier = reactor.notifier();
        let (tx, rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            rx.recv().unwrap();
            notifier.notify();
        });
        reactor
            .park(None, || {
                tx.send(()).unwrap();
                true
            })
            .unwrap();
        t.join().unwrap();
    }

    #[test]
    fn notify_from_another_thread_interrupts_an_unbounded_park() {
        let mut reactor = Reactor::new().unwrap();
        park_until_notified_from_another_thread(&mut reactor);
        assert_eq!(reactor.notify_count(), 1);
    }

    #[test]
    fn may_block_false_never_blocks() {
        let mut reactor = Reactor::new().unwrap();
        let calls = AtomicUsize::new(0);
        reactor
            .park(None, || {
                calls.fetch_add(1, Ordering::SeqCst);
                false
            })
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// The epoll backend's unsafe code (borrowing a registered fd to
    /// deregister it) and readiness dispatch, on a real socket pair: runs
    /// under Miri too (its shims cover epoll, eventfd and socketpair).
    #[cfg(unix)]
    #[test]
    fn a_socket_pair_is_registered_woken_and_deregistered() {
        use std::io::{Read, Write};
        let mut reactor = Reactor::new().unwrap();
        let _enter = reactor.enter();
        // As files: read(2)/write(2), which Miri's socket pairs support
        // (std's socket methods use send/recv).
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (a, b) =
            (std::fs::File::from(std::os::fd::OwnedFd::from(a)), std::fs::File::from(std::os::fd::OwnedFd::from(b)));
        let a = crate::Async::new(a).unwrap();
        assert_eq!(reactor.sources(), 1);
        let writer = std::thread::spawn(move || {
            (&b).write_all(b"ping").unwrap();
            b
        });
        let mut buf = [0u8; 8];
        let n = crate::__block_on_reactor(&mut reactor, a.read_with(|mut s| s.read(&mut buf))).unwrap();
        assert_eq!(&buf[..n], b"ping");
        let b = writer.join().unwrap();
        drop(b);
        // EOF is sticky readiness: the read returns 0 without a wait.
        let n = crate::__block_on_reactor(&mut reactor, a.read_with(|mut s| s.read(&mut buf))).unwrap();
        assert_eq!(n, 0);
        drop(a);
        assert_eq!(reactor.sources(), 0, "deregistered on drop");
    }

    #[test]
    fn notify_while_not_parked_is_free() {
        let reactor = Reactor::new().unwrap();
        reactor.notifier().notify();
        reactor.notifier().notify();
        assert_eq!(reactor.notify_count(), 0);
    }
}
