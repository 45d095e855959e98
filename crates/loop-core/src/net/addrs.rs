//! Socket addresses from what users write: a `SocketAddr`, an `(ip, port)`,
//! or a `"host:port"` that needs a name lookup. The lookup is the event
//! loop's business (`loop-exec` runs it on its blocking pool, so the loop
//! never blocks on DNS); the loop installs it as this thread's resolver.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;

/// Something that names socket addresses: a `SocketAddr`, an `(ip, port)`
/// pair, or a `"host:port"` / `(host, port)` string that may need a DNS
/// lookup (done by the running loop's resolver: on its blocking pool, never
/// on the loop thread).
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

/// A name lookup: `"host:port"` to its addresses.
pub type Resolver = fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

thread_local! {
    static RESOLVER: Cell<Option<Resolver>> = const { Cell::new(None) };
}

/// Installs (or with `None` removes) this thread's resolver; returns the
/// previous one. The event loop installs one while it runs.
pub fn set_resolver(resolver: Option<Resolver>) -> Option<Resolver> {
    RESOLVER.with(|r| r.replace(resolver))
}

/// The addresses `addr` names, looked up by this thread's resolver when
/// it is a name. Without a resolver (a reactor used on its own), the
/// lookup blocks this thread.
pub async fn resolve(addr: impl ToAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_addrs() {
        Target::Resolved(addrs) => addrs,
        Target::Lookup(name) => match RESOLVER.with(Cell::get) {
            Some(resolver) => resolver(name).await?,
            None => name.to_socket_addrs()?.collect(),
        },
    };
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address"));
    }
    Ok(addrs)
}

/// Runs `attempt` on each address in turn; the first success, or the last
/// error.
pub(crate) async fn first_ok<T, F: Future<Output = io::Result<T>>>(
    addrs: Vec<SocketAddr>,
    mut attempt: impl FnMut(SocketAddr) -> F,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs {
        match attempt(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to use")))
}
