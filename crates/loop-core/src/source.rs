//! I/O sources registered with a reactor: readiness cached per direction,
//! wakers per direction, deregistered on drop.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::panic::Location;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::observe::{note_io_wait, IoWait};
use crate::reactor_core::ReactorCore;
use crate::sys::{EventBuffer, Events};

/// Read direction index.
pub(crate) const READ: usize = 0;
/// Write direction index.
pub(crate) const WRITE: usize = 1;

thread_local! {
    /// The registry of the loop running on this thread, for `Async::new`.
    static CURRENT: RefCell<Option<Rc<SourceTable>>> = const { RefCell::new(None) };
}

/// Makes a reactor's registry the current one while alive (restores the
/// previous on drop). Returned by [`crate::Reactor::enter`].
#[derive(Debug)]
pub struct EnterGuard {
    previous: Option<Rc<SourceTable>>,
}

impl EnterGuard {
    pub(crate) fn new(registry: Rc<SourceTable>) -> EnterGuard {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(registry));
        EnterGuard { previous }
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// The registry of the reactor entered on this thread.
pub(crate) fn current_registry() -> io::Result<Rc<SourceTable>> {
    CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
        io::Error::other(
            "no running event loop on this thread: create I/O objects inside a task or the future \
             given to loop::run / EventLoop::run_until_complete",
        )
    })
}

/// One direction of a source.
#[derive(Debug, Default)]
struct Direction {
    /// Readiness as last reported by the OS and not yet disproved by an
    /// operation that would block. Starts true: try the operation first.
    ready: Cell<bool>,
    /// Tasks waiting for this direction (usually one; a few when several
    /// futures watch the same source). Woken and cleared on readiness.
    wakers: RefCell<Vec<Waker>>,
    /// The peer hung up or the socket failed: operations in this direction
    /// no longer block, so readiness is never cleared again. (An edge for
    /// EOF may arrive together with the last data; forgetting it after a
    /// short read would wait forever.)
    closed: Cell<bool>,
}

/// A file descriptor registered with the reactor.
#[derive(Debug)]
pub(crate) struct Source {
    registry: Rc<SourceTable>,
    key: usize,
    fd: RawFd,
    dirs: [Direction; 2],
}

impl Source {
    /// Whether the direction is believed ready; if not, remembers `cx`'s
    /// waker for when it becomes ready.
    /// When not ready, also tells the wait observer that the task now
    /// waits here, at `at` (the user's line).
    pub(crate) fn poll_ready(&self, dir: usize, cx: &mut Context<'_>, at: &'static Location<'static>) -> Poll<()> {
        let d = &self.dirs[dir];
        if d.ready.get() {
            return Poll::Ready(());
        }
        let mut wakers = d.wakers.borrow_mut();
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        note_io_wait(io_wait_of(dir), at);
        Poll::Pending
    }

    /// An operation in `dir` would block: forget the readiness and wait for
    /// the next edge.
    pub(crate) fn clear_ready(&self, dir: usize) {
        let d = &self.dirs[dir];
        if !d.closed.get() {
            d.ready.set(false);
        }
    }

    fn set_ready(&self, dir: usize, closed: bool) {
        let d = &self.dirs[dir];
        d.ready.set(true);
        if closed {
            d.closed.set(true);
        }
        let wakers = std::mem::take(&mut *d.wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.registry.deregister(self.key, self.fd);
    }
}

/// The sources of one reactor, by key.
#[derive(Debug)]
pub(crate) struct SourceTable {
    shared: Arc<ReactorCore>,
    /// Weak: a source lives as long as its I/O object; the key is its slab
    /// index, which the OS reports back with every event.
    sources: RefCell<Slab<Weak<Source>>>,
}

impl SourceTable {
    pub(crate) fn new(shared: Arc<ReactorCore>) -> SourceTable {
        SourceTable { shared, sources: RefCell::new(Slab::new()) }
    }

    /// Number of registered sources.
    pub(crate) fn len(&self) -> usize {
        self.sources.borrow().len()
    }

    /// Registers `fd` (edge-triggered where the OS supports it, so events
    /// need no re-arming).
    pub(crate) fn register(self: &Rc<Self>, fd: BorrowedFd<'_>) -> io::Result<Rc<Source>> {
        // The key the insert below takes (nothing else touches the table in
        // between: it is this thread's).
        let key = self.sources.borrow().vacant_key();
        let raw = fd.as_raw_fd();
        self.shared.add(raw, key)?;
        let source = Rc::new(Source {
            registry: self.clone(),
            key,
            fd: raw,
            dirs: [Direction::default(), Direction::default()],
        });
        source.dirs[READ].ready.set(true);
        source.dirs[WRITE].ready.set(true);
        let inserted = self.sources.borrow_mut().insert(Rc::downgrade(&source));
        debug_assert_eq!(inserted, key);
        Ok(source)
    }

    fn deregister(&self, key: usize, fd: RawFd) {
        // The fd is still open here (the source is dropped before its I/O
        // object). A failure means the fd is already gone from the poller;
        // nothing is left to undo.
        let _ = self.shared.delete(fd);
        self.sources.borrow_mut().try_remove(key);
    }

    /// Marks the sources named by `events` ready and wakes their waiters.
    pub(crate) fn dispatch(&self, events: &Events) {
        for ev in events.iter() {
            let source = self.sources.borrow().get(ev.key).and_then(Weak::upgrade);
            let Some(source) = source else { continue };
            if ev.readable {
                source.set_ready(READ, ev.closed);
            }
            if ev.writable {
                source.set_ready(WRITE, false);
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
