//! The workloads, each written once per runtime with that runtime's own
//! spawn, yield and timer.

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use loop_sync::ResultCell;
use r#loop as aio;

use crate::alloc_count::live_bytes;

/// A runtime under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Loop,
    Tokio,
    Smol,
}

/// In the order of the table's columns; ours first.
pub const RUNTIMES: &[Runtime] = &[Runtime::Loop, Runtime::Tokio, Runtime::Smol];

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Loop => "loop",
            Runtime::Tokio => "tokio",
            Runtime::Smol => "smol",
        }
    }
}

/// One workload: `run(runtime, n)` returns the measured value per op.
pub struct Workload {
    pub name: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub about: &'static str,
    pub n: usize,
    pub run: fn(Runtime, usize) -> f64,
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "spawn",
        title: "spawn 100k trivial tasks, await each",
        unit: "ns/task",
        about: "spawn n tasks returning their index, then await every handle in order.",
        n: 100_000,
        run: spawn_await,
    },
    Workload {
        name: "yield",
        title: "yield: 200 tasks x 1,000 yield_now",
        unit: "ns/yield",
        about: "200 tasks each call the runtime's `yield_now` 1,000 times; per yield.",
        n: 200_000,
        run: yield_many,
    },
    Workload {
        name: "chain",
        title: "chained spawn, 100k deep",
        unit: "ns/task",
        about: "each task spawns the next and ends; the last sets a one-shot the main future awaits.",
        n: 100_000,
        run: chained_spawn,
    },
    Workload {
        name: "sleep-cancel",
        title: "register + cancel a sleep (200k)",
        unit: "ns/sleep",
        about: "create a 1 s sleep, poll it once (registering the timer), drop it (cancelling it).",
        n: 200_000,
        run: sleep_cancel,
    },
    Workload {
        name: "sleep-fire",
        title: "200k tasks sleeping 0-10 ms, all fire",
        unit: "ns/task",
        about: "spawn n tasks sleeping i % 11 ms and await them all; includes the ~10 ms of waiting.",
        n: 200_000,
        run: sleep_fire,
    },
    Workload {
        name: "memory",
        title: "memory per idle task waiting on a one-shot",
        unit: "bytes",
        about:
            "live heap bytes per task for n tasks each awaiting a (runtime-neutral) one-shot cell (loop's ResultCell).",
        n: 10_000,
        run: memory_per_task,
    },
    Workload {
        name: "oneshot-cell",
        title: "memory per idle one-shot (the cell alone)",
        unit: "bytes",
        about: "live heap bytes per one-shot, made and kept idle: loop's ResultCell, tokio's oneshot (sender and \
                receiver), smol's bounded(1) channel (smol has no one-shot).",
        n: 10_000,
        run: memory_per_oneshot,
    },
    Workload {
        name: "memory-oneshot",
        title: "memory per idle task waiting on tokio's oneshot",
        unit: "bytes",
        about: "as `memory`, but every runtime's tasks await a tokio::sync::oneshot receiver.",
        n: 10_000,
        run: memory_per_task_oneshot,
    },
];

pub fn per_op(start: Instant, n: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Runs `f` inside tokio's current-thread runtime and a `LocalSet`.
pub fn on_tokio<F: Future<Output = f64>>(f: F) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().enable_io().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, f)
}

