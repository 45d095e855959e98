//! The scraper demo: fetch many pages concurrently, asyncio style — offline.
//!
//! It starts a small HTTP/1.1 server on 127.0.0.1 whose pages answer after
//! an artificial latency, then fetches every page through `open_connection`
//! with a `Semaphore` capping concurrency and `wait_for` timeouts. It prints
//! each page's size and the total time against the sum of the latencies,
//! and, 100 ms in, what the loop's tasks are waiting on and where
//! (`all_tasks()`), the way you would look into a stuck program.
//!
//! `cargo run --example scraper` (options: pages, concurrency limit).

use r#loop as aio;
use r#loop::sync::Semaphore;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The latency and size of page `n` (deterministic).
fn page_spec(n: usize) -> (Duration, usize) {
    (Duration::from_millis(50 + (n as u64 * 37) % 150), 1_000 + (n * 7_919) % 20_000)
}

/// A tiny HTTP/1.1 server: `GET /page/N` answers after page N's latency.
async fn serve() -> std::io::Result<aio::Server> {
    aio::start_server(
        |mut reader, writer| async move {
            let Ok(request) = reader.readline().await else { return };
            // Skip the headers.
            while let Ok(line) = reader.readline().await {
                if line == b"\r\n" || line.is_empty() {
                    break;
                }
            }
            let request = String::from_utf8_lossy(&request);
            let n: Option<usize> =
                request.split_whitespace().nth(1).and_then(|p| p.strip_prefix("/page/")?.parse().ok());
            let response = match n {
                Some(n) => {
                    let (latency, size) = page_spec(n);
                    aio::sleep(latency).await;
                    let body = "x".repeat(size);
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n{body}")
                }
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
            };
            writer.write(response.as_bytes());
            writer.close();
        },
        "127.0.0.1:0",
    )
    .await
}

/// Fetches one page; returns the body size.
async fn fetch(addr: std::net::SocketAddr, n: usize) -> Result<usize, aio::StreamError> {
    let (mut reader, writer) = aio::open_connection(addr).await?;
    writer.write(format!("GET /page/{n} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
    writer.drain().await?;
    let status = reader.readline().await?;
    if !status.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(String::from_utf8_lossy(&status).trim().to_string()).into());
    }
    let mut length = 0;
    loop {
        let header = reader.readline().await?;
        if header == b"\r\n" || header.is_empty() {
            break;
        }
        let header = String::from_utf8_lossy(&header).to_ascii_lowercase();
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    Ok(reader.readexactly(length).await?.len())
}

#[aio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let pages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);
    let limit: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let server = serve().await.expect("start the demo server");
    let addr = server.local_addr().unwrap();
    println!("demo server on http://{addr}; fetching {pages} pages, at most {limit} at a time");
    let gate = Rc::new(Semaphore::new(limit));
    let started = Instant::now();
    let tasks: Vec<_> = (0..pages)
        .map(|n| {
            let gate = gate.clone();
            aio::TaskBuilder::new().name(format!("fetch-{n}")).spawn(async move {
                let _permit = gate.acquire().await;
                aio::wait_for(fetch(addr, n), Duration::from_secs(2)).await
            })
        })
        .collect();
    let snapshot = aio::spawn(async {
        aio::sleep(Duration::from_millis(100)).await;
        print_waits();
    });
    let mut total_latency = Duration::ZERO;
    let mut bytes = 0;
    for (n, task) in tasks.into_iter().enumerate() {
        let (latency, _) = page_spec(n);
        total_latency += latency;
        match task.await.expect("fetch task") {
            Ok(Ok(size)) => {
                bytes += size;
                println!("page {n:>3}: {size:>6} bytes (latency {latency:?})");
            }
            Ok(Err(e)) => println!("page {n:>3}: error: {e}"),
            Err(_) => println!("page {n:>3}: timed out"),
        }
    }
    let elapsed = started.elapsed();
    println!(
        "fetched {bytes} bytes from {pages} pages in {elapsed:.2?}; the latencies add up to {total_latency:.2?} \
         ({:.1}x faster than one at a time)",
        total_latency.as_secs_f64() / elapsed.as_secs_f64()
    );
    snapshot.await.expect("snapshot task");
    server.close();
    server.wait_closed().await;
}

/// Prints how many tasks wait on what, and where: `all_tasks()` grouped by
/// wait site.
fn print_waits() {
    let mut sites: Vec<(String, usize)> = Vec::new();
    for task in aio::all_tasks() {
        let site = match task.waiting {
            Some(w) => format!("{} at {}:{}", w.kind.describe(), w.location.file(), w.location.line()),
            None => format!("no wait reported ({:?})", task.state),
        };
        match sites.iter_mut().find(|(s, _)| *s == site) {
            Some((_, n)) => *n += 1,
            None => sites.push((site, 1)),
        }
    }
    sites.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    println!("100 ms in, the loop's tasks wait on:");
    for (site, n) in sites {
        println!("  {n:>3} x {site}");
    }
}
