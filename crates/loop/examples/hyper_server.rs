//! An HTTP/1.1 + HTTP/2 server with hyper on `loop` (feature `hyper`).
//!
//! `cargo run --features hyper --example hyper_server` starts it, asks it
//! one request over each protocol to show it works, and exits;
//! `... --example hyper_server -- serve 127.0.0.1:8080` serves until Ctrl-C
//! (then stops gracefully: no new connections, open ones finish).

use aio::hyper::{http_body_util, hyper, Io, LocalExec};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use r#loop as aio;
use std::convert::Infallible;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = format!("hello over {:?} from loop\n", req.version());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_forever = args.first().is_some_and(|a| a == "serve");
    let addr = args.get(1).map_or("127.0.0.1:0", String::as_str);
    let listener = aio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    println!("serving HTTP/1.1 and HTTP/2 on http://{addr}");
    let stop = aio::sync::ResultCell::<()>::new();
    let stopped = stop.clone();
    let server = aio::spawn(aio::hyper::serve(listener, hyper::service::service_fn(hello), async move {
        let _ = stopped.await;
    }));
    if serve_forever {
        aio::signal::ctrl_c().await?;
        println!("stopping gracefully");
    } else {
        // One request over HTTP/1.1, one over HTTP/2 (prior knowledge).
        let io = Io::new(aio::net::TcpStream::connect(addr).await?);
        let (mut h1, conn) = hyper::client::conn::http1::handshake(io).await?;
        aio::spawn(conn).detach();
        let req = Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new())?;
        let body = h1.send_request(req).await?.into_body().collect().await?.to_bytes();
        print!("HTTP/1.1 client got: {}", String::from_utf8_lossy(&body));
        let io = Io::new(aio::net::TcpStream::connect(addr).await?);
        let (mut h2, conn) = hyper::client::conn::http2::handshake(LocalExec, io).await?;
        aio::spawn(conn).detach();
        let req = Request::get(format!("http://{addr}/")).body(Empty::<Bytes>::new())?;
        let body = h2.send_request(req).await?.into_body().collect().await?.to_bytes();
        print!("HTTP/2 client got: {}", String::from_utf8_lossy(&body));
    }
    stop.set_result(()).ok();
    server.await??;
    Ok(())
}
