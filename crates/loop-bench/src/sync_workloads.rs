//! Synchronisation workloads: each runtime with its own ecosystem's
//! primitives — `loop` with `loop::sync`, tokio with `tokio::sync`, smol with
//! async-lock / async-channel / event-listener.

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use r#loop as aio;
use r#loop::sync as lsync;

use crate::workloads::{on_smol, on_tokio, per_op, Runtime, Workload};

pub const SYNC_WORKLOADS: &[Workload] = &[
    Workload {
        name: "semaphore",
        title: "semaphore(1), 100 tasks x 1,000 acquire+yield",
        unit: "ns/acquire",
        about: "100 tasks each acquire a one-permit semaphore, yield while holding it, release; 1,000 times.",
        n: 100_000,
        run: semaphore,
    },
    Workload {
        name: "lock",
        title: "lock uncontended acquire/release",
        unit: "ns/lock",
        about: "one task locks and unlocks an async mutex n times.",
        n: 1_000_000,
        run: lock_uncontended,
    },
    Workload {
        name: "pingpong",
        title: "ping-pong over two bounded(1) queues",
        unit: "ns/round trip",
        about: "two tasks bounce a counter through two capacity-1 queues/channels.",
        n: 100_000,
        run: ping_pong,
    },
    Workload {
        name: "unbounded",
        title: "unbounded queue, 1M items producer to consumer",
        unit: "ns/item",
        about: "one producer task puts n items into an unbounded queue/channel, one consumer takes them.",
        n: 1_000_000,
        run: unbounded,
    },
    Workload {
        name: "event",
        title: "event set/wait with 1,000 waiters",
        unit: "ns/waiter",
        about: "1,000 tasks wait on an event (tokio: Notify, smol: event-listener); it is set; all are awaited.",
        n: 100_000,
        run: event,
    },
];

const SEM_TASKS: usize = 100;

