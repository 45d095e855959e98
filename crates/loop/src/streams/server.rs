//! `start_server` / `start_unix_server` and the `Server` they return.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use loop_core::{ShutdownHandle, TcpListener, TcpStream};
#[cfg(unix)]
use loop_core::{UnixListener, UnixReadHalf, UnixWriteHalf};
use loop_exec::{Task, WaitSite};
use loop_sync::Event;

use super::{tcp_streams, StreamReader, StreamWriter};
use crate::net::ToAddrs;

/// Handler tasks of a server, and how to wait for them.
struct Clients {
    tasks: RefCell<HashMap<u64, Task<()>>>,
    /// Each client's connection, weakly: what `close_clients` shuts down.
    connections: RefCell<HashMap<u64, ShutdownHandle>>,
    next: Cell<u64>,
    closed: Cell<bool>,
    /// Set once the server is closed and every handler finished.
    all_done: Event,
    /// Set when the server is closed.
    closed_event: Event,
}

impl Clients {
    fn check_done(&self) {
        if self.closed.get() && self.tasks.borrow().is_empty() {
            self.all_done.set();
        }
    }
}

/// Removes a handler from its server's set when it ends (or is cancelled).
struct ClientGuard {
    clients: Rc<Clients>,
    id: u64,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let task = self.clients.tasks.borrow_mut().remove(&self.id);
        self.clients.connections.borrow_mut().remove(&self.id);
        if let Some(task) = task {
            task.detach();
        }
        self.clients.check_done();
    }
}

/// A running server (asyncio's `Server`), returned by [`start_server`].
pub struct Server {
    local_addr: Option<SocketAddr>,
    accept: RefCell<Option<Task<()>>>,
    clients: Rc<Clients>,
    /// A Unix server's socket file, removed when the server stops (unless
    /// `cleanup_socket(false)`).
    #[cfg(unix)]
    socket_file: RefCell<Option<SocketFile>>,
}

/// The socket file a Unix server made: its path, and its identity (device
/// and inode) so that a file put there by someone else since is left alone.
#[cfg(unix)]
struct SocketFile {
    path: std::path::PathBuf,
    id: (u64, u64),
}

