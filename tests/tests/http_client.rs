//! `loop::http`: the client session against real local hyper servers
//! (HTTP/1.1 and HTTP/2, TLS with a certificate made now), redirects,
//! timeouts, a reset mid-body, a large streamed body, the connection
//! limits counted on the server, and the fault-injecting proxy.

use aio::hyper::{http_body_util, hyper};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request, Response};
use loop_tests::proxy::{Faults, Proxy};
use r#loop as aio;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// What the test server counted.
#[derive(Default)]
struct Counts {
    /// Requests being handled now, and the most at once.
    active: AtomicUsize,
    peak: AtomicUsize,
    /// Connections accepted.
    connections: AtomicUsize,
}

/// A body of `left` bytes sent in 64 KiB pieces, made as it is read.
struct Chunks {
    left: usize,
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(64 * 1024);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'z'; n])))))
    }
}

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into()).boxed_unsync()
}

fn redirect(status: u16, to: &str) -> Response<Body> {
    Response::builder().status(status).header("location", to).body(full("")).unwrap()
}

async fn route(req: Request<Incoming>, counts: Arc<Counts>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    let content_type = req.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let agent = req.headers().get("x-agent").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let cookie = req.headers().get("cookie").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let accept = req.headers().get("accept-encoding").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let version = format!("{:?}", req.version());
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(match path.as_str() {
        "/hello" => Response::new(full(format!("hello {method} {query} {agent} {version}"))),
        "/echo" => Response::new(full(format!("{method} {content_type} {}", String::from_utf8_lossy(&body)))),
        "/json" => Response::builder()
            .header("content-type", "application/json")
            .body(full(r#"{"name":"loop","stars":42}"#))
            .unwrap(),
        "/loop" => redirect(302, "/loop"),
        "/login" => Response::builder()
            .status(302)
            .header("location", "/whoami")
            .header("set-cookie", "session=abc123; Path=/")
            .body(full(""))
            .unwrap(),
        "/whoami" => Response::new(full(format!("cookie: {cookie}"))),
        "/gzip" | "/br" | "/gzip-cut" => {
            use std::io::Write;
            let text = compressible();
            let (coding, mut packed) = if path == "/br" {
                let mut out = Vec::new();
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
                w.write_all(text.as_bytes()).unwrap();
                drop(w);
                ("br", out)
            } else {
                let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                w.write_all(text.as_bytes()).unwrap();
                ("gzip", w.finish().unwrap())
            };
            if path == "/gzip-cut" {
                packed.truncate(packed.len() / 2);
            }
            assert!(accept.contains("gzip") && accept.contains("br"), "asked for: {accept}");
            Response::builder().header("content-encoding", coding).body(full(packed)).unwrap()
        }
        "/see-other" => redirect(303, "/echo"),
        "/temporary" => redirect(307, "/echo"),
        "/absent" => Response::builder().status(404).body(full("no")).unwrap(),
        "/slow" => {
            aio::sleep(Duration::from_secs(5)).await;
            Response::new(full("late"))
        }
        "/big" => {
            let n: usize = query.parse().unwrap();
            Response::new(Chunks { left: n }.boxed_unsync())
        }
        "/count" => {
            let now = counts.active.fetch_add(1, Ordering::SeqCst) + 1;
            counts.peak.fetch_max(now, Ordering::SeqCst);
            aio::sleep(Duration::from_millis(20)).await;
            counts.active.fetch_sub(1, Ordering::SeqCst);
            Response::new(full("counted"))
        }
        p if p.starts_with("/redirect/") => match p["/redirect/".len()..].parse::<u32>().unwrap() {
            0 => redirect(301, "/hello"),
            n => redirect(302, &format!("/redirect/{}", n - 1)),
        },
        _ => Response::builder().status(500).body(full("?")).unwrap(),
    })
}

/// 200 KB of text that compresses well.
fn compressible() -> String {
    (0..10_000).map(|i| format!("line {i:05}\n")).collect::<Vec<_>>().join("")
}

/// An HTTP/1.1 + HTTP/2 (prior knowledge) server on a fresh port, on this
/// loop, counting connections.
async fn server() -> (SocketAddr, Arc<Counts>) {
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    aio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            c.connections.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            let service = hyper::service::service_fn(move |req| route(req, c.clone()));
            aio::spawn(aio::hyper::serve_connection(tcp, service)).detach();
        }
    })
    .detach();
    (addr, counts)
}

