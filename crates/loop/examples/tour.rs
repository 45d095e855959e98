//! A tour of the seed programs: `run`, `create_task`, `gather`, `wait_for`,
//! callbacks, the blocking pool and a thread-safe handle.
//!
//! Run it with `cargo run --example tour`.

use r#loop as aio;
use std::time::{Duration, Instant};

/// Pretends to fetch a page: waits `latency`, returns a size.
async fn fetch(page: &str, latency: Duration) -> usize {
    aio::sleep(latency).await;
    page.len() * 100
}

#[aio::main]
async fn main() {
    let started = Instant::now();
    // create_task: runs concurrently from the moment we yield.
    let background = aio::create_task(async {
        aio::sleep(Duration::from_millis(30)).await;
        "background task done"
    });

    // gather!: await several futures at once; outputs in argument order.
    let t0 = Instant::now();
    let (a, b, c) = aio::gather!(
        fetch("index.html", Duration::from_millis(50)),
        fetch("about.html", Duration::from_millis(40)),
        fetch("news.html", Duration::from_millis(60)),
    )
    .await;
    println!("gather!: pages of {a}, {b} and {c} bytes in {:?} (the latencies add up to 150 ms)", t0.elapsed());

    // gather(iter): any number of futures of one type.
    let sizes = aio::gather((1..=5).map(|i| fetch("p", Duration::from_millis(10 * i)))).await;
    println!("gather(iter): {sizes:?}");

    // wait_for: a timeout that cancels (drops) the slow operation.
    match aio::wait_for(fetch("slow.html", Duration::from_secs(10)), Duration::from_millis(20)).await {
        Ok(size) => println!("wait_for: got {size} bytes"),
        Err(e) => println!("wait_for: {e} — the slow fetch was cancelled"),
    }

    // Callbacks, asyncio style.
    let ev = aio::get_running_loop();
    let done = ev.create_future::<&'static str>();
    let setter = done.clone();
    ev.call_later(Duration::from_millis(5), move || setter.set_result("call_later fired").unwrap());
    println!("create_future: {}", done.await.unwrap());

    // to_thread: blocking work off the loop.
    let digest =
        aio::to_thread(|| (1..=1_000_000u64).fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(x))).await.unwrap();
    println!("to_thread: digest {digest:x}");

    // A plain thread hands work to the loop.
    let handle = ev.handle();
    let from_thread = std::thread::spawn(move || handle.spawn_threadsafe(async { 6 * 7 }).unwrap().wait());
    let answer = aio::to_thread(move || from_thread.join().unwrap()).await.unwrap();
    println!("spawn_threadsafe: {answer:?}");

    println!("{}", background.await.unwrap());
    println!("tasks still alive: {}", aio::all_tasks().len());
    println!("total {:?}", started.elapsed());
}
