//! Memory after a burst of timers: a million `call_later` timers made and
//! cancelled on one loop, then the process's resident memory (Linux,
//! `/proc/self/status`). `cargo run --release -p loop-bench --example timer_memory`.

use r#loop as aio;
use std::time::Duration;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn main() {
    aio::run(async {
        let ev = aio::get_running_loop();
        println!("before: {:.1} MiB", rss_mib());
        let timers: Vec<_> =
            (0..1_000_000u64).map(|i| ev.call_later(Duration::from_secs(60 + i % 600), || {})).collect();
        println!("with 1,000,000 timers: {:.1} MiB", rss_mib());
        for timer in &timers {
            timer.cancel();
        }
        drop(timers);
        // One turn, so the loop sees the cancellations.
        aio::sleep(Duration::from_millis(1)).await;
        println!("after cancelling them: {:.1} MiB", rss_mib());
        // What is left is the allocator's: freed small blocks glibc keeps.
        #[cfg(target_os = "linux")]
        {
            // SAFETY: malloc_trim only releases free memory of the heap.
            unsafe { libc::malloc_trim(0) };
            println!("after malloc_trim(0): {:.1} MiB", rss_mib());
        }
    });
}
