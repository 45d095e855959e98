//! hyper 1.x on `loop` through `loop::hyper`: HTTP/1.1 keep-alive,
//! HTTP/2, concurrent clients, graceful shutdown, hyper's timer.

use aio::hyper::{http_body_util, hyper, Io, LocalExec};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use r#loop as aio;
use std::convert::Infallible;
use std::time::Duration;

/// Answers `/slow` after 50 ms, anything else at once, with the path.
async fn service(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/slow" {
        aio::sleep(Duration::from_millis(50)).await;
    }
    Ok(Response::new(Full::new(Bytes::from(format!("you asked for {}", req.uri().path())))))
}

/// A server on a fresh port, stopped by setting the returned cell.
async fn start() -> (std::net::SocketAddr, aio::sync::ResultCell<()>, aio::Task<std::io::Result<()>>) {
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = aio::sync::ResultCell::new();
    let stopped = stop.clone();
    let server = aio::spawn(aio::hyper::serve(listener, hyper::service::service_fn(service), async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

async fn body_of(res: Response<Incoming>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path).header("host", "localhost").body(Empty::new()).unwrap()
}

#[test]
fn http1_keep_alive_serves_many_requests_on_one_connection() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, stop, server) = start().await;
        let stream = aio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
        aio::spawn(conn).detach();
        for i in 0..100 {
            sender.ready().await.unwrap();
            let res = sender.send_request(get(&format!("/{i}"))).await.unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(body_of(res).await, format!("you asked for /{i}"));
        }
        stop.set_result(()).unwrap();
        server.await.unwrap().unwrap();
    });
}

#[test]
fn http2_multiplexes_concurrent_requests_over_one_connection() {
    let _watchdog = loop_tests::watchdog();
    // Loop time, on the paused clock: 20 requests of 50 ms each take 50 ms
    // if they run at once, 1 s if one after the other.
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    ev.run_until_complete(async {
        let (addr, stop, server) = start().await;
        let stream = aio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http2::Builder::new(LocalExec)
            .timer(aio::hyper::Timer)
            .handshake(Io::new(stream))
            .await
            .unwrap();
        aio::spawn(conn).detach();
        let started = aio::get_running_loop().time();
        let requests: Vec<_> = (0..20)
            .map(|i| {
                let mut sender = sender.clone();
                aio::spawn(async move {
                    let res = sender.send_request(get(&format!("/slow?{i}"))).await.unwrap();
                    assert_eq!(res.version(), hyper::Version::HTTP_2);
                    body_of(res).await
                })
            })
            .collect();
        for r in requests {
            assert_eq!(r.await.unwrap(), "you asked for /slow");
        }
        let took = aio::get_running_loop().time() - started;
        assert!(took < Duration::from_millis(100), "the 20 slow requests ran concurrently (loop time {took:?})");
        stop.set_result(()).unwrap();
        server.await.unwrap().unwrap();
    });
    ev.close();
}

#[test]
fn fifty_concurrent_http1_clients() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (addr, stop, server) = start().await;
        let clients: Vec<_> = (0..50)
            .map(|c| {
                aio::spawn(async move {
                    let stream = aio::net::TcpStream::connect(addr).await.unwrap();
                    let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
                    aio::spawn(conn).detach();
                    for i in 0..10 {
                        sender.ready().await.unwrap();
                        let res = sender.send_request(get(&format!("/{c}/{i}"))).await.unwrap();
                        assert_eq!(body_of(res).await, format!("you asked for /{c}/{i}"));
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        stop.set_result(()).unwrap();
        server.await.unwrap().unwrap();
    });
}

#[test]
fn graceful_shutdown_finishes_the_request_in_flight_and_stops_accepting() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // The service says when the slow request has started.
        let started = std::rc::Rc::new(aio::sync::Event::new());
        let s = started.clone();
        let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
            let s = s.clone();
            async move {
                s.set();
                aio::sleep(Duration::from_millis(50)).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("done"))))
            }
        });
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = aio::sync::ResultCell::<()>::new();
        let stopped = stop.clone();
        let server = aio::spawn(aio::hyper::serve(listener, svc, async move {
            let _ = stopped.await;
        }));
        let stream = aio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
        let conn = aio::spawn(conn);
        let in_flight = aio::spawn(async move {
            let res = sender.send_request(get("/slow")).await.unwrap();
            (res.status(), body_of(res).await)
        });
        started.wait().await;
        stop.set_result(()).unwrap();
        assert_eq!(
            in_flight.await.unwrap(),
            (hyper::StatusCode::OK, "done".to_string()),
            "the request in flight finished"
        );
        server.await.unwrap().unwrap();
        assert!(conn.await.unwrap().is_ok(), "the connection closed cleanly");
        let refused = aio::net::TcpStream::connect(addr).await;
        assert!(refused.is_err(), "no longer accepting");
    });
}

