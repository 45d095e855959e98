//! hyper-util's pooled `Client` (the one most HTTP clients are built on)
//! over `loop` sockets (feature `hyper`): 50 concurrent GETs share a few
//! kept-alive connections.
//!
//! `cargo run --features hyper --example pooled_client`

use aio::hyper::{http_body_util, hyper, hyper_util, Connector, SendExec, Timer};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use r#loop as aio;
use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local server that counts the connections it accepts.
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let connections = Rc::new(Cell::new(0usize));
    let seen = connections.clone();
    aio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.set(seen.get() + 1);
            let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(req.uri().path().to_string()))))
            });
            let conn =
                hyper::server::conn::http1::Builder::new().serve_connection(aio::hyper::Io::new(stream), service);
            aio::spawn(conn).detach();
        }
    })
    .detach();

    let client = hyper_util::client::legacy::Client::builder(SendExec(aio::get_running_loop().handle()))
        .timer(Timer)
        .pool_max_idle_per_host(8)
        .build::<_, Empty<Bytes>>(Connector::plain());
    let gate = Rc::new(aio::sync::Semaphore::new(8));
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let (client, gate) = (client.clone(), gate.clone());
            aio::spawn(async move {
                let _permit = gate.acquire().await;
                let uri = format!("http://{addr}/item/{i}").parse()?;
                let res = client.get(uri).await?;
                let body = res.into_body().collect().await?.to_bytes();
                assert_eq!(body, format!("/item/{i}"));
                Ok::<_, Box<dyn std::error::Error>>(())
            })
        })
        .collect();
    for r in requests {
        r.await??;
    }
    println!("50 requests over {} pooled connection(s)", connections.get());
    assert!(connections.get() <= 8, "the pool reused its connections");
    Ok(())
}
