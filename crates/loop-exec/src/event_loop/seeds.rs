//! [`check_seeds`]: running a test body under many scheduling seeds (see
//! [`Builder::seed`](crate::Builder::seed); the order itself is
//! `SeededOrder`, in seeded_order.rs).

use std::future::Future;

use crate::event_loop::config::seed_from_env;
use crate::event_loop::loop_ref::EventLoop;

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
/// use r#loop as aio;
/// use std::rc::Rc;
///
/// // Whatever the interleaving, a lock keeps the count right.
/// aio::check_seeds(0..50, |_seed| async {
///     let lock = Rc::new(aio::sync::Mutex::new(0u32));
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
        let outcome = crate::task::panics::catch(|| ev.run_until_complete(body(seed)));
        drop(ev);
        if let Err(message) = outcome {
            panic!("failed under scheduling seed {seed} (replay it alone with LOOP_SEED={seed}): {message}");
        }
    }
}
