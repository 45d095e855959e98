//! Serving: [`serve`] a service on a listener (HTTP/1 and HTTP/2, graceful
//! shutdown bounded by [`SHUTDOWN_TIMEOUT`]) and [`serve_connection`] for
//! one connection.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use loop_exec::WaitSite;

use super::exec::LocalExec;
use super::io::Io;
use super::timer::Timer;
use crate::net::TcpListener;

/// How long [`serve`] lets open connections finish after shutdown begins.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

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
                    crate::accept::accept_error_pause(e).await;
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

/// [`serve`] for a tower `Service`: an axum `Router`, a tonic generated
/// server, anything built with tower layers. Each connection gets a clone,
/// seen through hyper-util's `TowerToHyperService`.
///
/// ```
/// use r#loop as aio;
/// use aio::hyper::{http_body_util::Full, hyper::body::{Bytes, Incoming}, hyper::{Request, Response}};
/// use std::convert::Infallible;
/// use std::future::Ready;
/// use std::task::{Context, Poll};
///
/// /// A tower service by hand (axum's `Router` is one too).
/// #[derive(Clone)]
/// struct Hello;
///
/// impl aio::hyper::tower_service::Service<Request<Incoming>> for Hello {
///     type Response = Response<Full<Bytes>>;
///     type Error = Infallible;
///     type Future = Ready<Result<Self::Response, Infallible>>;
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, _: Request<Incoming>) -> Self::Future {
///         std::future::ready(Ok(Response::new(Full::new(Bytes::from("hello")))))
///     }
/// }
///
/// aio::run(async {
///     let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let stop = aio::sync::Event::new();
///     stop.set(); // serve nothing: stop at once
///     aio::hyper::serve_tower(listener, Hello, stop.wait()).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn serve_tower<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> impl Future<Output = io::Result<()>>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve(listener, hyper_util::service::TowerToHyperService::new(service), shutdown)
}

/// [`serve_connection`] for a tower `Service` (see [`serve_tower`]).
#[track_caller]
pub fn serve_connection_tower<S, B>(
    stream: crate::net::TcpStream,
    service: S,
) -> impl Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_connection(stream, hyper_util::service::TowerToHyperService::new(service))
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
