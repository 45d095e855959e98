//! `ShutdownHandle`: shuts a stream socket down from outside the task
//! that owns it, without keeping the socket open.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::sync::Weak;

use crate::async_io::Async;

/// A weak handle to a TCP or Unix stream that shuts it down from
/// elsewhere, e.g. a server closing its clients' connections (asyncio's
/// `Server.close_clients`). It does not keep the socket open: once the
/// stream is dropped, `shutdown` does nothing.
///
/// Shutting down `Read` makes the owner's reads see EOF and wakes a read
/// that waits: on Unix after the bytes already received (the OS's
/// `SHUT_RD`), on Windows at once (Winsock's own `SD_RECEIVE` resets a
/// connection with bytes still to receive, so it is not used). `Write`
/// sends EOF to the peer.
///
/// ```
/// use r#loop as aio;
/// use aio::net::{TcpListener, TcpStream};
///
/// aio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let _client = TcpStream::connect(listener.local_addr()?).await?;
///     let (conn, _) = listener.accept().await?;
///     let handle = conn.shutdown_handle();
///     let reader = aio::spawn(async move {
///         let mut buf = [0u8; 16];
///         conn.read(&mut buf).await
///     });
///     aio::yield_now().await; // the reader now waits for data
///     handle.shutdown(std::net::Shutdown::Read)?;
///     assert_eq!(reader.await.unwrap()?, 0, "EOF");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct ShutdownHandle {
    target: Weak<dyn ShutdownSocket>,
}

impl ShutdownHandle {
    pub(crate) fn new(target: Weak<dyn ShutdownSocket>) -> ShutdownHandle {
        ShutdownHandle { target }
    }

    /// Shuts the stream down as `how` says; `Ok` with nothing done if the
    /// stream was dropped.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self.target.upgrade() {
            Some(socket) => socket.shutdown_socket(how),
            None => Ok(()),
        }
    }

    /// Whether the stream still exists.
    pub fn is_alive(&self) -> bool {
        self.target.strong_count() > 0
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle").field("alive", &self.is_alive()).finish()
    }
}

/// A stream socket that can be shut down through a [`ShutdownHandle`].
pub(crate) trait ShutdownSocket: Send + Sync {
    fn shutdown_socket(&self, how: Shutdown) -> io::Result<()>;
}

impl ShutdownSocket for Async<std::net::TcpStream> {
    fn shutdown_socket(&self, how: Shutdown) -> io::Result<()> {
        shut_down(self, how, |h| self.get_ref().shutdown(h))
    }
}

#[cfg(unix)]
impl ShutdownSocket for Async<std::os::unix::net::UnixStream> {
    fn shutdown_socket(&self, how: Shutdown) -> io::Result<()> {
        shut_down(self, how, |h| self.get_ref().shutdown(h))
    }
}

/// Shuts `socket` down as `how` says: writing through the OS (`os`), reading
/// through [`Async::shutdown_read`] (which wakes the readers).
fn shut_down<T: crate::sys::AsSource>(
    socket: &Async<T>,
    how: Shutdown,
    os: impl Fn(Shutdown) -> io::Result<()>,
) -> io::Result<()> {
    if how != Shutdown::Read {
        os(Shutdown::Write)?;
    }
    if how != Shutdown::Write {
        socket.shutdown_read(|| os(Shutdown::Read))?;
    }
    Ok(())
}
