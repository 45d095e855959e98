//! `EventLoop` (an owned loop: run it, close it), `LoopRef` (the handle to
//! the loop running on this thread), and the free functions that reach it
//! (`run`, `get_running_loop`, `all_tasks`, ...).

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::blocking::executor::{BlockingFn, Executor};
use crate::event_loop::callback::{Handle, TimerHandle};
use crate::event_loop::callback_cell::CallbackCell;
use crate::event_loop::config::Config;
use crate::event_loop::core::LoopCore;
use crate::event_loop::exception::{ExceptionContext, ExceptionHandler};
use crate::event_loop::loop_handle::LoopHandle;
use crate::event_loop::stats::LoopStats;
use crate::event_loop::time_driver::TimerEntry;
use crate::task::{Task, TaskInfo};
use crate::time::timeout::TimeoutError;

/// A reference to an event loop, usable on the loop's thread (returned by
/// [`get_running_loop`]). Everything but running and closing the loop is
/// here; [`EventLoop`] dereferences to it.
#[derive(Clone)]
pub struct LoopRef {
    pub(crate) inner: Rc<LoopCore>,
}

impl LoopRef {
    pub(crate) fn inner(&self) -> &Rc<LoopCore> {
        &self.inner
    }

    /// The loop's current time (asyncio's `loop.time()`), from its clock:
    /// real, or paused.
    pub fn time(&self) -> Instant {
        self.inner.timers().now()
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
        self.inner.timers().is_paused()
    }

