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
    let (tx, rx) = std::sync::mpsc::channel();
    let rt = rt.to_string();
    std::thread::spawn(move || match rt.as_str() {
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
        "floor" => floor_server(tx),
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
    });
    rx.recv().expect("the server thread started")
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
fn floor_server(tx: std::sync::mpsc::Sender<SocketAddr>) {
    use polling::{Event, Events, PollMode, Poller};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    struct Conn {
        sock: TcpStream,
        /// Bytes of a request not yet complete.
        partial: Vec<u8>,
    }
    const LISTENER: usize = usize::MAX - 1;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    tx.send(listener.local_addr().unwrap()).unwrap();
    let poller = Poller::new().unwrap();
    // SAFETY: the listener lives as long as the poller (this function
    // never returns while serving).
    unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level).unwrap() };
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * FLOOR_RESPONSE.len());
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
                    entry.insert(Conn { sock, partial: Vec::new() });
                }
                continue;
            }
            let Some(conn) = conns.get_mut(ev.key) else { continue };
            let n = match conn.sock.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let conn = conns.remove(ev.key);
                    poller.delete(&conn.sock).unwrap();
                    continue;
                }
                Ok(n) => n,
            };
            conn.partial.extend_from_slice(&buf[..n]);
            let mut requests = 0;
            let mut from = 0;
            while let Some(end) = conn.partial[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                requests += 1;
                from += end + 4;
            }
            conn.partial.drain(..from);
            out.clear();
            for _ in 0..requests {
                out.extend_from_slice(FLOOR_RESPONSE);
            }
            // wrk waits for each response before the next request, so a
            // response always fits the socket buffer: one write.
            if !out.is_empty() && conn.sock.write_all(&out).is_err() {
                let conn = conns.remove(ev.key);
                poller.delete(&conn.sock).unwrap();
            }
        }
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
    let runtimes = ["loop", "tokio", "smol", "floor"];
    let addrs: Vec<SocketAddr> = runtimes.iter().map(|rt| start(rt)).collect();
    for addr in &addrs {
        let _ = wrk(*addr, 1); // warm up
    }
    // Alternate the servers within each repetition (rotating which goes
    // first); each repetition gives one loop/tokio pair.
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); runtimes.len()];
    for rep in 0..reps {
        for k in 0..runtimes.len() {
            let i = (rep + k) % runtimes.len();
            if let Some(r) = wrk(addrs[i], seconds) {
                results[i].push(r);
            }
        }
    }
    let spread = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        match v.len() {
            0 => (f64::NAN, f64::NAN, f64::NAN),
            n => (v[n / 2], v[0], v[n - 1]),
        }
    };
    let pairs = results[0].len().min(results[1].len()).min(results[3].len());
    let per_pair = |i: usize, j: usize| spread((0..pairs).map(|k| results[i][k].0 / results[j][k].0).collect());
    let mut s = format!(
        "\nHTTP/1.1 keep-alive hello-world with hyper 1.x, one server thread per runtime, `wrk -t1 -c64 -d{seconds}s` \
         (loop: `loop::hyper::Io`; tokio: hyper-util's `TokioIo`, `current_thread` + `LocalSet`; smol: \
         smol-hyper's `FuturesIo`, `LocalExecutor`; floor: a hand-written epoll responder writing the same \
         bytes, no HTTP library). {reps} repetitions, the servers taking turns in rotating order; requests/s \
         and p99 are medians, the ratios are per repetition, median [min-max]:\n\n\
         | server | requests/s | p99 latency | vs tokio | of the floor |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    for (i, rt) in runtimes.iter().enumerate() {
        let (rps, _, _) = spread(results[i].iter().map(|x| x.0).collect());
        let (p99, _, _) = spread(results[i].iter().map(|x| x.1).collect());
        let (vt, vtl, vth) = per_pair(i, 1);
        let (vf, vfl, vfh) = per_pair(i, 3);
        s.push_str(&format!(
            "| {rt} | {rps:.0} | {p99:.2} ms | {vt:.2}x [{vtl:.2}-{vth:.2}] | {:.0}% [{:.0}-{:.0}] |\n",
            vf * 100.0,
            vfl * 100.0,
            vfh * 100.0
        ));
        println!(
            "http {rt:<6} {rps:>9.0} req/s  p99 {p99:.2} ms  {vt:.2}x tokio [{vtl:.2}-{vth:.2}]  {:.0}% of the floor",
            vf * 100.0
        );
    }
    s
}
