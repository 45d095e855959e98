//! TLS (asyncio's `ssl=`), on rustls with the `ring` provider through
//! futures-rustls: no C toolchain beyond what `ring` needs, no OpenSSL.
//!
//! - [`open_connection`]: `open_connection(host, port, ssl=ctx,
//!   server_hostname=...)`, a connected TLS stream as a reader and writer;
//! - [`start_server`]: `start_server(..., ssl=ctx)`, every connection's
//!   handshake done before its handler runs;
//! - [`start_tls`] / [`accept`]: `loop.start_tls()`, upgrading a stream
//!   you already have (either side);
//! - [`connect`]: the TLS stream itself (`AsyncRead + AsyncWrite`), for
//!   hyper's adapters or your own framing; [`split`](crate::split) halves it.
//!
//! **Roots.** [`client_config`] trusts the operating system's certificate
//! store (rustls-native-certs): the roots the machine's administrator and
//! distribution maintain, the same that curl and the system's OpenSSL use,
//! updated with the system rather than with this crate. A bundled set
//! (webpki-roots) would be the same everywhere but frozen at build time and
//! blind to a company's own CA. Build a config with
//! [`client_config_with_roots`] to trust exactly the roots you give (tests,
//! private CAs).
//!
//! Every failure is a [`TlsError`]: an unknown issuer or a name mismatch is
//! [`TlsError::Handshake`] carrying rustls's reason, a peer that closes
//! mid-handshake is [`TlsError::Closed`], a plaintext peer on a TLS port is
//! [`TlsError::Handshake`] (`InvalidMessage`), and a handshake that does not
//! finish within [`HANDSHAKE_TIMEOUT`] is [`TlsError::HandshakeTimeout`]:
//! never a hang.
//!
//! ```
//! use r#loop as aio;
//!
//! aio::run(async {
//!     # let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
//!     # let der = cert.cert.der().clone();
//!     # let key = aio::tls::rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
//!     # let mut roots = aio::tls::rustls::RootCertStore::empty();
//!     # roots.add(der.clone()).unwrap();
//!     // Your certificate chain and key; `roots`: the CA that signed it (for
//!     // a public site: `client_config()`, the system's roots).
//!     let server_config = aio::tls::server_config(vec![der], key)?;
//!     let server = aio::tls::start_server(
//!         |mut reader, writer| async move {
//!             let line = reader.readline().await.unwrap();
//!             writer.write(&line);
//!         },
//!         "127.0.0.1:0",
//!         server_config,
//!     )
//!     .await?;
//!     let addr = server.local_addr().unwrap();
//!     let config = aio::tls::client_config_with_roots(roots);
//!     let (mut reader, writer) = aio::tls::open_connection(addr, "localhost", config).await?;
//!     writer.write(b"over TLS\n");
//!     assert_eq!(reader.readline().await.unwrap(), b"over TLS\n");
//!     server.close();
//!     Ok::<(), aio::tls::TlsError>(())
//! })?;
//! # Ok::<(), aio::tls::TlsError>(())
//! ```

use std::future::Future;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls::pki_types::ServerName;
use futures_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use loop_exec::WaitSite;

use crate::net::{TcpStream, ToAddrs};
use crate::split::{split, ReadHalf, WriteHalf};
use crate::streams::{serve_with, Server};
use crate::{StreamReader, StreamWriter};

pub use futures_rustls::client::TlsStream as ClientTlsStream;
pub use futures_rustls::rustls;
pub use futures_rustls::server::TlsStream as ServerTlsStream;

/// How long a handshake may take before it fails (asyncio's
/// `ssl_handshake_timeout`, 60 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// A TLS client stream over TCP.
pub type TlsStream = ClientTlsStream<TcpStream>;

/// The reader of [`open_connection`].
pub type TlsReader = StreamReader<ReadHalf<TlsStream>>;
/// The writer of [`open_connection`].
pub type TlsWriter = StreamWriter<WriteHalf<TlsStream>>;

