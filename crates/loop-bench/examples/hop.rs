//! One blocking-pool round trip, awaited back to back: `unblock` on loop,
//! `spawn_blocking` on tokio, `unblock` on smol (each on one thread).
//! `cargo run --release -p loop-bench --example hop`.
use r#loop as aio;
use std::time::Instant;
fn main() {
    let n = 20000;
    for _ in 0..3 {
        let us = aio::run(async move {
            let t = Instant::now();
            for _ in 0..n {
                aio::unblock(|| ()).await;
            }
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        });
        let tk = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async move {
            let t = Instant::now();
            for _ in 0..n {
                tokio::task::spawn_blocking(|| ()).await.unwrap();
            }
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        });
        let sm = smol::block_on(async move {
            let t = Instant::now();
            for _ in 0..n {
                smol::unblock(|| ()).await;
            }
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        });
        println!("hop: loop {us:.1} us, tokio {tk:.1} us, smol {sm:.1} us");
    }
}
