//! What a loop is built with: its settings (`Config`), from the builder
//! and the environment.

use std::time::Duration;

/// The cell a `LoopSet` fills with its handle, seen by the loop as an
/// opaque value (`loop_set/handle.rs` downcasts it for `LoopRef::set`).
pub(crate) type SetCell = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// Settings fixed when the loop is built.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) paused_clock: bool,
    pub(crate) debug: bool,
    pub(crate) slow_callback: Duration,
    /// Per-task bookkeeping for `all_tasks` (poll counts, what a task waits
    /// on). On by default; off only to measure what it costs.
    pub(crate) introspection: bool,
    /// Listed by the inspector's endpoint (started with the first such
    /// loop): `Builder::inspect`, `LOOP_INSPECT`.
    pub(crate) inspect: bool,
    pub(crate) blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// Ready results a task may take per poll before its leaf futures make
    /// it yield (`loop_coop`); `None`: no limit.
    pub(crate) coop_budget: Option<u32>,
    /// Seeded scheduling: the tasks ready in one turn run in an order
    /// drawn from this seed (`None`: asyncio's FIFO).
    pub(crate) seed: Option<u64>,
    /// The loop's index in its `LoopSet` (`None`: a loop of its own).
    pub(crate) index: Option<usize>,
    /// Its `LoopSet`'s handle, filled once every loop of the set runs: an
    /// `OnceLock<LoopSetHandle>` that only `loop_set/` names (so the loop
    /// does not depend on the set built on top of it).
    pub(crate) set: Option<SetCell>,
}

impl Config {
    /// The defaults, with `LOOP_DEBUG` and `LOOP_SEED` from the environment.
    pub(crate) fn from_env() -> Config {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let debug = std::env::var_os("LOOP_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
        let seed = seed_from_env();
        Config {
            paused_clock: false,
            debug,
            slow_callback: Duration::from_millis(100),
            introspection: true,
            inspect: crate::inspect::enabled_by_env(),
            blocking_threads: (cores + 4).min(32),
            blocking_keep_alive: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            coop_budget: Some(loop_coop::DEFAULT_BUDGET),
            seed,
            index: None,
            set: None,
        }
    }
}

/// `LOOP_SEED` as a seed, if set to a number.
///
/// # Panics
/// When `LOOP_SEED` is set but is not a number (a typo would otherwise
/// silently test FIFO order).
pub(crate) fn seed_from_env() -> Option<u64> {
    let v = std::env::var("LOOP_SEED").ok()?;
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    Some(v.parse().unwrap_or_else(|_| panic!("LOOP_SEED={v:?} is not a number (an unsigned 64-bit seed)")))
}
