//! Seeded scheduling (see [`Builder::seed`](crate::Builder::seed)): the
//! order a turn's tasks run in, and running a test body under many seeds.

use std::cell::Cell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};

use crate::event_loop::{seed_from_env, EventLoop};
use crate::inner::Runnable;

/// A seeded loop's order of each turn: a splitmix64 generator permuting the
/// tasks of the batch the turn runs.
pub(crate) struct SeededOrder {
    rng: Cell<u64>,
}

impl SeededOrder {
    pub(crate) fn new(seed: u64) -> SeededOrder {
        SeededOrder { rng: Cell::new(seed) }
    }

    /// Permutes the tasks in `batch` (the entries this turn runs).
    /// Callbacks keep their places, so `call_soon` order stays FIFO as
    /// asyncio promises; only the interleaving of tasks changes, which any
    /// correct program must tolerate.
    pub(crate) fn shuffle_tasks(&self, batch: &mut [Runnable]) {
        let tasks: Vec<usize> = (0..batch.len()).filter(|&i| matches!(batch[i], Runnable::Task(_))).collect();
        for k in (1..tasks.len()).rev() {
            let j = (self.next() % (k as u64 + 1)) as usize;
            batch.swap(tasks[k], tasks[j]);
        }
    }

    /// splitmix64.
    fn next(&self) -> u64 {
        let mut z = self.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Runs `body(seed)` once for each seed, each time on a fresh loop with a
/// paused clock and that seed, so that the ready tasks of every turn run in
/// a different (but reproducible) order. When `LOOP_SEED` is set, only that
/// seed runs: the way to replay a failure.
///
/// # Panics
/// When a run panics: the panic names the seed and how to replay it, then
/// carries the original message.
///
/// ```
/// use loop_exec as aio; // in an application: `use r#loop as aio;`
/// use std::rc::Rc;
///
/// // Whatever the interleaving, a lock keeps the count right.
/// aio::check_seeds(0..50, |_seed| async {
///     let lock = Rc::new(loop_sync::Mutex::new(0u32));
///     let workers: Vec<_> = (0..4)
///         .map(|_| {
///             let lock = lock.clone();
///             aio::spawn(async move {
///                 for _ in 0..10 {
///                     let mut n = lock.lock().await;
///                     let seen = *n;
///                     aio::yield_now().await; // other tasks run in between
///                     *n = seen + 1;
///                 }
///             })
///         })
///         .collect();
///     for w in workers {
///         w.await.unwrap();
///     }
///     assert_eq!(*lock.lock().await, 40);
/// });
/// ```
pub fn check_seeds<S, F, Fut>(seeds: S, body: F)
where
    S: IntoIterator<Item = u64>,
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let seeds: Vec<u64> = match seed_from_env() {
        Some(only) => vec![only],
        None => seeds.into_iter().collect(),
    };
    for seed in seeds {
        let ev = EventLoop::builder()
            .paused_clock()
            .seed(seed)
            .build()
            .unwrap_or_else(|e| panic!("check_seeds: could not build a loop: {e}"));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| ev.run_until_complete(body(seed))));
        drop(ev);
        if let Err(payload) = outcome {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a panic without a message)".into());
            panic!("failed under scheduling seed {seed} (replay it alone with LOOP_SEED={seed}): {message}");
        }
    }
}
