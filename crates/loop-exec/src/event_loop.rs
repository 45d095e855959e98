//! `EventLoop`, its builder, and `LoopRef`, the handle to a loop on its own
//! thread.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::callback::{CallbackCell, Handle, TimerHandle};
use crate::inner::{self, Config, LoopInner, TimerEntry};
use crate::shared::LoopHandle;
use crate::task::{Task, TaskId, TaskInfo};

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

/// Configures an [`EventLoop`] (paused clock, debug mode, blocking pool).
///
/// ```
/// use loop_exec::EventLoop;
/// use std::time::Duration;
///
/// let ev = EventLoop::builder().paused_clock().build()?;
/// let t0 = ev.time();
/// ev.run_until_complete(loop_exec::sleep(Duration::from_secs(3600)));
/// assert_eq!(ev.time() - t0, Duration::from_secs(3600)); // and it took no time
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let debug = std::env::var_os("LOOP_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
        let seed = seed_from_env();
        Builder {
            config: Config {
                paused_clock: false,
                debug,
                slow_callback: Duration::from_millis(100),
                introspection: true,
                blocking_threads: (cores + 4).min(32),
                blocking_keep_alive: Duration::from_secs(10),
                shutdown_timeout: Duration::from_secs(5),
                seed,
            },
        }
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
    /// [`Task`](crate::Task), [`LoopRef`], sockets and streams are not
    /// `Send`, so handing one to another thread does not compile (the
    /// thread-safe door is [`LoopHandle`](crate::LoopHandle)):
    ///
    /// ```compile_fail
    /// loop_exec::run(async {
    ///     let task = loop_exec::spawn(async {});
    ///     std::thread::spawn(move || task.cancel()); // error: `Task` is not `Send`
    /// });
    /// ```
    ///
    /// ```compile_fail
    /// loop_exec::run(async {
    ///     let handle = loop_exec::get_running_loop();
    ///     std::thread::spawn(move || handle.stop()); // error: `LoopRef` is not `Send`
    /// });
    /// ```
    ///
    /// ```
    /// loop_exec::run(async {
    ///     let handle = loop_exec::get_running_loop().handle(); // LoopHandle: Send
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
    /// use loop_exec as aio; // in an application: `use r#loop as aio;`
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

    /// Creates the loop.
    pub fn build(self) -> std::io::Result<EventLoop> {
        Ok(EventLoop { r: LoopRef { inner: LoopInner::new(self.config)? } })
    }
}

/// A reference to an event loop, usable on the loop's thread (returned by
/// [`get_running_loop`]). Everything but running and closing the loop is
/// here; [`EventLoop`] dereferences to it.
#[derive(Clone)]
pub struct LoopRef {
    pub(crate) inner: Rc<LoopInner>,
}

impl LoopRef {
    pub(crate) fn inner(&self) -> &Rc<LoopInner> {
        &self.inner
    }

    /// The loop's current time (asyncio's `loop.time()`), from its clock:
    /// real, or paused.
    pub fn time(&self) -> Instant {
        self.inner.clock.now()
    }

    /// Whether the loop is running.
    pub fn is_running(&self) -> bool {
        self.inner.is_running()
    }

    /// Whether the loop has been closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether the clock is paused.
    pub fn is_clock_paused(&self) -> bool {
        self.inner.clock.is_paused()
    }

    /// Whether debug mode is on.
    pub fn debug(&self) -> bool {
        self.inner.config.debug
    }

    /// Asks `run_forever` to return after the current turn.
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// A `Send + Sync` handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle { shared: self.inner.shared.clone() }
    }

    /// Spawns a task on this loop (it runs once the loop runs).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.inner.spawn(future, None, Location::caller())
    }

    /// Alias of [`spawn`](Self::spawn), asyncio's name.
    #[track_caller]
    pub fn create_task<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.spawn(future)
    }

    /// Runs `f` in the loop's next turn, after what is already queued.
    pub fn call_soon(&self, f: impl FnOnce() + 'static) -> Handle {
        let cell = CallbackCell::new(Box::new(f));
        self.inner.push_call(cell.clone());
        Handle { cell }
    }

    /// Runs `f` once `delay` has passed. A delay longer than
    /// [`FAR_FUTURE`](loop_time::FAR_FUTURE) (such as `Duration::MAX`)
    /// means never.
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> TimerHandle {
        let when = loop_time::deadline_after(self.time(), delay);
        self.call_at(when, f)
    }

    /// Runs `f` at loop time `when` (or in the next turn if that has passed).
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> TimerHandle {
        let cell = CallbackCell::new(Box::new(f));
        // A "never" deadline (`call_later(Duration::MAX, ..)`) gets no timer:
        // nothing could fire it, and a paused clock must not jump to it.
        let tick = self.inner.clock.deadline_tick(when);
        let never = loop_time::is_never(when, self.inner.turn_start.get());
        let key = (!never).then(|| self.inner.timers.borrow_mut().insert(tick, TimerEntry::Call(cell.clone())));
        TimerHandle { cell, key, when, owner: Rc::downgrade(&self.inner) }
    }

    /// Creates a one-shot result cell bound to nothing but itself (asyncio's
    /// `loop.create_future()`): set it once, await it from any task.
    pub fn create_future<T>(&self) -> crate::LoopFuture<T> {
        crate::LoopFuture::new()
    }

    /// Runs `f` on the loop's blocking pool (asyncio's
    /// `loop.run_in_executor(None, f)`).
    pub fn run_in_executor<F, T>(&self, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::blocking::spawn_blocking_on(&self.inner, f, Location::caller())
    }

    /// Sets the handler for panics in detached tasks and callbacks
    /// (asyncio's `set_exception_handler`).
    pub fn set_exception_handler(&self, handler: impl Fn(&ExceptionContext) + 'static) {
        self.inner.set_exception_handler(Some(Rc::new(handler)));
    }

    /// Restores the default exception handler (print to stderr).
    pub fn reset_exception_handler(&self) {
        self.inner.set_exception_handler(None);
    }

    /// Snapshots of every task that has not finished.
    pub fn all_tasks(&self) -> Vec<TaskInfo> {
        self.inner.all_tasks()
    }

    /// The loop's counters.
    pub fn stats(&self) -> LoopStats {
        self.inner.stats()
    }
}

