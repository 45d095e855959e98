//! `ClientSession`: aiohttp's session, on hyper-util's pooled client.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::Method;

use super::connect::{LimitedConnector, Limits};
use super::RequestBuilder;
use crate::hyper::{Connector, SendExec, Timer};

pub(crate) type Pool = hyper_util::client::legacy::Client<LimitedConnector, Full<Bytes>>;

/// An HTTP client session (aiohttp's `ClientSession`; `Client` is the
/// same type): one pool of keep-alive connections, with its limits,
/// timeouts and default headers, shared by every request made with it.
/// Cloning is cheap and shares the pool. Make one per program (or per
/// loop) and reuse it: a session per request makes a connection per
/// request.
///
/// ```no_run
/// use r#loop as aio;
///
/// #[aio::main]
/// async fn main() -> Result<(), aio::http::Error> {
///     let session = aio::http::ClientSession::new();
///     let page = session.get("https://www.rust-lang.org/").await?.error_for_status()?;
///     println!("{} bytes", page.bytes().await?.len());
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct ClientSession {
    pub(crate) inner: Rc<Inner>,
}

/// `ClientSession` under its other name (reqwest's).
pub type Client = ClientSession;

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) headers: HeaderMap,
    pub(crate) timeouts: Timeouts,
    pub(crate) max_redirects: usize,
    pub(crate) limits: Arc<Limits>,
    /// The session's cookies (feature `cookies`; `None` when turned off).
    #[cfg(feature = "cookies")]
    pub(crate) cookies: Option<std::cell::RefCell<cookie_store::CookieStore>>,
}

/// The session's timeouts (none by default, but `total`: 5 minutes, as
/// aiohttp's `ClientTimeout`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Option<Duration>,
    pub(crate) read: Option<Duration>,
    pub(crate) total: Option<Duration>,
}

impl ClientSession {
    /// A session with the defaults: 100 connections at most, no limit per
    /// host, a total timeout of 5 minutes per request, up to 10 redirects,
    /// `https://` trusting the OS's roots (feature `tls`).
    ///
    /// # Panics
    /// Outside a running loop (the pool's connection tasks run on it).
    #[track_caller]
    pub fn new() -> ClientSession {
        ClientSession::builder().build()
    }

    /// A builder for the session's limits, timeouts and headers.
    pub fn builder() -> ClientSessionBuilder {
        ClientSessionBuilder {
            limit: 100,
            limit_per_host: 0,
            timeouts: Timeouts { connect: None, read: None, total: Some(Duration::from_secs(300)) },
            max_redirects: 10,
            headers: HeaderMap::new(),
            #[cfg(feature = "tls")]
            tls: None,
            idle_timeout: Duration::from_secs(15),
            http2: true,
            #[cfg(feature = "cookies")]
            cookies: true,
        }
    }

