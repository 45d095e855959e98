//! `LoopSet`: N event loops on N threads behind one handle
//! (thread-per-core), and its builder.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event_loop::builder::Builder;
use crate::event_loop::loop_handle::{LoopClosed, LoopHandle};
use crate::loop_set::handle::LoopSetHandle;
use crate::task::threadsafe::ThreadsafeTask;
use crate::task::TaskError;

/// N independent event loops, one per thread, behind one handle: how a
/// `loop` program uses every core (thread-per-core, as glommio, monoio,
/// actix-rt and seastar do).
///
/// Each loop is a full [`EventLoop`](crate::EventLoop) with its own reactor,
/// timers, task registry and share of the blocking pool; nothing is shared
/// between them on the hot path (no common run queue, no work stealing). Work
/// goes to a loop when it is spawned and stays there: [`spawn`](LoopSetHandle::spawn)
/// places a `Send` future on the least-loaded loop,
/// [`spawn_on`](LoopSetHandle::spawn_on) on a chosen one, [`spawn_fn`](LoopSetHandle::spawn_fn)
/// builds a `!Send` future on the loop that runs it, and
/// [`on_each`](LoopSetHandle::on_each) starts the same set-up on every loop (per-core
/// servers). Inside, [`get_running_loop().index()`](crate::LoopRef::index)
/// says which loop a task is on.
///
/// **When to pick tokio's multi-thread runtime instead**: when the work is
/// uneven and unpredictable per task (some requests take seconds of CPU,
/// most microseconds). Tasks here never move, so one loop can be busy while
/// another idles; work stealing rebalances that, at the cost of shared
/// queues and `Send` futures everywhere. Thread-per-core wins when work is
/// many small, similar units (connections, requests), which is the usual
/// network service.
///
/// ```
/// use r#loop as aio;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let set = aio::LoopSet::builder().loops(2).build()?;
/// let done = Arc::new(AtomicUsize::new(0));
/// let tasks: Vec<_> = (0..100)
///     .map(|_| {
///         let done = done.clone();
///         set.spawn(async move { done.fetch_add(1, Ordering::Relaxed) }).unwrap()
///     })
///     .collect();
/// for t in tasks {
///     t.wait().unwrap();
/// }
/// assert_eq!(done.load(Ordering::Relaxed), 100);
/// // Or run a main future on the set (`block_on_fn`: built on its loop, so
/// // it may hold `!Send` values such as a `Task` handle across awaits):
/// let sum = set.block_on_fn(|| async { aio::spawn(async { 20 }).await.unwrap() + 22 });
/// assert_eq!(sum, 42);
/// set.shutdown()?; // stops every loop, cancels what is left, joins the threads
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LoopSet {
    /// The loops' handles: what spawns (the set dereferences to it).
    handle: LoopSetHandle,
    /// Each loop's thread, in index order; `None` once joined (or given up
    /// on).
    threads: Vec<Option<JoinHandle<()>>>,
    /// Set by `shutdown`: a loop whose `run_forever` returns then closes,
    /// instead of running again (a task may `stop()` its own loop).
    stopping: Arc<AtomicBool>,
    /// Each loop thread's last message: its index and, if it panicked
    /// outside a task, the message.
    /// (In a mutex only so that the set is `Sync`; only `shutdown`, with
    /// `&mut self`, reads it.)
    exits: std::sync::Mutex<mpsc::Receiver<(usize, Option<String>)>>,
    /// How long `shutdown` waits for the threads.
    shutdown_timeout: Duration,
    /// Whether `shutdown` has run (then `Drop` does nothing).
    shut_down: bool,
}

/// Configures a [`LoopSet`]: how many loops, whether to pin them to cores,
/// and the settings of each loop.
#[derive(Debug, Clone)]
pub struct LoopSetBuilder {
    loops: Option<usize>,
    pin: bool,
    loop_builder: Builder,
    thread_name: String,
    shutdown_timeout: Duration,
}