#[cfg(unix)]
impl SocketFile {
    /// The file just bound at `path`.
    fn of(path: &std::path::Path) -> Option<SocketFile> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(SocketFile { path: path.to_path_buf(), id: (meta.dev(), meta.ino()) })
    }

    /// Removes the file if it is still ours (asyncio 3.13's
    /// `cleanup_socket`: a path replaced meanwhile is not touched).
    fn remove(self) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Server {
    /// The address it listens on (TCP).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Whether it still accepts connections.
    pub fn is_serving(&self) -> bool {
        !self.clients.closed.get()
    }

    /// Stops accepting (the listening socket is closed at once); running
    /// handlers go on.
    ///
    /// A Unix server's socket file is removed here, unless something else
    /// was put at its path meanwhile or [`cleanup_socket`](Self::cleanup_socket)
    /// turned that off (asyncio 3.13's `cleanup_socket=True`).
    pub fn close(&self) {
        if let Some(task) = self.accept.borrow_mut().take() {
            task.cancel();
        }
        self.remove_socket_file();
        self.clients.closed.set(true);
        self.clients.closed_event.set();
        self.clients.check_done();
    }

    /// Whether closing (or dropping) a Unix server removes its socket
    /// file: on by default, as asyncio 3.13's `cleanup_socket=True`; `false`
    /// leaves the file for whoever comes next (once off, it stays off). No
    /// effect on a TCP server.
    pub fn cleanup_socket(&self, on: bool) {
        #[cfg(unix)]
        if !on {
            self.socket_file.borrow_mut().take();
        }
        let _ = on;
    }

    /// Removes a Unix server's socket file (once).
    fn remove_socket_file(&self) {
        #[cfg(unix)]
        if let Some(file) = self.socket_file.borrow_mut().take() {
            file.remove();
        }
    }

    /// Closes every client's connection for reading (Python 3.13's
    /// `Server.close_clients`): a handler waiting to read sees EOF, so it
    /// can finish as it does when a client hangs up. On Unix the bytes
    /// already received are read first; on Windows reads end at once (the
    /// bytes not yet read are dropped). What the handler still writes is
    /// delivered, and the connection closes when the handler drops its
    /// writer or ends. Handlers that never read do not notice:
    /// [`abort_clients`](Self::abort_clients) cancels those. Call
    /// [`close`](Self::close) first to stop new connections.
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::rc::Rc;
    ///
    /// aio::run(async {
    ///     let greeted = Rc::new(aio::sync::Event::new());
    ///     let g = greeted.clone();
    ///     let server = aio::start_server(
    ///         move |mut reader, writer| {
    ///             let g = g.clone();
    ///             async move {
    ///                 let hello = reader.readline().await.unwrap();
    ///                 g.set();
    ///                 // Reads until EOF: the client's, or close_clients'.
    ///                 let rest = reader.read_to_end().await.unwrap();
    ///                 writer.write(format!("bye after {} + {} bytes\n", hello.len(), rest.len()).as_bytes());
    ///             }
    ///         },
    ///         "127.0.0.1:0",
    ///     )
    ///     .await?;
    ///     let (mut reader, writer) = aio::open_connection(server.local_addr().unwrap()).await?;
    ///     writer.write(b"hello\n");
    ///     greeted.wait().await;
    ///     server.close();
    ///     server.close_clients();
    ///     server.wait_closed().await;
    ///     assert_eq!(reader.readline().await?, b"bye after 6 + 0 bytes\n");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn close_clients(&self) {
        let connections: Vec<ShutdownHandle> = self.clients.connections.borrow().values().cloned().collect();
        for connection in connections {
            // Fails only when the peer is already gone (not connected):
            // its reads end at EOF or an error all the same.
            let _ = connection.shutdown(std::net::Shutdown::Read);
        }
    }

    /// Cancels every running handler (asyncio's `abort_clients`).
    pub fn abort_clients(&self) {
        let tasks: Vec<_> = self.clients.tasks.borrow().keys().copied().collect();
        for id in tasks {
            if let Some(task) = self.clients.tasks.borrow().get(&id) {
                task.cancel();
            }
        }
    }

    /// Number of handlers running.
    pub fn active_clients(&self) -> usize {
        self.clients.tasks.borrow().len()
    }

    /// Waits until `close` was called and every handler finished.
    #[track_caller]
    pub fn wait_closed(&self) -> impl Future<Output = ()> + use<'_> {
        WaitSite::new(None, async move {
            self.clients.all_done.wait().await;
        })
    }

    /// Serves until `close` is called.
    #[track_caller]
    pub fn serve_forever(&self) -> impl Future<Output = ()> + use<'_> {
        WaitSite::new(None, async move {
            self.clients.closed_event.wait().await;
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.accept.borrow_mut().take() {
            task.cancel();
        }
        self.remove_socket_file();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("serving", &self.is_serving())
            .field("clients", &self.active_clients())
            .finish()
    }
}

fn spawn_client<Fut>(clients: &Rc<Clients>, connection: ShutdownHandle, fut: Fut)
where
    Fut: Future<Output = ()> + 'static,
{
    let id = clients.next.get();
    clients.connections.borrow_mut().insert(id, connection);
    clients.next.set(id + 1);
    let guard = ClientGuard { clients: clients.clone(), id };
    let task = loop_exec::TaskBuilder::new().name(format!("loop: server client {id}")).spawn(async move {
        let _guard = guard;
        fut.await;
    });
    clients.tasks.borrow_mut().insert(id, task);
}

fn new_clients() -> Rc<Clients> {
    Rc::new(Clients {
        tasks: RefCell::new(HashMap::new()),
        connections: RefCell::new(HashMap::new()),
        next: Cell::new(0),
        closed: Cell::new(false),
        all_done: Event::new(),
        closed_event: Event::new(),
    })
}

/// Starts a TCP server (asyncio's `start_server`): every connection runs
/// `handler(reader, writer)` as its own task.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let server = aio::start_server(
///         |mut reader, writer| async move {
///             let line = reader.readline().await.unwrap();
///             writer.write(&line);
///         },
///         "127.0.0.1:0",
///     )
///     .await?;
///     let (mut reader, writer) = aio::open_connection(server.local_addr().unwrap()).await?;
///     writer.write(b"echo me\n");
///     assert_eq!(reader.readline().await.unwrap(), b"echo me\n");
///     server.close();
///     server.wait_closed().await;
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn start_server<H, Fut>(handler: H, addr: impl ToAddrs) -> impl Future<Output = io::Result<Server>>
where
    H: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    serve_with(addr, move |stream| {
        let (r, w) = tcp_streams(stream);
        handler(r, w)
    })
}

