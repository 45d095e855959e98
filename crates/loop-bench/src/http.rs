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
    let runtimes = ["loop", "tokio", "smol"];
    let addrs: Vec<SocketAddr> = runtimes.iter().map(|rt| start(rt)).collect();
    for addr in &addrs {
        let _ = wrk(*addr, 1); // warm up
    }
    // Alternate the runtimes within each repetition; take the medians.
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); runtimes.len()];
    for _ in 0..reps {
        for (i, addr) in addrs.iter().enumerate() {
            if let Some(r) = wrk(*addr, seconds) {
                results[i].push(r);
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let rows: Vec<(f64, f64)> = results
        .into_iter()
        .map(|r| (median(r.iter().map(|x| x.0).collect()), median(r.iter().map(|x| x.1).collect())))
        .collect();
    let mut s = String::from(
        "\nHTTP/1.1 keep-alive hello-world with hyper 1.x, one server thread per runtime, `wrk -t1 -c64` \
         (loop: `loop::hyper::Io`; tokio: hyper-util's `TokioIo`, `current_thread` + `LocalSet`; smol: \
         smol-hyper's `FuturesIo`, `LocalExecutor`); medians of alternating runs:\n\n\
         | runtime | requests/s | p99 latency | vs tokio |\n| --- | ---: | ---: | ---: |\n",
    );
    for (rt, (rps, p99)) in runtimes.iter().zip(&rows) {
        s.push_str(&format!("| {rt} | {rps:.0} | {p99:.2} ms | {:.2}x |\n", rps / rows[1].0));
        println!("http {rt:<6} {rps:>9.0} req/s  p99 {p99:.2} ms  ({:.2}x tokio)", rps / rows[1].0);
    }
    s
}