fn session() -> aio::http::ClientSession {
    aio::http::ClientSession::builder().header("x-agent", "tests").build()
}

#[test]
fn requests_with_headers_query_and_bodies() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, _) = server().await;
        let s = session();
        let base = format!("http://{addr}");
        let res = s.get(format!("{base}/hello")).query(&[("q", "a b"), ("n", "1")]).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.url(), format!("{base}/hello?q=a+b&n=1"));
        assert_eq!(res.text().await.unwrap(), "hello GET q=a+b&n=1 tests HTTP/1.1");

        let res = s.post(format!("{base}/echo")).text("héllo").await.unwrap();
        assert_eq!(res.text().await.unwrap(), "POST text/plain; charset=utf-8 héllo");
        let res = s.put(format!("{base}/echo")).form(&[("a", "1&2")]).await.unwrap();
        assert_eq!(res.text().await.unwrap(), "PUT application/x-www-form-urlencoded a=1%262");
        let res = s.delete(format!("{base}/echo")).body(&b"raw"[..]).await.unwrap();
        assert_eq!(res.text().await.unwrap(), "DELETE  raw");
        let res = s.head(format!("{base}/hello")).await.unwrap();
        assert_eq!((res.status(), res.bytes().await.unwrap().len()), (aio::http::StatusCode::OK, 0));
        // A request's header replaces the session's of the same name.
        let res = s.get(format!("{base}/hello")).header("x-agent", "mine").await.unwrap();
        assert!(res.text().await.unwrap().contains(" mine "));

        // One-off calls.
        let text = aio::http::get(format!("{base}/hello")).await.unwrap().text().await.unwrap();
        assert!(text.starts_with("hello GET"));

        // Status errors, and the body is still there to read.
        let res = s.get(format!("{base}/absent")).await.unwrap();
        assert_eq!(res.status(), 404);
        let e = res.error_for_status().unwrap_err();
        assert!(matches!(e, aio::http::Error::Status { status, .. } if status == 404));
        assert_eq!(e.url(), format!("{base}/absent"));
        assert!(e.to_string().contains("404"), "{e}");

        // Bad input: typed, with the URL and the reason.
        let e = s.get("localhost/x").await.unwrap_err();
        assert!(matches!(&e, aio::http::Error::InvalidUrl { reason, .. } if reason.contains("scheme")), "{e}");
        let e = s.get(format!("{base}/hello")).header("bad name", "x").await.unwrap_err();
        assert!(e.to_string().contains("invalid header name"), "{e}");
        // Nothing listens: a connect error naming the URL.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let e = s.get(format!("http://{closed}/")).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Connect { .. }), "{e:?}");
        assert!(e.to_string().contains(&closed.to_string()), "{e}");
        // Keep-alive: all of that over few connections.
        assert!(s.connections_opened() <= 3, "{} connections", s.connections_opened());
    });
}

#[test]
fn json_both_ways() {
    let _watchdog = loop_tests::watchdog();
    #[derive(serde::Serialize)]
    struct Query<'a> {
        name: &'a str,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Repo {
        name: String,
        stars: u32,
    }
    aio::run(async {
        let (addr, _) = server().await;
        let s = session();
        let repo: Repo = s.get(format!("http://{addr}/json")).await.unwrap().json().await.unwrap();
        assert_eq!(repo, Repo { name: "loop".into(), stars: 42 });
        let res = s.post(format!("http://{addr}/echo")).json(&Query { name: "x" }).await.unwrap();
        assert_eq!(res.text().await.unwrap(), r#"POST application/json {"name":"x"}"#);
        // Not that JSON: a decode error naming the URL.
        let e = s.get(format!("http://{addr}/hello")).await.unwrap().json::<Repo>().await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Decode { .. }), "{e:?}");
    });
}

