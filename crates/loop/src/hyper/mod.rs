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

mod client;
mod exec;
mod io;
mod server;
mod timer;

pub use http_body_util;
pub use hyper;
pub use hyper_util;

#[cfg(feature = "tls")]
pub use client::TlsHandshakeFailed;
pub use client::{http2_client, Connector, MaybeTls};
pub use exec::{LocalExec, SendExec};
pub use io::{Io, Reverse};
pub use server::{serve, serve_connection, serve_connection_tower, serve_tower, SHUTDOWN_TIMEOUT};
pub use timer::Timer;
pub use tower_service;
