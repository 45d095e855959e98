//! `LoopSet::shutdown` names a blocking job it waits for as the cause of a
//! stuck loop, not a task. (A file of its own: the test leaves a thread
//! running a moment after it ends, and `loop_set.rs` counts the process's
//! threads.)

use r#loop as aio;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn shutdown_names_a_blocking_job_it_waits_for_not_a_task() {
    let _watchdog = loop_tests::watchdog();
    let set = aio::LoopSet::builder().loops(2).shutdown_timeout(Duration::from_millis(100)).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    // A detached blocking job, still running when the set shuts down:
    // closing, loop 0 waits for its pool.
    set.spawn_on(0, async move {
        aio::spawn_blocking(move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
        })
        .detach();
    })
    .unwrap()
    .wait()
    .unwrap();
    started_rx.recv().unwrap();
    let err = set.shutdown().unwrap_err();
    assert_eq!(err.stuck, vec![0]);
    assert_eq!(err.blocking, vec![(0, 1)]);
    let message = err.to_string();
    assert!(message.contains("waits for 1 blocking job(s)"), "{message}");
    assert!(!message.contains("a task blocks its thread"), "{message}");
    release_tx.send(()).unwrap();
}
