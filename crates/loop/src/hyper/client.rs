//! hyper-util's pooled `Client` on `loop`: the [`Connector`] (TCP, or TLS
//! over it) and its connection type, [`MaybeTls`].

use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::ReadBufCursor;

use super::io::Io;

/// The connector of hyper-util's pooled `Client`
/// (`hyper_util::client::legacy`): TCP connections on `loop` (the name
/// looked up off the loop), and TLS for `https://` (feature `tls`;
/// [`Connector::new`] trusts the OS roots). Build the client with
/// [`SendExec`](super::SendExec) and [`Timer`](super::Timer):
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
/// [`WaitSite`](crate::WaitSite) to see it.)
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
    /// HTTP/2 when the TLS handshake chose it by ALPN (a config whose
    /// `alpn_protocols` offers `h2`): the pool then speaks HTTP/2 on it.
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        let connected = hyper_util::client::legacy::connect::Connected::new();
        match self {
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) if io.get_ref().get_ref().1.alpn_protocol() == Some(b"h2") => connected.negotiated_h2(),
            _ => connected,
        }
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
                let tls = crate::tls::start_tls(stream, &host, config).await.map_err(|e| match e {
                    crate::tls::TlsError::Io(e) => e,
                    crate::tls::TlsError::Closed => io::Error::new(io::ErrorKind::UnexpectedEof, TlsHandshakeFailed(e)),
                    crate::tls::TlsError::HandshakeTimeout(_) => {
                        io::Error::new(io::ErrorKind::TimedOut, TlsHandshakeFailed(e))
                    }
                    e => io::Error::new(io::ErrorKind::InvalidData, TlsHandshakeFailed(e)),
                })?;
                return Ok(MaybeTls::Tls(Box::new(Io::new_at(tls, at))));
            }
            Err(io::Error::new(io::ErrorKind::Unsupported, "https:// needs a Connector with TLS (feature tls)"))
        })
    }
}

/// The error of a [`Connector`] whose TCP connection was made but whose TLS
/// handshake failed (inside the returned `io::Error`, whose kind is the
/// one `io::Error::from(TlsError)` gives: `loop::http` tells the two
/// apart with it).
#[cfg(feature = "tls")]
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TlsHandshakeFailed(pub crate::tls::TlsError);

/// hyper-util's pooled `Client` speaking HTTP/2 only, on the running loop
/// (`SendExec`, `Timer`, [`Connector::new`]): what a gRPC client sends
/// through. tonic's generated clients take it as their transport, with the
/// server's origin: `GreeterClient::with_origin(aio::hyper::http2_client(), uri)`.
/// `B` is the request body type (`tonic::body::Body` for tonic).
///
/// ```
/// use r#loop as aio;
/// use aio::hyper::{http_body_util::Empty, hyper::body::Bytes};
///
/// aio::run(async {
///     let client = aio::hyper::http2_client::<Empty<Bytes>>();
///     # drop(client);
/// });
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn http2_client<B>() -> hyper_util::client::legacy::Client<Connector, B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let handle = crate::get_running_loop().handle();
    hyper_util::client::legacy::Client::builder(super::SendExec(handle))
        .timer(super::Timer)
        .http2_only(true)
        .build(Connector::new())
}
