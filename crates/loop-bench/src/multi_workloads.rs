//! The all-cores workloads: tokio's `rt_multi_threaded` benchmarks (at
//! their sizes) and remote spawns from plain threads, each on two threads:
//! a two-loop `LoopSet`, tokio's multi-thread runtime with two workers, and
//! a smol `Executor` run by two threads.
//!
//! Written as each runtime's users write them: on `loop`, work spawned
//! inside a task stays on that task's loop (`aio::spawn`, thread-per-core)
//! and work from outside goes to the least-loaded loop (`LoopSet::spawn`);
//! tokio's spawns go to its shared scheduler (work stealing); smol's to its
//! shared executor.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use r#loop as aio;

use crate::workloads::{per_op, Runtime, Workload};

/// Threads per runtime in these rows.
pub const THREADS: usize = 2;

pub const MULTI_WORKLOADS: &[Workload] = &[
    Workload {
        name: "mt-spawn-local",
        title: "2 threads: spawn_many_local (10k)",
        unit: "ns/task",
        about: "tokio's spawn_many_local: a task spawns n tasks that each count down; the last signals.",
        n: 10_000,
        run: spawn_many_local,
    },
    Workload {
        name: "mt-spawn-remote-idle",
        title: "2 threads: spawn_many_remote_idle (10k)",
        unit: "ns/task",
        about: "tokio's spawn_many_remote_idle: the main thread spawns n empty tasks, then awaits every handle (on the main thread, for every runtime).",
        n: 10_000,
        run: spawn_many_remote_idle,
    },
    Workload {
        name: "mt-spawn-remote-busy",
        title: "2 threads: spawn_many_remote_busy (10k)",
        unit: "ns/task",
        about: "as remote_idle, while one task per thread yields in a loop (the workers are busy).",
        n: 10_000,
        run: spawn_many_remote_busy,
    },
    Workload {
        name: "mt-remote-drain",
        title: "2 threads: remote spawn from 2 plain threads, drained",
        unit: "ns/task",
        about: "two plain threads each spawn n/2 empty tasks and wait for every one (the drain is timed).",
        n: 20_000,
        run: remote_spawn_drain,
    },
    Workload {
        name: "mt-ping-pong",
        title: "2 threads: ping_pong (1,000)",
        unit: "ns/ping",
        about: "tokio's ping_pong: n tasks each spawn a partner and exchange two oneshot messages with it.",
        n: 1_000,
        run: ping_pong,
    },
    Workload {
        name: "mt-yield",
        title: "2 threads: yield_many (200 x 1,000)",
        unit: "ns/yield",
        about: "tokio's yield_many: 200 tasks spawned from outside each yield 1,000 times.",
        n: 200_000,
        run: yield_many,
    },
    Workload {
        name: "mt-chain",
        title: "2 threads: chained_spawn (1,000)",
        unit: "ns/task",
        about: "tokio's chained_spawn: each task spawns the next, n deep; the last signals the main future.",
        n: 1_000,
        run: chained_spawn,
    },
];

/// The three runtimes, each with two threads.
enum Multi {
    Loop(aio::LoopSet),
    Tokio(tokio::runtime::Runtime),
    Smol(SmolPool),
}

