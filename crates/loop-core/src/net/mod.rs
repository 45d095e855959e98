//! TCP, UDP and Unix-domain sockets on the reactor (Unix-domain sockets
//! on Unix only).

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{self, Shutdown, SocketAddr};
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
#[cfg(unix)]
use std::os::unix::net as unix;
use std::panic::Location;
#[cfg(unix)]
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, Protocol, Socket, Type};

use crate::async_io::{Async, Ready};
use crate::source::{READ, WRITE};
use crate::sys::AsSource;

/// `AsFd` and `AsRawFd` (Unix), or `AsSocket` and `AsRawSocket`
/// (Windows), for a socket type whose `io` field is an `Async`.
macro_rules! os_handle_impls {
    ($ty:ty) => {
        #[cfg(unix)]
        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.as_fd()
            }
        }

        #[cfg(unix)]
        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.as_raw_fd()
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $ty {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                std::os::windows::io::AsSocket::as_socket(&self.io)
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsRawSocket for $ty {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                std::os::windows::io::AsRawSocket::as_raw_socket(&std::os::windows::io::AsSocket::as_socket(&self.io))
            }
        }
    };
}

/// The waiting methods TCP and Unix streams share (both hold `io:
/// Arc<Async<_>>`). Each records its caller's line as the wait site.
macro_rules! stream_methods {
    () => {
        /// Reads some bytes (0 at EOF).
        #[track_caller]
        pub fn read<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + use<'a> {
            read(&self.io, buf, Location::caller())
        }

        /// Writes some bytes.
        #[track_caller]
        pub fn write<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + use<'a> {
            write(&self.io, buf, Location::caller())
        }

        /// Writes all of `buf`.
        #[track_caller]
        pub fn write_all<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + use<'a> {
            write_all(&self.io, buf, Location::caller())
        }

        /// Waits for readability.
        #[track_caller]
        pub fn readable(&self) -> Ready<'_> {
            self.io.readable()
        }

        /// Waits for writability.
        #[track_caller]
        pub fn writable(&self) -> Ready<'_> {
            self.io.writable()
        }
    };
}

/// How a non-blocking `connect` began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connect {
    /// Connected at once (Unix sockets, and sometimes loopback TCP).
    Done,
    /// The handshake is under way: the socket turns writable (or fails)
    /// when it ends.
    InProgress,
}

/// Starts a non-blocking connect.
///
/// A Unix socket whose listener's backlog is full fails with `EAGAIN`
/// without starting anything (unlike TCP, nothing is in progress, and no
/// event will say when to retry): that is reported as `WouldBlock` with a
/// message, rather than handing back a socket that is not connected.
fn start_connect(socket: &Socket, addr: &socket2::SockAddr) -> io::Result<Connect> {
    socket.set_nonblocking(true)?;
    match socket.connect(addr) {
        Ok(()) => Ok(Connect::Done),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => Ok(Connect::InProgress),
        #[cfg(unix)]
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && addr.is_unix() => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "connect: the Unix listener's backlog is full (it is not accepting fast enough); try again later",
        )),
        // Windows: `WSAEWOULDBLOCK` means the handshake is under way.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Connect::InProgress),
        Err(e) => Err(e),
    }
}

/// Waits until a connect that is in progress has ended: the socket is
/// writable *and* connected, or failed (`SO_ERROR`). A freshly registered
/// source is believed writable, so the first look is only a guess: while the
/// socket has neither a peer nor an error, the handshake is still going on
/// and the wait goes on for the next writability edge.
async fn finish_connect<T: AsSource>(
    stream: &Async<T>,
    how: Connect,
    connected: impl Fn(&T) -> io::Result<()>,
    at: &'static Location<'static>,
) -> io::Result<()> {
    if how == Connect::Done {
        return Ok(());
    }
    stream
        .io_op(
            WRITE,
            |io| {
                if let Some(e) = socket2::SockRef::from(io).take_error()? {
                    return Err(e);
                }
                match connected(io) {
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
                    other => other,
                }
            },
            at,
        )
        .await
}

/// A stream's `read`: some bytes, 0 at EOF.
fn read<'a, T: AsSource>(
    io: &'a Async<T>,
    buf: &'a mut [u8],
    at: &'static Location<'static>,
) -> impl Future<Output = io::Result<usize>> + use<'a, T>
where
    for<'b> &'b T: Read,
{
    std::future::poll_fn(move |cx| io.poll_read_buf(cx, buf, at))
}

/// A stream's `write`: some bytes.
fn write<'a, T: AsSource>(
    io: &'a Async<T>,
    buf: &'a [u8],
    at: &'static Location<'static>,
) -> impl Future<Output = io::Result<usize>> + use<'a, T>
where
    for<'b> &'b T: Write,
{
    std::future::poll_fn(move |cx| io.poll_write_buf(cx, buf, at))
}

/// A stream's `write_all`.
async fn write_all<T: AsSource>(io: &Async<T>, mut buf: &[u8], at: &'static Location<'static>) -> io::Result<()>
where
    for<'b> &'b T: Write,
{
    while !buf.is_empty() {
        let n = write(io, buf, at).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// `AsyncRead` for a stream type or its read half (`read`), `AsyncWrite`
/// for a stream type or its write half (`write`, with the shutdown that
/// `poll_close` does), or both (`both`). A read half does not write, and a
/// write half does not read.
macro_rules! stream_io_impls {
    (both $ty:ty, $inner:ty, $shutdown:expr) => {
        stream_io_impls!(read $ty);
        stream_io_impls!(write $ty, $inner, $shutdown);
    };
    (read $ty:ty) => {
        impl AsyncRead for $ty {
            #[track_caller]
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                self.io.poll_read_buf(cx, buf, Location::caller())
            }
        }

        /// tokio's `AsyncRead` (feature `tokio-io`): futures-io's read, for
        /// libraries written against tokio's traits. No tokio runtime is
        /// involved.
        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $ty {
            #[track_caller]
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                crate::tokio_io::poll_read_into(self, cx, buf)
            }
        }
    };
    (write $ty:ty, $inner:ty, $shutdown:expr) => {
        impl AsyncWrite for $ty {
            #[track_caller]
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                self.io.poll_write_buf(cx, buf, Location::caller())
            }

            #[track_caller]
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_write_vectored_buf(cx, bufs, Location::caller())
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Sends EOF (shuts the write side down).
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let shutdown: fn(&$inner) -> io::Result<()> = $shutdown;
                Poll::Ready(match shutdown(self.io.get_ref()) {
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                    other => other,
                })
            }
        }

        /// tokio's `AsyncWrite` (feature `tokio-io`): futures-io's writes, for
        /// libraries written against tokio's traits; `poll_shutdown` sends
        /// EOF. No tokio runtime is involved.
        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncWrite for $ty {
            #[track_caller]
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            #[track_caller]
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    };
}

pub mod addrs;
mod shutdown_handle;
mod tcp;
mod udp;
#[cfg(unix)]
mod uds;

pub use addrs::{Target, ToAddrs};
pub use shutdown_handle::ShutdownHandle;
pub(crate) use shutdown_handle::ShutdownSocket;

pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use uds::{UnixDatagram, UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf};
