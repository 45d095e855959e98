//! Sockets (TCP, UDP, and Unix-domain on Unix) and name resolution.
//!
//! The socket types come from `loop-core`; what this module adds is
//! resolving host names on the blocking pool, so `connect("example.com:80")`
//! never blocks the loop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use loop_exec::WaitSite;

pub use crate::least_connections::{serve_least_connections, LeastConnections};
pub use loop_core::addrs::{Resolver, Target, ToAddrs};
pub use loop_core::{
    Async, Incoming, OwnedReadHalf, OwnedWriteHalf, Ready, ShutdownHandle, TcpListener, TcpStream, UdpSocket,
};
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use loop_core::{UnixDatagram, UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf};

/// Resolves `addr` to socket addresses (asyncio's `getaddrinfo`); host names
/// are looked up on the blocking pool.
///
/// ```
/// use r#loop as aio;
/// use std::net::SocketAddr;
///
/// let addrs = aio::run(aio::net::lookup_host("127.0.0.1:8080"))?;
/// assert_eq!(addrs, ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn lookup_host(addr: impl ToAddrs) -> impl Future<Output = io::Result<Vec<SocketAddr>>> {
    WaitSite::new(None, loop_core::addrs::resolve(addr))
}

/// [`TcpStream::connect`]: connects to the first address of `addr` that
/// accepts, trying each in turn (the error of the last attempt is returned).
///
/// ```no_run
/// use r#loop as aio;
/// # aio::run(async {
/// let stream = aio::net::connect("localhost:8080").await?;
/// # Ok::<(), std::io::Error>(()) });
/// ```
#[track_caller]
pub fn connect(addr: impl ToAddrs) -> impl Future<Output = io::Result<TcpStream>> {
    WaitSite::new(None, TcpStream::connect(addr))
}

/// [`TcpListener::bind`]: binds a listener on the first address of `addr`
/// that works.
#[track_caller]
pub fn bind(addr: impl ToAddrs) -> impl Future<Output = io::Result<TcpListener>> {
    WaitSite::new(None, TcpListener::bind(addr))
}