#[test]
fn gzip_and_brotli_bodies_are_decoded_and_cookies_kept() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, _) = server().await;
        let s = session();
        for coding in ["gzip", "br"] {
            let res = s.get(format!("http://{addr}/{coding}")).await.unwrap();
            assert!(res.headers().get("content-encoding").is_none(), "the headers describe the decoded body");
            let text = res.text().await.unwrap();
            assert!(text == compressible(), "{coding}: {} bytes decoded", text.len());
        }
        // Cut short: a decode error, not a silently short body.
        let e = s.get(format!("http://{addr}/gzip-cut")).await.unwrap().bytes().await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Decode { .. }), "{e:?}");

        // A cookie set by a redirect is sent to where it leads, and after.
        let text = s.get(format!("http://{addr}/login")).await.unwrap().text().await.unwrap();
        assert_eq!(text, "cookie: session=abc123");
        let text = s.get(format!("http://{addr}/whoami")).await.unwrap().text().await.unwrap();
        assert_eq!(text, "cookie: session=abc123");
        // Another session has its own jar; one without a jar sends none.
        let text = session().get(format!("http://{addr}/whoami")).await.unwrap().text().await.unwrap();
        assert_eq!(text, "cookie: ");
        let none = aio::http::ClientSession::builder().cookies(false).build();
        let text = none.get(format!("http://{addr}/login")).await.unwrap().text().await.unwrap();
        assert_eq!(text, "cookie: ");
    });
}

#[test]
fn redirects_are_followed_up_to_the_limit_and_a_loop_is_an_error() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, _) = server().await;
        let base = format!("http://{addr}");
        let s = session();
        let res = s.get(format!("{base}/redirect/3")).await.unwrap();
        assert_eq!(res.url(), format!("{base}/hello"));
        assert!(res.text().await.unwrap().starts_with("hello GET"));

        let e = s.get(format!("{base}/loop")).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::TooManyRedirects { limit: 10, .. }), "{e:?}");
        let few = aio::http::ClientSession::builder().max_redirects(2).build();
        let e = few.get(format!("{base}/redirect/3")).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::TooManyRedirects { limit: 2, .. }), "{e:?}");
        // None followed: the 3xx itself.
        let none = aio::http::ClientSession::builder().max_redirects(0).build();
        assert_eq!(none.get(format!("{base}/redirect/3")).await.unwrap().status(), 302);

        // 303 after a POST: a GET without the body; 307 keeps both.
        let res = s.post(format!("{base}/see-other")).text("data").await.unwrap();
        assert_eq!(res.text().await.unwrap(), "GET  ");
        let res = s.post(format!("{base}/temporary")).text("data").await.unwrap();
        assert_eq!(res.text().await.unwrap(), "POST text/plain; charset=utf-8 data");
    });
}

#[test]
fn read_total_and_connect_timeouts_are_typed() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, _) = server().await;
        let base = format!("http://{addr}");
        let s = aio::http::ClientSession::builder().read_timeout(Duration::from_millis(100)).build();
        let e = s.get(format!("{base}/slow")).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Timeout { which: "read", .. }), "{e:?}");
        assert!(e.is_timeout() && e.to_string().contains("/slow"), "{e}");

        let s = aio::http::ClientSession::builder().total_timeout(Duration::from_millis(100)).build();
        let e = s.get(format!("{base}/slow")).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Timeout { which: "total", .. }), "{e:?}");
        // Per request.
        let e = session().get(format!("{base}/slow")).timeout(Duration::from_millis(50)).await.unwrap_err();
        assert!(e.is_timeout());

        // A server that accepts and never answers the TLS handshake.
        let silent = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let held = aio::spawn(async move {
            let (conn, _) = silent.accept().await.unwrap();
            aio::sleep(Duration::from_secs(10)).await;
            drop(conn);
        });
        let s = aio::http::ClientSession::builder().connect_timeout(Duration::from_millis(100)).build();
        let e = s.get(format!("https://localhost:{}/", silent_addr.port())).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Timeout { which: "connect", .. }), "{e:?}");
        held.cancel();
    });
}