impl fmt::Debug for LoopRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopRef")
            .field("running", &self.is_running())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// An event loop (asyncio's): runs tasks and callbacks on the thread that
/// owns it, parks in the reactor when there is nothing to do.
///
/// Most programs call [`run`] instead, which makes a loop, runs one future
/// and closes it. Dropping an `EventLoop` closes it.
///
/// ```
/// use loop_exec::EventLoop;
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// let ev = EventLoop::new()?;
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// ev.call_later(Duration::ZERO, move || l.borrow_mut().push("later"));
/// let l = log.clone();
/// ev.call_soon(move || l.borrow_mut().push("soon"));
/// ev.run_until_complete(loop_exec::sleep(Duration::from_millis(2)));
/// assert_eq!(*log.borrow(), ["soon", "later"]);
/// ev.close();
/// assert!(ev.is_closed());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop {
    r: LoopRef,
}

impl EventLoop {
    /// A loop with the default settings.
    pub fn new() -> std::io::Result<EventLoop> {
        Builder::default().build()
    }

    /// A builder for a loop with other settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs the loop until `future` completes; returns its output.
    ///
    /// The future is polled in place, so it may borrow from the caller.
    /// Tasks still pending when it completes stay on the loop.
    ///
    /// # Panics
    /// When the loop is closed, or when an event loop is already running on
    /// this thread (inside async code, `.await` the future instead). A panic
    /// of `future` itself propagates.
    pub fn run_until_complete<F: Future>(&self, future: F) -> F::Output {
        self.r.inner.block_on(future)
    }

    /// Runs the loop until [`stop`](LoopRef::stop) is called (from a task,
    /// a callback, or another thread through [`LoopHandle::stop`]).
    ///
    /// # Panics
    /// As [`run_until_complete`](Self::run_until_complete).
    pub fn run_forever(&self) {
        self.r.inner.run_forever();
    }

    /// Closes the loop: cancels every task that is left (dropping their
    /// futures on this thread), drops queued callbacks and timers, and shuts
    /// the blocking pool down (waiting up to the shutdown timeout). Calling
    /// it twice is harmless.
    ///
    /// # Panics
    /// When the loop is running.
    pub fn close(&self) {
        self.r.inner.close();
    }

    /// Moves a paused clock forward by `by`; due timers fire in the next
    /// turn.
    ///
    /// # Panics
    /// When the clock is real (build with [`Builder::paused_clock`]).
    pub fn advance(&self, by: Duration) {
        self.r.inner.clock.advance(by);
    }

    /// A [`LoopRef`] to this loop.
    pub fn loop_ref(&self) -> &LoopRef {
        &self.r
    }
}

impl Deref for EventLoop {
    type Target = LoopRef;

