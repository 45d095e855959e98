//! `serve_least_connections`: one acceptor handing each connection to the
//! loop of a `LoopSet` with the fewest open connections (seastar's and
//! actix's mode).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loop_core::{TcpListener, TcpStream};
use loop_exec::{LoopClosed, LoopHandle, LoopSetHandle, ThreadsafeTask};

/// A running [`serve_least_connections`]: its acceptor task and the open
/// connections per loop. Dropping it leaves the server running; call
/// [`stop`](LeastConnections::stop) to stop accepting.
#[derive(Debug)]
pub struct LeastConnections {
    open: Arc<[AtomicUsize]>,
    accepted: Arc<AtomicUsize>,
    local_addr: SocketAddr,
    acceptor: ThreadsafeTask<io::Result<()>>,
}

impl LeastConnections {
    /// Open connections per loop, by loop index.
    pub fn open_connections(&self) -> Vec<usize> {
        self.open.iter().map(|n| n.load(Ordering::Relaxed)).collect()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting (the listener closes on its loop); connections
    /// already handed out run on. Returns the acceptor's task, which ends
    /// [`Cancelled`](crate::TaskError::Cancelled) (or with the accept error
    /// that ended it earlier).
    pub fn stop(self) -> ThreadsafeTask<io::Result<()>> {
        self.acceptor.cancel();
        self.acceptor
    }
}

/// Serves `listener` on every loop of `set` (a [`LoopSet`](crate::LoopSet), or
/// its [`LoopSetHandle`]): an acceptor task on loop 0
/// accepts each connection and hands it to the loop with the fewest open
/// connections at that moment (ties: the lowest index), where
/// `handler(stream, peer)` runs as a task. The stream is moved to that
/// loop's reactor, so its I/O never involves the acceptor's loop again.
///
/// `SO_REUSEPORT` ([`TcpListener::bind_reuseport`], one listener per loop)
/// lets the kernel balance instead, with no hand-off; it balances by a hash,
/// which evens out over many short connections but not over a few long
/// ones. This mode balances what is actually open.
///
/// The handler's future need not be `Send` (it is made on its loop); the
/// handler itself is shared by the loops. Works with the streams API
/// (`tcp_streams(stream)` gives asyncio's reader and writer) and with
/// `hyper::serve_connection`.
///
/// ```
/// use r#loop as aio;
/// use std::io::{Read, Write};
///
/// let set = aio::LoopSet::builder().loops(2).build()?;
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let server = aio::net::serve_least_connections(&set, listener, |stream, _peer| async move {
///     let (mut reader, writer) = aio::tcp_streams(stream);
///     let line = reader.readline().await.unwrap();
///     writer.write(format!("loop {} says {}", aio::get_running_loop().index().unwrap(), String::from_utf8_lossy(&line)).as_bytes());
///     writer.close();
///     writer.wait_closed().await.ok();
/// })?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"hi\n")?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert!(reply.ends_with("says hi\n"), "{reply}");
/// # let _ = server.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// When the listener cannot be made non-blocking, or loop 0 has stopped.
#[track_caller]
pub fn serve_least_connections<H, Fut>(
    set: &LoopSetHandle,
    listener: std::net::TcpListener,
    handler: H,
) -> io::Result<LeastConnections>
where
    H: Fn(TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let local_addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let open: Arc<[AtomicUsize]> = (0..set.len()).map(|_| AtomicUsize::new(0)).collect();
    let accepted = Arc::new(AtomicUsize::new(0));
    let loops: Vec<LoopHandle> = (0..set.len()).map(|i| set.handle(i).clone()).collect();
    let (open2, accepted2, handler) = (open.clone(), accepted.clone(), Arc::new(handler));
    let acceptor = set
        .handle(0)
        .spawn_fn(move || accept_loop(listener, loops, open2, accepted2, handler))
        .map_err(|LoopClosed| io::Error::other("serve_least_connections: loop 0 of the set has stopped"))?;
    Ok(LeastConnections { open, accepted, local_addr, acceptor })
}

/// The acceptor: accept, pick the least-loaded loop, hand the stream over.
async fn accept_loop<H, Fut>(
    listener: std::net::TcpListener,
    loops: Vec<LoopHandle>,
    open: Arc<[AtomicUsize]>,
    accepted: Arc<AtomicUsize>,
    handler: Arc<H>,
) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = TcpListener::from_std(listener)?;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                crate::accept::accept_error_pause(e).await;
                continue;
            }
        };
        accepted.fetch_add(1, Ordering::Relaxed);
        let target = (0..open.len()).min_by_key(|&i| open[i].load(Ordering::Relaxed)).unwrap_or(0);
        open[target].fetch_add(1, Ordering::Relaxed);
        let guard = OpenGuard { open: open.clone(), index: target };
        // Off this loop's reactor; the target registers it with its own.
        let Ok(stream) = stream.into_std() else { continue };
        let handler = handler.clone();
        let spawned = loops[target].spawn_fn(move || async move {
            let _guard = guard;
            if let Ok(stream) = TcpStream::from_std(stream) {
                handler(stream, peer).await;
            }
        });
        // A stopped loop drops the closure (and the guard, and the stream).
        drop(spawned);
    }
}

/// One handed-out connection; dropping it (the handler ended, or its loop
/// dropped the task) counts it out.
struct OpenGuard {
    open: Arc<[AtomicUsize]>,
    index: usize,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.open[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}