#[test]
fn hypers_timer_runs_on_the_loop_and_resets_in_place() {
    let _watchdog = loop_tests::watchdog();
    use hyper::rt::Timer as _;
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    ev.run_until_complete(async {
        let timer = aio::hyper::Timer;
        let start = aio::get_running_loop().time();
        let mut sleep = timer.sleep(Duration::from_secs(10));
        timer.reset(&mut sleep, start + Duration::from_secs(3));
        sleep.await;
        assert_eq!(aio::get_running_loop().time() - start, Duration::from_secs(3), "the reset deadline counts");
    });
    ev.close();
}

#[test]
fn https_with_hyper_over_loops_tls_stream() {
    let _watchdog = loop_tests::watchdog();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = aio::tls::rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let server_config = aio::tls::server_config(vec![der.clone()], key).unwrap();
    let mut roots = aio::tls::rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client_config = aio::tls::client_config_with_roots(roots);
    aio::run(async move {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // An HTTPS server: TLS accept, then hyper over the TLS stream.
        aio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = aio::tls::accept(tcp, server_config).await.unwrap();
            hyper::server::conn::http1::Builder::new()
                .serve_connection(Io::new(tls), hyper::service::service_fn(service))
                .await
                .unwrap();
        })
        .detach();
        // An HTTPS client: hyper over a loop TLS connection.
        let tls = aio::tls::connect(addr, "localhost", client_config).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(tls)).await.unwrap();
        aio::spawn(conn).detach();
        let res = sender.send_request(get("/secure")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(body_of(res).await, "you asked for /secure");
    });
}

#[test]
fn tasks_waiting_inside_hyper_are_reported_at_the_users_lines() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = aio::sync::ResultCell::new();
        let stopped = stop.clone();
        let serve_line = line!() + 1;
        let server = aio::spawn(aio::hyper::serve(listener, hyper::service::service_fn(service), async move {
            let _ = stopped.await;
        }));
        let stream = aio::net::TcpStream::connect(addr).await.unwrap();
        let io_line = line!() + 1;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await.unwrap();
        let conn = aio::spawn(conn);
        // One request, so the server has a connection task (idle between
        // requests, waiting for the next one); the client's connection task
        // waits for its next request too.
        let res = sender.send_request(get("/")).await.unwrap();
        assert_eq!(body_of(res).await, "you asked for /");
        aio::yield_now().await;
        let tasks = aio::all_tasks();
        let here = file!();
        let at = |line: u32| {
            tasks
                .iter()
                .filter(|t| t.waiting.is_some_and(|w| w.location.file() == here && w.location.line() == line))
                .count()
        };
        // The server's accept loop and its connection task wait at the
        // `serve(..)` line; the client connection at the `Io::new` line.
        assert!(at(serve_line) >= 2, "accept loop + connection task at serve's line:\n{}", aio::dump_tasks());
        assert_eq!(at(io_line), 1, "the client's connection task at Io::new's line:\n{}", aio::dump_tasks());
        assert!(
            tasks.iter().all(|t| t.waiting.is_none_or(|w| w.location.file() == here)),
            "every wait is reported in this file, none inside hyper or the adapter:\n{}",
            aio::dump_tasks()
        );
        drop(sender);
        conn.await.unwrap().unwrap();
        stop.set_result(()).unwrap();
        server.await.unwrap().unwrap();
    });
}