/// A smol `Executor` run by `THREADS` threads until dropped.
struct SmolPool {
    ex: Arc<smol::Executor<'static>>,
    stop: Option<smol::channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for SmolPool {
    fn drop(&mut self) {
        self.stop.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Multi {
    fn new(rt: Runtime) -> Multi {
        match rt {
            Runtime::Loop => Multi::Loop(aio::LoopSet::builder().loops(THREADS).build().expect("loop set")),
            Runtime::Tokio => Multi::Tokio(
                tokio::runtime::Builder::new_multi_thread().worker_threads(THREADS).enable_all().build().unwrap(),
            ),
            Runtime::Smol => {
                let ex = Arc::new(smol::Executor::new());
                let (stop, stopped) = smol::channel::bounded::<()>(1);
                let threads = (0..THREADS)
                    .map(|_| {
                        let (ex, stopped) = (ex.clone(), stopped.clone());
                        std::thread::spawn(move || {
                            let _ = smol::block_on(ex.run(stopped.recv()));
                        })
                    })
                    .collect();
                Multi::Smol(SmolPool { ex, stop: Some(stop), threads })
            }
        }
    }

    /// Runs `f` (which spawns through the given `Spawner`) to completion on
    /// the runtime, from the calling thread.
    fn block_on<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        match self {
            Multi::Loop(set) => set.block_on(f),
            Multi::Tokio(rt) => rt.block_on(f),
            Multi::Smol(pool) => smol::block_on(pool.ex.spawn(f)),
        }
    }

    fn spawner(&self) -> Spawner {
        match self {
            Multi::Loop(_) => Spawner::Loop,
            Multi::Tokio(rt) => Spawner::Tokio(rt.handle().clone()),
            Multi::Smol(pool) => Spawner::Smol(pool.ex.clone()),
        }
    }
}

/// How a task spawns more work, per runtime (loop: on its own loop).
#[derive(Clone)]
enum Spawner {
    Loop,
    Tokio(tokio::runtime::Handle),
    Smol(Arc<smol::Executor<'static>>),
}

impl Spawner {
    /// Spawns detached, from inside a task.
    fn spawn(&self, f: impl Future<Output = ()> + Send + 'static) {
        match self {
            Spawner::Loop => aio::spawn(f).detach(),
            Spawner::Tokio(h) => drop(h.spawn(f)),
            Spawner::Smol(ex) => ex.spawn(f).detach(),
        }
    }
}

/// A task handle of any of the three, joinable from async code anywhere.
enum Joinable {
    Loop(aio::ThreadsafeTask<()>),
    Tokio(tokio::task::JoinHandle<()>),
    Smol(smol::Task<()>),
}

impl Multi {
    /// Spawns from outside the runtime (a plain thread).
    fn spawn_remote(&self, f: impl Future<Output = ()> + Send + 'static) -> Joinable {
        match self {
            Multi::Loop(set) => Joinable::Loop(set.spawn(f).expect("loop set running")),
            Multi::Tokio(rt) => Joinable::Tokio(rt.spawn(f)),
            Multi::Smol(pool) => Joinable::Smol(pool.ex.spawn(f)),
        }
    }
}

impl Joinable {
    async fn join(self) {
        match self {
            Joinable::Loop(t) => t.await.unwrap(),
            Joinable::Tokio(t) => t.await.unwrap(),
            Joinable::Smol(t) => t.await,
        }
    }

    /// Blocks a plain thread until the task ends.
    fn wait(self) {
        match self {
            Joinable::Loop(t) => t.wait().unwrap(),
            Joinable::Tokio(t) => smol::block_on(t).unwrap(),
            Joinable::Smol(t) => smol::block_on(t),
        }
    }
}

/// Awaits every handle on the calling (spawning) thread, for all three
/// runtimes alike, as tokio's benchmark does with `rt.block_on` (which runs
/// its future on the calling thread): so the handles, and with them the
/// task cells, are dropped on the thread that allocated them.
fn join_here(handles: Vec<Joinable>) {
    smol::block_on(async move {
        for h in handles {
            h.join().await;
        }
    });
}

fn spawn_many_local(rt: Runtime, n: usize) -> f64 {
    let m = Multi::new(rt);
    let spawner = m.spawner();
    m.block_on(async move {
        let start = Instant::now();
        let rem = Arc::new(AtomicUsize::new(n));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        for _ in 0..n {
            let (rem, tx) = (rem.clone(), tx.clone());
            spawner.spawn(async move {
                if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                    let _ = tx.lock().unwrap().take().unwrap().send(());
                }
            });
        }
        rx.await.unwrap();
        per_op(start, n)
    })
}

fn spawn_many_remote_idle(rt: Runtime, n: usize) -> f64 {
    let m = Multi::new(rt);
    let start = Instant::now();
    let handles: Vec<Joinable> = (0..n).map(|_| m.spawn_remote(async {})).collect();
    join_here(handles);
    per_op(start, n)
}

fn spawn_many_remote_busy(rt: Runtime, n: usize) -> f64 {
    let m = Multi::new(rt);
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<Joinable> = (0..THREADS)
        .map(|i| {
            let stop = stop.clone();
            let f = async move {
                while !stop.load(Ordering::Relaxed) {
                    yield_on(rt).await;
                }
            };
            match &m {
                // One per loop: the least-loaded pick could put both on one.
                Multi::Loop(set) => Joinable::Loop(set.spawn_on(i, f).unwrap()),
                _ => m.spawn_remote(f),
            }
        })
        .collect();
    let start = Instant::now();
    let handles: Vec<Joinable> = (0..n).map(|_| m.spawn_remote(async {})).collect();
    join_here(handles);
    let took = per_op(start, n);
    stop.store(true, Ordering::Relaxed);
    for b in busy {
        b.wait();
    }
    took
}

fn remote_spawn_drain(rt: Runtime, n: usize) -> f64 {
    let m = Arc::new(Multi::new(rt));
    let start = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                let handles: Vec<Joinable> = (0..n / 2).map(|_| m.spawn_remote(async {})).collect();
                for h in handles {
                    h.wait();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let took = per_op(start, n);
    drop(Arc::into_inner(m));
    took
}

fn ping_pong(rt: Runtime, n: usize) -> f64 {
    let m = Multi::new(rt);
    let spawner = m.spawner();
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let start = Instant::now();
    let rem = Arc::new(AtomicUsize::new(n));
    let top = m.spawn_remote({
        let spawner = spawner.clone();
        async move {
            for _ in 0..n {
                let (rem, done_tx, inner) = (rem.clone(), done_tx.clone(), spawner.clone());
                spawner.spawn(async move {
                    let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                    let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                    inner.spawn(async move {
                        rx1.await.unwrap();
                        tx2.send(()).unwrap();
                    });
                    tx1.send(()).unwrap();
                    rx2.await.unwrap();
                    if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                        done_tx.send(()).unwrap();
                    }
                });
            }
        }
    });
    done_rx.recv().unwrap();
    let took = per_op(start, n);
    top.wait();
    took
}

fn yield_many(rt: Runtime, n: usize) -> f64 {
    const TASKS: usize = 200;
    let per_task = n / TASKS;
    let m = Multi::new(rt);
    let (tx, rx) = mpsc::sync_channel(TASKS);
    let start = Instant::now();
    for _ in 0..TASKS {
        let tx = tx.clone();
        m.spawn_remote(async move {
            for _ in 0..per_task {
                yield_on(rt).await;
            }
            tx.send(()).unwrap();
        })
        .detach();
    }
    for _ in 0..TASKS {
        rx.recv().unwrap();
    }
    per_op(start, TASKS * per_task)
}

impl Joinable {
    fn detach(self) {
        match self {
            Joinable::Loop(t) => drop(t),
            Joinable::Tokio(t) => drop(t),
            Joinable::Smol(t) => t.detach(),
        }
    }
}

fn chained_spawn(rt: Runtime, n: usize) -> f64 {
    fn iter(spawner: Spawner, done: tokio::sync::oneshot::Sender<()>, n: usize) {
        if n == 0 {
            done.send(()).unwrap();
        } else {
            let next = spawner.clone();
            spawner.spawn(async move { iter(next, done, n - 1) });
        }
    }
    let m = Multi::new(rt);
    let spawner = m.spawner();
    m.block_on(async move {
        let start = Instant::now();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let first = spawner.clone();
        spawner.spawn(async move { iter(first, done_tx, n) });
        done_rx.await.unwrap();
        per_op(start, n)
    })
}

/// Each runtime's own `yield_now`.
async fn yield_on(rt: Runtime) {
    match rt {
        Runtime::Loop => aio::yield_now().await,
        Runtime::Tokio => tokio::task::yield_now().await,
        Runtime::Smol => smol::future::yield_now().await,
    }
}
