//! `LoopCore`: one event loop's parts, and what ties them to the reactor.
//! Each part owns its state (`RunQueue`, `TimeDriver`, `TaskRegistry`,
//! `Introspection`, `LoopShared`); this folder only runs them: spawn, run
//! and close here, the turn and parking in `turn.rs`, a task's poll and
//! completion and a callback's run in `run.rs`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loop_core::{Notifier, Reactor};

use crate::blocking::executor::{BlockingFn, DefaultExecutor, Dispatch, Executor};
use crate::blocking::pool::BlockingPool;
use crate::event_loop::callback_cell::CallbackCell;
use crate::event_loop::config::Config;
use crate::event_loop::current::{is_running_here, Enter};
use crate::event_loop::exception::{ExceptionContext, ExceptionHandler};
use crate::event_loop::introspection::Introspection;
use crate::event_loop::run_queue::RunQueue;
use crate::event_loop::shared::LoopShared;
use crate::event_loop::stats::{bump, Counters, LoopStats};
use crate::event_loop::time_driver::TimeDriver;
use crate::task::meta::TaskMeta;
use crate::task::raw::TaskRef;
use crate::task::refs::{InFlight, NewTask};
use crate::task::registry::TaskRegistry;
use crate::task::{Task, TaskInfo};

mod run;
mod turn;

/// One event loop. Lives in an `Rc`, used only on its thread.
pub(crate) struct LoopCore {
    /// What other threads may touch; also every task's scheduler.
    shared: Arc<LoopShared>,
    /// What runs next.
    queue: RunQueue,
    /// Clock, timers, the turn's time.
    time: TimeDriver,
    /// Where the loop parks.
    reactor: RefCell<Reactor>,
    /// Live tasks and task ids.
    tasks: TaskRegistry,
    /// The task being polled, waits, busy time, snapshots.
    introspection: Introspection,
    running: Cell<bool>,
    stopping: Cell<bool>,
    closed: Cell<bool>,
    config: Config,
    /// Where blocking jobs go: the loop's pool (started on first use), an
    /// executor of the user's, or nobody once shut down.
    executor: RefCell<DefaultExecutor>,
    exception_handler: RefCell<Option<ExceptionHandler>>,
    /// Tasks and callbacks run since the reactor was last asked for events.
    polls_since_io: Cell<usize>,
    /// Turns since the loop last parked (see `BUSY_TURNS_PER_OS_YIELD`).
    busy_turns: Cell<u32>,
    counters: Counters,
    /// `Enter`s of this loop alive (nested ones count too).
    entered: Cell<u32>,
}

/// Wakes the future given to `run_until_complete`, which is polled in place
/// rather than as a task (so it may borrow from the caller's stack).
struct MainWaker {
    woken: AtomicBool,
    notifier: Notifier,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.notifier.notify();
    }
}

