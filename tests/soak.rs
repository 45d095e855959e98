//! The soak run behind `cargo xtask soak`: one `loop` event loop serving N
//! concurrent echo clients (default 10,000), half of them through the
//! fault-injecting proxy with latency. Three processes, so that each stays
//! under the file-descriptor limit: this one (the server, on one loop), the
//! proxy, and the clients (on one loop of their own). Every byte is
//! checked; any error or corrupted byte fails the run.
//!
//! ```text
//! soak [--clients N] [--rounds R] [--latency-ms L] [--server loop|tokio]
//! ```
//!
//! The default server is the streams API (`start_server`, `StreamReader`,
//! `StreamWriter`: asyncio's way). `--server loop-raw` is a read/write_all
//! echo on `loop`'s `TcpStream` with an 8 KiB buffer per connection, and
//! `--server tokio` the same echo on a tokio current-thread runtime (what a
//! tokio user writes), for comparison.
//!
//! Prints connections, errors, bytes checked, time and peak RSS of each
//! process, and exits non-zero on any failure.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use r#loop as aio;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("proxy") => proxy_process(&args[1..]),
        Some("clients") => clients_process(&args[1..]),
        _ => server_process(&args),
    }
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("soak: {name} {v}: not a valid value")))
        .unwrap_or(default)
}

/// Raises this process's open-file limit to its hard limit; returns it
/// (Windows has no such limit: unbounded).
#[cfg(not(unix))]
fn raise_nofile() -> u64 {
    u64::MAX
}

/// Raises this process's open-file limit to its hard limit; returns it.
#[cfg(unix)]
fn raise_nofile() -> u64 {
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let hard = lim.maximum;
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: hard, maximum: hard },
    );
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Peak resident set size of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The server: one loop, an echo server, and the two helper processes.
fn server_process(args: &[String]) {
    let clients: usize = flag(args, "--clients", 10_000);
    let rounds: usize = flag(args, "--rounds", 4);
    let latency: u64 = flag(args, "--latency-ms", 5);
    let limit = raise_nofile();
    let needed = clients as u64 + 64;
    if limit < needed {
        eprintln!("soak: the open-file limit is {limit}, {clients} connections need {needed}: lower --clients");
        std::process::exit(2);
    }
    let me = std::env::current_exe().expect("own executable");
    let server_kind: String = flag(args, "--server", "loop".to_string());
    let started = Instant::now();
    let (summary, server_rss) = aio::run(async move {
        // The server under test: our loop's echo server, or tokio's on a
        // thread of its own.
        let ours = if server_kind == "loop" { Some(loop_tests::echo_server().await) } else { None };
        let addr = match (&ours, server_kind.as_str()) {
            (Some(server), _) => server.local_addr().expect("server address"),
            (None, "loop-raw") => raw_echo_server(),
            (None, "tokio") => tokio_echo_server(),
            (None, other) => panic!("soak: --server {other}: expected loop, loop-raw or tokio"),
        };
        // The proxy, in front of the server, in its own process.
        let mut proxy = Command::new(&me)
            .args(["proxy", "--upstream", &addr.to_string(), "--latency-ms", &latency.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the proxy process");
        let mut line = String::new();
        BufReader::new(proxy.stdout.take().expect("piped")).read_line(&mut line).expect("the proxy's address");
        let proxy_addr: SocketAddr = line.trim().parse().expect("an address from the proxy");
        let me2 = me.clone();
        let out = aio::to_thread(move || {
            Command::new(&me2)
                .args([
                    "clients",
                    "--direct",
                    &addr.to_string(),
                    "--proxied",
                    &proxy_addr.to_string(),
                    "--clients",
                    &clients.to_string(),
                    "--rounds",
                    &rounds.to_string(),
                ])
                .stderr(Stdio::inherit())
                .output()
                .expect("run the clients process")
        })
        .await
        .expect("the clients thread");
        let _ = proxy.kill();
        let _ = proxy.wait();
        if let Some(server) = ours {
            server.close();
            server.wait_closed().await;
        }
        let summary = String::from_utf8_lossy(&out.stdout).trim().to_string();
        ((summary, out.status.success()), peak_rss_kib())
    });
    let (summary, ok) = summary;
    println!(
        "soak: {clients} clients ({} through the proxy with {latency} ms latency each way), {rounds} round trips each",
        clients / 2
    );
    println!("soak: {summary}");
    println!(
        "soak: server ({}) peak RSS {:.1} MiB; whole run {:.2?}",
        match flag(args, "--server", "loop".to_string()).as_str() {
            "loop" => "one loop, streams API",
            "loop-raw" => "one loop, TcpStream read/write_all",
            _ => "tokio current_thread, read/write_all",
        },
        server_rss as f64 / 1024.0,
        started.elapsed()
    );
    if !ok {
        eprintln!("soak: FAILED");
        std::process::exit(1);
    }
    println!("soak: ok");
}

/// A read/write_all echo on this loop's `TcpListener`; returns its address.
fn raw_echo_server() -> SocketAddr {
    let listener = aio::net::TcpListener::bind_addr(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = listener.local_addr().expect("address");
    aio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            aio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .detach();
        }
    })
    .detach();
    addr
}

