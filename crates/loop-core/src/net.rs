//! TCP, UDP and Unix-domain sockets on the reactor.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{self, Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net as unix;
use std::panic::Location;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, Protocol, Socket, Type};

use crate::async_io::{Async, Ready};
use crate::source::{READ, WRITE};

/// The waiting methods TCP and Unix streams share (both hold `io:
/// Rc<Async<_>>`). Each records its caller's line as the wait site.
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
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => Ok(Connect::InProgress),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && addr.is_unix() => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "connect: the Unix listener's backlog is full (it is not accepting fast enough); try again later",
        )),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Connect::InProgress),
        Err(e) => Err(e),
    }
}

/// Waits until a connect that is in progress has ended: the socket is
/// writable *and* connected, or failed (`SO_ERROR`). A freshly registered
/// source is believed writable, so the first look is only a guess: while the
/// socket has neither a peer nor an error, the handshake is still going on
/// and the wait goes on for the next writability edge.
async fn finish_connect<T: AsFd>(
    stream: &Async<T>,
    how: Connect,
    connected: impl Fn(&T) -> io::Result<()>,
    at: &'static Location<'static>,
) -> io::Result<()> {
    if how == Connect::Done {
        return Ok(());
    }
    let not_connected = rustix::io::Errno::NOTCONN.raw_os_error();
    stream
        .io_op(
            WRITE,
            |io| {
                if let Some(e) = socket2::SockRef::from(io).take_error()? {
                    return Err(e);
                }
                match connected(io) {
                    Err(e) if e.raw_os_error() == Some(not_connected) => Err(io::ErrorKind::WouldBlock.into()),
                    other => other,
                }
            },
            at,
        )
        .await
}

/// A TCP listening socket.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let listener = loop_core::TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// let (stream, peer) = listener.accept().await?;
/// # Ok(()) }
/// ```
pub struct TcpListener {
    io: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port), with `SO_REUSEADDR` on.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    }

    /// Wraps a std listener.
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener { io: Async::new(listener)? })
    }

    /// Waits for a connection.
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + use<'_> {
        let accepted = self.io.read_with(|l| l.accept());
        async move {
            let (stream, addr) = accepted.await?;
            Ok((TcpStream::from_std(stream)?, addr))
        }
    }

    /// Polls for a connection.
    #[track_caller]
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.io.poll_io(READ, cx, &mut |l: &net::TcpListener| l.accept(), Location::caller()) {
            Poll::Ready(Ok((stream, addr))) => Poll::Ready(TcpStream::from_std(stream).map(|s| (s, addr))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The connections, as a `Stream`.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("local_addr", &self.local_addr().ok()).finish()
    }
}

/// The stream of [`TcpListener::incoming`].
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|r| Some(r.map(|(s, _)| s)))
    }
}

/// A TCP connection. Implements `AsyncRead` / `AsyncWrite` (also on
/// `&TcpStream`), and splits into owned halves.
///
/// ```
/// use loop_core::{TcpListener, TcpStream};
///
/// # let mut reactor = loop_core::Reactor::new()?;
/// # let _enter = reactor.enter();
/// # loop_core::__block_on_reactor(&mut reactor, async {
/// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// let client = TcpStream::connect(listener.local_addr()?).await?;
/// let (server, _peer) = listener.accept().await?;
/// client.write_all(b"ping").await?;
/// let mut buf = [0u8; 4];
/// let n = server.read(&mut buf).await?;
/// assert_eq!(&buf[..n], b"ping");
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    io: Rc<Async<net::TcpStream>>,
}

impl TcpStream {
    /// Connects to `addr`. A refused connection is `ConnectionRefused`.
    ///
    /// Completes when the handshake has: a peer that answers slowly (a
    /// real round trip, a listener whose backlog is full) only makes it take
    /// longer. Bound it with `wait_for` if needed.
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> {
        let at = Location::caller();
        async move {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            let how = start_connect(&socket, &addr.into())?;
            let stream = Async::new(net::TcpStream::from(socket))?;
            finish_connect(&stream, how, |s| s.peer_addr().map(drop), at).await?;
            Ok(TcpStream { io: Rc::new(stream) })
        }
    }

