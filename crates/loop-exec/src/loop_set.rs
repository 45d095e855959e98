//! `LoopSet`: N event loops on N threads behind one handle
//! (thread-per-core), and its builder.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::builder::Builder;
use crate::loop_handle::{LoopClosed, LoopHandle};
use crate::task::{TaskError, TaskInfo};
use crate::threadsafe::ThreadsafeTask;

/// N independent event loops, one per thread, behind one handle: how a
/// `loop` program uses every core (thread-per-core, as glommio, monoio,
/// actix-rt and seastar do).
///
/// Each loop is a full [`EventLoop`](crate::EventLoop) with its own reactor,
/// timers, task registry and share of the blocking pool; nothing is shared
/// between them on the hot path (no common run queue, no work stealing). Work
/// goes to a loop when it is spawned and stays there: [`spawn`](Self::spawn)
/// places a `Send` future on the least-loaded loop,
/// [`spawn_on`](Self::spawn_on) on a chosen one, [`spawn_fn`](Self::spawn_fn)
/// builds a `!Send` future on the loop that runs it, and
/// [`on_each`](Self::on_each) starts the same set-up on every loop (per-core
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
    /// One per loop, in index order.
    members: Vec<Member>,
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

/// One loop of a set.
struct Member {
    handle: LoopHandle,
    /// Joined by `shutdown`; `None` once joined (or given up on).
    thread: Option<JoinHandle<()>>,
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
#[error("{}", describe_shutdown(.stuck, .panicked))]
pub struct ShutdownError {
    /// Loops whose thread was still running at the deadline (a task that
    /// blocks its thread, e.g. a synchronous sleep or a busy loop). Their
    /// threads are left running, detached.
    pub stuck: Vec<usize>,
    /// Loops whose thread panicked outside any task (in an exception
    /// handler, say), with the panic message. Task panics never land here:
    /// they end the task, not the loop.
    pub panicked: Vec<(usize, String)>,
}

fn describe_shutdown(stuck: &[usize], panicked: &[(usize, String)]) -> String {
    let mut parts = Vec::new();
    if !stuck.is_empty() {
        parts.push(format!("loop(s) {stuck:?} did not stop within the shutdown timeout (a task blocks its thread?)"));
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
    /// (`std::thread::available_parallelism`).
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
        let mut set =
            LoopSet {
                members: Vec::with_capacity(n),
                stopping,
                exits: std::sync::Mutex::new(exits),
                shutdown_timeout: self.shutdown_timeout,
                shut_down: false,
            };
        for index in 0..n {
            let builder = self.loop_builder.clone().blocking_threads(share).member_of_set(index);
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let (ready_tx, ready) = mpsc::sync_channel(1);
            let (stopping, exit_tx) = (set.stopping.clone(), exit_tx.clone());
            let thread = std::thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .spawn(move || run_member(index, builder, core, stopping, ready_tx, exit_tx))?;
            let handle = ready.recv().map_err(|_| std::io::Error::other("a loop thread died while starting"))??;
            set.members.push(Member { handle, thread: Some(thread) });
        }
        Ok(set)
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
    let panic = ran.err().or(closed.err()).map(|payload| crate::panics::message(&*payload));
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

    /// How many loops the set runs.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a set has at least one loop.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The handle of loop `index` (to spawn on it, call into it, stop it).
    ///
    /// # Panics
    /// When `index >= len()`.
    pub fn handle(&self, index: usize) -> &LoopHandle {
        match self.members.get(index) {
            Some(m) => &m.handle,
            None => panic!("LoopSet::handle({index}): the set has {} loops (0..{})", self.len(), self.len()),
        }
    }

    /// The loop to place new work on: the one with the least load (live
    /// tasks, plus spawns on their way). With more than four loops, the less
    /// loaded of two picked at random (the "power of two choices"), so a
    /// spawn reads two loops' counters, not all of them.
    fn least_loaded(&self) -> usize {
        let load = |i: usize| self.members[i].handle.shared.load.load(Ordering::Relaxed);
        let n = self.members.len();
        if n <= 4 {
            return (0..n).min_by_key(|&i| load(i)).unwrap_or(0);
        }
        let (a, b) = two_random(n);
        if load(b) < load(a) {
            b
        } else {
            a
        }
    }

    /// Spawns a `Send` future on the least-loaded loop. The handle can be
    /// awaited anywhere or [`wait`](ThreadsafeTask::wait)ed on a plain
    /// thread. `Err` only when that loop has stopped (its thread panicked).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_on(self.least_loaded(), future)
    }

    /// Spawns a `Send` future on loop `index`.
    ///
    /// # Panics
    /// When `index >= len()`.
    #[track_caller]
    pub fn spawn_on<F>(&self, index: usize, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.handle(index);
        let task = handle.spawn_threadsafe(future)?;
        handle.shared.load.fetch_add(1, Ordering::Relaxed);
        Ok(task)
    }

    /// Runs the future `build` makes on the least-loaded loop; `build` runs
    /// there, so the future need not be `Send` (see
    /// [`LoopHandle::spawn_fn`]).
    #[track_caller]
    pub fn spawn_fn<B, F>(&self, build: B) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        B: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.handle(self.least_loaded());
        let task = handle.spawn_fn(build)?;
        handle.shared.load.fetch_add(1, Ordering::Relaxed);
        Ok(task)
    }

