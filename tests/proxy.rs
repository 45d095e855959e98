//! A fault-injecting relay for tests: a real TCP (or Unix) proxy on
//! 127.0.0.1 between a client under test and its server, that adds what a
//! real network does and loopback never does.
//!
//! It runs on its own thread, on a tokio current-thread runtime: a relay
//! built on the runtime under test could hide that runtime's bugs. Each
//! direction is a delay line (a reader stamps every chunk with the time it
//! may leave, a writer sends it then), so latency does not serialise the
//! traffic, as on a real link.
//!
//! Faults, all optional ([`Faults`]): latency per direction, a bandwidth
//! limit, every write split into small segments (1 byte: every read sees a
//! fragment), a stall after some bytes, a reset (RST) after some bytes, an
//! early half-close towards the client, and a slow accept (a backlog of one
//! accepted from slowly, so handshakes stall).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the proxy does to the traffic. `Faults::default()` relays
/// faithfully (half-closes included).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every chunk from the client to the server.
    pub latency_up: Duration,
    /// Added to every chunk from the server to the client.
    pub latency_down: Duration,
    /// Bytes per second in each direction (`None`: unlimited).
    pub bandwidth: Option<u64>,
    /// Split every write into segments of at most this many bytes, each
    /// sent with its own `write` (1: the peer sees single bytes).
    pub segment: Option<usize>,
    /// After this many bytes towards the client, hold the rest for the
    /// duration (a stalled peer that comes back).
    pub stall: Option<(u64, Duration)>,
    /// After this many bytes in either direction, reset both connections
    /// (RST for TCP: `SO_LINGER` 0, then close).
    pub reset_after: Option<u64>,
    /// After this many bytes towards the client, send it EOF (shut down
    /// that direction) while the other keeps flowing.
    pub eof_after: Option<u64>,
    /// Accept one connection per this period, from a listener with a
    /// backlog of one: once its queue is full, handshakes stall.
    pub accept_every: Option<Duration>,
}

/// What the proxy saw, for tests to assert that a fault really happened.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Bytes relayed towards the server.
    pub bytes_up: AtomicU64,
    /// Bytes relayed towards the client.
    pub bytes_down: AtomicU64,
    /// Connections reset by `reset_after`.
    pub resets: AtomicU64,
    /// Stalls taken.
    pub stalls: AtomicU64,
    /// Early EOFs sent by `eof_after`.
    pub early_eofs: AtomicU64,
}

/// A running proxy; stops (closing every relayed connection) when dropped.
pub struct Proxy {
    addr: Option<SocketAddr>,
    path: Option<PathBuf>,
    stats: Arc<ProxyStats>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

enum Upstream {
    Tcp(SocketAddr),
    #[cfg(unix)]
    Unix(PathBuf),
}

impl Proxy {
    /// A TCP proxy on 127.0.0.1 (a fresh port) in front of `upstream`.
    pub fn tcp(upstream: SocketAddr, faults: Faults) -> Proxy {
        let backlog = if faults.accept_every.is_some() { 1 } else { 1024 };
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("proxy socket");
        #[cfg(unix)]
        sock.set_reuse_address(true).expect("SO_REUSEADDR");
        sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).expect("proxy bind");
        sock.listen(backlog).expect("proxy listen");
        sock.set_nonblocking(true).expect("non-blocking");
        let listener: std::net::TcpListener = sock.into();
        let addr = listener.local_addr().expect("proxy address");
        Proxy::start(Front::Tcp(listener), Upstream::Tcp(upstream), faults, Some(addr), None)
    }

    /// A Unix-socket proxy at a fresh path in front of the Unix socket at
    /// `upstream`.
    #[cfg(unix)]
    pub fn unix(upstream: &Path, faults: Faults) -> Proxy {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "loop-proxy-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("proxy bind");
        listener.set_nonblocking(true).expect("non-blocking");
        Proxy::start(Front::Unix(listener), Upstream::Unix(upstream.to_path_buf()), faults, None, Some(path))
    }

    fn start(
        front: Front,
        upstream: Upstream,
        faults: Faults,
        addr: Option<SocketAddr>,
        path: Option<PathBuf>,
    ) -> Proxy {
        let stats = Arc::new(ProxyStats::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
                rt.block_on(serve(front, Arc::new(upstream), Arc::new(faults), st, stop_rx));
            })
            .expect("proxy thread");
        Proxy { addr, path, stats, stop: Some(stop_tx), thread: Some(thread) }
    }

    /// The TCP address to connect to.
    ///
    /// # Panics
    /// For a Unix proxy.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("a TCP proxy")
    }

    /// The Unix path to connect to.
    ///
    /// # Panics
    /// For a TCP proxy.
    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("a Unix proxy")
    }

    /// What the proxy saw so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

