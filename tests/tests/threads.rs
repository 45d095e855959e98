//! Reaching a loop from other threads.

use r#loop as aio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};

#[test]
fn a_wake_from_another_thread_reaches_a_parked_loop() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let cell = ev.create_future::<u32>();
    let setter = cell.clone();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        // Wait until the loop's task is waiting, then set from here.
        ready_rx.recv().unwrap();
        setter.set_result(9).unwrap();
    });
    let out = ev.run_until_complete(async move {
        ready_tx.send(()).unwrap();
        cell.await
    });
    t.join().unwrap();
    assert_eq!(out, Ok(9));
}

#[test]
fn spawn_threadsafe_from_8_threads_times_1000_tasks_all_complete() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(8));
    let mut threads = Vec::new();
    for t in 0..8usize {
        let handle = handle.clone();
        let counter = counter.clone();
        let start = start.clone();
        threads.push(std::thread::spawn(move || {
            start.wait();
            let mut tasks = Vec::new();
            for i in 0..1000usize {
                let counter = counter.clone();
                tasks.push(
                    handle
                        .spawn_threadsafe(async move {
                            aio::yield_now().await;
                            counter.fetch_add(1, Ordering::Relaxed);
                            t * 1000 + i
                        })
                        .unwrap(),
                );
            }
            tasks.into_iter().enumerate().all(|(i, task)| task.wait() == Ok(t * 1000 + i))
        }));
    }
    let ok = ev.run_until_complete(async move {
        let mut ok = true;
        for t in threads {
            ok &= aio::spawn_blocking(move || t.join().unwrap()).await.unwrap();
        }
        ok
    });
    assert!(ok, "every thread got every result right");
    assert_eq!(counter.load(Ordering::Relaxed), 8000);
}

#[test]
fn call_soon_threadsafe_runs_on_the_loop_thread() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let loop_thread = std::thread::current().id();
    let handle = ev.handle();
    let cell = ev.create_future::<bool>();
    let setter = cell.clone();
    std::thread::spawn(move || {
        handle
            .call_soon_threadsafe(move || {
                setter.set_result(std::thread::current().id() == loop_thread).unwrap();
            })
            .unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(ev.run_until_complete(cell.wait()), Ok(true));
}

#[test]
fn a_threadsafe_task_can_be_awaited_from_another_loop_and_cancelled() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    let (tx, rx) = mpsc::channel();
    let other = std::thread::spawn(move || {
        aio::run(async move {
            let quick = handle.spawn_threadsafe(async { "from the first loop" }).unwrap();
            let stuck = handle.spawn_threadsafe(std::future::pending::<()>()).unwrap();
            let quick = quick.await;
            assert!(stuck.cancel());
            let stuck = stuck.await;
            tx.send((quick, stuck)).unwrap();
        })
    });
    ev.run_until_complete(async move {
        aio::spawn_blocking(move || other.join().unwrap()).await.unwrap();
    });
    let (quick, stuck) = rx.recv().unwrap();
    assert_eq!(quick, Ok("from the first loop"));
    assert_eq!(stuck, Err(aio::TaskError::Cancelled));
}

#[test]
fn a_closed_loop_refuses_remote_work_and_pending_handles_resolve() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    let pending = handle.spawn_threadsafe(async { 1 }).unwrap();
    ev.close();
    assert!(handle.is_closed());
    assert_eq!(handle.call_soon_threadsafe(|| {}), Err(aio::LoopClosed));
    assert!(handle.spawn_threadsafe(async { 2 }).is_err());
    // Never run: it resolves as cancelled instead of hanging.
    assert_eq!(pending.wait(), Err(aio::TaskError::Cancelled));
}

#[test]
fn stop_from_another_thread_ends_run_forever() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let handle = ev.handle();
    // The stop travels as a callback, so it works whether it arrives
    // before or while the loop runs.
    let t = std::thread::spawn(move || handle.stop().unwrap());
    ev.run_forever();
    t.join().unwrap();
    assert!(!ev.is_running());
}

#[test]
fn wait_gives_finished_and_unfinished_results_many_times_on_one_thread() {
    let _watchdog = loop_tests::watchdog();
    let set = aio::LoopSet::builder().loops(2).build().unwrap();
    let (gate_tx, gate_rx) = mpsc::channel::<aio::sync::ResultCell<u32>>();
    // Sets each gate it is sent: usually after the waiter below has parked.
    let opener = std::thread::spawn(move || {
        for gate in gate_rx {
            gate.set_result(7).unwrap();
        }
    });
    for i in 0..300u32 {
        // Finished: `first` ran before `second` on loop 0 (FIFO), so once
        // `second` is waited for, `first` is done and `wait` takes its
        // result without parking.
        let first = set.spawn_on(0, async move { i }).unwrap();
        let second = set.spawn_on(0, async move { i + 1 }).unwrap();
        assert_eq!(second.wait().unwrap(), i + 1);
        assert!(first.is_done());
        assert_eq!(first.wait().unwrap(), i);
        // Unfinished: the task waits for a gate opened from another thread.
        let gate = aio::sync::ResultCell::new();
        let opened = gate.clone();
        let gated = set.spawn_on(i as usize % 2, async move { opened.await.unwrap() + i }).unwrap();
        gate_tx.send(gate).unwrap();
        assert_eq!(gated.wait().unwrap(), 7 + i);
    }
    drop(gate_tx);
    opener.join().unwrap();
    set.shutdown().unwrap();
}
