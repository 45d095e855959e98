//! TCP: `TcpListener`, `TcpStream` and its owned halves.

use super::*;

/// A TCP listening socket.
///
/// ```no_run
/// use r#loop as aio;
/// # async fn demo() -> std::io::Result<()> {
/// let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stream, peer) = listener.accept().await?;
/// # Ok(()) }
/// ```
pub struct TcpListener {
    io: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port), with `SO_REUSEADDR` on:
    /// a `SocketAddr`, an `(ip, port)`, or a `"host:port"` whose name is
    /// looked up off the loop; the first of its addresses that binds wins.
    pub async fn bind(addr: impl ToAddrs) -> io::Result<TcpListener> {
        let addrs = super::addrs::resolve(addr).await?;
        super::addrs::first_ok(addrs, |a| std::future::ready(TcpListener::bind_addr(a))).await
    }

    /// [`bind`](Self::bind) to one known address, without waiting.
    ///
    /// On Windows `SO_REUSEADDR` is left off: there it would let another
    /// socket bind the same port and take connections (as tokio and mio
    /// also leave it off); a port stays reusable after close there anyway.
    pub fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    }

    /// Binds with `SO_REUSEPORT` (and `SO_REUSEADDR`) on: several listeners,
    /// one per loop of a [`LoopSet`](../struct.LoopSet.html), can bind the same address and the
    /// kernel spreads new connections over them (by a hash of each
    /// connection's addresses: even for many connections, uneven for a few
    /// long ones; see `net::serve_least_connections` for that case). Every
    /// listener of the group must be bound this way; bind port 0 once, then
    /// the others to the port it got.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use r#loop as aio;
    /// use aio::net::TcpListener;
    ///
    /// aio::run(async {
    ///     let first = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap())?;
    ///     let second = TcpListener::bind_reuseport(first.local_addr()?)?; // same port
    ///     assert_eq!(first.local_addr()?, second.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// On Windows, which has no `SO_REUSEPORT` (its `SO_REUSEADDR` lets a
    /// second socket steal the port instead of sharing the load), an
    /// [`Unsupported`](io::ErrorKind::Unsupported) error that names the
    /// alternative: one listener and `net::serve_least_connections`.
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
        #[cfg(unix)]
        {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.set_reuse_port(true)?;
            socket.bind(&addr.into())?;
            socket.listen(1024)?;
            TcpListener::from_std(socket.into())
        }
        #[cfg(not(unix))]
        {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "TcpListener::bind_reuseport({addr}): this OS has no SO_REUSEPORT; bind one listener and share \
                     its connections over the loops with net::serve_least_connections"
                ),
            ))
        }
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

os_handle_impls!(TcpListener);

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
/// `Send + Sync`, like tokio's: it may be moved to (or shared with) a task
/// on another thread, such as a `spawn_threadsafe` future or a connection
/// pool's. It stays registered with the reactor of the loop that made it,
/// which must keep running for it to make progress (wake-ups cross threads
/// as needed); [`reregister`](TcpStream::reregister) moves it to the loop
/// running where it is called.
///
/// ```
/// use r#loop as aio;
/// use r#loop::net::{TcpListener, TcpStream};
///
/// # aio::run(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
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
    io: Arc<Async<net::TcpStream>>,
}

impl TcpStream {
    /// Connects to `addr`. A refused connection is `ConnectionRefused`.
    ///
    /// Completes when the handshake has: a peer that answers slowly (a
    /// real round trip, a listener whose backlog is full) only makes it take
    /// longer. Bound it with `wait_for` if needed.
    ///
    /// `addr` is a `SocketAddr`, an `(ip, port)`, or a `"host:port"` whose
    /// name is looked up off the loop; its addresses are tried in turn (the
    /// error of the last is returned).
    #[track_caller]
    pub fn connect(addr: impl ToAddrs) -> impl Future<Output = io::Result<TcpStream>> {
        let at = Location::caller();
        async move {
            let addrs = super::addrs::resolve(addr).await?;
            super::addrs::first_ok(addrs, |addr| async move {
                let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
                let how = start_connect(&socket, &addr.into())?;
                let stream = Async::new(net::TcpStream::from(socket))?;
                finish_connect(&stream, how, |s| s.peer_addr().map(drop), at).await?;
                Ok(TcpStream { io: Arc::new(stream) })
            })
            .await
        }
    }

    /// Wraps a connected std stream.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream { io: Arc::new(Async::new(stream)?) })
    }

    /// The std stream (deregistered from its reactor; still non-blocking).
    ///
    /// # Errors
    /// `InvalidInput` while another handle to the stream (a clone made by
    /// `into_split` and not joined back) is alive.
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        Arc::try_unwrap(self.io)
            .map(Async::into_inner)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "TcpStream::into_std: the stream is shared"))
    }

    /// Moves the stream to the reactor of the loop running on this thread
    /// (for a stream made on another loop, so that it no longer depends on
    /// that loop running).
    pub fn reregister(self) -> io::Result<TcpStream> {
        TcpStream::from_std(self.into_std()?)
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

    /// A handle that shuts this stream down from elsewhere without keeping
    /// it open (see [`ShutdownHandle`]).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        let target: std::sync::Weak<dyn ShutdownSocket> =
            Arc::downgrade(&self.io) as std::sync::Weak<Async<net::TcpStream>>;
        ShutdownHandle::new(target)
    }

    stream_methods!();

    /// Splits into a read half and a write half that can live in different
    /// tasks (on this loop).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (OwnedReadHalf { io: self.io.clone() }, OwnedWriteHalf { io: self.io, shutdown_on_drop: true })
    }
}

os_handle_impls!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

stream_io_impls!(both TcpStream, net::TcpStream, |s| s.shutdown(Shutdown::Write));
stream_io_impls!(read OwnedReadHalf);
stream_io_impls!(write OwnedWriteHalf, net::TcpStream, |s| s.shutdown(Shutdown::Write));

/// The read half of a [`TcpStream`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    io: Arc<Async<net::TcpStream>>,
}

/// The write half of a [`TcpStream`]. Dropping it sends EOF (shuts down the
/// write side) unless [`forget_shutdown`](OwnedWriteHalf::forget_shutdown)
/// was called.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    io: Arc<Async<net::TcpStream>>,
    shutdown_on_drop: bool,
}

impl OwnedReadHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Whether both halves came from the same stream.
    pub fn is_pair_of(&self, other: &OwnedWriteHalf) -> bool {
        Arc::ptr_eq(&self.io, &other.io)
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