    /// A request with `method` to `url`: add headers, a query, a body, then
    /// `.await` it (or [`send`](RequestBuilder::send)).
    #[track_caller]
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.as_ref(), std::panic::Location::caller())
    }

    /// A `GET` of `url`.
    #[track_caller]
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` to `url` (give it a body: [`RequestBuilder::body`],
    /// [`form`](RequestBuilder::form), [`json`](RequestBuilder::json)).
    #[track_caller]
    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A `PUT` to `url`.
    #[track_caller]
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A `DELETE` of `url`.
    #[track_caller]
    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A `HEAD` of `url`.
    #[track_caller]
    pub fn head(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Connections this session has opened so far (each holds its permits
    /// of the session's limits while it lives).
    pub fn connections_opened(&self) -> usize {
        self.inner.limits.opened.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Default for ClientSession {
    /// [`ClientSession::new`].
    #[track_caller]
    fn default() -> ClientSession {
        ClientSession::new()
    }
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession")
            .field("limits", &self.inner.limits)
            .field("timeouts", &self.inner.timeouts)
            .field("max_redirects", &self.inner.max_redirects)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`ClientSession`] (aiohttp's `TCPConnector` and
/// `ClientTimeout` arguments).
#[derive(Debug, Clone)]
#[must_use = "call .build() for the session"]
pub struct ClientSessionBuilder {
    limit: usize,
    limit_per_host: usize,
    timeouts: Timeouts,
    max_redirects: usize,
    headers: HeaderMap,
    #[cfg(feature = "tls")]
    tls: Option<Arc<crate::tls::rustls::ClientConfig>>,
    idle_timeout: Duration,
    http2: bool,
    #[cfg(feature = "cookies")]
    cookies: bool,
}

impl ClientSessionBuilder {
    /// Connections open at once, to all hosts (aiohttp's `limit`; 0: no
    /// limit). A request beyond it waits for one to close or come back
    /// to the pool. Default 100.
    pub fn limit(mut self, connections: usize) -> Self {
        self.limit = connections;
        self
    }

    /// Connections open at once to one `host:port` (aiohttp's
    /// `limit_per_host`; 0, the default: no limit).
    pub fn limit_per_host(mut self, connections: usize) -> Self {
        self.limit_per_host = connections;
        self
    }

    /// How long making a connection (with its TLS handshake) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = Some(timeout);
        self
    }

    /// How long the server may stay silent: for the response's head, and
    /// then for each piece of its body.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.read = Some(timeout);
        self
    }

    /// How long a whole request may take, redirects and reading its body
    /// included (`None`: no limit). Default 5 minutes.
    pub fn total_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeouts.total = timeout.into();
        self
    }

    /// Redirects followed at most (0: none followed, the 3xx is
    /// returned). Default 10.
    pub fn max_redirects(mut self, redirects: usize) -> Self {
        self.max_redirects = redirects;
        self
    }

    /// A header sent with every request (a request's own header of the
    /// same name replaces it).
    ///
    /// # Panics
    /// If `name` or `value` is not a valid header name or value.
    #[track_caller]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).unwrap_or_else(|e| panic!("invalid header name {name:?}: {e}"));
        let value = HeaderValue::try_from(value).unwrap_or_else(|e| panic!("invalid header value {value:?}: {e}"));
        self.headers.insert(name, value);
        self
    }

    /// `https://` trusting the roots in `config` (a private CA, a test
    /// certificate) rather than the OS's.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<crate::tls::rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Whether the session keeps the cookies servers set and sends them
    /// back (feature `cookies`; on by default, as aiohttp's `CookieJar`).
    #[cfg(feature = "cookies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
    pub fn cookies(mut self, keep: bool) -> Self {
        self.cookies = keep;
        self
    }

    /// Whether `https://` offers HTTP/2 (by ALPN; the server chooses).
    /// Default true. Plain `http://` is always HTTP/1.1.
    pub fn http2(mut self, offer: bool) -> Self {
        self.http2 = offer;
        self
    }

    /// How long an idle keep-alive connection stays in the pool. Default
    /// 15 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The session, on the running loop.
    ///
    /// # Panics
    /// Outside a running loop.
    #[track_caller]
    pub fn build(self) -> ClientSession {
        let handle = crate::try_get_running_loop()
            .unwrap_or_else(|| panic!("ClientSession::build() needs a running loop (call it inside aio::run)"))
            .handle();
        #[cfg(feature = "tls")]
        let inner = {
            // HTTP/2 where the server offers it (ALPN), else HTTP/1.1.
            let mut config = (*self.tls.unwrap_or_else(crate::tls::client_config)).clone();
            if self.http2 && config.alpn_protocols.is_empty() {
                config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            }
            Connector::with_tls(Arc::new(config))
        };
        #[cfg(not(feature = "tls"))]
        let inner = Connector::new();
        let limits = Arc::new(Limits::new(self.limit, self.limit_per_host));
        let mut headers = self.headers;
        if let Some(codings) = super::decode::accept_encoding() {
            headers.entry(hyper::header::ACCEPT_ENCODING).or_insert(codings);
        }
        let connector = LimitedConnector { inner, limits: limits.clone(), connect_timeout: self.timeouts.connect };
        let pool = hyper_util::client::legacy::Client::builder(SendExec(handle))
            .timer(Timer)
            .pool_timer(Timer)
            .pool_idle_timeout(self.idle_timeout)
            .build(connector);
        ClientSession {
            inner: Rc::new(Inner {
                pool,
                headers,
                timeouts: self.timeouts,
                max_redirects: self.max_redirects,
                limits,
                #[cfg(feature = "cookies")]
                cookies: self.cookies.then(|| std::cell::RefCell::new(cookie_store::CookieStore::default())),
            }),
        }
    }
}
