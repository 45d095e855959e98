//! `Async<T>`: any file descriptor (any socket on Windows), driven by the
//! reactor (asyncio's `add_reader` / `add_writer`).

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::source::{current_registry, Seen, Source, READ, WRITE};
use crate::sys::{borrow, AsSource, BorrowedSource};

/// Switches `fd` to non-blocking mode: one `ioctl(FIONBIO)`; under Miri,
/// which does not implement that ioctl, `fcntl(F_SETFL)`; on Windows,
/// `ioctlsocket(FIONBIO)`.
fn set_nonblocking(fd: BorrowedSource<'_>) -> io::Result<()> {
    #[cfg(all(unix, not(miri)))]
    rustix::io::ioctl_fionbio(fd, true)?;
    #[cfg(all(unix, miri))]
    {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        fcntl_setfl(fd, fcntl_getfl(fd)? | OFlags::NONBLOCK)?;
    }
    #[cfg(windows)]
    socket2::SockRef::from(&fd).set_nonblocking(true)?;
    Ok(())
}

/// An I/O object registered with the running loop's reactor.
///
/// `Async::new` puts the descriptor in non-blocking mode and registers it;
/// [`readable`](Async::readable) / [`writable`](Async::writable) wait for
/// readiness, and [`read_with`](Async::read_with) /
/// [`write_with`](Async::write_with) retry an operation until it does not
/// block. When `&T` implements `Read` / `Write`, `Async<T>` implements
/// `futures-io`'s `AsyncRead` / `AsyncWrite`.
///
/// An `Async` belongs to the loop (thread) that created it. Dropping it
/// deregisters the descriptor before closing it.
///
/// `T` is anything with a file descriptor (`AsFd`) on Unix, and anything
/// with a socket (`AsSocket`) on Windows, where pipes and files cannot be
/// polled for readiness (the child process pipes of
/// [`process`](../process/index.html) run on the blocking pool there).
///
/// ```
/// # #[cfg(unix)] {
/// use r#loop as aio;
/// use r#loop::net::Async;
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// aio::run(async {
///     let (a, mut b) = UnixStream::pair()?;
///     let a = Async::new(a)?; // registers with the running loop's reactor
///     b.write_all(b"ping")?;
///     let mut buf = [0u8; 4];
///     let n = a.read_with(|mut s| s.read(&mut buf)).await?;
///     assert_eq!(&buf[..n], b"ping");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Async<T: AsSource> {
    /// Dropped first (fields drop in order): deregisters while `io` is open.
    source: Arc<Source>,
    io: Option<T>,
}

impl<T: AsSource> Async<T> {
    /// Registers `io` with the running loop's reactor, after switching it to
    /// non-blocking mode.
    ///
    /// Fails (with a message saying so) when no event loop runs on this
    /// thread, or when the OS refuses the registration.
    pub fn new(io: T) -> io::Result<Async<T>> {
        set_nonblocking(borrow(&io))?;
        let source = current_registry()?.register(borrow(&io))?;
        Ok(Async { source, io: Some(io) })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// The inner I/O object, mutably. Do not replace its descriptor.
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("Async used after into_inner")
    }

    /// Deregisters and returns the I/O object (still non-blocking).
    pub fn into_inner(mut self) -> T {
        let io = self.io.take().expect("Async used after into_inner");
        // `self` (and with it the source) is dropped here: deregistered
        // while `io` is still open.
        drop(self);
        io
    }