/// Runs `f` inside a smol `LocalExecutor` driven by `smol::block_on`.
pub fn on_smol<Fut: Future<Output = f64>>(f: impl FnOnce(Rc<smol::LocalExecutor<'static>>) -> Fut) -> f64 {
    let ex = Rc::new(smol::LocalExecutor::new());
    let fut = f(ex.clone());
    smol::block_on(ex.run(fut))
}

/// Whether the loop variants run with per-task bookkeeping (see the
/// `*-nobook` workloads).
static BOOKKEEPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// `aio::run`, honouring [`BOOKKEEPING`].
fn run_loop<F: Future>(future: F) -> F::Output {
    let on = BOOKKEEPING.load(std::sync::atomic::Ordering::Relaxed);
    let ev = aio::EventLoop::builder().introspection(on).build().expect("event loop");
    let out = ev.run_until_complete(future);
    ev.close();
    out
}

fn without_bookkeeping(f: impl FnOnce() -> f64) -> f64 {
    BOOKKEEPING.store(false, std::sync::atomic::Ordering::Relaxed);
    let r = f();
    BOOKKEEPING.store(true, std::sync::atomic::Ordering::Relaxed);
    r
}

/// The cost of per-task bookkeeping, measured fairly: runs of the loop with
/// and without it alternate (so heap warmth and machine drift hit both
/// alike). Returns (with, without, ratio) for `spawn` and `yield`: the
/// medians of each side and the median of the pairs' ratios.
pub fn introspection_cost(reps: usize) -> [(f64, f64, f64); 2] {
    let mut out = [(0.0, 0.0, 0.0); 2];
    for (i, (run, n)) in
        [(spawn_await as fn(Runtime, usize) -> f64, 100_000), (yield_many, 200_000)].into_iter().enumerate()
    {
        let _ = run(Runtime::Loop, n);
        let _ = without_bookkeeping(|| run(Runtime::Loop, n));
        let mut with = Vec::new();
        let mut without = Vec::new();
        let mut ratios = Vec::new();
        // Pairs run back to back (in alternating order) see the same machine
        // weather; the cost is the median of the pairs' ratios.
        for k in 0..(2 * reps).max(9) {
            let (w, o) = if k % 2 == 0 {
                let w = run(Runtime::Loop, n);
                (w, without_bookkeeping(|| run(Runtime::Loop, n)))
            } else {
                let o = without_bookkeeping(|| run(Runtime::Loop, n));
                (run(Runtime::Loop, n), o)
            };
            with.push(w);
            without.push(o);
            ratios.push(w / o);
        }
        out[i] = (crate::median(with), crate::median(without), crate::median(ratios));
    }
    out
}

fn spawn_await(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => run_loop(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| aio::spawn(async move { i })).collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| tokio::task::spawn_local(async move { i })).collect();
            for h in handles {
                black_box(h.await.unwrap());
            }
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| ex.spawn(async move { i })).collect();
            for h in handles {
                black_box(h.await);
            }
            per_op(start, n)
        }),
    }
}

const YIELD_TASKS: usize = 200;