/// A tokio echo server on its own thread (current-thread runtime); returns
/// its address.
fn tokio_echo_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("address")).expect("report the address");
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { continue };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
    });
    rx.recv().expect("the tokio server's address")
}

fn proxy_process(args: &[String]) {
    raise_nofile();
    let upstream: SocketAddr = flag(args, "--upstream", "127.0.0.1:1".parse().unwrap());
    let latency: u64 = flag(args, "--latency-ms", 5);
    let lat = Duration::from_millis(latency);
    let proxy = loop_tests::proxy::Proxy::tcp(
        upstream,
        loop_tests::proxy::Faults { latency_up: lat, latency_down: lat, ..Default::default() },
    );
    println!("{}", proxy.addr());
    std::io::stdout().flush().unwrap();
    // Until the server kills us.
    loop {
        std::thread::park();
    }
}

/// The clients: one loop, N tasks, each echoing `rounds` messages and
/// checking every byte.
fn clients_process(args: &[String]) {
    raise_nofile();
    let direct: SocketAddr = flag(args, "--direct", "127.0.0.1:1".parse().unwrap());
    let proxied: SocketAddr = flag(args, "--proxied", "127.0.0.1:1".parse().unwrap());
    let clients: usize = flag(args, "--clients", 100);
    let rounds: usize = flag(args, "--rounds", 4);
    let started = Instant::now();
    let (connected, errors, bytes, first_errors) = aio::run(async move {
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let addr = if i % 2 == 0 { direct } else { proxied };
                aio::spawn(async move {
                    let (mut reader, writer) = aio::open_connection(addr).await.map_err(|e| format!("connect: {e}"))?;
                    let mut checked = 0u64;
                    for r in 0..rounds {
                        let len = 64 + (i * 7919 + r * 104_729) % 4096;
                        let msg = loop_tests::pattern((i * rounds + r) as u32, len);
                        writer.write(&msg);
                        writer.drain().await.map_err(|e| format!("drain: {e}"))?;
                        let back = reader.readexactly(len).await.map_err(|e| format!("read: {e}"))?;
                        if back != msg {
                            return Err(format!("client {i} round {r}: corrupted bytes"));
                        }
                        checked += len as u64;
                    }
                    writer.close();
                    Ok::<u64, String>(checked)
                })
            })
            .collect();
        let (mut connected, mut errors, mut bytes, mut first) = (0usize, 0usize, 0u64, Vec::new());
        for t in tasks {
            match t.await {
                Ok(Ok(n)) => {
                    connected += 1;
                    bytes += n;
                }
                Ok(Err(e)) => {
                    errors += 1;
                    if first.len() < 5 {
                        first.push(e);
                    }
                }
                Err(e) => {
                    errors += 1;
                    if first.len() < 5 {
                        first.push(e.to_string());
                    }
                }
            }
        }
        (connected, errors, bytes, first)
    });
    for e in &first_errors {
        eprintln!("soak clients: {e}");
    }
    println!(
        "connections {connected}/{clients}, errors {errors}, bytes checked {bytes} ({:.1} MiB each way), clients' time {:.2?}, clients' peak RSS {:.1} MiB",
        bytes as f64 / (1 << 20) as f64,
        started.elapsed(),
        peak_rss_kib() as f64 / 1024.0
    );
    std::process::exit(if errors == 0 && connected == clients { 0 } else { 1 });
}
