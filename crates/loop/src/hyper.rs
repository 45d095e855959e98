//! hyper 1.x on `loop` (feature `hyper`): everything `TokioIo`,
//! `TokioExecutor` and `TokioTimer` are for tokio users, plus a server.
//!
//! - [`Io`]: a futures-io stream (`TcpStream`, `UnixStream`, a TLS
//!   stream, a `StreamWriter`...) as hyper's `rt::Read + rt::Write`, and a
//!   hyper upgraded connection back as futures-io;
//! - [`LocalExec`]: spawns hyper's background work (HTTP/2 streams, client
//!   connections) as tasks of the running loop, no `Send` needed;
//!   [`SendExec`] puts it on a given loop from any thread;
//! - [`Timer`]: hyper's timeouts on the loop's timer wheel (cheap reset);
//! - [`serve`]: a service on a listener, HTTP/1 and HTTP/2 (auto-detected),
//!   with graceful shutdown bounded by a timeout.
//!
//! ```
//! use r#loop as aio;
//! use aio::hyper::{hyper, Io, LocalExec};
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use std::convert::Infallible;
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from("hello"))))
//! }
//!
//! aio::run(async {
//!     let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let stop = aio::sync::ResultCell::<()>::new();
//!     let stopped = stop.clone();
//!     let server = aio::spawn(aio::hyper::serve(listener, hyper::service::service_fn(hello), async move {
//!         let _ = stopped.await;
//!     }));
//!
//!     // A client on the same loop.
//!     let stream = aio::net::TcpStream::connect(addr).await?;
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
//!     aio::spawn(conn).detach();
//!     let req = Request::get("/").header("host", "localhost").body(http_body_util::Empty::<Bytes>::new()).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "hello");
//!
//!     stop.set_result(()).unwrap();
//!     server.await.unwrap()?;
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::body::Incoming;
use hyper::rt::ReadBufCursor;
use hyper::{Request, Response};
use loop_exec::WaitSite;

pub use http_body_util;
pub use hyper;
pub use hyper_util;

use crate::net::TcpListener;

/// The connector of hyper-util's pooled `Client`
/// (`hyper_util::client::legacy`): TCP connections on `loop` (the name
/// looked up off the loop), and TLS for `https://` (feature `tls`;
/// [`Connector::new`] trusts the OS roots). Build the client with
/// [`SendExec`] and [`Timer`]:
///
/// ```no_run
/// use r#loop as aio;
/// use aio::hyper::{http_body_util::Empty, hyper::body::Bytes, hyper_util, Connector, SendExec, Timer};
///
/// aio::run(async {
///     let client = hyper_util::client::legacy::Client::builder(SendExec(aio::get_running_loop().handle()))
///         .timer(Timer)
///         .build::<_, Empty<Bytes>>(Connector::new());
///     let res = client.get("https://example.com/".parse().unwrap()).await.unwrap();
///     println!("{}", res.status());
/// });
/// ```
///
/// The pool's connection tasks are reported waiting at the line that made
/// the `Connector`. (The task awaiting `client.request(..)` waits on the
/// pool's internal channel, which reports nothing: wrap that call in a
/// [`WaitSite`] to see it.)
#[derive(Debug, Clone)]
pub struct Connector {
    /// The TLS config for `https://` (none: `https://` is refused).
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<crate::tls::rustls::ClientConfig>>,
    /// Where the connector was made: where its connections' waits are
    /// reported.
    at: &'static Location<'static>,
}

impl Default for Connector {
    /// [`Connector::plain`].
    #[track_caller]
    fn default() -> Connector {
        Connector::plain()
    }
}

impl Connector {
    /// `http://`, and `https://` trusting the OS roots (with `tls`).
    #[track_caller]
    pub fn new() -> Connector {
        Connector {
            #[cfg(feature = "tls")]
            tls: Some(crate::tls::client_config()),
            at: Location::caller(),
        }
    }

    /// `http://` only.
    #[track_caller]
    pub fn plain() -> Connector {
        Connector {
            #[cfg(feature = "tls")]
            tls: None,
            at: Location::caller(),
        }
    }

    /// `http://`, and `https://` with `config` (a private CA, a test
    /// certificate).
    #[cfg(feature = "tls")]
    #[track_caller]
    pub fn with_tls(config: std::sync::Arc<crate::tls::rustls::ClientConfig>) -> Connector {
        Connector { tls: Some(config), at: Location::caller() }
    }
}

/// A connection of the [`Connector`]: plain TCP, or TLS over it.
#[derive(Debug)]
pub enum MaybeTls {
    /// `http://`.
    Plain(Io<crate::net::TcpStream>),
    /// `https://` (boxed: a TLS session is much bigger than a socket).
    #[cfg(feature = "tls")]
    Tls(Box<Io<crate::tls::TlsStream>>),
}