/// Some loops of a set did not stop cleanly in [`LoopSet::shutdown`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_shutdown(.stuck, .blocking, .panicked))]
pub struct ShutdownError {
    /// Loops whose thread was still running at the deadline (a task that
    /// blocks its thread, e.g. a synchronous sleep or a busy loop, or a
    /// blocking job the loop waits for as it closes: see `blocking`).
    /// Their threads are left running, detached.
    pub stuck: Vec<usize>,
    /// Of the `stuck` loops, those with blocking jobs (`spawn_blocking`,
    /// `to_thread`, `unblock`, `loop::fs`) still running, and how many:
    /// closing, a loop waits for its pool, so such a job is the likelier
    /// cause than a task.
    pub blocking: Vec<(usize, usize)>,
    /// Loops whose thread panicked outside any task (in an exception
    /// handler, say), with the panic message. Task panics never land here:
    /// they end the task, not the loop.
    pub panicked: Vec<(usize, String)>,
}

fn describe_shutdown(stuck: &[usize], blocking: &[(usize, usize)], panicked: &[(usize, String)]) -> String {
    let mut parts = Vec::new();
    let by_tasks: Vec<usize> = stuck.iter().copied().filter(|i| !blocking.iter().any(|(b, _)| b == i)).collect();
    if !by_tasks.is_empty() {
        parts
            .push(format!("loop(s) {by_tasks:?} did not stop within the shutdown timeout (a task blocks its thread?)"));
    }
    for (i, jobs) in blocking {
        parts.push(format!(
            "loop {i} did not stop within the shutdown timeout: it waits for {jobs} blocking job(s) still running \
             (spawn_blocking / to_thread / unblock / loop::fs) on its pool"
        ));
    }
    for (i, message) in panicked {
        parts.push(format!("loop {i} panicked outside a task: {message}"));
    }
    parts.join("; ")
}