    /// Starts the same set-up on every loop: `build(index)` runs on loop
    /// `index` and makes its future (which need not be `Send`), e.g. one
    /// server per core on a `SO_REUSEPORT` listener. Returns the tasks in
    /// index order.
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::rc::Rc;
    ///
    /// let set = aio::LoopSet::builder().loops(2).build()?;
    /// let tasks = set.on_each(|index| async move {
    ///     let here = Rc::new(aio::get_running_loop().index()); // !Send is fine
    ///     (index, *here)
    /// })?;
    /// let got: Vec<_> = tasks.into_iter().map(|t| t.wait().unwrap()).collect();
    /// assert_eq!(got, vec![(0, Some(0)), (1, Some(1))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn on_each<B, F>(&self, build: B) -> Result<Vec<ThreadsafeTask<F::Output>>, LoopClosed>
    where
        B: Fn(usize) -> F + Send + Sync + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let build = Arc::new(build);
        (0..self.len())
            .map(|index| {
                let build = build.clone();
                self.handle(index).spawn_fn(move || build(index))
            })
            .collect()
    }

    /// Runs a `Send` main future on the set (on the least-loaded loop) and
    /// blocks the calling thread until it returns; a panic in it is
    /// resumed here.
    ///
    /// # Panics
    /// When the future panics, or its loop stops before it finishes; when
    /// called on one of the set's own threads (that would block a loop).
    #[track_caller]
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
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
        finish_main(self.spawn_fn(build))
    }

    /// Every unfinished task of every loop, grouped by loop index (each
    /// loop takes its own snapshot in its next turn). A loop that has
    /// stopped shows no tasks.
    pub fn all_tasks(&self) -> Vec<(usize, Vec<TaskInfo>)> {
        let snapshots: Vec<_> = self
            .members
            .iter()
            .map(|m| {
                m.handle.spawn_threadsafe(async {
                    let me = crate::current_task().map(|t| t.id);
                    crate::all_tasks().into_iter().filter(|t| Some(t.id) != me).collect::<Vec<_>>()
                })
            })
            .collect();
        snapshots
            .into_iter()
            .enumerate()
            .map(|(i, snap)| (i, snap.ok().and_then(|t| t.wait().ok()).unwrap_or_default()))
            .collect()
    }

    /// [`dump_tasks`](crate::dump_tasks) for the whole set: a table of
    /// every unfinished task, one section per loop.
    pub fn dump_tasks(&self) -> String {
        let mut out = String::new();
        for (index, tasks) in self.all_tasks() {
            out.push_str(&format!("loop {index}: {} task(s) alive\n", tasks.len()));
            for t in tasks {
                out.push_str(&format!("  {t}\n"));
            }
        }
        out
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
        for m in &self.members {
            // A loop already closed has stopped anyway.
            let _ = m.handle.stop();
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        let mut panicked = Vec::new();
        let mut running = self.members.iter().filter(|m| m.thread.is_some()).count();
        let exits = self.exits.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        while running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((index, panic)) = exits.recv_timeout(left) else { break };
            running -= 1;
            if let Some(thread) = self.members[index].thread.take() {
                // It has sent its last message: it is returning.
                let _ = thread.join();
            }
            if let Some(message) = panic {
                panicked.push((index, message));
            }
        }
        let stuck: Vec<usize> = (0..self.members.len()).filter(|&i| self.members[i].thread.is_some()).collect();
        // Threads still running are given up on (detached).
        for m in &mut self.members {
            m.thread = None;
        }
        if stuck.is_empty() && panicked.is_empty() {
            Ok(())
        } else {
            panicked.sort();
            Err(ShutdownError { stuck, panicked })
        }
    }
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
        f.debug_struct("LoopSet").field("loops", &self.members.len()).finish()
    }
}

/// Two distinct indexes below `n` (n >= 2), from a per-thread xorshift.
fn two_random(n: usize) -> (usize, usize) {
    thread_local! {
        static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seeded from the thread's stack address: distinct per thread.
            x = (std::ptr::addr_of!(x).addr() as u64) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        let a = (x % n as u64) as usize;
        let b = (a + 1 + ((x >> 32) % (n as u64 - 1)) as usize) % n;
        (a, b)
    })
}