#[test]
fn https_with_a_certificate_made_now_and_an_untrusted_one_refused() {
    let _watchdog = loop_tests::watchdog();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = aio::tls::rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    // The server offers HTTP/2 and HTTP/1.1 by ALPN, and speaks either.
    let mut server_config = (*aio::tls::server_config(vec![der.clone()], key).unwrap()).clone();
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let server_config = Arc::new(server_config);
    let mut roots = aio::tls::rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client_config = aio::tls::client_config_with_roots(roots);
    aio::run(async move {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts = Arc::new(Counts::default());
        aio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (config, counts) = (server_config.clone(), counts.clone());
                aio::spawn(async move {
                    let Ok(tls) = aio::tls::accept(tcp, config).await else { return };
                    let service = hyper::service::service_fn(move |req| route(req, counts.clone()));
                    let _ = aio::hyper::hyper_util::server::conn::auto::Builder::new(aio::hyper::LocalExec)
                        .serve_connection(aio::hyper::Io::new(tls), service)
                        .await;
                })
                .detach();
            }
        })
        .detach();
        let url = format!("https://localhost:{port}/hello");
        let s = aio::http::ClientSession::builder().tls_config(client_config.clone()).build();
        for _ in 0..3 {
            let res = s.get(&url).await.unwrap();
            assert_eq!(res.version(), aio::http::Version::HTTP_2);
            let text = res.text().await.unwrap();
            assert_eq!(text, "hello GET   HTTP/2.0", "{text}");
        }
        // Many at once: multiplexed over one HTTP/2 connection.
        let answers = aio::gather((0..20).map(|_| {
            let (s, url) = (s.clone(), url.clone());
            async move { s.get(url).await?.text().await }
        }))
        .await;
        assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
        assert_eq!(s.connections_opened(), 1, "HTTP/2: one connection for 23 requests");
        // HTTP/1.1 when asked.
        let s = aio::http::ClientSession::builder().tls_config(client_config).http2(false).build();
        for _ in 0..3 {
            let text = s.get(&url).await.unwrap().text().await.unwrap();
            assert_eq!(text, "hello GET   HTTP/1.1", "{text}");
        }
        // Kept alive (at most one extra: see the proxy test's note).
        assert!(s.connections_opened() <= 2, "{} TLS connections for 3 requests", s.connections_opened());
        // The OS's roots do not trust a certificate made now.
        let e = aio::http::ClientSession::new().get(&url).await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Tls { .. }), "{e:?}");
        assert!(e.to_string().contains("TLS") && e.to_string().contains(&url), "{e}");
    });
}

#[test]
fn a_large_body_streams_in_bounded_pieces() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, _) = server().await;
        let size = 100 << 20;
        let res = session().get(format!("http://{addr}/big?{size}")).await.unwrap();
        let mut stream = res.bytes_stream();
        let (mut total, mut largest, mut pieces) = (0usize, 0usize, 0usize);
        let mut stream = Pin::new(&mut stream);
        while let Some(piece) = std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await {
            let piece = piece.unwrap();
            assert!(piece.iter().all(|&b| b == b'z'));
            total += piece.len();
            largest = largest.max(piece.len());
            pieces += 1;
        }
        assert_eq!(total, size);
        // Memory held at a time: one piece (hyper's read buffer bounds it).
        assert!(largest <= 512 * 1024, "a piece of {largest} bytes");
        assert!(pieces >= 200, "{pieces} pieces");
    });
}

