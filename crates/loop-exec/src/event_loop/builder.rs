//! [`Builder`]: how an event loop is configured before it is made.

use std::time::Duration;

use crate::event_loop::config::Config;
use crate::event_loop::loop_ref::EventLoop;

/// Configures an [`EventLoop`] (paused clock, debug mode, blocking pool).
///
/// ```
/// use r#loop as aio;
/// use r#loop::EventLoop;
/// use std::time::Duration;
///
/// let ev = EventLoop::builder().paused_clock().build()?;
/// let t0 = ev.time();
/// ev.run_until_complete(aio::sleep(Duration::from_secs(3600)));
/// assert_eq!(ev.time() - t0, Duration::from_secs(3600)); // and it took no time
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Builder { config: Config::from_env() }
    }
}

impl Builder {
    /// The defaults: real clock, debug mode off unless `LOOP_DEBUG=1` is set,
    /// a blocking pool of `min(32, cores + 4)` threads (asyncio's default).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Uses a paused clock: time moves only when the loop is idle (it jumps
    /// to the next timer) or when advanced by hand with
    /// [`EventLoop::advance`]. Makes timeout tests instant and deterministic.
    pub fn paused_clock(mut self) -> Builder {
        self.config.paused_clock = true;
        self
    }

    /// Debug mode (asyncio's): reports (through the exception handler, which
    /// prints to stderr by default) every poll of a task or callback that
    /// takes longer than [`slow_callback_duration`](Self::slow_callback_duration),
    /// naming the task and where it was spawned.
    ///
    /// asyncio's debug mode also checks at run time that loop-bound objects
    /// are used on the loop's thread. Here the compiler does that, always:
    /// [`Task`](crate::Task), [`LoopRef`](crate::LoopRef), sockets and streams are not
    /// `Send`, so handing one to another thread does not compile (the
    /// thread-safe door is [`LoopHandle`](crate::LoopHandle)):
    ///
    /// ```compile_fail
    /// use r#loop as aio;
    /// aio::run(async {
    ///     let task = aio::spawn(async {});
    ///     std::thread::spawn(move || task.cancel()); // error: `Task` is not `Send`
    /// });
    /// ```
    ///
    /// ```compile_fail
    /// use r#loop as aio;
    /// aio::run(async {
    ///     let handle = aio::get_running_loop();
    ///     std::thread::spawn(move || handle.stop()); // error: `LoopRef` is not `Send`
    /// });
    /// ```
    ///
    /// ```
    /// use r#loop as aio;
    /// aio::run(async {
    ///     let handle = aio::get_running_loop().handle(); // LoopHandle: Send
    ///     std::thread::spawn(move || handle.call_soon_threadsafe(|| ())).join().unwrap();
    /// });
    /// ```
    pub fn debug(mut self, on: bool) -> Builder {
        self.config.debug = on;
        self
    }

    /// The threshold for debug mode's slow-poll warning (default 100 ms).
    pub fn slow_callback_duration(mut self, threshold: Duration) -> Builder {
        self.config.slow_callback = threshold;
        self
    }

    /// Per-task bookkeeping: poll counts and what each task waits on, as
    /// shown by `all_tasks()` / `dump_tasks()`. On by default (it is cheap);
    /// `false` turns it off, which `cargo xtask bench` uses to measure its
    /// cost.
    pub fn introspection(mut self, on: bool) -> Builder {
        self.config.introspection = on;
        self
    }

    /// Whether `loop-inspect` can see this loop (default: on, unless the
    /// environment says `LOOP_INSPECT=0`). The first loop with it on binds
    /// the process's inspector endpoint: a local socket that only the
    /// process's user can reach, served by one thread asleep in `accept`
    /// (started at once in a multithreaded process, after a second in a
    /// single-threaded one), which costs nothing until a tool connects. A
    /// loop also publishes the task it polls (two plain stores per poll)
    /// either way. `false` leaves the loop out of the listing, and starts no
    /// endpoint for it. See [`inspect`](crate::inspect).
    ///
    /// ```
    /// use r#loop as aio;
    /// let event_loop = aio::Builder::new().inspect(false).build().unwrap();
    /// assert_eq!(event_loop.run_until_complete(async { 1 + 1 }), 2);
    /// ```
    pub fn inspect(mut self, on: bool) -> Builder {
        self.config.inspect = on;
        self
    }