impl hyper::rt::Read for MaybeTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(&mut **io).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for MaybeTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(&mut **io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(&mut **io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(&mut **io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(&mut **io).poll_shutdown(cx),
        }
    }
}

impl hyper_util::client::legacy::connect::Connection for MaybeTls {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        hyper_util::client::legacy::connect::Connected::new()
    }
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = MaybeTls;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<MaybeTls>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        let at = self.at;
        Box::pin(async move {
            let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("cannot connect to {uri}"));
            let https = match uri.scheme_str() {
                Some("http") | None => false,
                Some("https") => true,
                Some(other) => {
                    return Err(io::Error::new(io::ErrorKind::Unsupported, format!("unsupported scheme {other}")))
                }
            };
            let host = uri.host().ok_or_else(bad)?.trim_start_matches('[').trim_end_matches(']').to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let stream = crate::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = stream.set_nodelay(true);
            if !https {
                return Ok(MaybeTls::Plain(Io::new_at(stream, at)));
            }
            #[cfg(feature = "tls")]
            if let Some(config) = tls {
                let tls = crate::tls::start_tls(stream, &host, config).await?;
                return Ok(MaybeTls::Tls(Box::new(Io::new_at(tls, at))));
            }
            Err(io::Error::new(io::ErrorKind::Unsupported, "https:// needs a Connector with TLS (feature tls)"))
        })
    }
}

/// How long [`serve`] lets open connections finish after shutdown begins.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A futures-io stream as hyper I/O, or hyper I/O as a futures-io stream.
///
/// Reads go through a buffer the adapter owns (one copy into hyper's
/// buffer: hyper hands out uninitialized memory, which safe futures-io
/// readers cannot be given); writes are passed straight through, vectored
/// writes included.
///
/// A task waiting inside hyper on this I/O is reported (`all_tasks`,
/// `dump_tasks`) at the line that made the `Io`, not at a line of this
/// adapter or of hyper.
#[derive(Debug)]
pub struct Io<T> {
    inner: T,
    /// Read scratch space, made on the first read.
    buf: Vec<u8>,
    /// Where the `Io` was made: where its waits are reported.
    at: &'static Location<'static>,
}

/// The scratch size of one read: hyper's own first read is this size.
const READ_CHUNK: usize = 8 * 1024;

impl<T> Io<T> {
    /// Wraps `inner`; waits are reported at the caller's line.
    #[track_caller]
    pub fn new(inner: T) -> Io<T> {
        Io::new_at(inner, Location::caller())
    }

    /// Wraps `inner`, waits reported at `at`.
    fn new_at(inner: T, at: &'static Location<'static>) -> Io<T> {
        Io { inner, buf: Vec::new(), at }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for Io<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, mut buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(READ_CHUNK.max(this.buf.len()));
        if this.buf.len() < want {
            this.buf.resize(want, 0);
        }
        match Pin::new(&mut this.inner).poll_read(cx, &mut this.buf[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&this.buf[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                WaitSite::<()>::report(None, this.at);
                Poll::Pending
            }
        }
    }
}

/// Reports a pending write at the `Io`'s line.
fn reported<R>(at: &'static Location<'static>, polled: Poll<R>) -> Poll<R> {
    if polled.is_pending() {
        WaitSite::<()>::report(None, at);
    }
    polled
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for Io<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        reported(this.at, Pin::new(&mut this.inner).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        reported(this.at, Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// The other direction: a hyper `rt::Read` (an upgraded connection) as
/// futures-io, for `StreamReader` and friends. Wrap it as `Io::new(upgraded)`.
impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> AsyncRead for Io<Reverse<T>> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = hyper::rt::ReadBuf::new(out);
        match Pin::new(&mut self.get_mut().inner.0).poll_read(cx, buf.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: hyper::rt::Read + hyper::rt::Write + Unpin> AsyncWrite for Io<Reverse<T>> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner.0).poll_shutdown(cx)
    }
}

/// Marks hyper I/O to be adapted the other way, to futures-io:
/// `Io::reverse(upgraded)`.
#[derive(Debug)]
pub struct Reverse<T>(pub T);

impl<T> Io<Reverse<T>> {
    /// Hyper I/O (an upgraded connection) as a futures-io stream.
    #[track_caller]
    pub fn reverse(inner: T) -> Io<Reverse<T>> {
        Io::new(Reverse(inner))
    }
}

/// hyper's executor on the running loop: `execute` spawns a task (no `Send`
/// bound; the task is detached, as hyper expects).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        crate::spawn(fut).detach();
    }
}

