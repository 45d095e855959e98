//! The HTTP client: 10,000 GETs over 64 keep-alive connections against a
//! local hyper server (tokio's, on a thread of its own, the same server
//! for both clients), `loop::http::ClientSession` against reqwest on a
//! tokio current-thread runtime. Each client runs 64 tasks that GET one
//! after another and read each body.

use std::net::SocketAddr;
use std::time::Instant;

use r#loop as aio;

const CONNECTIONS: usize = 64;

fn on_loop(addr: SocketAddr, requests: usize) -> f64 {
    aio::run(async move {
        let session = aio::http::ClientSession::builder().limit(CONNECTIONS).build();
        let url = format!("http://{addr}/");
        let per_task = requests / CONNECTIONS;
        let start = Instant::now();
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (session, url) = (session.clone(), url.clone());
                aio::spawn(async move {
                    for _ in 0..per_task {
                        let body = session.get(&url).await.unwrap().bytes().await.unwrap();
                        assert_eq!(body.len(), 13);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / (per_task * CONNECTIONS) as f64;
        assert!(session.connections_opened() <= CONNECTIONS);
        us
    })
}

fn on_reqwest(addr: SocketAddr, requests: usize) -> f64 {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async move {
        let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().unwrap();
        let url = format!("http://{addr}/");
        let per_task = requests / CONNECTIONS;
        let start = Instant::now();
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        let body = client.get(&url).send().await.unwrap().bytes().await.unwrap();
                        assert_eq!(body.len(), 13);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed().as_secs_f64() * 1e6 / (per_task * CONNECTIONS) as f64
    })
}

/// The table: µs per request for each client, and our ratio to reqwest as
/// the median of `reps` back-to-back pairs (alternating which goes first),
/// with the pairs' spread.
pub fn table(reps: usize, scale: f64) -> String {
    let addr = crate::http::start("tokio");
    let requests = ((10_000.0 * scale) as usize).max(CONNECTIONS);
    let _ = (on_loop(addr, requests), on_reqwest(addr, requests));
    let mut pairs = Vec::new();
    for rep in 0..reps {
        let (ours, theirs) = if rep % 2 == 0 {
            let ours = on_loop(addr, requests);
            (ours, on_reqwest(addr, requests))
        } else {
            let theirs = on_reqwest(addr, requests);
            (on_loop(addr, requests), theirs)
        };
        pairs.push((ours, theirs));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (ours, _, _) = median(pairs.iter().map(|p| p.0).collect());
    let (theirs, _, _) = median(pairs.iter().map(|p| p.1).collect());
    let (ratio, lo, hi) = median(pairs.iter().map(|p| p.1 / p.0).collect());
    let text = format!(
        "\nHTTP client: {requests} GETs over {CONNECTIONS} keep-alive connections to a local hyper server (tokio's, on its own thread), {reps} alternating pairs:\n\n\
         | client | µs/request |\n| --- | ---: |\n| `loop::http::ClientSession` | {ours:.1} |\n| reqwest 0.13 on tokio (current thread) | {theirs:.1} |\n\n\
         loop is {ratio:.2}x reqwest (median of the pairs' ratios; spread {lo:.2}-{hi:.2}).\n"
    );
    print!("{text}");
    text
}
