//! spawn_blocking / to_thread / run_in_executor.

use r#loop as aio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn results_and_panics_come_back_as_task_results() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        assert_eq!(aio::spawn_blocking(|| 2 + 2).await, Ok(4));
        assert_eq!(aio::to_thread(|| "t").await, Ok("t"));
        let err = aio::spawn_blocking(|| -> u8 { panic!("blocking boom") }).await.unwrap_err();
        assert_eq!(err, aio::TaskError::Panicked("blocking boom".into()));
        let ev = aio::get_running_loop();
        assert_eq!(ev.run_in_executor(|| 7).await, Ok(7));
    });
}

#[test]
fn the_pool_is_bounded_and_queues_beyond_the_bound() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().blocking_threads(2).build().unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let out = ev.run_until_complete(async {
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                let running = running.clone();
                let peak = peak.clone();
                aio::spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Hold the thread a moment so jobs overlap if they can.
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        aio::gather(jobs).await
    });
    assert_eq!(out.into_iter().map(Result::unwrap).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
    assert!(peak.load(Ordering::SeqCst) <= 2, "never more than 2 threads at once");
}

#[test]
fn blocking_jobs_run_in_parallel_up_to_the_bound() {
    let _watchdog = loop_tests::watchdog();
    // Two jobs that each wait for the other: they only finish if both run
    // at the same time.
    let barrier = Arc::new(Barrier::new(2));
    let out = aio::run(async move {
        let b1 = barrier.clone();
        let b2 = barrier.clone();
        let a = aio::spawn_blocking(move || b1.wait().is_leader());
        let b = aio::spawn_blocking(move || b2.wait().is_leader());
        let (a, b) = aio::gather!(a, b).await;
        a.unwrap() as u8 + b.unwrap() as u8
    });
    assert_eq!(out, 1, "exactly one leader");
}

#[test]
fn a_paused_clock_waits_for_blocking_work_instead_of_jumping() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    let out = ev.run_until_complete(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let job = aio::spawn_blocking(move || rx.recv().is_ok());
        // The timeout must not fire while the job is in flight, even though
        // the clock is paused and the loop is otherwise idle.
        let releaser = aio::spawn(async move {
            aio::yield_now().await;
            tx.send(()).unwrap();
        });
        let r = aio::wait_for(job, Duration::from_secs(1)).await;
        releaser.await.unwrap();
        r
    });
    assert_eq!(out, Ok(Ok(true)));
}
