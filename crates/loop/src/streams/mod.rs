//! asyncio's high-level streams: `open_connection`, `start_server`,
//! `StreamReader`, `StreamWriter`.
//!
//! `reader.rs` holds the reader, `writer.rs` the writer (which writes
//! directly and watches for writability only while data is pending, as
//! asyncio's transports do), `server.rs` the servers; this file the errors
//! and the connection functions.

use std::future::Future;
use std::io;

use loop_core::TcpStream;
#[cfg(unix)]
use loop_core::{UnixReadHalf, UnixWriteHalf};
use loop_exec::WaitSite;

use crate::net::ToAddrs;

/// Default read limit of a [`StreamReader`] (asyncio's 64 KiB).
pub const DEFAULT_LIMIT: usize = 64 * 1024;
/// Default high-water mark of a [`StreamWriter`]'s buffer.
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;
/// Default low-water mark of a [`StreamWriter`]'s buffer.
pub const DEFAULT_LOW_WATER: usize = 16 * 1024;

/// EOF came before the expected bytes (asyncio's `IncompleteReadError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} bytes read on a total of {} expected bytes", partial.len(), expected.map_or("undefined".to_string(), |n| n.to_string()))]
pub struct IncompleteReadError {
    /// What was read before EOF.
    pub partial: Vec<u8>,
    /// How many bytes were expected (`None`: up to a separator).
    pub expected: Option<usize>,
}

/// The separator was not found within the limit (asyncio's
/// `LimitOverrunError`). The data stays in the reader's buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitOverrunError {
    /// What went wrong.
    pub message: String,
    /// How many bytes to consume to get past the limit.
    pub consumed: usize,
}

/// What the reading methods of a [`StreamReader`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The OS reported an error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// EOF before the expected data.
    #[error(transparent)]
    IncompleteRead(#[from] IncompleteReadError),
    /// No separator within the limit.
    #[error(transparent)]
    LimitOverrun(#[from] LimitOverrunError),
}

impl From<StreamError> for io::Error {
    fn from(e: StreamError) -> io::Error {
        match e {
            StreamError::Io(e) => e,
            StreamError::IncompleteRead(e) => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            StreamError::LimitOverrun(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

mod flusher;
mod reader;
mod server;
mod writer;

pub use reader::StreamReader;
#[cfg(feature = "tls")]
pub(crate) use server::serve_with;
#[cfg(unix)]
pub use server::start_unix_server;
pub use server::{start_server, start_server_on, Server};
pub use writer::StreamWriter;

/// Opens a TCP connection (asyncio's `open_connection`); `addr` may be a
/// `SocketAddr` or a `"host:port"` (resolved off the loop).
///
/// ```no_run
/// # r#loop::run(async {
/// let (mut reader, writer) = r#loop::open_connection("127.0.0.1:8080").await?;
/// writer.write(b"GET / HTTP/1.0\r\n\r\n");
/// writer.drain().await?;
/// let status = reader.readline().await?;
/// # Ok::<(), r#loop::StreamError>(()) });
/// ```
#[track_caller]
pub fn open_connection(addr: impl ToAddrs) -> impl Future<Output = io::Result<(StreamReader, StreamWriter)>> {
    WaitSite::new(None, async move {
        let stream = crate::net::connect(addr).await?;
        Ok(tcp_streams(stream))
    })
}

/// Wraps a connected `TcpStream` as a reader/writer pair.
pub fn tcp_streams(stream: TcpStream) -> (StreamReader, StreamWriter) {
    let peer = stream.peer_addr().ok();
    let (r, w) = stream.into_split();
    (StreamReader::new(r), StreamWriter::with_peer(w, peer))
}

/// Opens a Unix-domain connection. Unix only.
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
#[track_caller]
pub fn open_unix_connection(
    path: impl AsRef<std::path::Path>,
) -> impl Future<Output = io::Result<(StreamReader<UnixReadHalf>, StreamWriter<UnixWriteHalf>)>> {
    WaitSite::new(None, async move {
        let stream = loop_core::UnixStream::connect(path).await?;
        let (r, w) = stream.into_split();
        Ok((StreamReader::new(r), StreamWriter::new(w)))
    })
}
