//! HTTP/1.1 keep-alive hello-world with hyper on each runtime, driven by
//! `wrk` (64 connections, one wrk thread; each server on one thread).
//! `loop-bench --serve RT` runs only RT's server (for strace or perf while
//! wrk drives it).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use r#loop as aio;

pub async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
}

/// Starts a server thread for `rt`; returns its address.
pub fn start(rt: &str) -> SocketAddr {
    start_counted(rt).0
}

/// Starts a server thread for `rt`; returns its address and the thread's
/// CPU-time clock (Linux; the servers run until the process exits, so the
/// clock stays valid).
fn start_counted(rt: &str) -> (SocketAddr, Option<libc::clockid_t>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let rt = rt.to_string();
    let thread = std::thread::spawn(move || serve(&rt, tx));
    let clock = cpu_clock_of(&thread);
    (rx.recv().expect("the server thread started"), clock)
}

/// The CPU-time clock of `thread`, for `scaling::cpu`.
#[cfg(target_os = "linux")]
fn cpu_clock_of<T>(thread: &std::thread::JoinHandle<T>) -> Option<libc::clockid_t> {
    use std::os::unix::thread::JoinHandleExt;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the `pthread_t` is that of a thread whose handle we hold
    // (alive or not yet joined), and `clock` is a valid place to write.
    (unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) } == 0).then_some(clock)
}

#[cfg(not(target_os = "linux"))]
fn cpu_clock_of<T>(_: &std::thread::JoinHandle<T>) -> Option<libc::clockid_t> {
    None
}

/// Serves `rt`'s hello-world on this thread, sending the address first.
fn serve(rt: &str, tx: std::sync::mpsc::Sender<SocketAddr>) {
    match rt {
        "loop" => aio::run(async move {
            let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(aio::hyper::Io::new(stream), hyper::service::service_fn(hello));
                aio::spawn(conn).detach();
            }
        }),
        "tokio" => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let _ = stream.set_nodelay(true);
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper::service::service_fn(hello));
                    tokio::task::spawn_local(conn);
                }
            })
        }
        "floor" => floor_server(tx, false),
        #[cfg(target_os = "linux")]
        "floor-uring" => floor_server(tx, true),
        _ => {
            let ex = std::rc::Rc::new(smol::LocalExecutor::new());
            let e = ex.clone();
            smol::block_on(ex.run(async move {
                let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let _ = stream.set_nodelay(true);
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(smol_hyper::rt::FuturesIo::new(stream), hyper::service::service_fn(hello));
                    e.spawn(conn).detach();
                }
            }))
        }
    }
}

/// The response hyper writes for `hello` (status line, content-length,
/// date, body): the floor writes the same bytes, with a fixed date.
const FLOOR_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: Fri, 04 Dec 2026 12:00:00 GMT\r\n\r\nHello, World!";

