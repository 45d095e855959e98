//! The primitives between plain threads and under tokio's multi-threaded
//! runtime: no executor of ours involved.

use loop_sync::{__block_on as block_on, Barrier, Event, Mutex, Queue, Semaphore};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn mutex_between_threads_counts_exactly() {
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                block_on(async {
                    for _ in 0..2_000 {
                        *m.lock().await += 1;
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*block_on(m.lock()), 8_000);
}

#[test]
fn semaphore_between_threads_never_exceeds_its_permits() {
    let sem = Arc::new(Semaphore::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
            std::thread::spawn(move || {
                block_on(async {
                    for _ in 0..500 {
                        let _p = sem.acquire().await;
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 2);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn queue_many_producers_many_consumers_delivers_each_item_once() {
    let q: Queue<u64> = Queue::new(8);
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let q = q.clone();
            std::thread::spawn(move || {
                block_on(async {
                    for i in 0..2_500 {
                        q.put(p * 10_000 + i).await.unwrap();
                    }
                })
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || block_on(async { drain(&q).await }))
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    q.shutdown(false);
    let mut seen = HashSet::new();
    for c in consumers {
        for item in c.join().unwrap() {
            assert!(seen.insert(item), "item {item} delivered twice");
        }
    }
    assert_eq!(seen.len(), 10_000);
}

async fn drain(q: &Queue<u64>) -> Vec<u64> {
    let mut out = Vec::new();
    while let Ok(item) = q.get().await {
        out.push(item);
    }
    out
}

#[test]
fn event_and_barrier_under_tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let ev = Arc::new(Event::new());
        let barrier = Arc::new(Barrier::new(5));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (ev, barrier) = (ev.clone(), barrier.clone());
                tokio::spawn(async move {
                    ev.wait().await;
                    barrier.wait().await.unwrap().is_leader()
                })
            })
            .collect();
        ev.set();
        let me = barrier.wait().await.unwrap().is_leader();
        let mut leaders = me as usize;
        for t in tasks {
            leaders += t.await.unwrap() as usize;
        }
        assert_eq!(leaders, 1);
    });
}

#[test]
fn queue_under_tokio_with_cancellation() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    rt.block_on(async {
        let q: Queue<u32> = Queue::new(1);
        let mut delivered = 0;
        let mut put = Vec::new();
        for i in 0..200u32 {
            let qc = q.clone();
            let getter = tokio::spawn(async move {
                tokio::time::timeout(std::time::Duration::from_micros(50), qc.get()).await.ok().and_then(Result::ok)
            });
            if q.put(i).await.is_ok() {
                put.push(i);
            }
            if getter.await.unwrap().is_some() {
                delivered += 1;
            }
        }
        while q.get_nowait().is_ok() {
            delivered += 1;
        }
        assert_eq!(delivered, put.len(), "no item lost or duplicated by cancelled gets");
    });
}