    /// Which loop of its [`LoopSet`](crate::LoopSet) this is (`0..len`), or
    /// `None` for a loop made on its own.
    ///
    /// ```
    /// use r#loop as aio;
    /// assert_eq!(aio::run(async { aio::get_running_loop().index() }), None);
    /// let set = aio::LoopSet::builder().loops(2).build()?;
    /// assert_eq!(set.spawn_on(1, async { aio::get_running_loop().index() })?.wait(), Ok(Some(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> Option<usize> {
        self.inner.config().index
    }

    /// The cell its `LoopSet` fills with its handle (`LoopRef::set`, in
    /// `loop_set/handle.rs`, knows its type); `None` for a loop of its own.
    pub(crate) fn set_cell(&self) -> Option<&crate::event_loop::config::SetCell> {
        self.inner.config().set.as_ref()
    }

    /// Whether debug mode is on.
    pub fn debug(&self) -> bool {
        self.inner.config().debug
    }

    /// Asks `run_forever` to return after the current turn (asyncio's
    /// `stop`): the callbacks and tasks that were ready when the turn began
    /// all run first. Called before `run_forever`, it makes that call run
    /// one turn (without waiting for I/O) and return. `run_until_complete`
    /// runs to its future's end regardless, and forgets the request.
    pub fn stop(&self) {
        self.inner.stop();
    }

    /// Panics, naming `what`, when the loop is closed.
    #[track_caller]
    fn check_open(&self, what: &str) {
        assert!(
            !self.inner.is_closed(),
            "{what} on a closed event loop: the callback could never run; schedule it before `close()`, or on a \
             new EventLoop"
        );
    }

    /// A `Send + Sync` handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle { shared: self.inner.shared().clone() }
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
    ///
    /// # Panics
    /// When the loop is closed (asyncio raises `RuntimeError('Event loop
    /// is closed')`): the callback could never run.
    #[track_caller]
    pub fn call_soon(&self, f: impl FnOnce() + 'static) -> Handle {
        self.check_open("call_soon");
        let cell = CallbackCell::new(Box::new(f));
        self.inner.push_call(cell.clone());
        Handle { cell }
    }

    /// Runs `f` once `delay` has passed. A delay longer than
    /// [`FAR_FUTURE`](loop_time::FAR_FUTURE) (such as `Duration::MAX`)
    /// means never.
    ///
    /// # Panics
    /// When the loop is closed, as [`call_soon`](Self::call_soon).
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> TimerHandle {
        self.check_open("call_later");
        let when = loop_time::deadline_after(self.time(), delay);
        self.call_at(when, f)
    }

    /// Runs `f` at loop time `when` (or in the next turn if that has passed).
    ///
    /// # Panics
    /// When the loop is closed, as [`call_soon`](Self::call_soon).
    #[track_caller]
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> TimerHandle {
        self.check_open("call_at");
        let cell = CallbackCell::new(Box::new(f));
        // A "never" deadline (`call_later(Duration::MAX, ..)`) gets no timer:
        // nothing could fire it, and a paused clock must not jump to it.
        let time = self.inner.timers();
        let key = (!time.is_never(when)).then(|| time.insert(when, TimerEntry::Call(cell.clone())));
        TimerHandle { cell, key, when, owner: Rc::downgrade(&self.inner) }
    }

    /// Creates a one-shot result cell bound to nothing but itself (asyncio's
    /// `loop.create_future()`): set it once, await it from any task.
    pub fn create_future<T>(&self) -> loop_sync::ResultCell<T> {
        loop_sync::ResultCell::new()
    }

    /// Runs `f` on the loop's blocking pool (asyncio's
    /// `loop.run_in_executor(None, f)`).
    pub fn run_in_executor<F, T>(&self, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::event_loop::blocking::spawn_blocking_on(&self.inner, f, Location::caller())
    }

    /// Runs `f` on `executor` rather than the loop's default one and
    /// returns a task for its result (asyncio's
    /// `run_in_executor(executor, f)`). A panic in `f` becomes
    /// `TaskError::Panicked`; a job the executor drops unrun fails the task
    /// with a panic that says so.
    ///
    /// ```
    /// use r#loop as aio;
    ///
    /// let on_new_thread = |job: aio::BlockingFn| {
    ///     std::thread::spawn(job);
    /// };
    /// let sum = aio::run(async move {
    ///     aio::get_running_loop().run_in_executor_with(&on_new_thread, || (1..=4).sum::<u32>()).await
    /// });
    /// assert_eq!(sum, Ok(10));
    /// ```
    #[track_caller]
    pub fn run_in_executor_with<E, F, T>(&self, executor: &E, f: F) -> Task<T>
    where
        E: Executor + ?Sized,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let location = Location::caller();
        let job = crate::event_loop::blocking::submit_to(&self.inner, |job| executor.execute(job), f, location);
        self.inner.spawn(job, None, location)
    }

    /// Makes `executor` the loop's default (asyncio's
    /// `set_default_executor`): `spawn_blocking`, `to_thread`, `unblock`,
    /// `run_in_executor`, `loop::fs` and name lookups send their jobs to it
    /// from now on. The loop's own pool, if it had started, finishes the
    /// jobs it has and retires. At `close()` (which `loop::run` calls) the
    /// loop calls [`Executor::shutdown`] with the shutdown timeout.
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let jobs = Arc::new(AtomicUsize::new(0));
    /// let counted = jobs.clone();
    /// aio::run(async move {
    ///     aio::get_running_loop().set_default_executor(move |job: aio::BlockingFn| {
    ///         counted.fetch_add(1, Ordering::Relaxed);
    ///         std::thread::spawn(job);
    ///     });
    ///     assert_eq!(aio::to_thread(|| 6 * 7).await, Ok(42));
    /// });
    /// assert_eq!(jobs.load(Ordering::Relaxed), 1);
    /// ```
    ///
    /// # Panics
    /// When the loop is closed.
    pub fn set_default_executor(&self, executor: impl Executor) {
        self.check_open("set_default_executor");
        self.inner.set_default_executor(Arc::new(executor));
    }

    /// Shuts the default executor down (asyncio's
    /// `shutdown_default_executor`): jobs not yet started are dropped
    /// (their awaiters fail, saying why), and the future resolves once the
    /// running ones finish, or with [`TimeoutError`] after `timeout` (their
    /// threads are then left to finish alone). The wait happens on a
    /// thread of its own: the loop keeps running meanwhile. Later blocking
    /// jobs are dropped unrun, unless a new executor is set.
    ///
    /// `loop::run` does the same at its end, through `close()`, bounded by
    /// [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout).
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::time::Duration;
    ///
    /// aio::run(async {
    ///     let ev = aio::get_running_loop();
    ///     assert_eq!(aio::to_thread(|| 1).await, Ok(1));
    ///     ev.shutdown_default_executor(Duration::from_secs(5)).await.unwrap();
    ///     // Later jobs have nowhere to run.
    ///     assert!(aio::to_thread(|| 2).await.unwrap_err().is_panic());
    /// });
    /// ```
    #[track_caller]
    pub fn shutdown_default_executor(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TimeoutError>> + 'static {
        let executor = self.inner.take_default_executor();
        let finished = executor.is_started().then(|| {
            let shut_down = move || executor.shutdown(timeout);
            crate::event_loop::blocking::submit_to(&self.inner, on_own_thread, shut_down, Location::caller())
        });
        async move {
            let in_time = match finished {
                Some(job) => job.await,
                None => true,
            };
            if in_time {
                Ok(())
            } else {
                Err(TimeoutError::new())
            }
        }
    }

    /// Sets the handler for panics in detached tasks and callbacks, slow
    /// polls in debug mode, and what code reports through
    /// [`call_exception_handler`](Self::call_exception_handler) (asyncio's
    /// `set_exception_handler`).
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// aio::run(async {
    ///     let ev = aio::get_running_loop();
    ///     let seen = Rc::new(RefCell::new(Vec::new()));
    ///     let s = seen.clone();
    ///     ev.set_exception_handler(move |ctx| s.borrow_mut().push(ctx.message.clone()));
    ///     ev.call_soon(|| panic!("boom"));
    ///     aio::yield_now().await;
    ///     assert_eq!(*seen.borrow(), ["panic in a callback: boom"]);
    /// });
    /// ```
    pub fn set_exception_handler(&self, handler: impl Fn(&ExceptionContext) + 'static) {
        self.inner.set_exception_handler(Some(Rc::new(handler)));
    }

    /// Restores the default exception handler (print to stderr), asyncio's
    /// `set_exception_handler(None)`.
    pub fn reset_exception_handler(&self) {
        self.inner.set_exception_handler(None);
    }

    /// The handler set by [`set_exception_handler`](Self::set_exception_handler),
    /// `None` while the default one is in use (asyncio's
    /// `get_exception_handler`).
    ///
    /// ```
    /// use r#loop as aio;
    ///
    /// aio::run(async {
    ///     let ev = aio::get_running_loop();
    ///     assert!(ev.get_exception_handler().is_none());
    ///     ev.set_exception_handler(|_| {});
    ///     assert!(ev.get_exception_handler().is_some());
    /// });
    /// ```
    pub fn get_exception_handler(&self) -> Option<ExceptionHandler> {
        self.inner.exception_handler()
    }

    /// Hands `context` to the loop's exception handler (asyncio's
    /// `call_exception_handler`), for errors your code catches and
    /// cannot return to anyone. If the handler panics, the default handler
    /// reports that panic along with `context`; the loop goes on.
    ///
    /// ```
    /// use r#loop as aio;
    ///
    /// aio::run(async {
    ///     let ev = aio::get_running_loop();
    ///     ev.set_exception_handler(|ctx| assert_eq!(ctx.message, "cache refresh failed"));
    ///     ev.call_exception_handler(&aio::ExceptionContext::new("cache refresh failed"));
    /// });
    /// ```
    pub fn call_exception_handler(&self, context: &ExceptionContext) {
        self.inner.report(context);
    }

    /// The default handler (print to stderr), whichever handler is set:
    /// asyncio's `loop.default_exception_handler`, for a handler of yours
    /// to pass on what it does not handle. The same as
    /// [`default_exception_handler`](crate::default_exception_handler).
    pub fn default_exception_handler(&self, context: &ExceptionContext) {
        crate::event_loop::exception::default_exception_handler(context);
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
/// use r#loop as aio;
/// use r#loop::EventLoop;
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
/// ev.run_until_complete(aio::sleep(Duration::from_millis(2)));
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
        EventLoop::with_config(Config::from_env())
    }

    /// A loop with these settings (`Builder::build`).
    pub(crate) fn with_config(config: Config) -> std::io::Result<EventLoop> {
        Ok(EventLoop { r: LoopRef { inner: LoopCore::new(config)? } })
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
    /// the default executor down (the blocking pool, or yours: waiting up to
    /// the shutdown timeout). Calling it twice is harmless.
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
    /// When the clock is real (build with [`Builder::paused_clock`](crate::Builder::paused_clock)).
    pub fn advance(&self, by: Duration) {
        self.r.inner.timers().advance(by);
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
/// futures dropped on this thread), the default executor (the blocking
/// pool, or the one [`set_default_executor`](LoopRef::set_default_executor)
/// gave) is shut down within a bound and the loop is closed: nothing is
/// left behind.
///
/// ```
/// use r#loop as aio;
/// let answer = aio::run(async {
///     let task = aio::spawn(async { 21 });
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
        !crate::event_loop::current::is_running_here(),
        "loop::run() called while an event loop is already running on this thread: \
         inside async code, `.await` the future (or `loop::spawn` it) instead"
    );
    let ev = EventLoop::new().expect("loop::run: could not create the OS poller");
    // A fresh, empty context for everything the loop runs: no task-local
    // value of the caller's leaks in.
    let output = crate::event_loop::context::enter(&None, || ev.run_until_complete(future));
    ev.close();
    output
}