impl Default for LoopSetBuilder {
    fn default() -> Self {
        LoopSetBuilder {
            loops: None,
            pin: false,
            loop_builder: Builder::new(),
            thread_name: "loop".to_owned(),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl LoopSetBuilder {
    /// The defaults: one loop per available core, not pinned, default loop
    /// settings.
    pub fn new() -> LoopSetBuilder {
        LoopSetBuilder::default()
    }

    /// How many loops (threads) to run. Default: the available cores
    /// (`std::thread::available_parallelism`), right for a server that has
    /// its cores to itself. When other busy threads share those cores (a
    /// load generator on the same small machine), fewer loops can do more
    /// per CPU-second: on 2 shared cores, one loop served hyper's
    /// hello-world at 242k requests per CPU-second and two at 223k
    /// (BENCHMARKS.md, "Two loops on two shared cores"); measure before
    /// choosing.
    ///
    /// # Panics
    /// When `n` is 0.
    pub fn loops(mut self, n: usize) -> LoopSetBuilder {
        assert!(n > 0, "LoopSetBuilder::loops(0): a LoopSet needs at least one loop");
        self.loops = Some(n);
        self
    }

    /// Pins loop `i` to the `i`-th CPU this process may use (wrapping), so
    /// the OS never moves it ([`pin_to_core`](loop_core::pin_to_core); Linux
    /// only, ignored elsewhere). Off by default: pinning helps when the set
    /// owns the machine, and hurts when other busy processes share its CPUs.
    pub fn pin_to_cores(mut self, on: bool) -> LoopSetBuilder {
        self.pin = on;
        self
    }

    /// The settings of every loop (clock, debug mode, blocking pool...).
    /// The blocking pool's size is the set's total: each loop gets an equal
    /// share (at least one thread).
    pub fn loop_builder(mut self, builder: Builder) -> LoopSetBuilder {
        self.loop_builder = builder;
        self
    }

    /// The loop threads' name prefix (`loop-0`, `loop-1`, ... by default).
    pub fn thread_name(mut self, prefix: impl Into<String>) -> LoopSetBuilder {
        self.thread_name = prefix.into();
        self
    }

    /// How long [`LoopSet::shutdown`] waits for the loops to stop (default
    /// 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> LoopSetBuilder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Starts the loops; returns once every one runs (or the first error
    /// building one, after stopping those already started).
    pub fn build(self) -> std::io::Result<LoopSet> {
        let n = self.loops.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let share = self.loop_builder.blocking_thread_count().div_ceil(n).max(1);
        let cores = if self.pin { loop_core::available_cores() } else { Vec::new() };
        let stopping = Arc::new(AtomicBool::new(false));
        let (exit_tx, exits) = mpsc::channel();
        // Filled once every loop runs; each loop's `LoopRef::set` reads it.
        let set_cell = Arc::new(OnceLock::new());
        let mut handles = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        let mut failed = None;
        for index in 0..n {
            let builder = self.loop_builder.clone().blocking_threads(share).member_of_set(index, set_cell.clone());
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let (ready_tx, ready) = mpsc::sync_channel(1);
            let (stopping, exit_tx) = (stopping.clone(), exit_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || run_member(index, builder, core, stopping, ready_tx, exit_tx));
            let started = spawned.and_then(|thread| {
                let handle = ready.recv().map_err(|_| std::io::Error::other("a loop thread died while starting"))??;
                Ok((thread, handle))
            });
            match started {
                Ok((thread, handle)) => {
                    handles.push(handle);
                    threads.push(Some(thread));
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let handle = LoopSetHandle { loops: handles.into() };
        let _ = set_cell.set(handle.clone());
        let set = LoopSet {
            handle,
            threads,
            stopping,
            exits: std::sync::Mutex::new(exits),
            shutdown_timeout: self.shutdown_timeout,
            shut_down: false,
        };
        match failed {
            // Dropping the set stops the loops already started.
            Some(e) => Err(e),
            None => Ok(set),
        }
    }
}

/// A loop thread: build the loop, report its handle, run it until the set
/// stops, close it (cancelling what is left, on this thread), report.
fn run_member(
    index: usize,
    builder: Builder,
    core: Option<usize>,
    stopping: Arc<AtomicBool>,
    ready: mpsc::SyncSender<std::io::Result<LoopHandle>>,
    exit: mpsc::Sender<(usize, Option<String>)>,
) {
    if let Some(core) = core {
        // Best effort: an unpinned loop still works.
        let _ = loop_core::pin_to_core(core);
    }
    let ev = match builder.build() {
        Ok(ev) => ev,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(ev.handle()));
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        while !stopping.load(Ordering::SeqCst) {
            ev.run_forever();
        }
    }));
    let closed = std::panic::catch_unwind(AssertUnwindSafe(|| ev.close()));
    let panic = ran.err().or(closed.err()).map(|payload| crate::task::panics::message(&*payload));
    drop(ev);
    let _ = exit.send((index, panic));
}

impl LoopSet {
    /// A set with one loop per available core ([`LoopSetBuilder`]'s
    /// defaults).
    pub fn new() -> std::io::Result<LoopSet> {
        LoopSetBuilder::new().build()
    }

    /// A builder for other settings.
    pub fn builder() -> LoopSetBuilder {
        LoopSetBuilder::new()
    }

    /// A `Send + Sync + Clone` handle that spawns on this set's loops
    /// (what the set dereferences to), for other threads to keep.
    pub fn set_handle(&self) -> LoopSetHandle {
        self.handle.clone()
    }

    /// Runs a `Send` main future on the set (on the least-loaded loop) and
    /// blocks the calling thread until it returns; a panic in it is
    /// resumed here.
    ///
    /// # Panics
    /// When the future panics, or its loop stops before it finishes; when
    /// called where an event loop is running (one of the set's own, or any
    /// other): blocking there would stall that loop, so `.await` a task from
    /// [`spawn`](LoopSetHandle::spawn) instead.
    #[track_caller]
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        no_loop_running_here("LoopSet::block_on");
        finish_main(self.spawn(future))
    }

    /// [`block_on`](Self::block_on) for a future made on the loop by
    /// `build`, so it need not be `Send` (what `#[loop::main(loops = N)]`
    /// runs).
    #[track_caller]
    pub fn block_on_fn<B, F>(&self, build: B) -> F::Output
    where
        B: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        no_loop_running_here("LoopSet::block_on_fn");
        finish_main(self.spawn_fn(build))
    }

    /// Stops every loop: each cancels what is left on its own thread (the
    /// tasks' destructors run there) and closes; then the threads are joined,
    /// all within the set's shutdown timeout. Reports loops that did not
    /// stop in time or panicked outside a task.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.stop_all()
    }

