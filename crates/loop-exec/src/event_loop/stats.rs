//! What a loop counts: `Counters` (plain cells on its thread) and the
//! `LoopStats` snapshot of them that users read.

use std::cell::Cell;

/// Counters, always on (plain cells on the loop's thread).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) polls: Cell<u64>,
    pub(crate) turns: Cell<u64>,
    pub(crate) parks: Cell<u64>,
    pub(crate) timers_fired: Cell<u64>,
    pub(crate) callbacks: Cell<u64>,
    pub(crate) os_yields: Cell<u64>,
    pub(crate) blocking_jobs: Cell<u64>,
    /// Budget yields of this loop's runs that ended (`loop_coop` counts per
    /// thread; an `Enter` adds its run's share when it leaves).
    pub(crate) budget_yields: Cell<u64>,
    /// The thread's `loop_coop::forced_yields()` when this loop was last
    /// entered.
    pub(crate) budget_yields_base: Cell<u64>,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get() + n);
}

/// Counters of one loop, cheap enough to be always on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopStats {
    /// Task polls.
    pub polls: u64,
    /// Turns of the loop (one reactor check each).
    pub turns: u64,
    /// Turns that found nothing to run and parked (or jumped a paused clock).
    pub parks: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Callbacks run (`call_soon`, `call_later`, `call_soon_threadsafe`).
    pub callbacks: u64,
    /// Task wakes that came from other threads.
    pub remote_wakes: u64,
    /// Times the loop, busy for 4,096 turns without parking, gave its core
    /// to the OS for a moment (`sched_yield`) so that a thread waiting for
    /// a core could run.
    pub os_yields: u64,
    /// Jobs handed to the blocking pool: `spawn_blocking` / `to_thread`,
    /// name lookups, and the operations of `loop::fs`.
    pub blocking_jobs: u64,
    /// Times a leaf future found its task's cooperative budget
    /// ([`Builder::coop_budget`](crate::Builder::coop_budget)) spent and
    /// made the task yield to the loop (a task polling several leaves in
    /// that poll counts once per leaf). Many of them mean a task whose
    /// awaits were all ready, which would otherwise have held the loop.
    pub budget_yields: u64,
    /// Tasks spawned and not finished.
    pub tasks_alive: usize,
    /// Timers waiting.
    pub timers_pending: usize,
}