/// The floor: a hand-written epoll responder on one thread (`polling`,
/// level-triggered), what the kernel costs with no runtime and no HTTP
/// library. Per readable connection: one `read`, a count of the complete
/// requests in it (each ends with a blank line; wrk sends no body), one
/// `write` of that many responses. Bytes of a request cut across reads
/// carry over.
///
/// With `uring` (Linux), the writes of one epoll batch are not made one by
/// one: each is queued as an io_uring `SEND` and the batch goes to the
/// kernel in one `io_uring_enter` (what an io_uring write path in the
/// runtime could save).
fn floor_server(tx: std::sync::mpsc::Sender<SocketAddr>, uring: bool) {
    use polling::{Event, Events, PollMode, Poller};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    struct Conn {
        sock: TcpStream,
        /// Bytes of a request not yet complete.
        partial: Vec<u8>,
        /// uring: the responses being sent (the kernel reads them until
        /// the send's completion), and those queued behind them.
        sending: Vec<u8>,
        queued: Vec<u8>,
        closed: bool,
    }
    const LISTENER: usize = usize::MAX - 1;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    tx.send(listener.local_addr().unwrap()).unwrap();
    let poller = Poller::new().unwrap();
    // SAFETY: the listener lives as long as the poller (this function
    // never returns while serving).
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level).unwrap() };
    #[cfg(target_os = "linux")]
    let mut ring = uring.then(|| io_uring::IoUring::new(1024).expect("io_uring (the floor-uring server)"));
    #[cfg(not(target_os = "linux"))]
    let _ = uring;
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        events.clear();
        poller.wait(&mut events, None).unwrap();
        for ev in events.iter() {
            if ev.key == LISTENER {
                while let Ok((sock, _)) = listener.accept() {
                    sock.set_nonblocking(true).unwrap();
                    sock.set_nodelay(true).unwrap();
                    let entry = conns.vacant_entry();
                    // SAFETY: the socket is deleted from the poller before
                    // its `Conn` is removed from the slab (below).
                    unsafe { poller.add_with_mode(&sock, Event::readable(entry.key()), PollMode::Level).unwrap() };
                    entry.insert(Conn {
                        sock,
                        partial: Vec::new(),
                        sending: Vec::new(),
                        queued: Vec::new(),
                        closed: false,
                    });
                }
                continue;
            }
            let Some(conn) = conns.get_mut(ev.key) else { continue };
            let n = match conn.sock.read(&mut buf) {
                Ok(0) | Err(_) => {
                    poller.delete(&conn.sock).unwrap();
                    conn.closed = true;
                    if conn.sending.is_empty() {
                        conns.remove(ev.key);
                    }
                    continue;
                }
                Ok(n) => n,
            };
            conn.partial.extend_from_slice(&buf[..n]);
            let mut from = 0;
            while let Some(end) = conn.partial[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                conn.queued.extend_from_slice(FLOOR_RESPONSE);
                from += end + 4;
            }
            conn.partial.drain(..from);
            #[cfg(target_os = "linux")]
            if let Some(ring) = ring.as_mut() {
                if conn.sending.is_empty() && !conn.queued.is_empty() {
                    std::mem::swap(&mut conn.sending, &mut conn.queued);
                    push_send(ring, &conn.sock, &conn.sending, ev.key);
                }
                continue;
            }
            // wrk waits for each response before the next request, so a
            // response always fits the socket buffer: one write.
            let failed = !conn.queued.is_empty() && conn.sock.write_all(&conn.queued).is_err();
            conn.queued.clear();
            if failed {
                let conn = conns.remove(ev.key);
                poller.delete(&conn.sock).unwrap();
            }
        }
        #[cfg(target_os = "linux")]
        if let Some(ring) = ring.as_mut() {
            // One enter for the batch's sends; sends to sockets with room
            // complete inside it, so their completions are there at once.
            ring.submit().unwrap();
            let done: Vec<(usize, i32)> = ring.completion().map(|c| (c.user_data() as usize, c.result())).collect();
            for (key, result) in done {
                let Some(conn) = conns.get_mut(key) else { continue };
                let sent = usize::try_from(result).unwrap_or(conn.sending.len());
                conn.sending.drain(..sent.min(conn.sending.len()));
                if conn.closed {
                    if conn.sending.is_empty() {
                        conns.remove(key);
                    }
                    continue;
                }
                if conn.sending.is_empty() {
                    std::mem::swap(&mut conn.sending, &mut conn.queued);
                }
                if !conn.sending.is_empty() {
                    push_send(ring, &conn.sock, &conn.sending, key);
                }
            }
        }
    }
}

/// Queues a `SEND` of `bytes` on `sock`, completing with `key`.
#[cfg(target_os = "linux")]
fn push_send(ring: &mut io_uring::IoUring, sock: &std::net::TcpStream, bytes: &[u8], key: usize) {
    use std::os::fd::AsRawFd;
    let send = io_uring::opcode::Send::new(io_uring::types::Fd(sock.as_raw_fd()), bytes.as_ptr(), bytes.len() as u32)
        .build()
        .user_data(key as u64);
    // SAFETY: `bytes` is the connection's `sending` buffer, which is neither
    // touched nor freed until this send's completion is reaped (the
    // connection stays in the slab, closed or not, until then); the socket
    // stays open as long too.
    while unsafe { ring.submission().push(&send) }.is_err() {
        ring.submit().unwrap();
    }
}