fn yield_many(rt: Runtime, n: usize) -> f64 {
    let per_task = (n / YIELD_TASKS).max(1);
    let total = per_task * YIELD_TASKS;
    match rt {
        Runtime::Loop => run_loop(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..YIELD_TASKS)
                .map(|_| {
                    aio::spawn(async move {
                        for _ in 0..per_task {
                            aio::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            per_op(start, total)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..YIELD_TASKS)
                .map(|_| {
                    tokio::task::spawn_local(async move {
                        for _ in 0..per_task {
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            per_op(start, total)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..YIELD_TASKS)
                .map(|_| {
                    ex.spawn(async move {
                        for _ in 0..per_task {
                            smol::future::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await;
            }
            per_op(start, total)
        }),
    }
}

fn loop_chain(n: usize, done: ResultCell<()>) {
    if n == 0 {
        done.set_result(()).unwrap();
    } else {
        aio::spawn(async move { loop_chain(n - 1, done) }).detach();
    }
}

fn tokio_chain(n: usize, done: ResultCell<()>) {
    if n == 0 {
        done.set_result(()).unwrap();
    } else {
        drop(tokio::task::spawn_local(async move { tokio_chain(n - 1, done) }));
    }
}

fn smol_chain(ex: Rc<smol::LocalExecutor<'static>>, n: usize, done: ResultCell<()>) {
    if n == 0 {
        done.set_result(()).unwrap();
    } else {
        let ex2 = ex.clone();
        ex.spawn(async move { smol_chain(ex2, n - 1, done) }).detach();
    }
}

fn chained_spawn(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => aio::run(async move {
            let start = Instant::now();
            let done = ResultCell::new();
            loop_chain(n, done.clone());
            done.await.unwrap();
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let done = ResultCell::new();
            tokio_chain(n, done.clone());
            done.await.unwrap();
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            let done = ResultCell::new();
            smol_chain(ex, n, done.clone());
            done.await.unwrap();
            per_op(start, n)
        }),
    }
}

/// Polls `f` once and drops it.
async fn poll_once<F: Future>(f: F) {
    let mut f = pin!(f);
    std::future::poll_fn(|cx| {
        let _ = f.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

fn sleep_cancel(rt: Runtime, n: usize) -> f64 {
    let d = Duration::from_secs(1);
    match rt {
        Runtime::Loop => aio::run(async move {
            let start = Instant::now();
            for _ in 0..n {
                poll_once(aio::sleep(d)).await;
            }
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            for _ in 0..n {
                poll_once(tokio::time::sleep(d)).await;
            }
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|_| async move {
            let start = Instant::now();
            for _ in 0..n {
                poll_once(smol::Timer::after(d)).await;
            }
            per_op(start, n)
        }),
    }
}

fn sleep_fire(rt: Runtime, n: usize) -> f64 {
    let d = |i: usize| Duration::from_millis((i % 11) as u64);
    match rt {
        Runtime::Loop => aio::run(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| aio::spawn(aio::sleep(d(i)))).collect();
            for h in handles {
                h.await.unwrap();
            }
            per_op(start, n)
        }),
        Runtime::Tokio => on_tokio(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| tokio::task::spawn_local(tokio::time::sleep(d(i)))).collect();
            for h in handles {
                h.await.unwrap();
            }
            per_op(start, n)
        }),
        Runtime::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    ex.spawn(async move {
                        smol::Timer::after(d(i)).await;
                    })
                })
                .collect();
            for h in handles {
                h.await;
            }
            per_op(start, n)
        }),
    }
}

/// The body shared by the memory workload: spawn `n` waiters with `spawn`,
/// yield with `yield_` until every one has been polled, measure, release.
macro_rules! memory_body {
    ($n:expr, $spawn:expr, $yield_:expr) => {{
        let n = $n;
        let cells: Vec<ResultCell<()>> = (0..n).map(|_| ResultCell::new()).collect();
        let polled = Rc::new(Cell::new(0usize));
        let before = live_bytes();
        let handles: Vec<_> = cells
            .iter()
            .map(|c| {
                let wait = c.wait();
                let polled = polled.clone();
                $spawn(async move {
                    polled.set(polled.get() + 1);
                    wait.await.unwrap();
                })
            })
            .collect();
        while polled.get() < n {
            $yield_.await;
        }
        let bytes = (live_bytes() - before) as f64 / n as f64;
        for c in &cells {
            c.set_result(()).unwrap();
        }
        drop(handles);
        while Rc::strong_count(&polled) > 1 {
            $yield_.await;
        }
        bytes
    }};
}

/// `memory_body!` with tokio's oneshot channel as the one-shot.
macro_rules! memory_body_oneshot {
    ($n:expr, $spawn:expr, $yield_:expr) => {{
        let n = $n;
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| tokio::sync::oneshot::channel::<()>()).unzip();
        let polled = Rc::new(Cell::new(0usize));
        let before = live_bytes();
        let handles: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                let polled = polled.clone();
                $spawn(async move {
                    polled.set(polled.get() + 1);
                    rx.await.unwrap();
                })
            })
            .collect();
        while polled.get() < n {
            $yield_.await;
        }
        let bytes = (live_bytes() - before) as f64 / n as f64;
        for tx in senders {
            tx.send(()).unwrap();
        }
        drop(handles);
        while Rc::strong_count(&polled) > 1 {
            $yield_.await;
        }
        bytes
    }};
}

fn memory_per_task_oneshot(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => aio::run(async move { memory_body_oneshot!(n, aio::spawn, aio::yield_now()) }),
        Runtime::Tokio => {
            on_tokio(async move { memory_body_oneshot!(n, tokio::task::spawn_local, tokio::task::yield_now()) })
        }
        Runtime::Smol => on_smol(|ex| async move {
            let spawn = |f| ex.spawn(f);
            memory_body_oneshot!(n, spawn, smol::future::yield_now())
        }),
    }
}

fn memory_per_oneshot(rt: Runtime, n: usize) -> f64 {
    let before = live_bytes();
    let bytes = match rt {
        Runtime::Loop => {
            let cells: Vec<ResultCell<()>> = (0..n).map(|_| ResultCell::new()).collect();
            let bytes = live_bytes() - before;
            drop(cells);
            bytes
        }
        Runtime::Tokio => {
            let pairs: Vec<_> = (0..n).map(|_| tokio::sync::oneshot::channel::<()>()).collect();
            let bytes = live_bytes() - before;
            drop(pairs);
            bytes
        }
        Runtime::Smol => {
            let pairs: Vec<_> = (0..n).map(|_| smol::channel::bounded::<()>(1)).collect();
            let bytes = live_bytes() - before;
            drop(pairs);
            bytes
        }
    };
    // Less the vector holding them (measured with them).
    let holder = match rt {
        Runtime::Loop => std::mem::size_of::<ResultCell<()>>(),
        Runtime::Tokio => std::mem::size_of::<(tokio::sync::oneshot::Sender<()>, tokio::sync::oneshot::Receiver<()>)>(),
        Runtime::Smol => std::mem::size_of::<(smol::channel::Sender<()>, smol::channel::Receiver<()>)>(),
    };
    (bytes as f64 - (holder * n) as f64) / n as f64
}

fn memory_per_task(rt: Runtime, n: usize) -> f64 {
    match rt {
        Runtime::Loop => aio::run(async move { memory_body!(n, aio::spawn, aio::yield_now()) }),
        Runtime::Tokio => on_tokio(async move { memory_body!(n, tokio::task::spawn_local, tokio::task::yield_now()) }),
        Runtime::Smol => on_smol(|ex| async move {
            let spawn = |f| ex.spawn(f);
            memory_body!(n, spawn, smol::future::yield_now())
        }),
    }
}