/// [`start_server`] on a listener made beforehand, e.g. one bound with
/// [`TcpListener::bind_reuseport`](crate::net::TcpListener::bind_reuseport) on
/// every loop of a [`LoopSet`](crate::LoopSet):
///
/// ```
/// use r#loop as aio;
/// use aio::net::TcpListener;
///
/// let set = aio::LoopSet::builder().loops(2).build()?;
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
/// // One server per loop, all on one port; the kernel spreads connections.
/// let servers = set.on_each(move |_| async move {
///     let listener = TcpListener::bind_reuseport(addr)?;
///     let server = aio::start_server_on(|mut r, w| async move {
///         let line = r.readline().await.unwrap();
///         w.write(&line);
///     }, listener);
///     server.serve_forever().await;
///     Ok::<(), std::io::Error>(())
/// })?;
/// # drop(servers);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn start_server_on<H, Fut>(handler: H, listener: TcpListener) -> Server
where
    H: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    serve_listener(listener, move |stream| {
        let (r, w) = tcp_streams(stream);
        handler(r, w)
    })
}

/// A TCP server running `handle(stream)` for every accepted connection (the
/// shared part of `start_server` and `tls::start_server`).
#[track_caller]
pub(crate) fn serve_with<H, Fut>(addr: impl ToAddrs, handle: H) -> impl Future<Output = io::Result<Server>>
where
    H: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    WaitSite::new(None, async move { Ok(serve_listener(crate::net::bind(addr).await?, handle)) })
}

/// The server of a listener: `handle(stream)` for every connection.
fn serve_listener<H, Fut>(listener: TcpListener, handle: H) -> Server
where
    H: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = Rc::new(listener);
    let local_addr = listener.local_addr().ok();
    serve(
        local_addr,
        move || {
            let listener = listener.clone();
            async move { listener.accept().await }
        },
        |(stream, _): &(TcpStream, SocketAddr)| stream.shutdown_handle(),
        move |(stream, _)| handle(stream),
    )
}

/// Runs the accept loop of a server: every accepted connection becomes a
/// client task running `handle(connection)`; `shutdown_handle` gives the
/// handle `close_clients` uses.
fn serve<C, A, AF, S, H, Fut>(local_addr: Option<SocketAddr>, accept: A, shutdown_handle: S, handle: H) -> Server
where
    A: Fn() -> AF + 'static,
    S: Fn(&C) -> ShutdownHandle + 'static,
    AF: Future<Output = io::Result<C>>,
    H: Fn(C) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
    C: 'static,
{
    let clients = new_clients();
    let c = clients.clone();
    let accept = loop_exec::TaskBuilder::new().name("loop: server accept loop").spawn(async move {
        loop {
            match accept().await {
                Ok(conn) => spawn_client(&c, shutdown_handle(&conn), handle(conn)),
                Err(e) => crate::accept::accept_error_pause(e).await,
            }
        }
    });
    Server {
        local_addr,
        accept: RefCell::new(Some(accept)),
        clients,
        #[cfg(unix)]
        socket_file: RefCell::new(None),
    }
}

/// Starts a Unix-domain server at `path`. Unix only.
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
#[track_caller]
pub fn start_unix_server<H, Fut>(
    handler: H,
    path: impl AsRef<std::path::Path>,
) -> impl Future<Output = io::Result<Server>>
where
    H: Fn(StreamReader<UnixReadHalf>, StreamWriter<UnixWriteHalf>) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    WaitSite::new(None, async move {
        let listener = Rc::new(UnixListener::bind(path.as_ref())?);
        let socket_file = SocketFile::of(path.as_ref());
        let server = serve(
            None,
            move || {
                let listener = listener.clone();
                async move { listener.accept().await }
            },
            |(stream, _): &(loop_core::UnixStream, _)| stream.shutdown_handle(),
            move |(stream, _)| {
                let (r, w) = stream.into_split();
                handler(StreamReader::new(r), StreamWriter::new(w))
            },
        );
        *server.socket_file.borrow_mut() = socket_file;
        Ok(server)
    })
}