/// One wrk run: (requests/s, p99 latency in ms).
fn wrk(addr: SocketAddr, seconds: u32) -> Option<(f64, f64)> {
    let out = Command::new("wrk")
        .args(["-t1", "-c64", &format!("-d{seconds}s"), "--latency", &format!("http://{addr}/")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text.lines().find(|l| l.starts_with("Requests/sec:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let p99 = text.lines().find(|l| l.trim_start().starts_with("99%"))?.split_whitespace().nth(1)?.to_string();
    let ms = if let Some(v) = p99.strip_suffix("ms") {
        v.parse().ok()?
    } else if let Some(v) = p99.strip_suffix("us") {
        v.parse::<f64>().ok()? / 1000.0
    } else if let Some(v) = p99.strip_suffix('s') {
        v.parse::<f64>().ok()? * 1000.0
    } else {
        return None;
    };
    Some((rps, ms))
}

/// The HTTP table, or a note when `wrk` is not installed.
pub fn http_table(reps: usize, seconds: u32) -> String {
    if Command::new("wrk").arg("--version").output().is_err() {
        let msg = "\nHTTP: skipped (`wrk` is not installed; `cargo xtask bench` installs it with apt-get).\n";
        print!("{msg}");
        return msg.to_string();
    }
    // floor-uring only where io_uring is allowed (container seccomp
    // profiles often refuse it: EPERM/ENOSYS).
    #[cfg(target_os = "linux")]
    let uring = io_uring::IoUring::new(8).is_ok();
    #[cfg(not(target_os = "linux"))]
    let uring = false;
    let runtimes: &[&str] =
        if uring { &["loop", "tokio", "smol", "floor", "floor-uring"] } else { &["loop", "tokio", "smol", "floor"] };
    let servers: Vec<(SocketAddr, Option<libc::clockid_t>)> = runtimes.iter().map(|rt| start_counted(rt)).collect();
    for (addr, _) in &servers {
        let _ = wrk(*addr, 1); // warm up
    }
    // Alternate the servers within each repetition (rotating which goes
    // first); each repetition gives one pair for every ratio. Per server:
    // requests/s, p99 (ms), and requests per CPU-second of the server's
    // thread (wrk -t1 can saturate its own core first, and then every
    // server's requests/s is the client's; CPU per request is not).
    let mut results: Vec<Vec<[f64; 3]>> = vec![Vec::new(); runtimes.len()];
    for rep in 0..reps {
        for k in 0..runtimes.len() {
            let i = (rep + k) % runtimes.len();
            let (addr, clock) = servers[i];
            let thread_cpu = || clock.map(|c| crate::scaling::cpu(c).as_secs_f64());
            let before = thread_cpu();
            if let Some((rps, p99)) = wrk(addr, seconds) {
                let cpu = before.zip(thread_cpu()).map_or(f64::NAN, |(b, a)| a - b);
                results[i].push([rps, p99, rps * seconds as f64 / cpu]);
            }
        }
    }
    let spread = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        match v.len() {
            0 => (f64::NAN, f64::NAN, f64::NAN),
            n => (v[n / 2], v[0], v[n - 1]),
        }
    };
    let pairs = results.iter().map(Vec::len).min().unwrap_or(0);
    let per_pair =
        |i: usize, j: usize, m: usize| spread((0..pairs).map(|k| results[i][k][m] / results[j][k][m]).collect());
    let floor = runtimes.iter().position(|rt| *rt == "floor").expect("the floor runs");
    let mut s = format!(
        "\nHTTP/1.1 keep-alive hello-world with hyper 1.x, one server thread per runtime, `wrk -t1 -c64 -d{seconds}s` \
         (loop: `loop::hyper::Io`; tokio: hyper-util's `TokioIo`, `current_thread` + `LocalSet`; smol: \
         smol-hyper's `FuturesIo`, `LocalExecutor`; floor: a hand-written epoll responder writing the same \
         bytes, no HTTP library; floor-uring: the floor with each epoll batch's writes sent as io_uring \
         `SEND`s in one `io_uring_enter`). {reps} repetitions, the servers taking turns in rotating order; \
         values are medians, ratios are per repetition, median [min-max]. \"per CPU-s\" is requests per \
         CPU-second of the server's thread: when wrk's one thread saturates its core, requests/s is the \
         client's limit for every server, and CPU per request is what tells the servers apart:\n\n\
         | server | requests/s | vs tokio | requests per CPU-s | per CPU-s vs tokio | per CPU-s vs the floor | p99 latency |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (i, rt) in runtimes.iter().enumerate() {
        let col = |m: usize| spread(results[i].iter().map(|x| x[m]).collect()).0;
        let (vt, vtl, vth) = per_pair(i, 1, 0);
        let (ct, ctl, cth) = per_pair(i, 1, 2);
        let (cf, cfl, cfh) = per_pair(i, floor, 2);
        s.push_str(&format!(
            "| {rt} | {:.0} | {vt:.2}x [{vtl:.2}-{vth:.2}] | {:.0} | {ct:.2}x [{ctl:.2}-{cth:.2}] | {cf:.2}x [{cfl:.2}-{cfh:.2}] | {:.2} ms |\n",
            col(0),
            col(2),
            col(1)
        ));
        println!(
            "http {rt:<11} {:>7.0} req/s ({vt:.2}x tokio)  {:>7.0} req/CPU-s ({ct:.2}x tokio [{ctl:.2}-{cth:.2}], {cf:.2}x floor)  p99 {:.2} ms",
            col(0),
            col(2),
            col(1)
        );
    }
    s
}
