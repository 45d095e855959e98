//! Unix-domain sockets: `UnixListener`, `UnixStream` and its halves, `UnixDatagram`.

use super::*;

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
/// use r#loop as aio;
/// use r#loop::net::UnixStream;
///
/// # aio::run(async {
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
    io: Arc<Async<unix::UnixStream>>,
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
            Ok(UnixStream { io: Arc::new(stream) })
        }
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unix::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a std stream.
    pub fn from_std(stream: unix::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream { io: Arc::new(Async::new(stream)?) })
    }

    /// The std stream (deregistered from its reactor; still non-blocking).
    ///
    /// # Errors
    /// `InvalidInput` while another handle to the stream (a half from
    /// `into_split`) is alive.
    pub fn into_std(self) -> io::Result<unix::UnixStream> {
        Arc::try_unwrap(self.io)
            .map(Async::into_inner)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "UnixStream::into_std: the stream is shared"))
    }

    /// Moves the stream to the reactor of the loop running on this thread.
    pub fn reregister(self) -> io::Result<UnixStream> {
        UnixStream::from_std(self.into_std()?)
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// A handle that shuts this stream down from elsewhere without keeping
    /// it open (see [`ShutdownHandle`](crate::ShutdownHandle)).
    pub fn shutdown_handle(&self) -> crate::ShutdownHandle {
        let target: std::sync::Weak<dyn crate::net::ShutdownSocket> =
            Arc::downgrade(&self.io) as std::sync::Weak<Async<unix::UnixStream>>;
        crate::ShutdownHandle::new(target)
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
    io: Arc<Async<unix::UnixStream>>,
}

/// The write half of a [`UnixStream`].
#[derive(Debug)]
pub struct UnixWriteHalf {
    io: Arc<Async<unix::UnixStream>>,
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

stream_io_impls!(both UnixStream, unix::UnixStream, |s| s.shutdown(Shutdown::Write));
stream_io_impls!(read UnixReadHalf);
stream_io_impls!(write UnixWriteHalf, unix::UnixStream, |s| s.shutdown(Shutdown::Write));
