//! The scraper demo: fetch many pages concurrently over HTTPS, asyncio
//! style, with `loop::http`'s `ClientSession` (aiohttp's).
//!
//! By default it is offline and deterministic: it makes a certificate for
//! `localhost` (rcgen), starts a small hyper HTTPS server on 127.0.0.1
//! whose pages answer after an artificial latency, and fetches every page
//! with one `ClientSession` (its keep-alive pool trusting that
//! certificate, a 2 s total timeout per request), a `Semaphore` capping
//! concurrency. It prints each page's size, the total time against
//! the sum of the latencies, how few connections the pool needed, and,
//! 100 ms in, what the loop's tasks are waiting on and where
//! (`all_tasks()`), the way you would look into a stuck program.
//!
//! `cargo run --example scraper` (options: pages, concurrency limit), or
//! `cargo run --example scraper -- https://example.com/ https://www.rust-lang.org/`
//! to fetch real pages: DNS on the blocking pool, TLS with the operating
//! system's roots (HTTP/2 where offered), the same concurrency limit, 10 s
//! timeouts.

use aio::hyper::{http_body_util, hyper, Io, Timer};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use r#loop as aio;
use r#loop::sync::Semaphore;
use r#loop::tls::rustls;
use std::cell::Cell;
use std::convert::Infallible;
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

/// `GET /page/N` answers after page N's latency.
async fn page(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let n: Option<usize> = req.uri().path().strip_prefix("/page/").and_then(|n| n.parse().ok());
    Ok(match n {
        Some(n) => {
            let (latency, size) = page_spec(n);
            aio::sleep(latency).await;
            Response::new(Full::new(Bytes::from("x".repeat(size))))
        }
        None => Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::new())).unwrap(),
    })
}

/// A tiny hyper HTTPS server (TLS accept, then HTTP/1.1 keep-alive);
/// returns its port and the count of connections it accepted.
async fn serve(config: Arc<rustls::ServerConfig>) -> std::io::Result<(u16, Rc<Cell<usize>>)> {
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let connections = Rc::new(Cell::new(0));
    let seen = connections.clone();
    aio::TaskBuilder::new()
        .name("demo server")
        .spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                seen.set(seen.get() + 1);
                let config = config.clone();
                aio::spawn(async move {
                    let Ok(tls) = aio::tls::accept(tcp, config).await else { return };
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(Timer)
                        .serve_connection(Io::new(tls), hyper::service::service_fn(page));
                    let _ = conn.await;
                })
                .detach();
            }
        })
        .detach();
    Ok((port, connections))
}

/// GETs `url` with the session: the status and the body size.
async fn fetch(session: &aio::http::ClientSession, url: &str) -> Result<(StatusCode, usize), aio::http::Error> {
    let res = session.get(url).await?;
    Ok((res.status(), res.bytes().await?.len()))
}

/// Fetches the URLs given on the command line, at most `limit` at a time.
async fn scrape_urls(urls: Vec<String>, limit: usize) {
    let session = aio::http::ClientSession::builder().total_timeout(Duration::from_secs(10)).build();
    let gate = Semaphore::new(limit);
    let started = Instant::now();
    let results = aio::gather(urls.iter().map(|url| async {
        let _permit = gate.acquire().await;
        fetch(&session, url).await
    }))
    .await;
    for (url, result) in urls.iter().zip(results) {
        match result {
            Ok((status, size)) => println!("{url}: {status}, {size} bytes"),
            Err(e) => println!("{url}: error: {e}"),
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
    let (port, connections) = serve(server_config).await.expect("start the demo server");
    let session = aio::http::ClientSession::builder()
        .tls_config(aio::tls::client_config_with_roots(roots))
        .total_timeout(Duration::from_secs(2))
        .build();
    println!("demo server on https://localhost:{port}; fetching {pages} pages, at most {limit} at a time");
    let gate = Rc::new(Semaphore::new(limit));
    let started = Instant::now();
    let tasks: Vec<_> = (0..pages)
        .map(|n| {
            let (gate, session) = (gate.clone(), session.clone());
            aio::TaskBuilder::new().name(format!("fetch-{n}")).spawn(async move {
                let _permit = gate.acquire().await;
                fetch(&session, &format!("https://localhost:{port}/page/{n}")).await
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
            Ok((status, size)) if status.is_success() => {
                bytes += size;
                println!("page {n:>3}: {size:>6} bytes (latency {latency:?})");
            }
            Ok((status, _)) => {
                failed += 1;
                println!("page {n:>3}: {status}");
            }
            Err(e) => {
                failed += 1;
                println!("page {n:>3}: error: {e}");
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "fetched {bytes} bytes from {pages} pages in {elapsed:.2?}; the latencies add up to {total_latency:.2?} \
         ({:.1}x faster than one at a time) over {} kept-alive TLS connections",
        total_latency.as_secs_f64() / elapsed.as_secs_f64(),
        connections.get()
    );
    snapshot.await.expect("snapshot task");
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
