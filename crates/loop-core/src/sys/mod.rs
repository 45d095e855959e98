//! The OS side of the reactor: the [`Driver`] trait and its backends.
//!
//! - `epoll.rs` (Linux, and Miri, whose shims cover epoll, eventfd and
//!   socket pairs): epoll driven directly through `rustix`.
//! - `polling.rs` (every other system): the `polling` crate (kqueue on
//!   macOS and the BSDs, event ports, `poll`, and IOCP with `\Device\Afd`
//!   polling on Windows).
//!
//! The reactor uses the one [`Sys`] picked by `cfg` below; nothing else in
//! the crate names a backend. Both are *readiness* drivers: the OS says "fd
//! 7 is readable" and `Source` retries the operation.
//!
//! Where the OS has edge-triggered events (epoll, kqueue) a source is
//! registered once for both directions and never touched again. Where it
//! has not (Windows, `poll`), the driver is *one-shot*: a registration
//! watches only the directions a task waits for, and each report disarms
//! it, so `Source` re-arms it ([`Driver::rearm`]) when a task starts
//! waiting and after each report. A one-shot arm reports a direction that
//! is ready at the moment it is armed, so re-arming loses no event.
//!
//! [`RawSource`] is what a source stands for: a file descriptor on Unix,
//! a socket on Windows.
//!
//! # Plan: a completion-based backend (io_uring)
//!
//! Not built yet; this is the shape it fits into, as one more file
//! (`sys/uring.rs`) selected here by a `cfg` or at run time:
//!
//! 1. **Readiness through the ring first (the legacy path).** `register`
//!    submits a multishot `IORING_OP_POLL_ADD` for both directions tagged
//!    with `key`, `deregister` a `POLL_REMOVE`; `wait` is
//!    `io_uring_enter(min_complete = 1, timeout)` and turns each CQE into an
//!    [`Readiness`]; `notify` writes the same eventfd, registered as one more
//!    multishot poll. Every `Source`, `Async`, socket, pipe and the child
//!    watcher then run unchanged on the ring, which is how monoio's
//!    `OpAble` keeps a legacy path beside the uring one.
//! 2. **Completion ops where they pay (the uring path).** A second trait
//!    method, `submit(&self, op: Op, key: usize)`, queues a read, write,
//!    accept or connect on the ring with a buffer the op owns; its CQE comes
//!    back from `wait` as a `Completion { key, result }` event beside
//!    [`Readiness`], and `Source` keeps the op's buffer until that CQE
//!    arrives (so a cancelled read cannot let the kernel write into freed
//!    memory: dropping the future submits `ASYNC_CANCEL` and parks the
//!    buffer in the source). Readiness drivers do not implement `submit`;
//!    `Async` asks `Sys::COMPLETION` and takes the readiness path when it is
//!    false, so the two kinds never mix within one source.
//! 3. Timers stay in `loop-time`'s wheel: the ring's timeout is only the
//!    park bound, as the epoll timeout is today.

use std::io;
use std::time::Duration;

#[cfg(unix)]
pub(crate) use std::os::fd::{AsFd as AsSource, AsRawFd as AsRawSource, BorrowedFd as BorrowedSource};
/// What the reactor watches: a file descriptor.
#[cfg(unix)]
pub(crate) type RawSource = std::os::fd::RawFd;

#[cfg(windows)]
pub(crate) use std::os::windows::io::{
    AsRawSocket as AsRawSource, AsSocket as AsSource, BorrowedSocket as BorrowedSource,
};
/// What the reactor watches: a socket.
#[cfg(windows)]
pub(crate) type RawSource = std::os::windows::io::RawSocket;

/// `io`'s OS handle, borrowed (`as_fd` on Unix, `as_socket` on Windows).
#[inline]
pub(crate) fn borrow<T: AsSource + ?Sized>(io: &T) -> BorrowedSource<'_> {
    #[cfg(unix)]
    return io.as_fd();
    #[cfg(windows)]
    return io.as_socket();
}

/// The raw number of a borrowed handle.
#[inline]
pub(crate) fn raw(handle: BorrowedSource<'_>) -> RawSource {
    #[cfg(unix)]
    return handle.as_raw_fd();
    #[cfg(windows)]
    return handle.as_raw_socket();
}

#[cfg(target_os = "linux")]
mod epoll;
#[cfg(not(target_os = "linux"))]
mod polling;

/// The driver of this platform.
#[cfg(target_os = "linux")]
pub(crate) type Sys = epoll::Epoll;
/// The driver of this platform.
#[cfg(not(target_os = "linux"))]
pub(crate) type Sys = polling::Polling;

/// The events buffer of this platform's driver.
pub(crate) type Events = <Sys as Driver>::Events;

/// One readiness report from the OS (named apart from `async_io::Ready`,
/// the public readiness set a user's `Async` reports).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readiness {
    /// The key the fd was registered under (the source's slab index).
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its end or the socket failed: reading will never
    /// block again (it returns EOF or the error), so readiness must stick.
    pub(crate) closed: bool,
}

/// A reusable buffer for the reports of one [`Driver::wait`].
pub(crate) trait EventBuffer {
    /// An empty buffer with room for a batch of reports.
    fn new() -> Self;
    /// Forgets the reports of the last wait.
    fn clear(&mut self);
    /// The reports of the last wait (the driver's own wake-ups left out).
    fn iter(&self) -> impl Iterator<Item = Readiness> + '_;
}

/// What the reactor needs from the OS. One implementation per file of
/// `sys/`; `Send + Sync` because notifiers on other threads share it.
///
/// Registration is edge-triggered for both directions where the OS allows
/// (level-triggered otherwise: `Source` retries until `WouldBlock` either
/// way, so both are correct).
pub(crate) trait Driver: Send + Sync + Sized {
    /// The buffer `wait` fills.
    type Events: EventBuffer;
    /// Opens the OS poller and whatever `notify` needs.
    fn new() -> io::Result<Self>;
    /// Watches `fd`; reports carry `key`. An edge-triggered driver watches
    /// both directions from here on; a one-shot one watches nothing until
    /// [`rearm`](Driver::rearm). The caller keeps `fd` open until it calls
    /// `deregister`.
    fn register(&self, fd: RawSource, key: usize) -> io::Result<()>;
    /// Stops watching `fd`, which is still open.
    fn deregister(&self, fd: RawSource) -> io::Result<()>;
    /// Whether each report disarms the registration, so that `Source` must
    /// call [`rearm`](Driver::rearm) (false for edge-triggered drivers,
    /// which then never see a `rearm`). Not on Linux, whose epoll driver
    /// is edge-triggered.
    #[cfg(not(target_os = "linux"))]
    fn oneshot(&self) -> bool {
        false
    }
    /// Watches `fd` for the next report in the given directions only (a
    /// one-shot driver). A direction already ready is reported at once.
    #[cfg(not(target_os = "linux"))]
    fn rearm(&self, fd: RawSource, key: usize, read: bool, write: bool) -> io::Result<()> {
        let _ = (fd, key, read, write);
        Ok(())
    }
    /// Blocks until a report, a `notify` or the timeout (`None`: no bound);
    /// returns how many reports the OS gave (the wake-up included).
    fn wait(&self, events: &mut Self::Events, timeout: Option<Duration>) -> io::Result<usize>;
    /// Interrupts a `wait` in progress, or makes the next one return at
    /// once. Any thread.
    fn notify(&self) -> io::Result<()>;
}
