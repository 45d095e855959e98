//! What a loop is built with and what it reports: its settings, its
//! counters and stats, and the context its exception handler is given.

use std::cell::Cell;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::task::TaskId;

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
    pub(crate) blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    pub(crate) shutdown_timeout: Duration,
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
            blocking_threads: (cores + 4).min(32),
            blocking_keep_alive: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            seed,
            index: None,
            set: None,
        }
    }
}

/// Counters, always on (plain cells on the loop's thread).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) polls: Cell<u64>,
    pub(crate) turns: Cell<u64>,
    pub(crate) parks: Cell<u64>,
    pub(crate) timers_fired: Cell<u64>,
    pub(crate) callbacks: Cell<u64>,
    pub(crate) os_yields: Cell<u64>,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get() + n);
}

/// What the exception handler is told (asyncio's exception-handler
/// `context` dict).
#[derive(Debug, Clone)]
pub struct ExceptionContext {
    /// What went wrong, including the panic message.
    pub message: String,
    /// The task involved, if any.
    pub task_id: Option<TaskId>,
    /// Its name, if it has one.
    pub task_name: Option<String>,
    /// Where it was spawned.
    pub location: Option<&'static Location<'static>>,
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = self.task_id {
            write!(f, " (task {id}")?;
            if let Some(name) = &self.task_name {
                write!(f, " `{name}`")?;
            }
            if let Some(loc) = self.location {
                write!(f, ", spawned at {}:{}", loc.file(), loc.line())?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A loop's handler for panics nobody else will see: panics in detached
/// tasks and in callbacks.
pub type ExceptionHandler = Rc<dyn Fn(&ExceptionContext)>;

/// The default exception handler: prints the context to stderr.
pub(crate) fn default_exception_handler(ctx: &ExceptionContext) {
    eprintln!("loop: {ctx}");
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
    /// Tasks spawned and not finished.
    pub tasks_alive: usize,
    /// Timers waiting.
    pub timers_pending: usize,
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