/// hyper's executor for `Send` futures, spawning on the loop behind a
/// [`LoopHandle`](crate::LoopHandle) from any thread.
#[derive(Debug, Clone)]
pub struct SendExec(pub crate::LoopHandle);

impl<F> hyper::rt::Executor<F> for SendExec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        // A closed loop drops the work, as a stopped runtime would.
        let _ = self.0.spawn_threadsafe(fut);
    }
}

/// hyper's timer on the loop's wheel (header-read and keep-alive timeouts).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timer;

/// A loop `Sleep` as hyper's `rt::Sleep`.
struct HyperSleep(crate::Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::sleep_until(deadline)))
    }

    /// Moves the deadline in place (one timer-wheel cancel and insert).
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// Serves `service` on `listener` (HTTP/1.1 and HTTP/2, told apart by the
/// client's first bytes) until `shutdown` completes; then stops accepting,
/// lets the open connections finish their requests (at most
/// [`SHUTDOWN_TIMEOUT`], then they are dropped) and returns.
///
/// Each connection is a task of the running loop; the service need not be
/// `Send` (it is cloned per connection).
#[track_caller]
pub fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> impl Future<Output = io::Result<()>>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The connection tasks' waits are reported at the caller's line too.
    let at = Location::caller();
    WaitSite::new(None, async move {
        let builder = auto_builder();
        // Set when shutdown begins: every connection finishes its request
        // in flight and closes.
        let stopping = Rc::new(crate::sync::Event::new());
        let open = Rc::new(OpenConnections::default());
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = loop_exec::select! {
                accepted = listener.accept() => Some(accepted),
                () = shutdown.as_mut() => None,
            };
            let Some(accepted) = accepted else { break };
            let (stream, _) = match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    crate::streams::accept_error_pause(e).await;
                    continue;
                }
            };
            let conn = builder.serve_connection(Io::new_at(stream, at), service.clone()).into_owned();
            let (stopping, guard) = (stopping.clone(), open.enter());
            crate::spawn(WaitSite::at(None, at, async move {
                let _guard = guard;
                let mut conn = std::pin::pin!(conn);
                let done = loop_exec::select! {
                    _ = conn.as_mut() => true,
                    () = stopping.wait() => false,
                };
                if !done {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }))
            .detach();
        }
        drop(listener);
        stopping.set();
        let _ = crate::wait_for(open.all_closed(), SHUTDOWN_TIMEOUT).await;
        Ok(())
    })
}

/// hyper-util's auto (HTTP/1.1 + HTTP/2) server builder on the running
/// loop: `LocalExec` for HTTP/2's tasks, `Timer` for both versions.
fn auto_builder() -> hyper_util::server::conn::auto::Builder<LocalExec> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(LocalExec);
    builder.http1().timer(Timer);
    builder.http2().timer(Timer);
    builder
}

/// Serves one connection (HTTP/1.1 or HTTP/2, told apart by its first
/// bytes) until the client closes it: what [`serve`] runs per connection,
/// for connections accepted elsewhere, such as the handler of
/// [`net::serve_least_connections`](crate::net::serve_least_connections) on
/// a [`LoopSet`](crate::LoopSet). Its waits are reported at the caller's line.
///
/// ```
/// use r#loop as aio;
/// use aio::hyper::{http_body_util::Full, hyper::body::Bytes, hyper::service::service_fn, hyper::Response};
/// use std::convert::Infallible;
///
/// let set = aio::LoopSet::builder().loops(2).build()?;
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let server = aio::net::serve_least_connections(&set, listener, |stream, _| async move {
///     let hello = service_fn(|_req| async {
///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
///     });
///     let _ = aio::hyper::serve_connection(stream, hello).await;
/// })?;
/// # let _ = server.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn serve_connection<S, B>(
    stream: crate::net::TcpStream,
    service: S,
) -> impl Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + 'static,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let at = Location::caller();
    WaitSite::at(None, at, async move {
        let _ = stream.set_nodelay(true);
        auto_builder().serve_connection(Io::new_at(stream, at), service).await
    })
}

/// The connections of a [`serve`], counted so that shutdown can wait for
/// the last.
#[derive(Default)]
struct OpenConnections {
    count: Cell<usize>,
    none: crate::sync::Event,
}

/// One open connection; dropping it (the connection's task ended or was
/// cancelled) counts it out.
struct OpenGuard(Rc<OpenConnections>);

impl OpenConnections {
    fn enter(self: &Rc<Self>) -> OpenGuard {
        self.count.set(self.count.get() + 1);
        self.none.clear();
        OpenGuard(self.clone())
    }

    async fn all_closed(&self) {
        if self.count.get() > 0 {
            self.none.wait().await;
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let left = self.0.count.get() - 1;
        self.0.count.set(left);
        if left == 0 {
            self.0.none.set();
        }
    }
}