    /// Wraps a connected std stream.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream { io: Rc::new(Async::new(stream)?) })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Shuts down reading, writing or both (`Write` sends EOF to the peer).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    stream_methods!();

    /// Splits into a read half and a write half that can live in different
    /// tasks (on this loop).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (OwnedReadHalf { io: self.io.clone() }, OwnedWriteHalf { io: self.io, shutdown_on_drop: true })
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

/// A stream's `read`: some bytes, 0 at EOF.
fn read<'a, T: AsFd>(
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
fn write<'a, T: AsFd>(
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
async fn write_all<T: AsFd>(io: &Async<T>, mut buf: &[u8], at: &'static Location<'static>) -> io::Result<()>
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

macro_rules! stream_io_impls {
    ($ty:ty, $inner:ty, $shutdown:expr) => {
        impl AsyncRead for $ty {
            #[track_caller]
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                self.io.poll_read_buf(cx, buf, Location::caller())
            }
        }

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
    };
}

stream_io_impls!(TcpStream, net::TcpStream, |s| s.shutdown(Shutdown::Write));
stream_io_impls!(OwnedReadHalf, net::TcpStream, |s| s.shutdown(Shutdown::Read));
stream_io_impls!(OwnedWriteHalf, net::TcpStream, |s| s.shutdown(Shutdown::Write));
stream_io_impls!(UnixStream, unix::UnixStream, |s| s.shutdown(Shutdown::Write));
stream_io_impls!(UnixReadHalf, unix::UnixStream, |s| s.shutdown(Shutdown::Read));
stream_io_impls!(UnixWriteHalf, unix::UnixStream, |s| s.shutdown(Shutdown::Write));

/// The read half of a [`TcpStream`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    io: Rc<Async<net::TcpStream>>,
}

/// The write half of a [`TcpStream`]. Dropping it sends EOF (shuts down the
/// write side) unless [`forget_shutdown`](OwnedWriteHalf::forget_shutdown)
/// was called.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    io: Rc<Async<net::TcpStream>>,
    shutdown_on_drop: bool,
}

impl OwnedReadHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Whether both halves came from the same stream.
    pub fn is_pair_of(&self, other: &OwnedWriteHalf) -> bool {
        Rc::ptr_eq(&self.io, &other.io)
    }

    /// Joins the halves back into a stream.
    ///
    /// # Panics
    /// When the halves come from different streams.
    pub fn unsplit(self, mut write: OwnedWriteHalf) -> TcpStream {
        assert!(self.is_pair_of(&write), "unsplit: the halves come from different streams");
        write.shutdown_on_drop = false;
        drop(write);
        TcpStream { io: self.io }
    }
}

impl OwnedWriteHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Do not send EOF when this half is dropped.
    pub fn forget_shutdown(mut self) {
        self.shutdown_on_drop = false;
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.io.get_ref().shutdown(Shutdown::Write);
        }
    }
}

/// A UDP socket.
///
/// ```
/// use loop_core::UdpSocket;
///
/// # let mut reactor = loop_core::Reactor::new()?;
/// # let _enter = reactor.enter();
/// # loop_core::__block_on_reactor(&mut reactor, async {
/// let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
/// a.send_to(b"hello", b.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        Ok(UdpSocket { io: Async::new(net::UdpSocket::bind(addr)?)? })
    }

    /// Sends a datagram to `addr`.
    #[track_caller]
    pub fn send_to<'a>(&'a self, buf: &'a [u8], addr: SocketAddr) -> impl Future<Output = io::Result<usize>> + use<'a> {
        self.io.write_with(move |s| s.send_to(buf, addr))
    }

    /// Receives a datagram and its sender.
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + use<'a> {
        self.io.read_with(move |s| s.recv_from(buf))
    }

    /// Sets the default peer for `send` / `recv`.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.io.get_ref().connect(addr)
    }

    /// Sends to the connected peer.
    #[track_caller]
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + use<'a> {
        self.io.write_with(move |s| s.send(buf))
    }

    /// Receives from the connected peer.
    #[track_caller]
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + use<'a> {
        self.io.read_with(move |s| s.recv(buf))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("local_addr", &self.local_addr().ok()).finish()
    }
}

