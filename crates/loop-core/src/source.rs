//! I/O sources registered with a reactor: readiness cached per direction,
//! wakers per direction, deregistered on drop. Thread-safe: the I/O types
//! built on them are `Send + Sync`, polled from any thread, while the
//! source stays registered with the reactor that made it.

use std::cell::RefCell;
use std::io;
use std::panic::Location;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use slab::Slab;

#[cfg(not(target_os = "linux"))]
use crate::arm;
use crate::observe::{note_io_wait, IoWait};
use crate::reactor_core::ReactorCore;
use crate::readiness;
#[cfg(not(target_os = "linux"))]
use crate::sys::Driver;
use crate::sys::{BorrowedSource, EventBuffer, Events, RawSource};

/// Read direction index.
pub(crate) const READ: usize = 0;
/// Write direction index.
pub(crate) const WRITE: usize = 1;

thread_local! {
    /// The registry of the loop running on this thread, for `Async::new`.
    static CURRENT_SOURCES: RefCell<Option<Arc<SourceTable>>> = const { RefCell::new(None) };
}

/// Makes a reactor's registry the current one while alive (restores the
/// previous on drop). Returned by [`crate::Reactor::enter`].
#[derive(Debug)]
pub struct EnterGuard {
    previous: Option<Arc<SourceTable>>,
}

