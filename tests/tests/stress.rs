//! Randomized cancellation stress of every primitive and queue kind, under
//! seeded scheduling and the paused clock: waiters are cancelled at random
//! points (dropped after k polls, `wait_for` with zero or tiny timeouts,
//! `Task::cancel`), and at the end the invariants are checked: every item
//! delivered exactly once, permits conserved, no waiter left, everything
//! done within a bounded virtual time. The primitives count the hand-off
//! paths they take (`loop_sync::paths`, feature `path-counters`); the test
//! fails if a path was never exercised.
//!
//! `LOOP_STRESS_OPS` sets the number of operations (CI runs the default,
//! `cargo xtask soak` a million); `LOOP_SEED` replays one seed.
//! A file of its own: the path counters are process-wide.

use r#loop as aio;
use r#loop::sync::paths::{self, Path};
use r#loop::sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Mutex, QueueOf, QueueStorage, Semaphore};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// splitmix64.
#[derive(Clone)]
struct Rng(Rc<Cell<u64>>);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Rc::new(Cell::new(seed ^ 0x5DEE_CE66_D1CE_5EED)))
    }
    fn next(&self) -> u64 {
        let mut z = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Polls the inner future at most `polls` times, then drops it (a
/// cancellation at an arbitrary await point).
struct DropAfter<F> {
    fut: Pin<Box<F>>,
    polls: u32,
}

impl<F: Future> Future for DropAfter<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        match self.fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if self.polls == 0 => Poll::Ready(None),
            Poll::Pending => {
                // Come back (another task may run in between).
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// Runs `fut` to completion or cancels it in one of the ways a program
/// does; `None` when it was cancelled before finishing.
async fn maybe_cancel<F>(rng: &Rng, fut: F) -> Option<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match rng.below(6) {
        0 | 1 => Some(fut.await),
        2 => aio::wait_for(fut, Duration::ZERO).await.ok(),
        3 => aio::wait_for(fut, Duration::from_millis(1 + rng.below(4))).await.ok(),
        4 => DropAfter { fut: Box::pin(fut), polls: 1 + rng.below(3) as u32 }.await,
        _ => {
            let task = aio::spawn(fut);
            for _ in 0..rng.below(3) {
                aio::yield_now().await;
            }
            task.cancel();
            task.await.ok()
        }
    }
}

/// A random pause: nothing, some yields, or a short sleep.
async fn pause(rng: &Rng) {
    match rng.below(3) {
        0 => {}
        1 => {
            for _ in 0..rng.below(4) {
                aio::yield_now().await;
            }
        }
        _ => aio::sleep(Duration::from_millis(rng.below(3))).await,
    }
}

/// Operations done (over all scenarios), to meet the budget.
struct Budget {
    ops: Cell<u64>,
}

fn op(budget: &Budget) {
    budget.ops.set(budget.ops.get() + 1);
}

async fn semaphore_scenario(rng: Rng, budget: Rc<Budget>, bounded: bool) {
    let permits = 1 + rng.below(3) as usize;
    let plain = Rc::new(Semaphore::new(permits));
    let bounded_sem = Rc::new(BoundedSemaphore::new(permits));
    let in_use = Rc::new(Cell::new(0usize));
    let workers = 2 + rng.below(5);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (rng, budget, plain, bounded_sem, in_use) =
                (rng.clone(), budget.clone(), plain.clone(), bounded_sem.clone(), in_use.clone());
            aio::spawn(async move {
                for _ in 0..10 {
                    op(&budget);
                    let n = 1 + rng.below(permits as u64) as usize;
                    let permit = if bounded {
                        let s = bounded_sem.clone();
                        maybe_cancel(&rng, async move { s.acquire_many(n).await.forget() }).await
                    } else {
                        let s = plain.clone();
                        maybe_cancel(&rng, async move { s.acquire_many(n).await.forget() }).await
                    };
                    if permit.is_some() {
                        in_use.set(in_use.get() + n);
                        assert!(in_use.get() <= permits, "{} permits in use of {permits}", in_use.get());
                        pause(&rng).await;
                        in_use.set(in_use.get() - n);
                        if bounded {
                            for _ in 0..n {
                                bounded_sem.release().expect("a release within the bound");
                            }
                        } else {
                            plain.release(n);
                        }
                    }
                    pause(&rng).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    if bounded {
        assert_eq!(bounded_sem.available_permits(), permits, "permits conserved");
        assert!(bounded_sem.release().is_err(), "and no extra one appeared");
    } else {
        assert_eq!(plain.available_permits(), permits, "permits conserved");
        assert_eq!(plain.waiters(), 0, "no waiter left");
    }
}

async fn lock_scenario(rng: Rng, budget: Rc<Budget>) {
    let lock = Rc::new(Lock::new());
    let mutex = Rc::new(Mutex::new(0u64));
    let inside = Rc::new(Cell::new(false));
    let done = Rc::new(Cell::new(0u64));
    let tasks: Vec<_> = (0..2 + rng.below(4))
        .map(|_| {
            let (rng, budget, lock, mutex, inside, done) =
                (rng.clone(), budget.clone(), lock.clone(), mutex.clone(), inside.clone(), done.clone());
            aio::spawn(async move {
                for _ in 0..10 {
                    op(&budget);
                    let (l, ins, r) = (lock.clone(), inside.clone(), rng.clone());
                    let _ = maybe_cancel(&rng, async move {
                        let _guard = l.acquire().await;
                        assert!(!ins.replace(true), "two holders of one Lock");
                        // Reset however this ends (cancelled inside too),
                        // before the lock is released.
                        let _inside = Inside(ins);
                        pause(&r).await;
                    })
                    .await;
                    let m = mutex.clone();
                    let incremented = maybe_cancel(&rng, async move {
                        let mut g = m.lock().await;
                        let seen = *g;
                        aio::yield_now().await;
                        *g = seen + 1;
                    })
                    .await;
                    if incremented.is_some() {
                        done.set(done.get() + 1);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(!lock.locked(), "the lock is free at the end");
    // A cancelled increment may have been dropped after its write: it is
    // never counted twice, and the count only holds whole increments.
    let total = *mutex.lock().await;
    assert!(total >= done.get(), "every finished increment is in the count ({total} < {})", done.get());
}

/// Marks "a task holds the lock" until dropped.
struct Inside(Rc<Cell<bool>>);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

async fn queue_scenario<S: QueueStorage<u64> + 'static>(rng: Rng, budget: Rc<Budget>) {
    let maxsize = rng.below(4) as usize; // 0: unbounded
    let q: Rc<QueueOf<S, u64>> = Rc::new(QueueOf::new(maxsize));
    let put = Rc::new(RefCell::new(BTreeSet::new()));
    let got = Rc::new(RefCell::new(Vec::new()));
    let next_id = Rc::new(Cell::new(0u64));
    let producers: Vec<_> = (0..1 + rng.below(4))
        .map(|_| {
            let (rng, budget, q, put, next_id) = (rng.clone(), budget.clone(), q.clone(), put.clone(), next_id.clone());
            aio::spawn(async move {
                for _ in 0..8 {
                    op(&budget);
                    let id = next_id.get();
                    next_id.set(id + 1);
                    let qq = q.clone();
                    if maybe_cancel(&rng, async move { qq.put(id).await.is_ok() }).await == Some(true) {
                        put.borrow_mut().insert(id);
                    }
                    pause(&rng).await;
                }
            })
        })
        .collect();
    // Consumers take until the queue is shut down and empty.
    let consumers: Vec<_> = (0..1 + rng.below(4))
        .map(|_| {
            let (rng, budget, q, got) = (rng.clone(), budget.clone(), q.clone(), got.clone());
            aio::spawn(async move {
                loop {
                    op(&budget);
                    let qq = q.clone();
                    match maybe_cancel(&rng, async move { qq.get().await }).await {
                        Some(Ok(item)) => got.borrow_mut().push(item),
                        Some(Err(_shut_down)) => return,
                        None => {}
                    }
                    pause(&rng).await;
                }
            })
        })
        .collect();
    // Every producer finishes: a putter left waiting while there is room
    // (a lost slot) would hang here, and the virtual-time bound catches it.
    for t in producers {
        t.await.unwrap();
    }
    if maxsize == 0 || q.qsize() < maxsize {
        let id = next_id.get();
        q.put_nowait(id).expect("a queue with room takes an item: no slot was lost");
        put.borrow_mut().insert(id);
    }
    q.shutdown(false);
    for t in consumers {
        t.await.unwrap();
    }
    while let Ok(item) = q.get_nowait() {
        got.borrow_mut().push(item);
    }
    let mut got = got.borrow().clone();
    got.sort_unstable();
    let put: Vec<u64> = put.borrow().iter().copied().collect();
    assert_eq!(got, put, "every item put was delivered exactly once (maxsize {maxsize})");
    assert!(q.empty());
}

async fn condition_scenario(rng: Rng, budget: Rc<Budget>) {
    let lock = Rc::new(Lock::new());
    let cond = Rc::new(Condition::new());
    let level = Rc::new(Cell::new(0u64));
    let waiters: Vec<_> = (0..2 + rng.below(4))
        .map(|_| {
            let (rng, budget, lock, cond, level) =
                (rng.clone(), budget.clone(), lock.clone(), cond.clone(), level.clone());
            aio::spawn(async move {
                for round in 1..=4u64 {
                    op(&budget);
                    let (l, c, lv) = (lock.clone(), cond.clone(), level.clone());
                    let _ = maybe_cancel(&rng, async move {
                        let mut g = l.acquire().await;
                        while lv.get() < round {
                            g = c.wait(g).await;
                        }
                    })
                    .await;
                }
            })
        })
        .collect();
    for _ in 1..=4 {
        pause(&rng).await;
        let _g = lock.acquire().await;
        level.set(level.get() + 1);
        if rng.chance(50) {
            cond.notify_all();
        } else {
            cond.notify(1 + rng.below(2) as usize);
        }
    }
    // Whoever still waits is woken: notifications passed on by cancelled
    // waiters must not leave anyone behind once everyone is notified.
    let mut left = waiters;
    while !left.is_empty() {
        aio::sleep(Duration::from_millis(1)).await;
        cond.notify_all();
        left.retain(|t| !t.is_done());
    }
    assert_eq!(cond.waiters(), 0, "no waiter left");
}

async fn event_scenario(rng: Rng, budget: Rc<Budget>) {
    let event = Rc::new(Event::new());
    let woken = Rc::new(Cell::new(0u64));
    let waiters: Vec<_> = (0..2 + rng.below(6))
        .map(|_| {
            let (rng, budget, event, woken) = (rng.clone(), budget.clone(), event.clone(), woken.clone());
            aio::spawn(async move {
                op(&budget);
                let e = event.clone();
                if maybe_cancel(&rng, async move { e.wait().await }).await.is_some() {
                    woken.set(woken.get() + 1);
                }
                // A second, uncancelled wait: must end once set.
                event.wait().await;
            })
        })
        .collect();
    pause(&rng).await;
    event.set();
    for t in waiters {
        t.await.unwrap();
    }
    assert!(event.is_set());
}

async fn barrier_scenario(rng: Rng, budget: Rc<Budget>) {
    let parties = 2 + rng.below(3) as usize;
    let barrier = Rc::new(Barrier::new(parties));
    let rounds = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..parties + rng.below(3) as usize)
        .map(|_| {
            let (rng, budget, barrier, rounds) = (rng.clone(), budget.clone(), barrier.clone(), rounds.clone());
            aio::spawn(async move {
                for _ in 0..3 {
                    op(&budget);
                    let b = barrier.clone();
                    match maybe_cancel(&rng, async move { b.wait().await }).await {
                        Some(Ok(r)) => rounds.borrow_mut().push(r.index()),
                        Some(Err(_)) => return,
                        None => {}
                    }
                    pause(&rng).await;
                }
            })
        })
        .collect();
    // Waiters may be stranded by cancellations (a round that never fills):
    // aborting releases them with an error.
    aio::sleep(Duration::from_millis(50)).await;
    barrier.abort();
    for t in tasks {
        t.await.unwrap();
    }
    // The waiter that completes a round returns at once (never cancelled
    // in between); a released waiter may be cancelled before it sees its
    // release. So no index is seen more often than rounds completed.
    let rounds = rounds.borrow();
    let mut counts = vec![0; parties];
    for &i in rounds.iter() {
        counts[i] += 1;
    }
    let completed = counts[parties - 1];
    assert!(counts.iter().all(|&c| c <= completed), "an index seen more often than rounds completed: {counts:?}");
}

fn ops_budget() -> u64 {
    std::env::var("LOOP_STRESS_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000)
}

#[test]
fn randomized_cancellation_stress_takes_every_hand_off_path() {
    let _watchdog = loop_tests::watchdog();
    const { assert!(paths::ENABLED, "the tests build loop-sync with its path-counters feature") };
    let target = ops_budget();
    let total_ops = Rc::new(Cell::new(0u64));
    let seeds = Rc::new(Cell::new(0u64));
    let mut next_seed = 0u64;
    while total_ops.get() < target {
        let first = next_seed;
        next_seed += 50;
        let (total_ops, seeds) = (total_ops.clone(), seeds.clone());
        aio::check_seeds(first..first + 50, move |seed| {
            let (total_ops, seeds) = (total_ops.clone(), seeds.clone());
            async move {
                let rng = Rng::new(seed);
                let budget = Rc::new(Budget { ops: Cell::new(0) });
                let scenario = async {
                    match seed % 10 {
                        0 => semaphore_scenario(rng.clone(), budget.clone(), false).await,
                        1 => semaphore_scenario(rng.clone(), budget.clone(), true).await,
                        2 => lock_scenario(rng.clone(), budget.clone()).await,
                        3 => queue_scenario::<r#loop::sync::Fifo<u64>>(rng.clone(), budget.clone()).await,
                        4 => queue_scenario::<r#loop::sync::Lifo<u64>>(rng.clone(), budget.clone()).await,
                        5 => queue_scenario::<r#loop::sync::Priority<u64>>(rng.clone(), budget.clone()).await,
                        6 => condition_scenario(rng.clone(), budget.clone()).await,
                        7 => event_scenario(rng.clone(), budget.clone()).await,
                        8 => barrier_scenario(rng.clone(), budget.clone()).await,
                        _ => queue_scenario::<r#loop::sync::Fifo<u64>>(rng.clone(), budget.clone()).await,
                    }
                };
                // Bounded virtual time: a lost wake-up shows as a timeout
                // (the paused clock jumps), not as a hang.
                aio::wait_for(scenario, Duration::from_secs(3600))
                    .await
                    .unwrap_or_else(|_| panic!("seed {seed}: not done after an hour of virtual time: a lost wake-up?"));
                assert!(
                    aio::all_tasks().is_empty() || aio::all_tasks().iter().all(|t| t.name.is_some()),
                    "seed {seed}: tasks left behind"
                );
                total_ops.set(total_ops.get() + budget.ops.get());
                seeds.set(seeds.get() + 1);
            }
        });
    }
    let counts = paths::counts();
    let report: Vec<String> = counts.iter().map(|(p, n)| format!("{p:?}: {n}")).collect();
    println!(
        "stress: {} operations over {} seeds; paths taken:\n  {}",
        total_ops.get(),
        seeds.get(),
        report.join("\n  ")
    );
    let never: Vec<Path> = counts.iter().filter(|(_, n)| *n == 0).map(|(p, _)| *p).collect();
    assert!(never.is_empty(), "hand-off paths never exercised: {never:?} (counts: {report:#?})");
}

/// One random read from `reader`, cancelled at random; what it returned
/// (or the partial data of an error at EOF). `None`: cancelled.
async fn random_read<R: futures_io::AsyncRead + Unpin + 'static>(
    rng: &Rng,
    reader: &mut r#loop::StreamReader<R>,
) -> Option<Result<Vec<u8>, r#loop::StreamError>> {
    let k = 1 + rng.below(3000) as usize;
    let timeout = Duration::from_micros(rng.below(2000));
    let which = rng.below(5);
    let read = async {
        match which {
            0 => reader.read(k).await.map_err(Into::into),
            1 => reader.readline().await,
            2 => reader.readexactly(k).await,
            3 => reader.readuntil(b"\r\n").await,
            _ => reader.read(64 << 10).await.map_err(Into::into),
        }
    };
    if rng.chance(50) {
        Some(read.await)
    } else if rng.chance(50) {
        aio::wait_for(read, timeout).await.ok()
    } else {
        DropAfter { fut: Box::pin(read), polls: 1 + rng.below(3) as u32 }.await
    }
}

#[test]
fn stream_reader_reads_cancelled_at_random_over_the_proxy_lose_no_byte() {
    let _watchdog = loop_tests::watchdog();
    use loop_tests::proxy::{Faults, Proxy};
    for seed in 0..6u64 {
        let rng = Rng::new(seed);
        let ev = aio::EventLoop::builder().seed(seed).build().unwrap();
        ev.run_until_complete(async {
            let mut data = Vec::new();
            for i in 0..2000u32 {
                data.extend_from_slice(format!("line {i}").as_bytes());
                data.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
                if i % 100 == 0 {
                    data.extend(loop_tests::pattern(i, 500));
                }
            }
            let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let upstream = listener.local_addr().unwrap();
            let sent = data.clone();
            let server = aio::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                stream.write_all(&sent).await.unwrap();
            });
            let segment = 1 + rng.below(9) as usize;
            let proxy = Proxy::tcp(
                upstream,
                Faults { segment: Some(segment), latency_down: Duration::from_millis(1), ..Faults::default() },
            );
            let stream = aio::net::TcpStream::connect(proxy.addr()).await.unwrap();
            let mut reader = r#loop::StreamReader::new(stream);
            let mut got = Vec::new();
            let mut cancelled = 0u32;
            while !reader.at_eof() {
                match random_read(&rng, &mut reader).await {
                    None => cancelled += 1,
                    Some(Ok(bytes)) => got.extend(bytes),
                    Some(Err(r#loop::StreamError::IncompleteRead(e))) => got.extend(e.partial),
                    Some(Err(e)) => panic!("seed {seed}: {e}"),
                }
            }
            server.await.unwrap();
            assert!(cancelled > 0, "seed {seed}: some reads were cancelled");
            assert_eq!(got.len(), data.len(), "seed {seed}: every byte arrived (segment {segment})");
            assert!(got == data, "seed {seed}: in order");
        });
    }
}