enum Front {
    Tcp(std::net::TcpListener),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixListener),
}

type Reader = Box<dyn AsyncRead + Unpin + Send>;

/// One end of a relayed connection, as the writer of a direction holds it.
enum WriteEnd {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    #[cfg(unix)]
    Unix(tokio::net::unix::OwnedWriteHalf),
}

impl WriteEnd {
    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            WriteEnd::Tcp(w) => w.write_all(data).await,
            #[cfg(unix)]
            WriteEnd::Unix(w) => w.write_all(data).await,
        }
    }

    /// Half-close: the peer reads EOF.
    async fn shutdown(&mut self) {
        let _ = match self {
            WriteEnd::Tcp(w) => w.shutdown().await,
            #[cfg(unix)]
            WriteEnd::Unix(w) => w.shutdown().await,
        };
    }

    /// Closes so that the peer sees a reset: for TCP, `SO_LINGER` 0 and no
    /// FIN first (tokio's write half would shut down on drop); the socket
    /// closes with an RST once the read half is gone too.
    fn reset(self) {
        match self {
            WriteEnd::Tcp(w) => {
                let _ = socket2::SockRef::from(w.as_ref()).set_linger(Some(Duration::ZERO));
                w.forget();
            }
            #[cfg(unix)]
            WriteEnd::Unix(w) => drop(w),
        }
    }
}

fn split_tcp(s: tokio::net::TcpStream) -> (Reader, WriteEnd) {
    let _ = s.set_nodelay(true);
    let (r, w) = s.into_split();
    (Box::new(r), WriteEnd::Tcp(w))
}

#[cfg(unix)]
fn split_unix(s: tokio::net::UnixStream) -> (Reader, WriteEnd) {
    let (r, w) = s.into_split();
    (Box::new(r), WriteEnd::Unix(w))
}

