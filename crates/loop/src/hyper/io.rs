//! [`Io`]: futures-io streams as hyper's `rt::Read + rt::Write`, and hyper
//! I/O (an upgraded connection) back as futures-io through [`Reverse`].

use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;
use loop_exec::WaitSite;

/// A futures-io stream as hyper I/O, or hyper I/O as a futures-io stream.
///
/// Reads go through a buffer the adapter owns (one copy into hyper's
/// buffer: hyper hands out uninitialized memory, which safe futures-io
/// readers cannot be given); writes are passed straight through, vectored
/// writes included.
///
/// A task waiting inside hyper on this I/O is reported (`all_tasks`,
/// `dump_tasks`) at the line that made the `Io`, not at a line of this
/// adapter or of hyper.
#[derive(Debug)]
pub struct Io<T> {
    inner: T,
    /// Read scratch space, made on the first read.
    buf: Vec<u8>,
    /// Where the `Io` was made: where its waits are reported.
    at: &'static Location<'static>,
}

/// The scratch size of one read: hyper's own first read is this size.
const READ_CHUNK: usize = 8 * 1024;

impl<T> Io<T> {
    /// Wraps `inner`; waits are reported at the caller's line.
    #[track_caller]
    pub fn new(inner: T) -> Io<T> {
        Io::new_at(inner, Location::caller())
    }

    /// Wraps `inner`, waits reported at `at`.
    pub(super) fn new_at(inner: T, at: &'static Location<'static>) -> Io<T> {
        Io { inner, buf: Vec::new(), at }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for Io<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(READ_CHUNK.max(this.buf.len()));
        if this.buf.len() < want {
            this.buf.resize(want, 0);
        }
        match Pin::new(&mut this.inner).poll_read(cx, &mut this.buf[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&this.buf[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                WaitSite::<()>::report(None, this.at);
                Poll::Pending
            }
        }
    }
}

/// Reports a pending write at the `Io`'s line.
fn reported<R>(at: &'static Location<'static>, polled: Poll<R>) -> Poll<R> {
    if polled.is_pending() {
        WaitSite::<()>::report(None, at);
    }
    polled
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for Io<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        reported(this.at, Pin::new(&mut this.inner).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        reported(this.at, Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// The other direction: a hyper `rt::Read` (an upgraded connection) as
/// futures-io, for `StreamReader` and friends. Wrap it as `Io::new(upgraded)`.
impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> AsyncRead for Io<Reverse<T>> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = hyper::rt::ReadBuf::new(out);
        match Pin::new(&mut self.get_mut().inner.0).poll_read(cx, buf.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> AsyncWrite for Io<Reverse<T>> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner.0).poll_shutdown(cx)
    }
}

/// Marks hyper I/O to be adapted the other way, to futures-io:
/// `Io::reverse(upgraded)`.
#[derive(Debug)]
pub struct Reverse<T>(pub T);

impl<T> Io<Reverse<T>> {
    /// Hyper I/O (an upgraded connection) as a futures-io stream.
    #[track_caller]
    pub fn reverse(inner: T) -> Io<Reverse<T>> {
        Io::new(Reverse(inner))
    }
}
