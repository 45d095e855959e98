//! The heart of an event loop: run queue, timers, registry of live tasks,
//! and the turn that ties them to the reactor.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use loop_core::observe::{IoWait, IoWaitObserver};
use loop_core::{Notifier, Reactor};
use loop_time::{Clock, TimerWheel};

use crate::blocking::BlockingPool;
use crate::callback::CallbackCell;
use crate::event_loop::{ExceptionContext, ExceptionHandler, LoopStats};
use crate::seeds::SeededOrder;
use crate::shared::{LoopShared, Remote};
use crate::task::raw::{self, Header, TaskMeta, TaskRef};
use crate::task::state::{CANCELLED, COMPLETE, HANDLE, SCHEDULED};
use crate::task::{Task, TaskInfo, TaskState};

/// Polls (tasks and callbacks) between two looks at the reactor and the
/// timers, however busy the run queue is. Prime, as in tokio's scheduler, so
/// it does not line up with common batch sizes.
pub(crate) const BUDGET: usize = 61;

/// Turns between two refreshes of the cached turn time when no timer needs
/// the clock (it is also refreshed after every park and whenever timers are
/// checked).
const TIME_REFRESH_TURNS: u64 = 32;

thread_local! {
    /// The loop running on this thread, or null. A non-null pointer comes
    /// from `Rc::into_raw` in the `Enter` guard that set it; that guard owns
    /// the strong count the pointer stands for and lives (on this thread's
    /// stack) for as long as the pointer is installed.
    static CURRENT: Cell<*const LoopInner> = const { Cell::new(std::ptr::null()) };
}

/// The running loop's pointer, or null.
fn current_ptr() -> *const LoopInner {
    // `try_with` fails only while TLS is being torn down: no loop runs then.
    CURRENT.try_with(Cell::get).unwrap_or(std::ptr::null())
}

/// Calls `f` with the loop running on this thread; `None` when there is none.
pub(crate) fn with_current<R>(f: impl FnOnce(&LoopInner) -> R) -> Option<R> {
    let ptr = current_ptr();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: a non-null CURRENT is kept alive by the `Enter` guard that
    // installed it, which outlives any code that can run on this thread
    // while it is installed (see `CURRENT`); only a shared reference is
    // handed out, and the loop's mutable state sits behind `Cell`/`RefCell`.
    Some(f(unsafe { &*ptr }))
}

/// An owning handle to the loop running on this thread.
pub(crate) fn current_rc() -> Option<Rc<LoopInner>> {
    let ptr = current_ptr();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer came from `Rc::into_raw` and its strong count is
    // held by the live `Enter` guard (see `CURRENT`), so adding a count and
    // rebuilding an `Rc` from it is sound.
    unsafe {
        Rc::increment_strong_count(ptr);
        Some(Rc::from_raw(ptr))
    }
}

/// Whether some loop is running on this thread.
pub(crate) fn is_running_here() -> bool {
    with_current(|_| ()).is_some()
}

/// The panic for loop-bound calls made with no loop running.
#[track_caller]
pub(crate) fn no_running_loop(what: &str) -> ! {
    panic!(
        "{what} called outside a running event loop: call it from a task or from the future \
         given to `loop::run` / `EventLoop::run_until_complete`"
    )
}

/// Sends a woken task to its loop's run queue: the local queue when we are on
/// that loop's thread while it runs, the injection queue otherwise.
pub(crate) fn schedule(task: TaskRef) {
    let mut task = Some(task);
    with_current(|inner| {
        if let Some(t) = task.take_if(|t| Arc::ptr_eq(&inner.shared, &t.header().shared)) {
            inner.ready.borrow_mut().push_back(Runnable::Task(t));
        }
    });
    if let Some(task) = task {
        let shared = task.header().shared.clone();
        shared.push_remote(Remote::Wake(task));
    }
}

/// Reports a panic of a task nobody awaited to the loop's exception handler.
pub(crate) fn report_unawaited_panic(header: &Header, message: String) {
    let ctx = ExceptionContext {
        message: format!("panic in a task nobody awaited: {message}"),
        task_id: Some(header.meta.id),
        task_name: header.meta.name.as_deref().cloned(),
        location: Some(header.meta.location),
    };
    if with_current(|inner| inner.report(&ctx)).is_none() {
        crate::event_loop::default_exception_handler(&ctx);
    }
}

