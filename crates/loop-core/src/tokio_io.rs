//! tokio's I/O traits on `loop`'s types (feature `tokio-io`): implemented
//! directly on the sockets (`TcpStream`, `UnixStream` and their halves),
//! and through [`TokioTraits`] for any other futures-io stream (a TLS
//! stream, a child's pipes, a `loop::fs::File`).
//!
//! Libraries written against tokio's `AsyncRead`/`AsyncWrite`
//! (tokio-postgres, redis, tonic's transports, tokio-util codecs) then take
//! `loop`'s streams as they are: no tokio runtime, no `compat()` wrapper,
//! no extra thread. Only tokio's trait definitions are compiled in.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

pin_project_lite::pin_project! {
    /// A futures-io stream seen through tokio's `AsyncRead`/`AsyncWrite`
    /// (the sockets implement those directly; this is for the rest). A
    /// wrapper costs nothing: each call forwards to the inner stream.
    /// `poll_shutdown` is futures-io's `poll_close`.
    ///
    /// ```
    /// use r#loop as aio;
    /// use aio::tokio_io::TokioTraits;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// aio::run(async {
    ///     let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     // TcpStream implements tokio's traits itself.
    ///     let mut client = aio::net::TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     // Another futures-io stream (here one split by loop), used where
    ///     // tokio's traits are required.
    ///     let (reader, _writer) = aio::split(server);
    ///     let mut reader = TokioTraits::new(reader);
    ///     client.write_all(b"ping").await?;
    ///     let mut buf = [0u8; 4];
    ///     reader.read_exact(&mut buf).await?;
    ///     assert_eq!(&buf, b"ping");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug)]
    pub struct TokioTraits<T> {
        #[pin]
        inner: T,
    }
}

impl<T> TokioTraits<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> TokioTraits<T> {
        TokioTraits { inner }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream inside, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead> tokio::io::AsyncRead for TokioTraits<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        poll_read_into(self.project().inner, cx, buf)
    }
}

/// tokio's read through futures-io's: what the sockets' tokio impls and
/// [`TokioTraits`] share. futures-io reads into initialized bytes, so the
/// unfilled part is zeroed once (a `ReadBuf` remembers what it
/// initialized).
#[track_caller]
pub(crate) fn poll_read_into<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let n = std::task::ready!(reader.poll_read(cx, buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

impl<T: AsyncWrite> tokio::io::AsyncWrite for TokioTraits<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_close(cx)
    }
}
