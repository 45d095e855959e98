//! The session's connector: [`Connector`](crate::hyper::Connector) with
//! aiohttp's connection limits (in total and per host) and a connect
//! timeout. A connection holds its permits until it closes.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::ReadBufCursor;
use hyper_util::client::legacy::connect::{Connected, Connection};
use loop_sync::Semaphore;

use crate::hyper::{Connector, MaybeTls};

/// The limits every connection of a session counts against.
#[derive(Debug)]
pub(crate) struct Limits {
    /// All connections (`None`: no limit).
    total: Option<Arc<Semaphore>>,
    /// Connections per `host:port` (0: no limit).
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Connections made, ever (for tests and curiosity).
    pub(crate) opened: std::sync::atomic::AtomicUsize,
}

impl Limits {
    pub(crate) fn new(total: usize, per_host: usize) -> Limits {
        Limits {
            total: (total > 0).then(|| Arc::new(Semaphore::new(total))),
            per_host,
            hosts: Mutex::new(HashMap::new()),
            opened: 0.into(),
        }
    }

    fn host(&self, key: &str) -> Option<Arc<Semaphore>> {
        (self.per_host > 0).then(|| {
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            hosts.entry(key.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.per_host))).clone()
        })
    }
}

/// A permit held for a connection's life.
#[derive(Debug)]
struct Held(Arc<Semaphore>);

impl Held {
    async fn take(semaphore: Arc<Semaphore>) -> Held {
        semaphore.acquire().await.forget();
        Held(semaphore)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

/// The connector of a `ClientSession`.
#[derive(Debug, Clone)]
pub(crate) struct LimitedConnector {
    pub(crate) inner: Connector,
    pub(crate) limits: Arc<Limits>,
    pub(crate) connect_timeout: Option<Duration>,
}

/// Why a connection was not made (inside the `io::Error` hyper-util hands
/// back): `loop::http` turns it into [`Error::Timeout`](super::Error).
#[derive(Debug, thiserror::Error)]
#[error("the connect timeout of {0:?} passed")]
pub(crate) struct ConnectTimedOut(pub(crate) Duration);

impl tower_service::Service<hyper::Uri> for LimitedConnector {
    type Response = Limited;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Limited>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let mut inner = self.inner.clone();
        let limits = self.limits.clone();
        let timeout = self.connect_timeout;
        Box::pin(async move {
            let key = format!("{}:{}", uri.host().unwrap_or(""), uri.port_u16().unwrap_or(0));
            let mut permits = Vec::with_capacity(2);
            // Per host first: a request for a busy host does not hold one
            // of the total's permits while it waits for its host's.
            if let Some(host) = limits.host(&key) {
                permits.push(Held::take(host).await);
            }
            if let Some(total) = &limits.total {
                permits.push(Held::take(total.clone()).await);
            }
            let connect = tower_service::Service::call(&mut inner, uri);
            let io = match timeout {
                Some(after) => crate::wait_for(connect, after)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, ConnectTimedOut(after)))??,
                None => connect.await?,
            };
            limits.opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Limited { io, _permits: permits })
        })
    }
}

/// A connection of the session, holding its permits.
#[derive(Debug)]
pub(crate) struct Limited {
    io: MaybeTls,
    _permits: Vec<Held>,
}

impl hyper::rt::Read for Limited {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Limited {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl Connection for Limited {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}