/// Stops the loop loudly when the OS refuses to wait for events (an
/// interrupted wait is not an error: the reactor retries it). Carrying on
/// would spin at 100% CPU without ever seeing I/O or timers again.
#[track_caller]
fn reactor_ok(result: std::io::Result<usize>) {
    if let Err(e) = result {
        panic!(
            "the event loop's reactor failed to wait for events: {e}. The loop cannot see I/O or timers any more; \
             this usually means a descriptor the loop owns (its epoll/kqueue or wake-up fd) was closed or replaced \
             behind its back, e.g. by closing a raw fd number"
        );
    }
}

/// One turn in this many (on average) has its polls timed for the tasks'
/// busy time.
const SAMPLE_EVERY: u32 = 1024;

/// Entries of run queue capacity kept when it drains (4 KiB).
const READY_KEEP: usize = 256;

/// One entry of the run queue.
pub(crate) enum Runnable {
    Task(TaskRef),
    Call(Rc<CallbackCell>),
}

/// What a timer does when it fires.
pub(crate) enum TimerEntry {
    /// Wake a sleeping future.
    Wake(Option<Waker>),
    /// Queue a `call_later` / `call_at` callback.
    Call(Rc<CallbackCell>),
}

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
}

/// Live tasks, so the loop can list them and cancel them at close.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
    len: usize,
}

impl Registry {
    fn insert(&mut self, task: TaskRef) -> usize {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            self.slots[i] = Some(task);
            i
        } else {
            self.slots.push(Some(task));
            self.slots.len() - 1
        }
    }

    fn remove(&mut self, i: usize) -> Option<TaskRef> {
        let task = self.slots.get_mut(i)?.take()?;
        self.free.push(i);
        self.len -= 1;
        Some(task)
    }

    fn drain(&mut self) -> Vec<TaskRef> {
        self.free.clear();
        self.len = 0;
        self.slots.drain(..).flatten().collect()
    }
}

/// Counters, always on (plain cells on the loop's thread).
#[derive(Default)]
struct Counters {
    polls: Cell<u64>,
    turns: Cell<u64>,
    parks: Cell<u64>,
    timers_fired: Cell<u64>,
    callbacks: Cell<u64>,
}

/// One event loop's state. Lives in an `Rc`, used only on its thread.
pub(crate) struct LoopInner {
    /// What other threads may touch.
    pub(crate) shared: Arc<LoopShared>,
    /// The local run queue (tasks woken on this thread, callbacks).
    ready: RefCell<VecDeque<Runnable>>,
    /// Wakers of `yield_now` calls, released after the next reactor check.
    pub(crate) deferred: RefCell<Vec<Waker>>,
    /// Timers of this loop.
    pub(crate) timers: RefCell<TimerWheel<TimerEntry>>,
    /// Scratch space for timers fired in one turn.
    fired: RefCell<Vec<TimerEntry>>,
    /// Real or paused.
    pub(crate) clock: Clock,
    /// Where the loop parks.
    reactor: RefCell<Reactor>,
    /// Live tasks.
    registry: RefCell<Registry>,
    /// The task being polled right now.
    current_task: Cell<Option<NonNull<Header>>>,
    running: Cell<bool>,
    stopping: Cell<bool>,
    closed: Cell<bool>,
    pub(crate) config: Config,
    /// Started on first use.
    blocking: RefCell<Option<BlockingPool>>,
    exception_handler: RefCell<Option<ExceptionHandler>>,
    /// The loop time as last read: at the start of the turn when timers are
    /// pending or the loop parked, otherwise at most `TIME_REFRESH_TURNS`
    /// turns old. Never ahead of the clock. Used for task ages and for the
    /// first check of a new sleep.
    pub(crate) turn_start: Cell<Instant>,
    /// `turn_start` as a (wrapping) millisecond tick, for wait times.
    turn_tick: Cell<u32>,
    /// For the task being polled: where and since when it waited when the
    /// poll began, saved by the poll's first wait report.
    first_wait: Cell<(Option<&'static Location<'static>>, u32)>,
    /// Weight of this turn's polls in the tasks' busy time: 0 when they
    /// are not timed (most turns), `SAMPLE_EVERY` in a sampled turn, 1 in
    /// debug mode (every poll is timed).
    turn_weight: Cell<u32>,
    /// Turns left until the next sampled one.
    turns_to_sample: Cell<u32>,
    /// xorshift state drawing the gaps between sampled turns.
    sample_rng: Cell<u32>,
    /// Seeded scheduling (`Builder::seed`): permutes each turn's tasks.
    order: Option<SeededOrder>,
    /// The unused part of this loop's block of task ids: (next, end).
    task_ids: Cell<(u64, u64)>,
    /// Tasks and callbacks run since the reactor was last asked for events.
    polls_since_io: Cell<usize>,
    counters: Counters,
}