    fn deref(&self) -> &LoopRef {
        &self.r
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        if !self.r.inner.is_running() {
            self.r.inner.close();
        }
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("running", &self.is_running())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Runs `future` on a fresh event loop and returns its output (asyncio's
/// `asyncio.run`). Afterwards the tasks left over are cancelled (their
/// futures dropped on this thread), the blocking pool is shut down within a
/// bound and the loop is closed: nothing is left behind.
///
/// ```
/// let answer = loop_exec::run(async {
///     let task = loop_exec::spawn(async { 21 });
///     task.await.unwrap() * 2
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// # Panics
/// When called while an event loop is running on this thread (inside async
/// code, `.await` the future instead), or when the OS refuses a poller.
pub fn run<F: Future>(future: F) -> F::Output {
    assert!(
        !inner::is_running_here(),
        "loop::run() called while an event loop is already running on this thread: \
         inside async code, `.await` the future (or `loop::spawn` it) instead"
    );
    let ev = EventLoop::new().expect("loop::run: could not create the OS poller");
    // A fresh, empty context for everything the loop runs: no task-local
    // value of the caller's leaks in.
    let output = crate::context::enter(&None, || ev.run_until_complete(future));
    ev.close();
    output
}

/// The loop running on this thread (asyncio's `get_running_loop()`).
///
/// ```
/// use std::time::Duration;
///
/// loop_exec::run(async {
///     let ev = loop_exec::get_running_loop();
///     let t0 = ev.time();
///     let (tx, rx) = std::sync::mpsc::channel();
///     ev.call_later(Duration::from_millis(5), move || tx.send("called").unwrap());
///     loop_exec::sleep(Duration::from_millis(10)).await;
///     assert_eq!(rx.try_recv(), Ok("called"));
///     assert!(ev.time() - t0 >= Duration::from_millis(10));
/// });
/// ```
///
/// # Panics
/// When no loop is running on this thread; see [`try_get_running_loop`].
#[track_caller]
pub fn get_running_loop() -> LoopRef {
    try_get_running_loop().unwrap_or_else(|| inner::no_running_loop("get_running_loop()"))
}

/// The loop running on this thread, or `None`.
pub fn try_get_running_loop() -> Option<LoopRef> {
    inner::current_rc().map(|inner| LoopRef { inner })
}

/// Spawns a task on the running loop (asyncio's `create_task`). The future
/// need not be `Send`. It first runs after the caller yields.
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
///
/// let count = loop_exec::run(async {
///     let hits = Rc::new(Cell::new(0)); // not Send: fine on one loop
///     let tasks: Vec<_> = (0..3).map(|_| {
///         let hits = hits.clone();
///         loop_exec::spawn(async move { hits.set(hits.get() + 1) })
///     }).collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     hits.get()
/// });
/// assert_eq!(count, 3);
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
{
    let location = Location::caller();
    inner::with_current(|inner| inner.spawn(future, None, location))
        .unwrap_or_else(|| inner::no_running_loop("spawn()"))
}

/// Alias of [`spawn`], asyncio's name.
#[track_caller]
pub fn create_task<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
{
    let location = Location::caller();
    inner::with_current(|inner| inner.spawn(future, None, location))
        .unwrap_or_else(|| inner::no_running_loop("create_task()"))
}

/// The task being polled, if called from inside a task (the future given to
/// `run` is not a task).
///
/// ```
/// loop_exec::run(async {
///     assert!(loop_exec::current_task().is_none()); // the main future
///     let task = loop_exec::TaskBuilder::new().name("worker").spawn(async {
///         loop_exec::current_task().unwrap().name
///     });
///     assert_eq!(task.await.unwrap().as_deref(), Some("worker"));
/// });
/// ```
pub fn current_task() -> Option<TaskInfo> {
    inner::with_current(|inner| inner.current_task()).flatten()
}

/// A readable table of every unfinished task of the running loop (id,
/// name, state, spawn location, what it waits on and where, polls, busy
/// time, age) — what to print when a program seems stuck.
///
/// ```
/// use std::time::Duration;
///
/// loop_exec::run(async {
///     let task = loop_exec::TaskBuilder::new().name("ticker").spawn(loop_exec::sleep(Duration::from_secs(60)));
///     loop_exec::yield_now().await;
///     let dump = loop_exec::dump_tasks();
///     // 1 task(s) alive
///     //   task 7 `ticker` spawned at src/main.rs:4, Idle, waiting on sleep at src/main.rs:4 for 0ns, ...
///     assert!(dump.contains("`ticker` spawned at") && dump.contains("waiting on sleep at"));
///     task.cancel();
/// });
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn dump_tasks() -> String {
    let tasks = all_tasks();
    let mut out = format!("{} task(s) alive\n", tasks.len());
    for t in tasks {
        out.push_str(&format!("  {t}\n"));
    }
    out
}

/// Every unfinished task of the running loop.
///
/// ```
/// use loop_sync::{Semaphore, WaitKind};
/// use std::rc::Rc;
///
/// loop_exec::run(async {
///     let gate = Rc::new(Semaphore::new(0));
///     let g = gate.clone();
///     let task = loop_exec::spawn(async move { drop(g.acquire().await) });
///     loop_exec::yield_now().await;
///     let info = loop_exec::all_tasks().into_iter().find(|t| t.id == task.id()).unwrap();
///     assert_eq!(info.waiting.map(|w| w.kind), Some(WaitKind::Semaphore));
///     gate.release(1);
///     task.await.unwrap();
/// });
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn all_tasks() -> Vec<TaskInfo> {
    inner::with_current(|inner| inner.all_tasks()).unwrap_or_else(|| inner::no_running_loop("all_tasks()"))
}