fn semaphore(rt: Runtime, n: usize) -> f64 {
    let per = (n / SEM_TASKS).max(1);
    let total = per * SEM_TASKS;
    match rt {
        Runtime::Loop => aio::run(async move {
            let sem = Rc::new(lsync::Semaphore::new(1));
            let start = Instant::now();
            let hs: Vec<_> = (0..SEM_TASKS)
                .map(|_| {
                    let sem = sem.clone();
                    aio::spawn(async move {
                        for _ in 0..per {
                            let _p = sem.acquire().await;
                            aio::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            per_op(start, total)
        }),
        Runtime::Tokio => on_tokio(async move {
            let sem = Rc::new(tokio::sync::Semaphore::new(1));
            let start = Instant::now();
            let hs: Vec<_> = (0..SEM_TASKS)
                .map(|_| {
                    let sem = sem.clone();
                    tokio::task::spawn_local(async move {
                        for _ in 0..per {
                            let _p = sem.acquire().await.unwrap();
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
            per_op(start, total)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let sem = Rc::new(smol::lock::Semaphore::new(1));
            let start = Instant::now();
            let hs: Vec<_> = (0..SEM_TASKS)
                .map(|_| {
                    let sem = sem.clone();
                    ex.spawn(async move {
                        for _ in 0..per {
                            let _p = sem.acquire().await;
                            smol::future::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await;
            }
            per_op(start, total)
        }),
    }
}

fn lock_uncontended(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => aio::run(async move {
            let m = lsync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            black_box(m.into_inner());
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let m = tokio::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            black_box(m.into_inner());
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|_| async move {
            let m = smol::lock::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            black_box(m.into_inner());
            per_op(start, n)
        }),
    }
}

fn ping_pong(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => aio::run(async move {
            let (ab, ba) = (lsync::Queue::new(1), lsync::Queue::new(1));
            let (ab2, ba2) = (ab.clone(), ba.clone());
            let start = Instant::now();
            let echo = aio::spawn(async move {
                while let Ok(v) = ab2.get().await {
                    if ba2.put(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            let mut v = 0u64;
            for _ in 0..n {
                ab.put(v).await.unwrap();
                v = ba.get().await.unwrap();
            }
            ab.shutdown(true);
            echo.await.unwrap();
            assert_eq!(v, n as u64);
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let (ab_tx, mut ab_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (ba_tx, mut ba_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let start = Instant::now();
            let echo = tokio::task::spawn_local(async move {
                while let Some(v) = ab_rx.recv().await {
                    if ba_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            let mut v = 0u64;
            for _ in 0..n {
                ab_tx.send(v).await.unwrap();
                v = ba_rx.recv().await.unwrap();
            }
            drop(ab_tx);
            echo.await.unwrap();
            assert_eq!(v, n as u64);
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let (ab_tx, ab_rx) = smol::channel::bounded::<u64>(1);
            let (ba_tx, ba_rx) = smol::channel::bounded::<u64>(1);
            let start = Instant::now();
            let echo = ex.spawn(async move {
                while let Ok(v) = ab_rx.recv().await {
                    if ba_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            let mut v = 0u64;
            for _ in 0..n {
                ab_tx.send(v).await.unwrap();
                v = ba_rx.recv().await.unwrap();
            }
            drop(ab_tx);
            echo.await;
            assert_eq!(v, n as u64);
            per_op(start, n)
        }),
    }
}

fn unbounded(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => aio::run(async move {
            let q = lsync::Queue::unbounded();
            let q2 = q.clone();
            let start = Instant::now();
            let consumer = aio::spawn(async move {
                let mut sum = 0u64;
                while let Ok(v) = q2.get().await {
                    sum += v;
                }
                sum
            });
            for i in 0..n as u64 {
                q.put_nowait(i).unwrap();
                if i % 1024 == 0 {
                    aio::yield_now().await;
                }
            }
            q.shutdown(false);
            black_box(consumer.await.unwrap());
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
            let start = Instant::now();
            let consumer = tokio::task::spawn_local(async move {
                let mut sum = 0u64;
                while let Some(v) = rx.recv().await {
                    sum += v;
                }
                sum
            });
            for i in 0..n as u64 {
                tx.send(i).unwrap();
                if i % 1024 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            drop(tx);
            black_box(consumer.await.unwrap());
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let (tx, rx) = smol::channel::unbounded::<u64>();
            let start = Instant::now();
            let consumer = ex.spawn(async move {
                let mut sum = 0u64;
                while let Ok(v) = rx.recv().await {
                    sum += v;
                }
                sum
            });
            for i in 0..n as u64 {
                tx.try_send(i).unwrap();
                if i % 1024 == 0 {
                    smol::future::yield_now().await;
                }
            }
            drop(tx);
            black_box(consumer.await);
            per_op(start, n)
        }),
    }
}

const EVENT_WAITERS: usize = 1000;

fn event(rt: Runtime, n: usize) -> f64 {
    let rounds = (n / EVENT_WAITERS).max(1);
    let total = rounds * EVENT_WAITERS;
    match rt {
        Runtime::Loop => aio::run(async move {
            let start = Instant::now();
            for _ in 0..rounds {
                let ev = Rc::new(lsync::Event::new());
                let ready = Rc::new(Cell::new(0));
                let hs: Vec<_> = (0..EVENT_WAITERS)
                    .map(|_| {
                        let (ev, ready) = (ev.clone(), ready.clone());
                        aio::spawn(async move {
                            let mut wait = std::pin::pin!(ev.wait());
                            let _ = futures_poll_once(wait.as_mut()).await;
                            ready.set(ready.get() + 1);
                            wait.await
                        })
                    })
                    .collect();
                while ready.get() < EVENT_WAITERS {
                    aio::yield_now().await;
                }
                ev.set();
                for h in hs {
                    h.await.unwrap();
                }
            }
            per_op(start, total)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            for _ in 0..rounds {
                let ev = Rc::new(tokio::sync::Notify::new());
                let ready = Rc::new(Cell::new(0));
                let hs: Vec<_> = (0..EVENT_WAITERS)
                    .map(|_| {
                        let (ev, ready) = (ev.clone(), ready.clone());
                        tokio::task::spawn_local(async move {
                            let mut wait = std::pin::pin!(ev.notified());
                            wait.as_mut().enable();
                            ready.set(ready.get() + 1);
                            wait.await
                        })
                    })
                    .collect();
                while ready.get() < EVENT_WAITERS {
                    tokio::task::yield_now().await;
                }
                ev.notify_waiters();
                for h in hs {
                    h.await.unwrap();
                }
            }
            per_op(start, total)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            for _ in 0..rounds {
                let ev = Rc::new(event_listener::Event::new());
                let ready = Rc::new(Cell::new(0));
                let hs: Vec<_> = (0..EVENT_WAITERS)
                    .map(|_| {
                        let (ev, ready) = (ev.clone(), ready.clone());
                        ex.spawn(async move {
                            let listener = ev.listen();
                            ready.set(ready.get() + 1);
                            listener.await
                        })
                    })
                    .collect();
                while ready.get() < EVENT_WAITERS {
                    smol::future::yield_now().await;
                }
                ev.notify(usize::MAX);
                for h in hs {
                    h.await;
                }
            }
            per_op(start, total)
        }),
    }
}

/// Polls a pinned future once (registering it as a waiter) without
/// waiting for it.
async fn futures_poll_once<F: Future>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await
}
