//! The scraper demo: fetch many pages concurrently over HTTPS, asyncio
//! style.
//!
//! By default it is offline and deterministic: it makes a certificate for
//! `localhost` (rcgen), starts a small HTTPS server on 127.0.0.1 whose
//! pages answer after an artificial latency, and fetches every page over
//! TLS (`loop::tls::open_connection`, trusting that certificate) with a
//! `Semaphore` capping concurrency and `wait_for` timeouts. It prints each
//! page's size and the total time against the sum of the latencies, and,
//! 100 ms in, what the loop's tasks are waiting on and where
//! (`all_tasks()`), the way you would look into a stuck program.
//!
//! `cargo run --example scraper` (options: pages, concurrency limit), or
//! `cargo run --example scraper -- https://example.com/ https://www.rust-lang.org/`
//! to fetch real pages: DNS on the blocking pool, TLS with the operating
//! system's roots, the same concurrency limit, 10 s timeouts.
//!
//! HTTP/1.1 is written by hand here (a request line, headers, a body by
//! Content-Length or to the end); hyper on `loop` is issue 13's.

use r#loop as aio;
use r#loop::sync::Semaphore;
use r#loop::tls::rustls;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The latency and size of page `n` (deterministic).
fn page_spec(n: usize) -> (Duration, usize) {
    (Duration::from_millis(50 + (n as u64 * 37) % 150), 1_000 + (n * 7_919) % 20_000)
}

/// A certificate for `localhost`, made now: the server's config, and the
/// roots a client needs to trust it.
fn localhost_tls() -> (Arc<rustls::ServerConfig>, rustls::RootCertStore) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("make a certificate");
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).expect("a valid certificate");
    (aio::tls::server_config(vec![der], key).expect("a valid key"), roots)
}

/// A tiny HTTPS server: `GET /page/N` answers after page N's latency.
async fn serve(config: Arc<rustls::ServerConfig>) -> std::io::Result<aio::Server> {
    aio::tls::start_server(
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
        config,
    )
    .await
}

/// `GET path` on a connection; returns the status line and the body size.
async fn get<R, W>(
    mut reader: aio::StreamReader<R>,
    writer: aio::StreamWriter<W>,
    host: &str,
    path: &str,
) -> Result<(String, usize), aio::StreamError>
where
    R: futures_io::AsyncRead + Unpin,
    W: futures_io::AsyncWrite + Unpin + 'static,
{
    writer.write(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loop-scraper\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    writer.drain().await?;
    let status = String::from_utf8_lossy(&reader.readline().await?).trim().to_string();
    let mut length = None;
    loop {
        let header = reader.readline().await?;
        if header == b"\r\n" || header.is_empty() {
            break;
        }
        let header = String::from_utf8_lossy(&header).to_ascii_lowercase();
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().ok();
        }
    }
    let size = match length {
        Some(n) => reader.readexactly(n).await?.len(),
        // No length: the body runs to the end of the connection (chunk
        // framing, if any, is counted as body: this is a demo).
        None => read_to_close(&mut reader).await?,
    };
    Ok((status, size))
}

/// Reads to the end; a TLS peer that hangs up without `close_notify` (many
/// do after `Connection: close`) ends the body too.
async fn read_to_close<R: futures_io::AsyncRead + Unpin>(
    reader: &mut aio::StreamReader<R>,
) -> Result<usize, aio::StreamError> {
    let mut size = 0;
    loop {
        match reader.read(64 * 1024).await {
            Ok(chunk) if chunk.is_empty() => return Ok(size),
            Ok(chunk) => size += chunk.len(),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(size),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Fetches one demo page over TLS; returns the body size.
async fn fetch(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    n: usize,
) -> Result<usize, aio::StreamError> {
    let (reader, writer) = aio::tls::open_connection(addr, "localhost", config).await?;
    let (status, size) = get(reader, writer, "localhost", &format!("/page/{n}")).await?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(status).into());
    }
    Ok(size)
}

/// Fetches a real URL (`https://` through TLS with the OS roots, or
/// `http://`): returns the status line and the body size.
async fn fetch_url(url: &str) -> Result<(String, usize), aio::StreamError> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not an http(s) URL: {url}"));
    let (https, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => return Err(bad().into()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (authority, if https { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(bad().into());
    }
    if https {
        let (reader, writer) = aio::tls::open_connection((host, port), host, aio::tls::client_config()).await?;
        get(reader, writer, host, path).await
    } else {
        let (reader, writer) = aio::open_connection((host, port)).await?;
        get(reader, writer, host, path).await
    }
}

/// Fetches the URLs given on the command line, at most `limit` at a time.
async fn scrape_urls(urls: Vec<String>, limit: usize) {
    let gate = Rc::new(Semaphore::new(limit));
    let started = Instant::now();
    let tasks: Vec<_> = urls
        .iter()
        .map(|url| {
            let (gate, url) = (gate.clone(), url.clone());
            aio::TaskBuilder::new().name(url.clone()).spawn(async move {
                let _permit = gate.acquire().await;
                aio::wait_for(fetch_url(&url), Duration::from_secs(10)).await
            })
        })
        .collect();
    for (url, task) in urls.iter().zip(tasks) {
        match task.await.expect("fetch task") {
            Ok(Ok((status, size))) => println!("{url}: {status}, {size} bytes"),
            Ok(Err(e)) => println!("{url}: error: {e}"),
            Err(_) => println!("{url}: timed out after 10 s"),
        }
    }
    println!("{} URLs in {:.2?}", urls.len(), started.elapsed());
}

#[aio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a.contains("://")) {
        scrape_urls(args, 10).await;
        return;
    }
    let pages: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(40);
    let limit: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let (server_config, roots) = localhost_tls();
    let client_config = aio::tls::client_config_with_roots(roots);
    let server = serve(server_config).await.expect("start the demo server");
    let addr = server.local_addr().unwrap();
    println!("demo server on https://localhost:{}; fetching {pages} pages, at most {limit} at a time", addr.port());
    let gate = Rc::new(Semaphore::new(limit));
    let started = Instant::now();
    let tasks: Vec<_> = (0..pages)
        .map(|n| {
            let (gate, config) = (gate.clone(), client_config.clone());
            aio::TaskBuilder::new().name(format!("fetch-{n}")).spawn(async move {
                let _permit = gate.acquire().await;
                aio::wait_for(fetch(addr, config, n), Duration::from_secs(2)).await
            })
        })
        .collect();
    let snapshot = aio::spawn(async {
        aio::sleep(Duration::from_millis(100)).await;
        print_waits();
    });
    let mut total_latency = Duration::ZERO;
    let (mut bytes, mut failed) = (0, 0);
    for (n, task) in tasks.into_iter().enumerate() {
        let (latency, _) = page_spec(n);
        total_latency += latency;
        match task.await.expect("fetch task") {
            Ok(Ok(size)) => {
                bytes += size;
                println!("page {n:>3}: {size:>6} bytes (latency {latency:?})");
            }
            Ok(Err(e)) => {
                failed += 1;
                println!("page {n:>3}: error: {e}");
            }
            Err(_) => {
                failed += 1;
                println!("page {n:>3}: timed out");
            }
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
    if failed > 0 {
        eprintln!("{failed} of {pages} pages failed");
        std::process::exit(1);
    }
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
