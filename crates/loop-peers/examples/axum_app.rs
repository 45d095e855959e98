//! An axum `Router` served on `loop` (axum without its `tokio` feature;
//! feature `hyper` of `loop`): a `Router` is a tower service, and
//! `aio::hyper::serve_tower` serves it.
//!
//! `cargo run -p loop-peers --example axum_app` serves, asks itself two
//! requests and exits; `... -- serve 127.0.0.1:8080` serves until Ctrl-C.

use aio::hyper::{http_body_util, hyper, Io};
use axum::extract::{Path, Query};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use r#loop as aio;

#[derive(serde::Deserialize)]
struct Greeting {
    punctuation: Option<String>,
}

#[derive(serde::Serialize)]
struct Sum {
    total: u64,
}

fn app() -> Router {
    Router::new()
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>, Query(q): Query<Greeting>| async move {
                format!("hello, {name}{}", q.punctuation.unwrap_or_default())
            }),
        )
        .route("/sum/{a}/{b}", get(|Path((a, b)): Path<(u64, u64)>| async move { Json(Sum { total: a + b }) }))
}

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_forever = args.first().is_some_and(|a| a == "serve");
    let listener = aio::net::TcpListener::bind(args.get(1).map_or("127.0.0.1:0", String::as_str)).await?;
    let addr = listener.local_addr()?;
    println!("axum on loop at http://{addr}");
    let stop = aio::sync::ResultCell::<()>::new();
    let stopped = stop.clone();
    let server = aio::spawn(aio::hyper::serve_tower(listener, app(), async move {
        let _ = stopped.await;
    }));
    if serve_forever {
        aio::signal::ctrl_c().await?;
    } else {
        let io = Io::new(aio::net::TcpStream::connect(addr).await?);
        let (mut client, conn) = hyper::client::conn::http1::handshake(io).await?;
        aio::spawn(conn).detach();
        for path in ["/hello/asyncio?punctuation=!", "/sum/40/2"] {
            client.ready().await?;
            let req = hyper::Request::get(path).header("host", "localhost").body(Empty::<Bytes>::new())?;
            let res = client.send_request(req).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            println!("GET {path} -> {status} {}", String::from_utf8_lossy(&body));
            assert!(status.is_success());
        }
    }
    stop.set_result(()).ok();
    server.await??;
    Ok(())
}
