//! An HTTP client (feature `http`, on by default): aiohttp's
//! `ClientSession`, natively on `loop` and hyper-util's connection pool.
//!
//! ```no_run
//! use r#loop as aio;
//!
//! #[aio::main]
//! async fn main() -> Result<(), aio::http::Error> {
//!     let session = &aio::http::ClientSession::builder().limit_per_host(4).build();
//!     let urls = ["https://www.rust-lang.org/", "https://docs.rs/"];
//!     let pages = aio::gather(urls.iter().map(|url| async move {
//!         let page = session.get(url).await?.error_for_status()?;
//!         Ok::<_, aio::http::Error>(page.bytes().await?.len())
//!     }))
//!     .await;
//!     for (url, size) in urls.iter().zip(pages) {
//!         println!("{url}: {} bytes", size?);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! - [`ClientSession`] (also named [`Client`]): a pool of keep-alive
//!   connections with aiohttp's `limit` and `limit_per_host`, connect /
//!   read / total timeouts on the loop's timer wheel, redirects up to a
//!   limit, default headers; `https://` with the OS's roots (feature
//!   `tls`).
//! - [`RequestBuilder`]: headers, query, a body of bytes, text, a form,
//!   or JSON (feature `json`); `.await` it.
//! - [`Response`]: status, headers, then the body whole
//!   ([`bytes`](Response::bytes), [`text`](Response::text),
//!   [`json`](Response::json)) or as a stream of pieces
//!   ([`chunk`](Response::chunk), [`bytes_stream`](Response::bytes_stream)).
//! - [`Error`]: typed, each with the URL.
//! - [`get`] and friends: one-off calls, each on a session of its own.

mod connect;
mod decode;
mod error;
mod request;
mod response;
mod session;

pub use error::Error;
pub use hyper::{header, Method, StatusCode, Version};
pub use request::RequestBuilder;
pub use response::{BodyStream, Response};
pub use session::{Client, ClientSession, ClientSessionBuilder};

/// A one-off `GET` on a session of its own (its connection is not reused:
/// for more than one request, make a [`ClientSession`]).
///
/// ```no_run
/// use r#loop as aio;
/// # aio::run(async {
/// let text = aio::http::get("http://127.0.0.1:8080/").await?.text().await?;
/// # Ok::<(), aio::http::Error>(()) });
/// ```
#[track_caller]
pub fn get(url: impl AsRef<str>) -> RequestBuilder {
    ClientSession::new().get(url)
}

/// A one-off `POST` (see [`get`]).
#[track_caller]
pub fn post(url: impl AsRef<str>) -> RequestBuilder {
    ClientSession::new().post(url)
}

/// A one-off `PUT` (see [`get`]).
#[track_caller]
pub fn put(url: impl AsRef<str>) -> RequestBuilder {
    ClientSession::new().put(url)
}

/// A one-off `DELETE` (see [`get`]).
#[track_caller]
pub fn delete(url: impl AsRef<str>) -> RequestBuilder {
    ClientSession::new().delete(url)
}

/// A one-off `HEAD` (see [`get`]).
#[track_caller]
pub fn head(url: impl AsRef<str>) -> RequestBuilder {
    ClientSession::new().head(url)
}

/// A one-off request with any method (see [`get`]).
#[track_caller]
pub fn request(method: Method, url: impl AsRef<str>) -> RequestBuilder {
    ClientSession::new().request(method, url)
}