/// Why a TLS connection failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The handshake failed: rustls says why (`InvalidCertificate(UnknownIssuer)`,
    /// `InvalidCertificate(NotValidForName ..)`, `InvalidMessage(..)` for a
    /// peer that does not speak TLS, an alert from the peer, ...).
    #[error("TLS handshake failed: {0}")]
    Handshake(rustls::Error),
    /// The peer closed the connection during the handshake.
    #[error("the peer closed the connection during the TLS handshake")]
    Closed,
    /// The handshake did not finish within [`HANDSHAKE_TIMEOUT`].
    #[error("the TLS handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),
    /// `server_name` is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// The connection itself failed (refused, reset, ...).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl TlsError {
    /// Classifies an error from a TLS stream (futures-rustls reports
    /// rustls's errors inside `io::Error`).
    fn from_io(e: io::Error) -> TlsError {
        if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return TlsError::Handshake(tls.clone());
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                TlsError::Closed
            }
            _ => TlsError::Io(e),
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> io::Error {
        match e {
            TlsError::Io(e) => e,
            TlsError::Closed => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            TlsError::HandshakeTimeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// For code that reads and writes with [`StreamError`](crate::StreamError).
impl From<TlsError> for crate::StreamError {
    fn from(e: TlsError) -> crate::StreamError {
        crate::StreamError::Io(e.into())
    }
}

/// The `ring` provider, named so that no other provider a dependency
/// enables can make rustls's builders ambiguous.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config trusting the operating system's roots (loaded once per
/// process). A store that cannot be read leaves the roots that could be:
/// with none, every handshake fails with `UnknownIssuer`, an error, not a
/// silent downgrade.
pub fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            client_config_with_roots(roots)
        })
        .clone()
}

/// A client config trusting exactly `roots`.
pub fn client_config_with_roots(roots: RootCertStore) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A server config presenting `chain` (leaf first) with `key`.
pub fn server_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Handshake)?;
    Ok(Arc::new(config))
}

/// Bounds a handshake by [`HANDSHAKE_TIMEOUT`] and types its error.
async fn handshake<T>(fut: impl Future<Output = io::Result<T>>) -> Result<T, TlsError> {
    match loop_exec::wait_for(fut, HANDSHAKE_TIMEOUT).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(TlsError::from_io(e)),
        Err(_) => Err(TlsError::HandshakeTimeout(HANDSHAKE_TIMEOUT)),
    }
}

/// asyncio's `start_tls` on the client side: runs the handshake over `io`
/// (any stream), checking the certificate against `server_name`.
#[track_caller]
pub fn start_tls<IO: AsyncRead + AsyncWrite + Unpin>(
    io: IO,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> impl Future<Output = Result<ClientTlsStream<IO>, TlsError>> {
    let name =
        ServerName::try_from(server_name.to_owned()).map_err(|_| TlsError::InvalidServerName(server_name.to_owned()));
    WaitSite::new(None, async move {
        let connector = futures_rustls::TlsConnector::from(config);
        handshake(connector.connect(name?, io)).await
    })
}

/// `start_tls` on the server side: answers the handshake over `io`.
#[track_caller]
pub fn accept<IO: AsyncRead + AsyncWrite + Unpin>(
    io: IO,
    config: Arc<ServerConfig>,
) -> impl Future<Output = Result<ServerTlsStream<IO>, TlsError>> {
    WaitSite::new(None, async move {
        let acceptor = futures_rustls::TlsAcceptor::from(config);
        handshake(acceptor.accept(io)).await
    })
}

/// Connects to `addr` and runs the handshake for `server_name` (SNI and
/// the certificate check).
#[track_caller]
pub fn connect(
    addr: impl ToAddrs,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> impl Future<Output = Result<TlsStream, TlsError>> {
    let server_name = server_name.to_owned();
    WaitSite::new(None, async move {
        let tcp = TcpStream::connect(addr).await?;
        start_tls(tcp, &server_name, config).await
    })
}

/// asyncio's `open_connection(..., ssl=...)`: a TLS connection as a
/// reader and a writer.
#[track_caller]
pub fn open_connection(
    addr: impl ToAddrs,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> impl Future<Output = Result<(TlsReader, TlsWriter), TlsError>> {
    let connecting = connect(addr, server_name, config);
    async move {
        let (r, w) = split(connecting.await?);
        Ok((StreamReader::new(r), StreamWriter::new(w)))
    }
}

/// asyncio's `start_server(..., ssl=...)`: every connection's handshake is
/// done (within [`HANDSHAKE_TIMEOUT`]) before `handler` gets its reader and
/// writer. A failed handshake closes that connection; the server goes on.
#[track_caller]
pub fn start_server<H, Fut>(
    handler: H,
    addr: impl ToAddrs,
    config: Arc<ServerConfig>,
) -> impl Future<Output = io::Result<Server>>
where
    H: Fn(
            StreamReader<ReadHalf<ServerTlsStream<TcpStream>>>,
            StreamWriter<WriteHalf<ServerTlsStream<TcpStream>>>,
        ) -> Fut
        + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let handler = std::rc::Rc::new(handler);
    serve_with(addr, move |stream: TcpStream| {
        let config = config.clone();
        let handler = handler.clone();
        async move {
            if let Ok(tls) = accept(stream, config).await {
                let (r, w) = split(tls);
                handler(StreamReader::new(r), StreamWriter::new(w)).await;
            }
        }
    })
}