/// The loop running on this thread (asyncio's `get_running_loop()`).
///
/// ```
/// use r#loop as aio;
/// use std::time::Duration;
///
/// aio::run(async {
///     let ev = aio::get_running_loop();
///     let t0 = ev.time();
///     let (tx, rx) = std::sync::mpsc::channel();
///     ev.call_later(Duration::from_millis(5), move || tx.send("called").unwrap());
///     aio::sleep(Duration::from_millis(10)).await;
///     assert_eq!(rx.try_recv(), Ok("called"));
///     assert!(ev.time() - t0 >= Duration::from_millis(10));
/// });
/// ```
///
/// # Panics
/// When no loop is running on this thread; see [`try_get_running_loop`].
#[track_caller]
pub fn get_running_loop() -> LoopRef {
    try_get_running_loop().unwrap_or_else(|| crate::event_loop::current::no_running_loop("get_running_loop()"))
}

/// The loop running on this thread, or `None`.
pub fn try_get_running_loop() -> Option<LoopRef> {
    crate::event_loop::current::current_rc().map(|inner| LoopRef { inner })
}

/// The task being polled, if called from inside a task (the future given to
/// `run` is not a task).
///
/// ```
/// use r#loop as aio;
/// aio::run(async {
///     assert!(aio::current_task().is_none()); // the main future
///     let task = aio::TaskBuilder::new().name("worker").spawn(async {
///         aio::current_task().unwrap().name
///     });
///     assert_eq!(task.await.unwrap().as_deref(), Some("worker"));
/// });
/// ```
pub fn current_task() -> Option<TaskInfo> {
    crate::event_loop::current::with_current(|inner| inner.current_task()).flatten()
}