/// Marks a loop as the running one on this thread for as long as it lives.
struct Enter {
    /// The wait observer installed before (restored on drop).
    previous_observer: Option<loop_sync::WaitObserver>,
    /// The I/O wait observer installed before (restored on drop).
    previous_io_observer: Option<IoWaitObserver>,
    /// What `CURRENT` held before (restored on drop).
    previous: *const LoopInner,
    /// Our strong count on the loop, as installed in `CURRENT`.
    this: *const LoopInner,
    /// I/O objects created meanwhile register with this loop's reactor.
    _reactor: loop_core::EnterGuard,
}

impl Enter {
    fn new(inner: &Rc<LoopInner>) -> Enter {
        let reactor = inner.reactor.borrow().enter();
        let this = Rc::into_raw(inner.clone());
        let previous = CURRENT.with(|current| current.replace(this));
        let observer = if inner.config.introspection { Some(record_wait as loop_sync::WaitObserver) } else { None };
        let previous_observer = loop_sync::set_wait_observer(observer);
        let io_observer = if inner.config.introspection { Some(record_io_wait as IoWaitObserver) } else { None };
        let previous_io_observer = loop_core::observe::set_io_wait_observer(io_observer);
        Enter { previous_observer, previous_io_observer, previous, this, _reactor: reactor }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
        loop_sync::set_wait_observer(self.previous_observer);
        loop_core::observe::set_io_wait_observer(self.previous_io_observer);
        // SAFETY: `this` came from `Rc::into_raw` in `new` and is released
        // exactly once, here, after it was uninstalled.
        drop(unsafe { Rc::from_raw(self.this) });
    }
}

/// The wait observer: records on the current task what it now waits on.
fn record_wait(kind: loop_sync::WaitKind, location: &'static Location<'static>) {
    with_current(|inner| inner.record_wait(kind, location));
}