    /// Most threads of the blocking pool (default `min(32, cores + 4)`).
    ///
    /// # Panics
    /// When `n` is zero: the pool needs at least one thread.
    pub fn blocking_threads(mut self, n: usize) -> Builder {
        assert!(n > 0, "blocking_threads(0): the blocking pool needs at least one thread");
        self.config.blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits
    /// (default 10 s).
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.config.blocking_keep_alive = keep_alive;
        self
    }

    /// How long closing the loop waits for running blocking jobs (default
    /// 5 s); threads still busy after that are left to finish on their own.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// The cooperative budget: how many ready results (a read with data
    /// waiting, a free lock, a queued item, a timer already due, an
    /// `accept` that fails at once) a task may take in one poll before
    /// the runtime's futures make it yield to the loop, so that a task
    /// whose awaits are always ready cannot starve the loop's other tasks,
    /// timers and I/O. Default `Some(128)` (tokio's too); `None` turns it
    /// off for the whole loop. [`unconstrained`](crate::unconstrained)
    /// turns it off for one future.
    ///
    /// ```
    /// use r#loop as aio;
    ///
    /// let ev = aio::EventLoop::builder().coop_budget(Some(32)).build()?;
    /// ev.run_until_complete(async {
    ///     let event = aio::sync::Event::new();
    ///     event.set();
    ///     for _ in 0..100 {
    ///         event.wait().await; // yields to the loop every 32 waits
    ///     }
    /// });
    /// assert!(ev.stats().budget_yields >= 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// On `Some(0)`: a task could then never take a ready result. Use
    /// `None` for no limit.
    pub fn coop_budget(mut self, budget: Option<u32>) -> Builder {
        assert!(
            budget != Some(0),
            "coop_budget(Some(0)): a task could never take a ready result; give at least 1, or None for no limit"
        );
        self.config.coop_budget = budget;
        self
    }

    /// Seeded scheduling, for tests: in every turn the tasks that are ready
    /// run in an order drawn from `seed`, instead of asyncio's FIFO.
    /// Callbacks keep their `call_soon` order. Together with
    /// [`paused_clock`](Builder::paused_clock) a run is reproducible from
    /// the seed: an interleaving bug found under one seed comes back every
    /// time under it. `LOOP_SEED=<n>` in the environment sets it for every
    /// loop built with the defaults.
    ///
    /// See [`check_seeds`](crate::check_seeds) to run a test under many
    /// seeds.
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// fn order(seed: u64) -> Vec<u32> {
    ///     let ev = aio::EventLoop::builder().seed(seed).build().unwrap();
    ///     let log = Rc::new(RefCell::new(Vec::new()));
    ///     ev.run_until_complete(async {
    ///         let tasks: Vec<_> = (0..8)
    ///             .map(|i| {
    ///                 let log = log.clone();
    ///                 aio::spawn(async move { log.borrow_mut().push(i) })
    ///             })
    ///             .collect();
    ///         for t in tasks {
    ///             t.await.unwrap();
    ///         }
    ///     });
    ///     Rc::try_unwrap(log).unwrap().into_inner()
    /// }
    /// assert_eq!(order(7), order(7), "one seed, one order");
    /// assert!((0..20).any(|s| order(s) != (0..8).collect::<Vec<_>>()), "seeds permute");
    /// ```
    pub fn seed(mut self, seed: u64) -> Builder {
        self.config.seed = Some(seed);
        self
    }

    /// Makes the loop number `index` of a `LoopSet`.
    pub(crate) fn member_of_set(mut self, index: usize, set: crate::event_loop::config::SetCell) -> Builder {
        self.config.index = Some(index);
        self.config.set = Some(set);
        self
    }

    /// The blocking pool's size, as set.
    pub(crate) fn blocking_thread_count(&self) -> usize {
        self.config.blocking_threads
    }

    /// Creates the loop.
    pub fn build(self) -> std::io::Result<EventLoop> {
        EventLoop::with_config(self.config)
    }
}

impl EventLoop {
    /// A builder for a loop with other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }
}