async fn serve(
    front: Front,
    upstream: Arc<Upstream>,
    faults: Arc<Faults>,
    stats: Arc<ProxyStats>,
    mut stop: watch::Receiver<bool>,
) {
    let listeners = Listeners::new(&front);
    drop(front);
    loop {
        let client = tokio::select! {
            _ = stop.changed() => return,
            c = listeners.accept() => c,
        };
        let Ok(client) = client else { continue };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let (up, f, st, stop2) = (upstream.clone(), faults.clone(), stats.clone(), stop.clone());
        tokio::spawn(async move {
            let (upstream, faults, stats, stop) = (up, f, st, stop2);
            let server = match &*upstream {
                Upstream::Tcp(a) => tokio::net::TcpStream::connect(a).await.map(split_tcp),
                #[cfg(unix)]
                Upstream::Unix(p) => tokio::net::UnixStream::connect(p).await.map(split_unix),
            };
            let Ok(server) = server else { return };
            relay(client, server, faults, stats, stop).await;
        });
        if let Some(every) = faults.accept_every {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// The proxy's listening socket, on tokio.
struct Listeners {
    tcp: Option<tokio::net::TcpListener>,
    #[cfg(unix)]
    unix: Option<tokio::net::UnixListener>,
}

impl Listeners {
    fn new(front: &Front) -> Listeners {
        match front {
            Front::Tcp(l) => Listeners {
                tcp: Some(tokio::net::TcpListener::from_std(l.try_clone().expect("clone")).expect("listener")),
                #[cfg(unix)]
                unix: None,
            },
            #[cfg(unix)]
            Front::Unix(l) => Listeners {
                tcp: None,
                unix: Some(tokio::net::UnixListener::from_std(l.try_clone().expect("clone")).expect("listener")),
            },
        }
    }

    async fn accept(&self) -> io::Result<(Reader, WriteEnd)> {
        if let Some(l) = &self.tcp {
            return l.accept().await.map(|(s, _)| split_tcp(s));
        }
        #[cfg(unix)]
        if let Some(l) = &self.unix {
            return l.accept().await.map(|(s, _)| split_unix(s));
        }
        unreachable!("a proxy has a listener")
    }
}

/// Which way a direction carries data.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

/// Relays both directions until both ended, a reset, or the proxy stops.
async fn relay(
    client: (Reader, WriteEnd),
    server: (Reader, WriteEnd),
    faults: Arc<Faults>,
    stats: Arc<ProxyStats>,
    stop: watch::Receiver<bool>,
) {
    let (client_r, client_w) = client;
    let (server_r, server_w) = server;
    // Either direction may decide to reset: both ends are then closed with
    // RST.
    let (reset_tx, reset_rx) = watch::channel(false);
    let total = Arc::new(AtomicU64::new(0));
    let up = direction(
        Dir::Up,
        client_r,
        server_w,
        faults.clone(),
        stats.clone(),
        total.clone(),
        &reset_tx,
        &reset_rx,
        &stop,
    );
    let down = direction(Dir::Down, server_r, client_w, faults, stats, total, &reset_tx, &reset_rx, &stop);
    tokio::join!(up, down);
}

#[allow(clippy::too_many_arguments)]
async fn direction(
    dir: Dir,
    mut from: Reader,
    mut to: WriteEnd,
    faults: Arc<Faults>,
    stats: Arc<ProxyStats>,
    total: Arc<AtomicU64>,
    reset_tx: &watch::Sender<bool>,
    reset_rx: &watch::Receiver<bool>,
    stop: &watch::Receiver<bool>,
) {
    let latency = if dir == Dir::Up { faults.latency_up } else { faults.latency_down };
    // Bounded (16 chunks of at most 64 KiB): a slow link pushes back on the
    // sender, as a real one does once its buffers are full.
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(16);
    let mut reset_seen = reset_rx.clone();
    let mut stopped = stop.clone();
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = tokio::select! {
                _ = reset_seen.changed() => return,
                _ = stopped.changed() => return,
                n = from.read(&mut buf) => n.unwrap_or(0),
            };
            if n == 0 {
                // EOF (or an error): the writer half-closes after the data.
                return;
            }
            if tx.send((Instant::now() + latency, buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let mut reset_seen = reset_rx.clone();
    let mut stopped = stop.clone();
    let write = async move {
        let mut sent: u64 = 0;
        let mut stalled = false;
        let mut eof_sent = false;
        let outcome = async {
            while let Some((due, chunk)) = rx.recv().await {
                tokio::time::sleep_until(due).await;
                let mut rest = &chunk[..];
                while !rest.is_empty() {
                    if dir == Dir::Down {
                        if let Some((after, d)) = faults.stall {
                            if !stalled && sent >= after {
                                stalled = true;
                                stats.stalls.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(d).await;
                            }
                        }
                        if let Some(after) = faults.eof_after {
                            if sent >= after {
                                if !eof_sent {
                                    eof_sent = true;
                                    stats.early_eofs.fetch_add(1, Ordering::Relaxed);
                                    to.shutdown().await;
                                }
                                // Swallow the rest of this direction.
                                rest = &[];
                                continue;
                            }
                        }
                    }
                    let mut len = rest.len();
                    if let Some(seg) = faults.segment {
                        len = len.min(seg.max(1));
                    }
                    if dir == Dir::Down {
                        for limit in [faults.stall.map(|s| s.0), faults.eof_after].into_iter().flatten() {
                            if sent < limit {
                                len = len.min((limit - sent) as usize);
                            }
                        }
                    }
                    if let Some(after) = faults.reset_after {
                        let so_far = total.load(Ordering::Relaxed);
                        if so_far >= after {
                            return true;
                        }
                        len = len.min((after - so_far) as usize);
                    }
                    if to.write_all(&rest[..len]).await.is_err() {
                        return false;
                    }
                    rest = &rest[len..];
                    sent += len as u64;
                    total.fetch_add(len as u64, Ordering::Relaxed);
                    let counter = if dir == Dir::Up { &stats.bytes_up } else { &stats.bytes_down };
                    counter.fetch_add(len as u64, Ordering::Relaxed);
                    if let Some(bw) = faults.bandwidth {
                        tokio::time::sleep(Duration::from_secs_f64(len as f64 / bw.max(1) as f64)).await;
                    }
                    if faults.segment.is_some() {
                        // Let each segment leave on its own.
                        tokio::task::yield_now().await;
                    }
                }
            }
            false
        };
        let reset = tokio::select! {
            biased;
            _ = reset_seen.changed() => true,
            decided = outcome => {
                if decided {
                    stats.resets.fetch_add(1, Ordering::Relaxed);
                    let _ = reset_tx.send(true);
                }
                decided
            }
            _ = stopped.changed() => false,
        };
        // The other direction may have reset (and so ended our reader)
        // while we were finishing: a reset, not an orderly half-close.
        if reset || *reset_seen.borrow() {
            to.reset();
        } else {
            to.shutdown().await;
        }
    };
    tokio::join!(read, write);
}