#[test]
fn a_reset_mid_body_is_a_body_error_and_limits_per_host_hold() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, counts) = server().await;
        // Reset after 200 KB of a 1 MB body.
        let proxy = Proxy::tcp(addr, Faults { reset_after: Some(200_000), ..Faults::default() });
        let res = session().get(format!("http://{}/big?{}", proxy.addr(), 1 << 20)).await.unwrap();
        let e = res.bytes().await.unwrap_err();
        assert!(matches!(e, aio::http::Error::Body { .. }), "{e:?}");
        assert_eq!(proxy.stats().resets.load(Ordering::SeqCst), 1);

        // 20 requests at once, 3 connections per host at most.
        let s = aio::http::ClientSession::builder().limit_per_host(3).build();
        let url = format!("http://{addr}/count");
        let before = counts.connections.load(Ordering::SeqCst);
        let answers = aio::gather((0..20).map(|_| {
            let s = s.clone();
            let url = url.clone();
            async move { s.get(url).await?.text().await }
        }))
        .await;
        assert!(answers.iter().all(|a| a.as_deref().ok() == Some("counted")), "{answers:?}");
        let peak = counts.peak.load(Ordering::SeqCst);
        assert_eq!(peak, 3, "requests in progress at once on the server");
        let opened = counts.connections.load(Ordering::SeqCst) - before;
        assert!(opened <= 3, "the server accepted {opened} connections");

        // And in total across hosts (two names for one server).
        counts.peak.store(0, Ordering::SeqCst);
        let s = aio::http::ClientSession::builder().limit(2).build();
        let answers = aio::gather((0..10).map(|i| {
            let s = s.clone();
            let url = if i % 2 == 0 {
                format!("http://{addr}/count")
            } else {
                format!("http://localhost:{}/count", addr.port())
            };
            async move { s.get(url).await?.text().await }
        }))
        .await;
        assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
        assert_eq!(counts.peak.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn through_the_fault_proxy_latency_and_one_byte_segments() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, _) = server().await;
        let proxy =
            Proxy::tcp(addr, Faults { latency_down: Duration::from_millis(5), segment: Some(1), ..Faults::default() });
        let s = session();
        for i in 0..5 {
            let res = s.get(format!("http://{}/hello", proxy.addr())).query(&[("i", i.to_string())]).await.unwrap();
            assert_eq!(res.text().await.unwrap(), format!("hello GET i={i} tests HTTP/1.1"));
        }
        // (Small bodies: under Wine a 1-byte segment costs ~0.3 ms, and a
        // transfer past hyper's 30 s header-read timeout has the server
        // close the connection under the next request.)
        let body = s.get(format!("http://{}/big?10000", proxy.addr())).await.unwrap().bytes().await.unwrap();
        assert_eq!(body.len(), 10_000);
        // Redirects, a posted body, and a gzip body cut into 1-byte reads.
        let res = s.get(format!("http://{}/redirect/2", proxy.addr())).await.unwrap();
        assert_eq!(res.url(), format!("http://{}/hello", proxy.addr()));
        assert!(res.text().await.unwrap().starts_with("hello GET"));
        let res = s.post(format!("http://{}/echo", proxy.addr())).form(&[("k", "v w")]).await.unwrap();
        assert_eq!(res.text().await.unwrap(), "POST application/x-www-form-urlencoded k=v+w");
        let text = s.get(format!("http://{}/gzip", proxy.addr())).await.unwrap().text().await.unwrap();
        assert!(text == compressible(), "gzip through 1-byte segments: {} bytes", text.len());
        // Eleven requests, kept alive. (hyper-util races a new connection
        // against the pool's: a request made the moment the last body was
        // read can win that race before the first connection is back.)
        let connections = proxy.stats().connections.load(Ordering::SeqCst);
        assert!(connections <= 2, "{connections} connections through the proxy for 11 requests");
    });
}