impl LoopCore {
    /// What other threads may touch (the injection queue, the notifier):
    /// also every task's scheduler, and the loop's identity.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<LoopShared> {
        &self.shared
    }

    /// The settings the loop was built with.
    #[inline]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The clock and the timers (the wheel, the turn's cached time).
    #[inline]
    pub(crate) fn timers(&self) -> &TimeDriver {
        &self.time
    }

    /// Where the task being polled is named, for `loop_sync` (see
    /// `Introspection::task_slot`).
    pub(crate) fn task_slot(&self) -> *const loop_sync::TaskSlot {
        self.introspection.task_slot()
    }

    /// The id of the task being polled, if any.
    #[inline]
    pub(crate) fn current_task_id(&self) -> Option<crate::task::TaskId> {
        self.introspection.current_task_id()
    }

    /// Queues a task woken on the loop's own thread.
    #[inline]
    pub(crate) fn push_local(&self, task: TaskRef) {
        if self.introspection.current() == Some(task.as_ptr()) {
            self.introspection.note_self_wake(task.header());
        }
        self.queue.push_task(task);
        // A waker run by tokio's driver while the loop is parked in it
        // (`loop::compat`) must end that park.
        #[cfg(target_os = "linux")]
        loop_core::wake_foreign_park();
    }

    /// Queues a `call_soon` callback.
    #[inline]
    pub(crate) fn push_call(&self, cell: Rc<CallbackCell>) {
        self.queue.push_call(cell);
        #[cfg(target_os = "linux")]
        loop_core::wake_foreign_park();
    }

    /// Wakes `waker` at the start of the next turn (`yield_now`).
    #[inline]
    pub(crate) fn defer(&self, waker: Waker) {
        self.queue.defer(waker);
    }

    /// Reports the running task waiting at `location` (on `kind`, or on
    /// what its leaf future reported): a `WaitSite`'s wait.
    #[inline]
    pub(crate) fn record_wait_site(
        &self,
        kind: Option<loop_sync::WaitKind>,
        target: Option<loop_sync::WaitTarget>,
        location: &'static Location<'static>,
    ) {
        self.introspection.record_wait_site(kind, target, location, self.time.turn_tick());
    }

    pub(crate) fn new(config: Config) -> std::io::Result<Rc<LoopCore>> {
        let reactor = Reactor::new()?;
        let time = TimeDriver::new(config.paused_clock);
        let beacon = crate::inspect::Beacon::new((!time.is_paused()).then(|| time.origin()));
        let shared = Arc::new(LoopShared::new(reactor.notifier(), beacon));
        if config.inspect {
            crate::inspect::directory::register(&shared, config.index);
        }
        Ok(Rc::new(LoopCore {
            shared,
            queue: RunQueue::new(config.seed),
            time,
            reactor: RefCell::new(reactor),
            tasks: TaskRegistry::new(),
            introspection: Introspection::new(&config),
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            config,
            executor: RefCell::new(DefaultExecutor::Pool(None)),
            exception_handler: RefCell::new(None),
            polls_since_io: Cell::new(0),
            busy_turns: Cell::new(0),
            counters: Counters::default(),
            entered: Cell::new(0),
        }))
    }

    /// Makes I/O objects created from now on register with this loop's
    /// reactor (see `Enter`).
    pub(crate) fn enter_reactor(&self) -> loop_core::EnterGuard {
        self.reactor.borrow().enter()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.get()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn stop(&self) {
        self.stopping.set(true);
    }

    /// Spawns a task onto this loop.
    pub(crate) fn spawn<F>(
        &self,
        future: F,
        name: Option<String>,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        // asyncio copies the spawner's context into the task: only work
        // spawned inside a task-local scope carries (and enters) a copy.
        if crate::event_loop::context::is_empty() {
            self.spawn_plain(future, name, location)
        } else {
            self.spawn_in_context(future, name, location)
        }
    }

    /// `spawn` inside a task-local scope: the task runs in a copy of the
    /// context. Kept out of line, off the common path.
    #[cold]
    #[inline(never)]
    fn spawn_in_context<F>(
        &self,
        future: F,
        name: Option<String>,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.spawn_plain(
            crate::event_loop::context::WithContext::new(crate::event_loop::context::current(), future),
            name,
            location,
        )
    }

    /// `spawn`, without looking at the context.
    fn spawn_plain<F>(&self, future: F, name: Option<String>, location: &'static Location<'static>) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        assert!(!self.closed.get(), "spawn on a closed event loop: create a new EventLoop (or use loop::run)");
        let created_tick = self.time.turn_tick();
        let meta = TaskMeta::new(self.tasks.next_id(), name, location, created_tick);
        let NewTask { registry, queue, handle } = TaskRef::allocate(future, self.shared.clone(), meta);
        self.tasks.insert(registry);
        self.queue.push_task(queue);
        Task::from_raw(handle)
    }

    /// Registers and queues a task spawned from another thread.
    fn adopt(&self, task: InFlight) {
        let (registry, queue) = task.split();
        registry.header().meta.created_tick.set(self.time.turn_tick());
        self.tasks.insert(registry);
        self.queue.push_task(queue);
    }

    /// Notes on the task being polled that it now waits on `kind` at
    /// `location` (no-op outside a task).
    pub(crate) fn record_wait(
        &self,
        kind: loop_sync::WaitKind,
        location: &'static Location<'static>,
        target: loop_sync::WaitTarget,
    ) {
        self.introspection.record_wait(kind, location, target, self.time.turn_tick());
    }

    /// Hands a panic or error report to the exception handler.
    pub(crate) fn report(&self, ctx: &ExceptionContext) {
        let handler = self.exception_handler.borrow().clone();
        crate::event_loop::exception::call_handler(handler.as_ref(), ctx);
    }

    /// The handler set, `None` for the default one.
    pub(crate) fn exception_handler(&self) -> Option<ExceptionHandler> {
        self.exception_handler.borrow().clone()
    }

    pub(crate) fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        *self.exception_handler.borrow_mut() = handler;
    }

    /// Counts one job handed to the blocking pool (`LoopStats::blocking_jobs`).
    pub(crate) fn count_blocking_job(&self) {
        bump(&self.counters.blocking_jobs, 1);
    }

    /// Hands `job` to the default executor: the loop's pool (started on
    /// first use), the user's executor, or, once shut down, nobody (the
    /// job is dropped, which tells its awaiter).
    pub(crate) fn execute_blocking(&self, job: BlockingFn) {
        let start = || BlockingPool::new(self.config.blocking_threads, self.config.blocking_keep_alive);
        let dispatch = self.executor.borrow_mut().dispatch(job, start);
        match dispatch {
            Dispatch::Done => {}
            Dispatch::To(executor, job) => executor.execute(job),
            Dispatch::Drop(job) => drop(job),
        }
    }

    /// Makes `executor` the default; the loop's own pool, if it was
    /// started, finishes the jobs it has and retires.
    pub(crate) fn set_default_executor(&self, executor: Arc<dyn Executor>) {
        let old = self.executor.replace(DefaultExecutor::Custom(executor));
        if let DefaultExecutor::Pool(Some(pool)) = old {
            pool.retire();
        }
    }

    /// Takes the default executor out for shutting down; later jobs are
    /// dropped unrun.
    pub(crate) fn take_default_executor(&self) -> DefaultExecutor {
        self.executor.replace(DefaultExecutor::ShutDown)
    }

    /// Runs the loop until `future` completes and returns its output.
    pub(crate) fn block_on<F: Future>(self: &Rc<Self>, future: F) -> F::Output {
        self.check_can_run("run_until_complete");
        let _enter = Enter::new(self);
        let _running = RunningGuard::new(self);
        let main = Arc::new(MainWaker { woken: AtomicBool::new(true), notifier: self.shared.notifier.clone() });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if main.woken.swap(false, Ordering::SeqCst) {
                loop_coop::reset(self.config.coop_budget);
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    self.forget_stop();
                    return output;
                }
            }
            self.turn(&|| main.woken.load(Ordering::SeqCst));
        }
    }

    /// `run_until_complete` runs to its future's end whatever `stop()`
    /// asked meanwhile; the request is dropped then, so that it does not
    /// cut the next `run_forever` short.
    fn forget_stop(&self) {
        self.stopping.set(false);
    }

    /// Runs the loop until `stop()`. As asyncio's: each turn runs the
    /// batch that was ready when it began, to the end, and the loop returns
    /// after the turn in which `stop()` was called; a `stop()` made before
    /// `run_forever` still gives one turn (which then does not wait).
    pub(crate) fn run_forever(self: &Rc<Self>) {
        self.check_can_run("run_forever");
        let _enter = Enter::new(self);
        let _running = RunningGuard::new(self);
        loop {
            self.turn(&|| false);
            if self.stopping.get() {
                break;
            }
        }
        self.stopping.set(false);
    }

    fn check_can_run(&self, what: &str) {
        assert!(!self.closed.get(), "{what} on a closed event loop: create a new EventLoop (or use loop::run)");
        assert!(
            !is_running_here(),
            "{what} called while an event loop is already running on this thread: \
             inside async code, `.await` the future (or `loop::spawn` it) instead of starting a nested loop"
        );
    }

    /// The live tasks (the tests, the inspector's snapshot).
    pub(crate) fn registry(&self) -> &TaskRegistry {
        &self.tasks
    }

    /// The task being polled, waits, busy time (the inspector's snapshot).
    pub(crate) fn introspection(&self) -> &Introspection {
        &self.introspection
    }

    /// Snapshots of every live task.
    pub(crate) fn all_tasks(&self) -> Vec<TaskInfo> {
        let now_tick = self.time.tick_of(self.time.now());
        let current = self.introspection.current();
        let mut out = Vec::with_capacity(self.tasks.len());
        self.tasks.for_each(|task| {
            out.push(self.introspection.info(task.header(), current == Some(task.as_ptr()), now_tick));
        });
        out
    }

    /// Snapshot of the task being polled.
    pub(crate) fn current_task(&self) -> Option<TaskInfo> {
        self.introspection.current_info(self.time.tick_of(self.time.now()))
    }

    pub(crate) fn stats(&self) -> LoopStats {
        LoopStats {
            polls: self.counters.polls.get(),
            turns: self.counters.turns.get(),
            parks: self.counters.parks.get(),
            timers_fired: self.counters.timers_fired.get(),
            callbacks: self.counters.callbacks.get(),
            remote_wakes: self.shared.remote_wakes.load(Ordering::Relaxed),
            os_yields: self.counters.os_yields.get(),
            blocking_jobs: self.counters.blocking_jobs.get(),
            budget_yields: self.counters.budget_yields.get()
                + if self.is_entered() {
                    loop_coop::forced_yields() - self.counters.budget_yields_base.get()
                } else {
                    0
                },
            tasks_alive: self.tasks.len(),
            timers_pending: self.time.len(),
        }
    }

    /// Notes the thread's budget-yield count as this run's start.
    /// (The outermost `Enter` of this loop counts; nested ones share it.)
    pub(crate) fn enter_coop(&self) {
        if self.entered.get() == 0 {
            self.counters.budget_yields_base.set(loop_coop::forced_yields());
        }
        self.entered.set(self.entered.get() + 1);
    }

    /// Adds this run's budget yields to the loop's count (when the
    /// outermost `Enter` leaves).
    pub(crate) fn leave_coop(&self) {
        self.entered.set(self.entered.get() - 1);
        if self.entered.get() == 0 {
            let run = loop_coop::forced_yields() - self.counters.budget_yields_base.get();
            bump(&self.counters.budget_yields, run);
        }
    }

    /// Whether an `Enter` of this loop is alive on its thread.
    fn is_entered(&self) -> bool {
        self.entered.get() > 0
    }

    /// asyncio's close after `run`: cancel what is left (dropping every
    /// future on this thread), drop queued work and timers, shut the blocking
    /// pool down within a bound. Idempotent.
    pub(crate) fn close(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        assert!(
            !self.running.get(),
            "close() called on a running event loop: call stop() and let run_forever() return first"
        );
        // Futures dropped below may reach their loop (to cancel timers,
        // spawn, wake): make this the current loop while they do.
        let _enter = Enter::new(self);
        self.shared.closed.store(true, Ordering::SeqCst);
        // The other half of `push_remote`'s handshake: what was pushed
        // before a pusher could see `closed` is drained below.
        std::sync::atomic::fence(Ordering::SeqCst);
        loop {
            let tasks = self.tasks.take_all();
            let (queued, deferred) = self.queue.take_all();
            let idle = tasks.is_empty() && queued.is_empty() && deferred.is_empty() && self.shared.injector.is_empty();
            for task in tasks {
                if !task.header().state.load().is_complete() {
                    let _ = task.header().state.request_cancel();
                    task.cancel_now();
                    // The same completion as a finished task's: an awaiter
                    // is woken (into the queue drained just below).
                    task.complete(None);
                }
            }
            drop(queued);
            drop(deferred);
            self.shared.drain_dropping();
            if idle {
                break;
            }
        }
        drop(self.time.take_all());
        let executor = self.take_default_executor();
        if executor.is_started() {
            executor.shutdown(self.config.shutdown_timeout);
        }
        self.closed.set(true);
    }
}

/// Sets `running` for the duration of a run, even if it unwinds.
struct RunningGuard<'a>(&'a LoopCore);

impl<'a> RunningGuard<'a> {
    fn new(inner: &'a LoopCore) -> Self {
        inner.running.set(true);
        inner.shared.beacon.set_running(true);
        RunningGuard(inner)
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.running.set(false);
        self.0.shared.beacon.set_running(false);
    }
}