    fn stop_all(&mut self) -> Result<(), ShutdownError> {
        self.shut_down = true;
        self.stopping.store(true, Ordering::SeqCst);
        for h in self.handle.loops.iter() {
            // A loop already closed has stopped anyway.
            let _ = h.stop();
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        let mut panicked = Vec::new();
        let mut running = self.threads.iter().filter(|t| t.is_some()).count();
        let exits = self.exits.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        while running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((index, panic)) = exits.recv_timeout(left) else { break };
            running -= 1;
            if let Some(thread) = self.threads[index].take() {
                // It has sent its last message: it is returning.
                let _ = thread.join();
            }
            if let Some(message) = panic {
                panicked.push((index, message));
            }
        }
        let stuck: Vec<usize> = (0..self.threads.len()).filter(|&i| self.threads[i].is_some()).collect();
        let blocking: Vec<(usize, usize)> = stuck
            .iter()
            .map(|&i| (i, self.handle.loops[i].shared.blocking_in_flight.load(Ordering::SeqCst)))
            .filter(|&(_, jobs)| jobs > 0)
            .collect();
        // Threads still running are given up on (detached).
        self.threads.iter_mut().for_each(|t| *t = None);
        if stuck.is_empty() && panicked.is_empty() {
            Ok(())
        } else {
            panicked.sort();
            Err(ShutdownError { stuck, blocking, panicked })
        }
    }
}

/// Panics when an event loop runs on this thread: blocking it there would
/// stall that loop silently (as a nested `run` panics).
#[track_caller]
fn no_loop_running_here(what: &str) {
    assert!(
        !crate::event_loop::current::is_running_here(),
        "{what} called while an event loop is running on this thread: it would block that loop; inside async \
         code, `.await` a task from `set.spawn(..)` instead"
    );
}

/// Waits for a main future's task and hands back its output.
#[track_caller]
fn finish_main<T>(task: Result<ThreadsafeTask<T>, LoopClosed>) -> T {
    let task = task.unwrap_or_else(|_| panic!("LoopSet::block_on: the loop chosen for the main future has stopped"));
    match task.wait() {
        Ok(value) => value,
        Err(TaskError::Panicked(message)) => panic!("the main future panicked: {message}"),
        Err(TaskError::Cancelled) => panic!("the main future was cancelled: its loop stopped before it finished"),
    }
}

/// The spawning API ([`LoopSetHandle`]): `spawn`, `spawn_on`, `spawn_fn`,
/// `on_each`, `handle`, `len`, `all_tasks`, `dump_tasks`.
impl std::ops::Deref for LoopSet {
    type Target = LoopSetHandle;

    fn deref(&self) -> &LoopSetHandle {
        &self.handle
    }
}

/// Stops the loops as [`shutdown`](LoopSet::shutdown) does, if it was not
/// called; a failure is printed to stderr.
impl Drop for LoopSet {
    fn drop(&mut self) {
        if !self.shut_down {
            if let Err(e) = self.stop_all() {
                eprintln!("loop: LoopSet dropped: {e}");
            }
        }
    }
}

impl std::fmt::Debug for LoopSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopSet").field("loops", &self.handle.len()).finish()
    }
}