impl EnterGuard {
    pub(crate) fn new(registry: Arc<SourceTable>) -> EnterGuard {
        let previous = CURRENT_SOURCES.with(|c| c.borrow_mut().replace(registry));
        EnterGuard { previous }
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT_SOURCES.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// The registry of the reactor entered on this thread.
pub(crate) fn current_registry() -> io::Result<Arc<SourceTable>> {
    CURRENT_SOURCES.with(|c| c.borrow().clone()).ok_or_else(|| {
        io::Error::other(
            "no running event loop on this thread: create I/O objects inside a task or the future \
             given to loop::run / EventLoop::run_until_complete",
        )
    })
}

/// One direction of a source. Any thread may poll a source (its I/O
/// object is `Send + Sync`); the reactor's thread sets readiness.
#[derive(Debug)]
struct Direction {
    /// `READY | CLOSED | ticks * TICK` (see `readiness.rs`). Starts ready:
    /// try the operation first.
    state: AtomicU32,
    /// Tasks waiting for this direction (usually one; a few when several
    /// futures watch the same source). Woken and cleared on readiness.
    wakers: Mutex<Vec<Waker>>,
}

impl Default for Direction {
    fn default() -> Direction {
        Direction { state: AtomicU32::new(readiness::READY), wakers: Mutex::new(Vec::new()) }
    }
}

/// What `poll_ready` saw: the state word, for the `clear_ready` that may
/// follow (it only clears if no event arrived since).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen(u32);

/// A file descriptor (a socket on Windows) registered with the reactor.
#[derive(Debug)]
pub(crate) struct Source {
    registry: Arc<SourceTable>,
    key: usize,
    fd: RawSource,
    dirs: [Direction; 2],
    /// One-shot drivers only: the directions the registration is armed
    /// for (`arm::ARM_*` bits), behind the lock of `arm.rs`'s protocol.
    /// Linux's epoll is edge-triggered and never re-arms.
    #[cfg(not(target_os = "linux"))]
    armed: Mutex<u8>,
    /// Windows: reading was shut down through a `ShutdownHandle`; reads
    /// end at EOF without asking the OS (Winsock's own `shutdown(SD_RECEIVE)`
    /// resets a TCP connection that still has bytes to receive).
    #[cfg(windows)]
    pub(crate) read_shut: std::sync::atomic::AtomicBool,
}

impl Source {
    /// Whether the direction is believed ready; if not, remembers `cx`'s
    /// waker for when it becomes ready, and tells the wait observer that
    /// the task now waits here, at `at` (the user's line).
    #[inline]
    pub(crate) fn poll_ready(&self, dir: usize, cx: &mut Context<'_>, at: &'static Location<'static>) -> Poll<Seen> {
        let d = &self.dirs[dir];
        match readiness::poll_ready_with(&d.state, &d.wakers, cx.waker()) {
            Some(state) => {
                // Ready: one unit of the task's cooperative budget; once it
                // is spent the task yields (woken for its next turn) and the
                // readiness stays for then.
                std::task::ready!(loop_coop::poll_proceed(cx));
                Poll::Ready(Seen(state))
            }
            None => {
                #[cfg(not(target_os = "linux"))]
                if self.registry.core.poller.oneshot() {
                    self.rearm(false);
                }
                note_io_wait(io_wait_of(dir), at, self.fd as u64);
                Poll::Pending
            }
        }
    }

    /// One-shot drivers: arms the registration for every direction that
    /// has a waiter and is not armed yet (`arm.rs`). `fired`: a report just
    /// came, so the driver disarmed the registration.
    #[cfg(not(target_os = "linux"))]
    #[cold]
    fn rearm(&self, fired: bool) {
        use readiness::WakerList;
        let waiting = || {
            let has = |dir: usize| self.dirs[dir].wakers.with(|list| !list.is_empty());
            (u8::from(has(READ)) * arm::ARM_READ) | (u8::from(has(WRITE)) * arm::ARM_WRITE)
        };
        let poller = &self.registry.core.poller;
        let armed = arm::rearm_with(&self.armed, fired, waiting, |bits| {
            poller.rearm(self.fd, self.key, bits & arm::ARM_READ != 0, bits & arm::ARM_WRITE != 0)
        });
        if armed.is_err() {
            // The OS refused to watch the socket (it is closed or broken):
            // wake the waiters, whose next attempt gets the error itself
            // rather than waiting for an event that cannot come.
            self.set_ready(READ, false);
            self.set_ready(WRITE, false);
        }
    }

    /// An operation in `dir`, attempted after `seen`, would block: forget
    /// the readiness and wait for the next edge, unless an event arrived
    /// since `seen` (then it stays ready and the operation is retried).
    #[inline]
    pub(crate) fn clear_ready(&self, dir: usize, seen: Seen) {
        readiness::clear_ready_with(&self.dirs[dir].state, seen.0);
    }

    /// The direction's state now, for a clear after an operation that did
    /// not go through `poll_ready`.
    pub(crate) fn seen(&self, dir: usize) -> Seen {
        Seen(self.dirs[dir].state.load(Ordering::Acquire))
    }

    /// The reactor: the OS reported `dir` ready (`closed`: for good, as
    /// after a hang-up or a shutdown for reading).
    pub(crate) fn set_ready(&self, dir: usize, closed: bool) {
        let d = &self.dirs[dir];
        readiness::set_ready_with(&d.state, &d.wakers, closed);
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.registry.deregister(self.key, self.fd);
    }
}

/// The sources of one reactor, by key. Shared by the reactor and every
/// source (a source may be dropped, and so deregistered, on any thread).
#[derive(Debug)]
pub(crate) struct SourceTable {
    /// The driver the sources are registered with.
    core: Arc<ReactorCore>,
    /// Weak: a source lives as long as its I/O object; the key is its slab
    /// index, which the OS reports back with every event.
    sources: Mutex<Slab<Weak<Source>>>,
    /// `sources.len()`, read without the lock on every park.
    live: AtomicUsize,
}

impl SourceTable {
    pub(crate) fn new(core: Arc<ReactorCore>) -> SourceTable {
        SourceTable { core, sources: Mutex::new(Slab::new()), live: AtomicUsize::new(0) }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Slab<Weak<Source>>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of registered sources.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Registers `fd` (edge-triggered where the OS supports it, so events
    /// need no re-arming).
    pub(crate) fn register(self: &Arc<Self>, fd: BorrowedSource<'_>) -> io::Result<Arc<Source>> {
        let raw = crate::sys::raw(fd);
        let mut table = self.table();
        // The OS reports the key; take the slot first (the table stays
        // locked until the registration is done, so nobody else takes it).
        let entry = table.vacant_entry();
        let key = entry.key();
        self.core.add(raw, key)?;
        let source = Arc::new(Source {
            registry: self.clone(),
            key,
            fd: raw,
            dirs: [Direction::default(), Direction::default()],
            #[cfg(not(target_os = "linux"))]
            armed: Mutex::new(0),
            #[cfg(windows)]
            read_shut: std::sync::atomic::AtomicBool::new(false),
        });
        entry.insert(Arc::downgrade(&source));
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok(source)
    }

    fn deregister(&self, key: usize, fd: RawSource) {
        // The fd is still open here (the source is dropped before its I/O
        // object). A failure means the fd is already gone from the poller;
        // nothing is left to undo.
        let _ = self.core.delete(fd);
        if self.table().try_remove(key).is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Marks the sources named by `events` ready and wakes their waiters.
    pub(crate) fn dispatch(&self, events: &Events) {
        for ev in events.iter() {
            // Upgraded under the lock, woken outside it (a woken task may
            // run inline elsewhere and drop sources).
            let source = self.table().get(ev.key).and_then(Weak::upgrade);
            let Some(source) = source else { continue };
            if ev.readable {
                source.set_ready(READ, ev.closed);
            }
            if ev.writable {
                source.set_ready(WRITE, false);
            }
            #[cfg(not(target_os = "linux"))]
            if self.core.poller.oneshot() {
                source.rearm(true);
            }
        }
    }
}

/// The [`IoWait`] of a direction index.
fn io_wait_of(dir: usize) -> IoWait {
    if dir == READ {
        IoWait::Readable
    } else {
        IoWait::Writable
    }
}