    /// Waits until the descriptor is (believed) readable. May complete
    /// spuriously: an operation can still find nothing to read.
    ///
    /// Like every waiting method here, it records its caller's location
    /// (the line of the `.await`, as `all_tasks()` shows it).
    #[track_caller]
    pub fn readable(&self) -> Ready<'_> {
        Ready { source: &self.source, dir: READ, at: Location::caller() }
    }

    /// Waits until the descriptor is (believed) writable. May complete
    /// spuriously.
    #[track_caller]
    pub fn writable(&self) -> Ready<'_> {
        Ready { source: &self.source, dir: WRITE, at: Location::caller() }
    }

    /// Polls for readability (see [`readable`](Async::readable)).
    #[track_caller]
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source.poll_ready(READ, cx, Location::caller()).map(|_| Ok(()))
    }

    /// An operation found nothing after all: forgets the readability and
    /// polls for the next edge (`Ready` if one already arrived).
    #[track_caller]
    pub fn poll_read_with_clear(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.source.clear_ready(READ, self.source.seen(READ));
        self.source.poll_ready(READ, cx, Location::caller()).map(drop)
    }

    /// Polls for writability.
    #[track_caller]
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source.poll_ready(WRITE, cx, Location::caller()).map(|_| Ok(()))
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for
    /// readability in between.
    #[track_caller]
    pub fn read_with<'a, R, F>(&'a self, op: F) -> impl Future<Output = io::Result<R>> + use<'a, T, R, F>
    where
        F: FnMut(&T) -> io::Result<R>,
    {
        self.io_op(READ, op, Location::caller())
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for
    /// writability in between.
    #[track_caller]
    pub fn write_with<'a, R, F>(&'a self, op: F) -> impl Future<Output = io::Result<R>> + use<'a, T, R, F>
    where
        F: FnMut(&T) -> io::Result<R>,
    {
        self.io_op(WRITE, op, Location::caller())
    }

    /// `op` in `dir`, retried until it does not block; waits noted at `at`.
    pub(crate) fn io_op<'a, R, F>(
        &'a self,
        dir: usize,
        mut op: F,
        at: &'static Location<'static>,
    ) -> impl Future<Output = io::Result<R>> + use<'a, T, R, F>
    where
        F: FnMut(&T) -> io::Result<R>,
    {
        std::future::poll_fn(move |cx| self.poll_io(dir, cx, &mut op, at))
    }

    /// A read or write moved `n < len` bytes: the socket is drained (or
    /// full), so the next attempt would only fail with `WouldBlock`. Forget
    /// the readiness now and save that syscall; with edge-triggered events
    /// any later data still produces a new event. (tokio does the same.)
    pub(crate) fn note_short(&self, dir: usize, n: usize, len: usize, seen: Seen) {
        if n > 0 && n < len {
            self.source.clear_ready(dir, seen);
        }
    }

    /// Reads into `buf` (`AsyncRead`'s work), clearing readiness after a
    /// short read.
    pub(crate) fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        at: &'static Location<'static>,
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a T: Read,
    {
        let len = buf.len();
        #[cfg(windows)]
        if self.source.read_shut.load(std::sync::atomic::Ordering::Acquire) {
            return Poll::Ready(Ok(0));
        }
        let (r, seen) = ready!(self.poll_io_seen(READ, cx, &mut |mut io: &T| io.read(buf), at));
        if let Ok(n) = r {
            self.note_short(READ, n, len, seen);
        }
        Poll::Ready(r)
    }

    /// Shuts reading down: the reads that follow end at EOF, and the tasks
    /// waiting to read are woken to see it. Unix: `shutdown(SHUT_RD)`, so
    /// the bytes already received are read first. Windows: the OS is not
    /// asked (Winsock resets a TCP connection shut down for receiving that
    /// still has bytes to receive); reads end at EOF at once.
    pub(crate) fn shutdown_read(&self, os_shutdown: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        #[cfg(windows)]
        {
            let _ = os_shutdown;
            self.source.read_shut.store(true, std::sync::atomic::Ordering::Release);
        }
        #[cfg(not(windows))]
        os_shutdown()?;
        self.source.set_ready(READ, true);
        Ok(())
    }

    /// Writes from `buf` (`AsyncWrite`'s work), clearing readiness after a
    /// short write.
    pub(crate) fn poll_write_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        at: &'static Location<'static>,
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a T: Write,
    {
        let (r, seen) = ready!(self.poll_io_seen(WRITE, cx, &mut |mut io: &T| io.write(buf), at));
        if let Ok(n) = r {
            self.note_short(WRITE, n, buf.len(), seen);
        }
        Poll::Ready(r)
    }

    /// Writes from `bufs` (`AsyncWrite::poll_write_vectored`'s work).
    pub(crate) fn poll_write_vectored_buf(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        at: &'static Location<'static>,
    ) -> Poll<io::Result<usize>>
    where
        for<'a> &'a T: Write,
    {
        self.poll_io(WRITE, cx, &mut |mut io: &T| io.write_vectored(bufs), at)
    }

    /// One attempt of `op` in `dir`: `Pending` (with the waker stored, and
    /// the wait noted at `at`) when it would block. With the result, the
    /// readiness it was attempted under (for a clear after a short read).
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
        at: &'static Location<'static>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_seen(dir, cx, op, at).map(|(r, _)| r)
    }

    /// `poll_io`, also returning the readiness the successful attempt was
    /// made under.
    #[inline]
    fn poll_io_seen<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
        at: &'static Location<'static>,
    ) -> Poll<(io::Result<R>, Seen)> {
        loop {
            let seen = ready!(self.source.poll_ready(dir, cx, at));
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.source.clear_ready(dir, seen),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready((result, seen)),
            }
        }
    }
}

#[cfg(unix)]
impl<T: AsSource> std::os::fd::AsFd for Async<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

#[cfg(unix)]
impl<T: AsSource> std::os::fd::AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.get_ref().as_fd())
    }
}

#[cfg(windows)]
impl<T: AsSource> std::os::windows::io::AsSocket for Async<T> {
    fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
        self.get_ref().as_socket()
    }
}

#[cfg(windows)]
impl<T: AsSource> std::os::windows::io::AsRawSocket for Async<T> {
    fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
        std::os::windows::io::AsRawSocket::as_raw_socket(&self.get_ref().as_socket())
    }
}

impl<T: AsSource + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Async").field(&self.io).finish()
    }
}

/// The future returned by [`Async::readable`] and [`Async::writable`].
#[must_use = "futures do nothing unless awaited"]
pub struct Ready<'a> {
    source: &'a Source,
    dir: usize,
    /// Where `readable()` / `writable()` was called.
    at: &'static Location<'static>,
}

impl Future for Ready<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source.poll_ready(self.dir, cx, self.at).map(|_| Ok(()))
    }
}

impl<T: AsSource> AsyncRead for Async<T>
where
    for<'a> &'a T: Read,
{
    #[track_caller]
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_buf(cx, buf, Location::caller())
    }
}

impl<T: AsSource> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    #[track_caller]
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_buf(cx, buf, Location::caller())
    }
}

impl<T: AsSource> AsyncWrite for Async<T>
where
    for<'a> &'a T: Write,
{
    #[track_caller]
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_buf(cx, buf, Location::caller())
    }

    #[track_caller]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_buf(cx, bufs, Location::caller())
    }

    #[track_caller]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_io(WRITE, cx, &mut |mut io: &T| io.flush(), Location::caller())
    }

    #[track_caller]
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsSource> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    #[track_caller]
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_buf(cx, buf, Location::caller())
    }

    #[track_caller]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_io(WRITE, cx, &mut |mut io: &T| io.flush(), Location::caller())
    }

    #[track_caller]
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
