//! A hyper HTTP/1.1 client with keep-alive on `loop` (feature `hyper`):
//! one connection, many requests, against a local server it starts.
//!
//! `cargo run --features hyper --example hyper_client`

use aio::hyper::{http_body_util, hyper, Io};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use r#loop as aio;
use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server counts the connections it sees: keep-alive means one.
    let connections = Rc::new(Cell::new(0));
    let seen = connections.clone();
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    aio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.set(seen.get() + 1);
            let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(req.uri().path().to_string()))))
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(Io::new(stream), service);
            aio::spawn(conn).detach();
        }
    })
    .detach();

    let stream = aio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(Io::new(stream)).await?;
    aio::spawn(conn).detach();
    for i in 0..5 {
        sender.ready().await?;
        let req = Request::get(format!("/page/{i}")).header("host", "localhost").body(Empty::<Bytes>::new())?;
        let res = sender.send_request(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        println!("{status} {}", String::from_utf8_lossy(&body));
    }
    println!("5 requests over {} connection(s)", connections.get());
    assert_eq!(connections.get(), 1, "keep-alive reused the connection");
    Ok(())
}