/// The I/O wait observer: records on the current task the socket or pipe
/// direction it now waits for.
fn record_io_wait(wait: IoWait, location: &'static Location<'static>) {
    let kind = match wait {
        IoWait::Readable => loop_sync::WaitKind::Readable,
        IoWait::Writable => loop_sync::WaitKind::Writable,
    };
    with_current(|inner| inner.record_wait(kind, location));
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

impl LoopInner {
    pub(crate) fn new(config: Config) -> std::io::Result<Rc<LoopInner>> {
        let debug_weight = u32::from(config.debug);
        let order = config.seed.map(SeededOrder::new);
        let sample_seed = {
            static LOOPS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = LOOPS.fetch_add(1, Ordering::Relaxed);
            // Any odd multiplier spreads consecutive loops apart; never 0
            // (xorshift's fixed point).
            n.wrapping_mul(0x9E37_79B9) | 1
        };
        let reactor = Reactor::new()?;
        let shared = Arc::new(LoopShared::new(reactor.notifier()));
        let clock = if config.paused_clock { Clock::paused() } else { Clock::real() };
        let now = clock.now();
        Ok(Rc::new(LoopInner {
            shared,
            ready: RefCell::new(VecDeque::with_capacity(READY_KEEP)),
            deferred: RefCell::new(Vec::new()),
            timers: RefCell::new(TimerWheel::new()),
            fired: RefCell::new(Vec::new()),
            clock,
            reactor: RefCell::new(reactor),
            registry: RefCell::new(Registry::default()),
            current_task: Cell::new(None),
            running: Cell::new(false),
            stopping: Cell::new(false),
            closed: Cell::new(false),
            config,
            blocking: RefCell::new(None),
            exception_handler: RefCell::new(None),
            turn_start: Cell::new(now),
            turn_tick: Cell::new(0),
            first_wait: Cell::new((None, 0)),
            turn_weight: Cell::new(debug_weight),
            // A different sequence per loop, and not always the first turn.
            turns_to_sample: Cell::new(1 + (sample_seed >> 8) % (2 * SAMPLE_EVERY - 1)),
            sample_rng: Cell::new(sample_seed),
            order,
            task_ids: Cell::new((0, 0)),
            polls_since_io: Cell::new(0),
            counters: Counters::default(),
        }))
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

    /// Queues a callback for the next turn.
    pub(crate) fn push_call(&self, cell: Rc<CallbackCell>) {
        self.ready.borrow_mut().push_back(Runnable::Call(cell));
    }

    /// Spawns a task onto this loop.
    #[allow(clippy::box_collection)] // the thin name pointer, see `TaskMeta::name`
    pub(crate) fn spawn<F>(
        &self,
        future: F,
        name: Option<Box<String>>,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        // asyncio copies the spawner's context into the task: only work
        // spawned inside a task-local scope carries (and enters) a copy.
        if crate::context::is_empty() {
            self.spawn_plain(future, name, location)
        } else {
            self.spawn_in_context(future, name, location)
        }
    }

    /// `spawn` inside a task-local scope: the task runs in a copy of the
    /// context. Kept out of line, off the common path.
    #[cold]
    #[inline(never)]
    #[allow(clippy::box_collection)] // the thin name pointer, see `TaskMeta::name`
    fn spawn_in_context<F>(
        &self,
        future: F,
        name: Option<Box<String>>,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        self.spawn_plain(crate::context::WithContext::new(crate::context::current(), future), name, location)
    }

    /// `spawn`, without looking at the context.
    #[allow(clippy::box_collection)] // the thin name pointer, see `TaskMeta::name`
    fn spawn_plain<F>(
        &self,
        future: F,
        name: Option<Box<String>>,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        assert!(!self.closed.get(), "spawn on a closed event loop: create a new EventLoop (or use loop::run)");
        let created_tick = self.clock.tick_of(self.turn_start.get()) as u32;
        let meta = TaskMeta::new(self.next_task_id(), name, location, created_tick);
        // Three references: the registry's, the run queue's, the handle's.
        let registry_ref = TaskRef::allocate(future, self.shared.clone(), meta, SCHEDULED | HANDLE, 3);
        let ptr = registry_ref.as_ptr();
        // SAFETY: `allocate` counted three references; these are the other two.
        let (queue_ref, handle_ref) = unsafe { (TaskRef::from_counted(ptr), TaskRef::from_counted(ptr)) };
        let slot = self.registry.borrow_mut().insert(registry_ref);
        let slot = u32::try_from(slot)
            .ok()
            .filter(|&s| s <= raw::MAX_SLOT)
            .expect("more than 16 million live tasks on one loop: a task leak? (all_tasks() lists them)");
        handle_ref.header().meta.set_registry_slot(slot);
        self.ready.borrow_mut().push_back(Runnable::Task(queue_ref));
        Task::from_raw(handle_ref)
    }

    /// Decides whether this turn's polls are timed for the tasks' busy
    /// time (see `turn_weight`). Timing every poll would cost two clock
    /// reads (~50 ns) per poll, more than a whole `yield_now`; instead about
    /// one turn in `SAMPLE_EVERY` is timed, each of its polls counting
    /// `SAMPLE_EVERY` times. The gaps between sampled turns are random
    /// (uniform on 1..2*SAMPLE_EVERY), so every poll is equally likely to
    /// be timed, whatever its place in a round of tasks: a task's estimate
    /// is right on average. Deciding per turn keeps the per-poll cost at one
    /// predictable branch.
    fn sample_turn(&self) {
        if self.config.debug || !self.config.introspection {
            return;
        }
        let left = self.turns_to_sample.get() - 1;
        if left > 0 {
            self.turns_to_sample.set(left);
            self.turn_weight.set(0);
            return;
        }
        let mut x = self.sample_rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.sample_rng.set(x);
        self.turns_to_sample.set(1 + x % (2 * SAMPLE_EVERY - 1));
        self.turn_weight.set(SAMPLE_EVERY);
    }

    /// Notes on the task being polled that it now waits on `kind` at
    /// `location` (no-op outside a task).
    pub(crate) fn record_wait(&self, kind: loop_sync::WaitKind, location: &'static Location<'static>) {
        self.with_polled_meta(|meta| meta.record_wait(kind, location, self.turn_tick.get(), &self.first_wait));
    }

    /// A [`WaitSite`](crate::WaitSite)'s report: the task waits at
    /// `location`, on `kind`, or with `None` on whatever the futures polled
    /// under the site reported (nothing, if they reported nothing).
    pub(crate) fn record_wait_site(&self, kind: Option<loop_sync::WaitKind>, location: &'static Location<'static>) {
        self.with_polled_meta(|meta| {
            if let Some(kind) = kind.or_else(|| meta.waiting_kind()) {
                meta.record_wait(kind, location, self.turn_tick.get(), &self.first_wait);
            }
        });
    }

    /// Runs `f` on the bookkeeping of the task being polled, when
    /// introspection is on (not outside a task).
    fn with_polled_meta(&self, f: impl FnOnce(&TaskMeta)) {
        if !self.config.introspection {
            return;
        }
        let Some(ptr) = self.current_task.get() else { return };
        // SAFETY: the current task is being polled; the run loop holds a
        // reference to it for the whole poll, and `f` runs within it.
        f(unsafe { &ptr.as_ref().meta });
    }

    /// The next task id: from this loop's reserved block, reserving a new
    /// block when it runs out.
    fn next_task_id(&self) -> crate::task::TaskId {
        let (next, end) = self.task_ids.get();
        let (id, end) = if next < end {
            (next, end)
        } else {
            let start = crate::task::TaskId::reserve_block();
            (start, start + crate::task::TASK_ID_BLOCK)
        };
        self.task_ids.set((id + 1, end));
        crate::task::TaskId::from_u64(id)
    }

    /// Hands a panic or error report to the exception handler.
    pub(crate) fn report(&self, ctx: &ExceptionContext) {
        let handler = self.exception_handler.borrow().clone();
        match handler {
            Some(h) => h(ctx),
            None => crate::event_loop::default_exception_handler(ctx),
        }
    }

    pub(crate) fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        *self.exception_handler.borrow_mut() = handler;
    }

    /// The blocking pool, started on first use.
    pub(crate) fn blocking_pool(&self) -> std::cell::RefMut<'_, BlockingPool> {
        std::cell::RefMut::map(self.blocking.borrow_mut(), |pool| {
            pool.get_or_insert_with(|| BlockingPool::new(self.config.blocking_threads, self.config.blocking_keep_alive))
        })
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
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            self.turn(&|| main.woken.load(Ordering::SeqCst));
        }
    }

    /// Runs the loop until `stop()`.
    pub(crate) fn run_forever(self: &Rc<Self>) {
        self.check_can_run("run_forever");
        let _enter = Enter::new(self);
        let _running = RunningGuard::new(self);
        self.stopping.set(false);
        while !self.stopping.get() {
            self.turn(&|| false);
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

    /// One turn: look at the reactor (blocking only when nothing is ready),
    /// take in remote work and due timers, release deferred yields, then run
    /// at most `BUDGET` of what is ready.
    fn turn(&self, main_ready: &dyn Fn() -> bool) {
        self.counters.turns.set(self.counters.turns.get() + 1);
        let local_work = !self.ready.borrow().is_empty() || !self.deferred.borrow().is_empty();
        let parked = !(local_work || main_ready());
        if parked {
            self.park(main_ready);
            self.polls_since_io.set(0);
        } else if self.polls_since_io.get() >= BUDGET {
            // Busy: still look at I/O at least every BUDGET polls, so ready
            // tasks cannot starve sockets. (Each look costs syscalls; doing
            // it every turn would tax every wake-up.)
            reactor_ok(self.reactor.borrow_mut().poll_now());
            self.polls_since_io.set(0);
        }
        if !self.shared.injector.is_empty() {
            self.drain_injector();
        }
        if !self.timers.borrow().is_empty() {
            // Reads the clock and refreshes `turn_start`.
            self.fire_timers();
        } else if parked || self.counters.turns.get().is_multiple_of(TIME_REFRESH_TURNS) {
            // Nobody needs the exact time this turn; refresh the cached turn
            // time after a park and now and then, so that task ages stay
            // close without a clock read on every turn.
            let now = self.clock.now();
            self.turn_start.set(now);
            self.turn_tick.set(self.clock.tick_of(now) as u32);
        }
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        for waker in deferred {
            waker.wake();
        }
        let n = self.ready.borrow().len().min(BUDGET);
        if let Some(order) = &self.order {
            order.shuffle_tasks(&mut self.ready.borrow_mut().make_contiguous()[..n]);
        }
        self.polls_since_io.set(self.polls_since_io.get() + n);
        self.sample_turn();
        for _ in 0..n {
            let Some(next) = self.ready.borrow_mut().pop_front() else { break };
            match next {
                Runnable::Task(task) => self.run_task(task),
                Runnable::Call(cell) => self.run_call(&cell),
            }
            if self.stopping.get() {
                break;
            }
        }
        // A burst (100k spawns) grows the queue; do not keep its peak size
        // (16 bytes per entry) for the loop's life once it has drained.
        let mut ready = self.ready.borrow_mut();
        if ready.is_empty() && ready.capacity() > READY_KEEP {
            ready.shrink_to(READY_KEEP);
        }
    }

    /// Blocks in the reactor until something happens or the next timer is
    /// due. A paused clock jumps to that timer instead of waiting for it,
    /// unless work is pending on another thread (blocking jobs, remote wakes).
    fn park(&self, main_ready: &dyn Fn() -> bool) {
        self.counters.parks.set(self.counters.parks.get() + 1);
        let next = self.timers.borrow().next_deadline().map(|tick| self.clock.instant_of(tick));
        let timeout = match next {
            None => None,
            Some(when) if self.clock.is_paused() => {
                let outside_work = self.shared.blocking_in_flight.load(Ordering::SeqCst) > 0;
                if outside_work {
                    None
                } else {
                    reactor_ok(self.reactor.borrow_mut().poll_now());
                    if self.shared.injector.is_empty() && !main_ready() {
                        self.clock.advance_to(when);
                    }
                    Some(Duration::ZERO)
                }
            }
            Some(when) => Some(when.saturating_duration_since(self.clock.now())),
        };
        let shared = &self.shared;
        reactor_ok(self.reactor.borrow_mut().park(timeout, || shared.injector.is_empty() && !main_ready()));
    }

    fn drain_injector(&self) {
        while let Some(work) = self.shared.injector.pop() {
            match work {
                Remote::Wake(task) => self.ready.borrow_mut().push_back(Runnable::Task(task)),
                Remote::Call(f) => self.push_call(CallbackCell::new(f)),
            }
        }
    }

    fn fire_timers(&self) {
        let now_instant = self.clock.now();
        self.turn_start.set(now_instant);
        let now = self.clock.tick_of(now_instant);
        self.turn_tick.set(now as u32);
        let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
        self.timers.borrow_mut().advance_to(now, |_, entry| fired.push(entry));
        self.counters.timers_fired.set(self.counters.timers_fired.get() + fired.len() as u64);
        for entry in fired.drain(..) {
            match entry {
                TimerEntry::Wake(Some(waker)) => waker.wake(),
                TimerEntry::Wake(None) => {}
                TimerEntry::Call(cell) => self.push_call(cell),
            }
        }
        *self.fired.borrow_mut() = fired;
    }

    fn run_call(&self, cell: &CallbackCell) {
        let Some(f) = cell.take() else { return };
        self.counters.callbacks.set(self.counters.callbacks.get() + 1);
        let start = self.config.debug.then(Instant::now);
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.report(&ExceptionContext {
                message: format!("panic in a callback: {}", raw::panic_payload_message(&*payload)),
                task_id: None,
                task_name: None,
                location: None,
            });
        }
        if let Some(start) = start {
            let took = start.elapsed();
            if took >= self.config.slow_callback {
                eprintln!(
                    "loop: a callback took {took:.3?} (slow_callback_duration is {:.3?})",
                    self.config.slow_callback
                );
            }
        }
    }

    fn run_task(&self, task: TaskRef) {
        let header = task.header();
        let prev = crate::task::state::transition_to_running(&header.state);
        if prev & COMPLETE != 0 {
            return;
        }
        if prev & CANCELLED != 0 {
            let previous = self.current_task.replace(Some(task.as_ptr()));
            task.cancel_now();
            self.current_task.set(previous);
            self.complete(task);
            return;
        }
        self.counters.polls.set(self.counters.polls.get() + 1);
        // Leaf futures report what the task waits on during the poll (see
        // `TaskMeta::record_wait`); the last report counts.
        let introspection = self.config.introspection;
        if introspection {
            header.meta.start_poll();
        }
        let previous = self.current_task.replace(Some(task.as_ptr()));
        let waker = task.borrowed_waker();
        let mut cx = Context::from_waker(&waker);
        let weight = self.turn_weight.get();
        let start = (weight > 0).then(Instant::now);
        let done = task.poll(&mut cx);
        if let Some(start) = start {
            let took = start.elapsed();
            if introspection {
                let busy = &header.meta.busy_ns;
                busy.set(busy.get().saturating_add((took.as_nanos() as u64).saturating_mul(u64::from(weight))));
            }
            if self.config.debug {
                self.warn_if_slow(header, took);
            }
        }
        if done && header.state.load(Ordering::Acquire) & CANCELLED != 0 && task.panic_message().is_none() {
            // Cancelled during its last poll, and it returned without
            // another await point: it ends cancelled, its value dropped
            // (asyncio's `test_cancel_at_end`). A panic stays a panic.
            task.cancel_now();
        }
        self.current_task.set(previous);
        if done {
            self.complete(task);
        }
    }

    fn warn_if_slow(&self, header: &Header, took: Duration) {
        if took >= self.config.slow_callback {
            let meta = &header.meta;
            // Where the poll ended up waiting is usually just after the code
            // that blocked: worth naming.
            let then = match (meta.waiting_kind(), meta.waiting_at.get()) {
                (Some(kind), Some(at)) => {
                    format!("; it then waited on {} at {}:{}", kind.describe(), at.file(), at.line())
                }
                _ => String::new(),
            };
            self.report(&ExceptionContext {
                message: format!(
                    "slow poll: one poll took {took:.3?}, blocking the loop (slow_callback_duration is {:.3?}){then}",
                    self.config.slow_callback
                ),
                task_id: Some(meta.id),
                task_name: meta.name.as_deref().cloned(),
                location: Some(meta.location),
            });
        }
    }

    /// The task's future is gone: wake its awaiter (or drop its output if
    /// nobody holds the handle), forget it, and release the run queue's and
    /// the registry's references.
    fn complete(&self, task: TaskRef) {
        let header = task.header();
        // HANDLE only changes on this thread: a plain load is exact.
        if header.state.load(Ordering::Acquire) & HANDLE != 0 {
            // SAFETY: the join waker is only touched on the loop's thread.
            let waker = unsafe { (*header.join_waker.get()).take() };
            if let Some(waker) = waker {
                waker.wake();
            }
        } else {
            if let Some(message) = task.panic_message() {
                report_unawaited_panic(header, message);
            }
            task.drop_stage();
        }
        let slot = header.meta.registry_slot();
        let registry_ref = self.registry.borrow_mut().remove(slot);
        match registry_ref {
            Some(registry_ref) => {
                debug_assert_eq!(registry_ref.as_ptr(), task.as_ptr());
                std::mem::forget(registry_ref);
                task.complete_releasing_two();
            }
            None => {
                raw::mark_complete(task.header());
            }
        }
    }

    /// Snapshots of every live task.
    pub(crate) fn all_tasks(&self) -> Vec<TaskInfo> {
        let now = self.clock.now();
        let current = self.current_task.get();
        self.registry
            .borrow()
            .slots
            .iter()
            .flatten()
            .map(|task| self.info(task.header(), current == Some(task.as_ptr()), now))
            .collect()
    }

    /// Snapshot of the task being polled.
    /// The id of the task being polled, if any (cheap: no snapshot).
    pub(crate) fn current_task_id(&self) -> Option<crate::TaskId> {
        let ptr = self.current_task.get()?;
        // SAFETY: as in `current_task`: the task is being polled.
        Some(unsafe { ptr.as_ref() }.meta.id)
    }

    pub(crate) fn current_task(&self) -> Option<TaskInfo> {
        let ptr = self.current_task.get()?;
        // SAFETY: the current task is being polled, so the run loop holds a
        // reference to it for the whole poll.
        let header = unsafe { ptr.as_ref() };
        Some(self.info(header, true, self.clock.now()))
    }

    fn info(&self, header: &Header, running: bool, now: Instant) -> TaskInfo {
        let state = header.state.load(Ordering::Acquire);
        let state = if running {
            TaskState::Running
        } else if state & CANCELLED != 0 {
            TaskState::Cancelling
        } else if state & SCHEDULED != 0 {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        };
        let meta = &header.meta;
        TaskInfo {
            id: meta.id,
            name: meta.name.as_deref().cloned(),
            state,
            location: meta.location,
            polls: u64::from(meta.polls()),
            busy: Duration::from_nanos(meta.busy_ns.get()),
            busy_estimated: !self.config.debug,
            age: Duration::from_millis(u64::from((self.clock.tick_of(now) as u32).wrapping_sub(meta.created_tick))),
            waiting: match (meta.waiting_kind(), meta.waiting_at.get()) {
                (Some(kind), Some(location)) => {
                    let now_tick = self.clock.tick_of(now) as u32;
                    Some(crate::task::WaitInfo {
                        kind,
                        location,
                        waited: Duration::from_millis(u64::from(now_tick.wrapping_sub(meta.waiting_since.get()))),
                    })
                }
                _ => None,
            },
        }
    }

    pub(crate) fn stats(&self) -> LoopStats {
        LoopStats {
            polls: self.counters.polls.get(),
            turns: self.counters.turns.get(),
            parks: self.counters.parks.get(),
            timers_fired: self.counters.timers_fired.get(),
            callbacks: self.counters.callbacks.get(),
            remote_wakes: self.shared.remote_wakes.load(Ordering::Relaxed),
            tasks_alive: self.registry.borrow().len,
            timers_pending: self.timers.borrow().len(),
        }
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
        loop {
            let tasks = self.registry.borrow_mut().drain();
            let queued: Vec<Runnable> = self.ready.borrow_mut().drain(..).collect();
            let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
            let idle = tasks.is_empty() && queued.is_empty() && deferred.is_empty() && self.shared.injector.is_empty();
            for task in &tasks {
                let header = task.header();
                if header.state.load(Ordering::Acquire) & COMPLETE == 0 {
                    let _ = raw::mark_cancelled(header);
                    task.cancel_now();
                    let prev = raw::mark_complete(header);
                    if prev & HANDLE != 0 {
                        // SAFETY: loop thread only.
                        let waker = unsafe { (*header.join_waker.get()).take() };
                        drop(waker);
                    } else {
                        task.drop_stage();
                    }
                }
            }
            drop(tasks);
            drop(queued);
            drop(deferred);
            self.shared.drain_dropping();
            if idle {
                break;
            }
        }
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        drop(timers);
        let pool = self.blocking.borrow_mut().take();
        if let Some(pool) = pool {
            pool.shutdown(self.config.shutdown_timeout);
        }
        self.closed.set(true);
    }
}

/// Sets `running` for the duration of a run, even if it unwinds.
struct RunningGuard<'a>(&'a LoopInner);

impl<'a> RunningGuard<'a> {
    fn new(inner: &'a LoopInner) -> Self {
        inner.running.set(true);
        RunningGuard(inner)
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.running.set(false);
    }
}