/// A readable table of every unfinished task of the running loop (id,
/// name, state, spawn location, what it waits on and where, polls, busy
/// time, age) — what to print when a program seems stuck.
///
/// ```
/// use r#loop as aio;
/// use std::time::Duration;
///
/// aio::run(async {
///     let task = aio::TaskBuilder::new().name("ticker").spawn(aio::sleep(Duration::from_secs(60)));
///     aio::yield_now().await;
///     let dump = aio::dump_tasks();
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
/// use r#loop as aio;
/// use r#loop::sync::{Semaphore, WaitKind};
/// use std::rc::Rc;
///
/// aio::run(async {
///     let gate = Rc::new(Semaphore::new(0));
///     let g = gate.clone();
///     let task = aio::spawn(async move { drop(g.acquire().await) });
///     aio::yield_now().await;
///     let info = aio::all_tasks().into_iter().find(|t| t.id == task.id()).unwrap();
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
    crate::event_loop::current::with_current(|inner| inner.all_tasks())
        .unwrap_or_else(|| crate::event_loop::current::no_running_loop("all_tasks()"))
}

/// Runs a job on a thread started for it (the wait of
/// `shutdown_default_executor`), or inline if the OS refuses a thread.
fn on_own_thread(job: BlockingFn) {
    let slot = Arc::new(loop_sync::__locks::BlockingMutex::new(Some(job)));
    let theirs = slot.clone();
    let started = std::thread::Builder::new().name("loop-executor-shutdown".into()).spawn(move || {
        if let Some(job) = theirs.lock().take() {
            job();
        }
    });
    if started.is_err() {
        if let Some(job) = slot.lock().take() {
            job();
        }
    }
}