/// A Unix-domain listening socket.
pub struct UnixListener {
    io: Async<unix::UnixListener>,
}

impl UnixListener {
    /// Binds to a filesystem path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener { io: Async::new(unix::UnixListener::bind(path)?)? })
    }

    /// Waits for a connection.
    #[track_caller]
    pub fn accept(&self) -> impl Future<Output = io::Result<(UnixStream, unix::SocketAddr)>> + use<'_> {
        let accepted = self.io.read_with(|l| l.accept());
        async move {
            let (stream, addr) = accepted.await?;
            Ok((UnixStream::from_std(stream)?, addr))
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<unix::SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").finish_non_exhaustive()
    }
}

/// A Unix-domain stream socket.
///
/// ```
/// use loop_core::UnixStream;
///
/// # let mut reactor = loop_core::Reactor::new()?;
/// # let _enter = reactor.enter();
/// # loop_core::__block_on_reactor(&mut reactor, async {
/// let (a, b) = UnixStream::pair()?;
/// a.write_all(b"over the pair").await?;
/// let mut buf = [0u8; 32];
/// let n = b.read(&mut buf).await?;
/// assert_eq!(&buf[..n], b"over the pair");
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    io: Rc<Async<unix::UnixStream>>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// When the listener's backlog is full the OS refuses at once with
    /// `EAGAIN` (there is no handshake to wait for): that is a `WouldBlock`
    /// error saying so, never a stream that is not connected.
    #[track_caller]
    pub fn connect(path: impl AsRef<Path>) -> impl Future<Output = io::Result<UnixStream>> {
        let at = Location::caller();
        let address = socket2::SockAddr::unix(path);
        async move {
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            let how = start_connect(&socket, &address?)?;
            let stream = Async::new(unix::UnixStream::from(std::os::fd::OwnedFd::from(socket)))?;
            finish_connect(&stream, how, |s| s.peer_addr().map(drop), at).await?;
            Ok(UnixStream { io: Rc::new(stream) })
        }
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unix::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a std stream.
    pub fn from_std(stream: unix::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream { io: Rc::new(Async::new(stream)?) })
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    stream_methods!();

    /// The local address.
    pub fn local_addr(&self) -> io::Result<unix::SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<unix::SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Splits into read and write halves.
    pub fn into_split(self) -> (UnixReadHalf, UnixWriteHalf) {
        (UnixReadHalf { io: self.io.clone() }, UnixWriteHalf { io: self.io })
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}

/// The read half of a [`UnixStream`].
#[derive(Debug)]
pub struct UnixReadHalf {
    io: Rc<Async<unix::UnixStream>>,
}

/// The write half of a [`UnixStream`].
#[derive(Debug)]
pub struct UnixWriteHalf {
    io: Rc<Async<unix::UnixStream>>,
}

/// A Unix-domain datagram socket.
pub struct UnixDatagram {
    io: Async<unix::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to a filesystem path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { io: Async::new(unix::UnixDatagram::bind(path)?)? })
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = unix::UnixDatagram::pair()?;
        Ok((UnixDatagram { io: Async::new(a)? }, UnixDatagram { io: Async::new(b)? }))
    }

    /// Sends to the connected peer.
    #[track_caller]
    pub fn send<'a>(&'a self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + use<'a> {
        self.io.write_with(move |s| s.send(buf))
    }

    /// Receives from the connected peer.
    #[track_caller]
    pub fn recv<'a>(&'a self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + use<'a> {
        self.io.read_with(move |s| s.recv(buf))
    }

    /// Sends to the socket at `path`.
    #[track_caller]
    pub fn send_to<'a, P: AsRef<Path>>(
        &'a self,
        buf: &'a [u8],
        path: P,
    ) -> impl Future<Output = io::Result<usize>> + use<'a, P> {
        self.io.write_with(move |s| s.send_to(buf, path.as_ref()))
    }

    /// Receives a datagram and its sender.
    #[track_caller]
    pub fn recv_from<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<(usize, unix::SocketAddr)>> + use<'a> {
        self.io.read_with(move |s| s.recv_from(buf))
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram").finish_non_exhaustive()
    }
}
