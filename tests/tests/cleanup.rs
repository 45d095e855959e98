//! `run` leaves no task, thread or fd behind. One test in its own binary so
//! that no other test's threads or fds are counted.

use loop_tests::{open_fds, threads};

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path().join("comm")).unwrap_or_default().trim().to_string())
        .collect()
}
use r#loop as aio;
use std::time::Duration;

#[test]
fn run_leaves_no_task_thread_or_fd_behind() {
    let _watchdog = loop_tests::watchdog();
    // Warm up std's lazies (stdout, thread names) so they do not count.
    aio::run(async {});
    let fds_before = open_fds();
    let threads_before = threads();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..3 {
        let d = dropped.clone();
        aio::run(async move {
            // Blocking threads, timers, tasks left pending at the end.
            let jobs: Vec<_> = (0..8).map(|i| aio::spawn_blocking(move || i * 2)).collect();
            for j in jobs {
                j.await.unwrap();
            }
            for _ in 0..50 {
                let d = d.clone();
                aio::spawn(async move {
                    struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);
                    impl Drop for Count {
                        fn drop(&mut self) {
                            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    let _c = Count(d);
                    aio::sleep(Duration::from_secs(3600)).await;
                })
                .detach();
            }
            aio::yield_now().await;
            assert_eq!(aio::all_tasks().len(), 50);
        });
    }
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 150, "every leftover task was dropped");
    assert_eq!(open_fds(), fds_before, "the poller's fds were closed");
    // The pool joins its threads, but Linux wakes `pthread_join` a moment
    // before it removes the exited thread from /proc/self/task; give the
    // kernel a bounded while to finish reaping (no sleep: a yield loop).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while threads() > threads_before && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(threads(), threads_before, "the blocking pool's threads were joined: {:?}", thread_names());
}
