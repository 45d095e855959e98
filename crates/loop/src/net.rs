//! Sockets (TCP, UDP, Unix) and name resolution.
//!
//! The socket types come from `loop-core`; what this module adds is
//! resolving host names on the blocking pool, so `connect("example.com:80")`
//! never blocks the loop.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use loop_exec::WaitSite;

pub use loop_core::{
    Async, Incoming, OwnedReadHalf, OwnedWriteHalf, Ready, TcpListener, TcpStream, UdpSocket, UnixDatagram,
    UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf,
};

/// Something that names socket addresses: a `SocketAddr`, an `(ip, port)`
/// pair, or a `"host:port"` / `(host, port)` string that may need a DNS
/// lookup (done on the blocking pool, never on the loop).
pub trait ToAddrs {
    /// The addresses, or the name to resolve.
    fn to_addrs(self) -> Target;
}

/// What a [`ToAddrs`] turned into.
#[derive(Debug, Clone)]
pub enum Target {
    /// Addresses known without a lookup.
    Resolved(Vec<SocketAddr>),
    /// A `host:port` to look up.
    Lookup(String),
}

impl ToAddrs for SocketAddr {
    fn to_addrs(self) -> Target {
        Target::Resolved(vec![self])
    }
}

impl ToAddrs for (IpAddr, u16) {
    fn to_addrs(self) -> Target {
        Target::Resolved(vec![self.into()])
    }
}

impl ToAddrs for &str {
    fn to_addrs(self) -> Target {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Target::Resolved(vec![addr]),
            Err(_) => Target::Lookup(self.to_string()),
        }
    }
}

impl ToAddrs for String {
    fn to_addrs(self) -> Target {
        self.as_str().to_addrs()
    }
}

impl ToAddrs for (&str, u16) {
    fn to_addrs(self) -> Target {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Target::Resolved(vec![SocketAddr::new(ip, self.1)]),
            Err(_) => Target::Lookup(format!("{}:{}", self.0, self.1)),
        }
    }
}

/// Resolves `addr` to socket addresses (asyncio's `getaddrinfo`); host names
/// are looked up on the blocking pool.
///
/// ```
/// use std::net::SocketAddr;
///
/// let addrs = r#loop::run(r#loop::net::lookup_host("127.0.0.1:8080"))?;
/// assert_eq!(addrs, ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn lookup_host(addr: impl ToAddrs) -> impl Future<Output = io::Result<Vec<SocketAddr>>> {
    WaitSite::new(None, async move {
        match addr.to_addrs() {
            Target::Resolved(addrs) => Ok(addrs),
            Target::Lookup(name) => {
                let task = loop_exec::spawn_blocking(move || name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
                let addrs = task.await.map_err(|e| io::Error::other(format!("name lookup failed: {e}")))??;
                if addrs.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address"));
                }
                Ok(addrs)
            }
        }
    })
}

/// Connects to the first address of `addr` that accepts, trying each in
/// turn (the error of the last attempt is returned).
///
/// ```no_run
/// # r#loop::run(async {
/// let stream = r#loop::net::connect("localhost:8080").await?;
/// # Ok::<(), std::io::Error>(()) });
/// ```
#[track_caller]
pub fn connect(addr: impl ToAddrs) -> impl Future<Output = io::Result<TcpStream>> {
    WaitSite::new(None, async move {
        let mut last = None;
        for addr in lookup_host(addr).await? {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to connect to")))
    })
}

/// Binds a listener on the first address of `addr` that works.
#[track_caller]
pub fn bind(addr: impl ToAddrs) -> impl Future<Output = io::Result<TcpListener>> {
    WaitSite::new(None, async move {
        let mut last = None;
        for addr in lookup_host(addr).await? {
            match TcpListener::bind(addr) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to bind")))
    })
}
