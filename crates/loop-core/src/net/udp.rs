//! UDP: `UdpSocket`.

use super::*;

/// A UDP socket.
///
/// ```
/// use r#loop as aio;
/// use r#loop::net::UdpSocket;
///
/// # aio::run(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
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

os_handle_impls!(UdpSocket);

impl UdpSocket {
    /// Binds to `addr`: a `SocketAddr`, an `(ip, port)`, or a
    /// `"host:port"` looked up off the loop (the first address that binds).
    pub async fn bind(addr: impl ToAddrs) -> io::Result<UdpSocket> {
        let addrs = super::addrs::resolve(addr).await?;
        super::addrs::first_ok(addrs, |a| std::future::ready(UdpSocket::bind_addr(a))).await
    }

    /// [`bind`](Self::bind) to one known address, without waiting.
    pub fn bind_addr(addr: SocketAddr) -> io::Result<UdpSocket> {
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
