//! The task cell: one allocation holding header, scheduler, future and
//! output; `TaskRef`, an owned reference to it; and the raw waker over a
//! pointer to it.
//!
//! Which thread may do what: the state word (`state.rs`) and the scheduler
//! are used from any thread (by wakers); the stage (future or output), the
//! join waker and the metadata only on the owner thread, the loop's. The
//! methods that touch the stage check that in debug builds
//! (`Schedule::on_owner_thread`).

use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::join_waker::JoinWaker;
use super::meta::{StageKind, TaskMeta};
use super::refs::NewTask;
use super::state::{Release, State};
use super::{Schedule, TaskError};
use crate::task::panics;

/// The first part of every task cell, whatever its future and scheduler.
///
/// **What each byte buys** (72 bytes on 64-bit targets; a test holds the
/// size). The cell adds the scheduler (8: an `Arc<LoopShared>`, where
/// wakes from other threads go) and the stage, the larger of the future
/// and its output (`Result<T, TaskError>`, 32 bytes for `T = ()`).
///
/// | bytes | field | buys |
/// |---:|---|---|
/// | 8 | `state` | reference count and flags in one atomic word: a wake from any thread is one read-modify-write |
/// | 8 | `vtable` | poll, cancel, output and free without knowing the future's type |
/// | 8 | `join_waker` | the awaiter's waker in one word (a task awaiting a task stores just its pointer) |
/// | 8 | `meta.packed` | registry index, what the task waits on, stage kind and poll count: one load and one store per poll |
/// | 8 | `meta.id` | the process-unique `TaskId` (`all_tasks`, errors, the inspector) |
/// | 8 | `meta.cold` | name, busy time, the wait's target, joins: one pointer, allocated only for tasks that need them |
/// | 8 | `meta.location` | where `spawn` was called (errors, the inspector) |
/// | 4 | `meta.created_tick` | the task's age, in loop ticks |
/// | 4 | `meta.waiting_since` | how long the current wait has lasted |
/// | 8 | `meta.waiting_at` | the source line of the current wait |
///
/// The last four (24 bytes) are what lets `loop-inspect` say, from outside
/// the process, which task waits on what, where, and since when.
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count (see `state.rs`). Any thread.
    pub(crate) state: State,
    /// Functions that know the concrete future and scheduler types.
    vtable: &'static TaskVtable,
    /// Waker of whoever awaits the `Task<T>` handle. Owner thread only.
    pub(crate) join_waker: JoinWaker,
    /// Name, id, location, counters. Owner thread only.
    pub(crate) meta: TaskMeta,
}

/// The type-specific operations on a task cell.
struct TaskVtable {
    /// Polls the future; returns true when it finished (output stored).
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> bool,
    /// Drops the future and stores `Err(TaskError::Cancelled)`.
    cancel: unsafe fn(NonNull<Header>),
    /// Moves the output into `*mut Poll<Result<T, TaskError>>`.
    take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops whatever the stage holds, leaving it consumed; returns the
    /// message of the panic the task ended in, if it did.
    drop_stage: unsafe fn(NonNull<Header>) -> Option<String>,
    /// The panic message, if the task ended in a panic.
    panic_message: unsafe fn(NonNull<Header>) -> Option<String>,
    /// Hands a reference to the scheduler's queue (the hot half of the
    /// scheduler, called directly).
    schedule: unsafe fn(NonNull<Header>, TaskRef),
    /// The scheduler, for its cold methods.
    scheduler: unsafe fn(NonNull<Header>) -> NonNull<dyn Schedule>,
    /// Frees the cell.
    dealloc: unsafe fn(NonNull<Header>),
}

/// The future, then its output, in one place: which one is there (or
/// neither) is the `StageKind` in the header's metadata. A union rather
/// than an enum saves the discriminant's 8 bytes in every task.
union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Result<F::Output, TaskError>>,
}

/// The whole allocation. `repr(C)` puts the header first, so a pointer to
/// the cell is a pointer to its header.
#[repr(C)]
struct TaskCell<F: Future, S> {
    header: Header,
    /// Where wakes go; any thread.
    scheduler: S,
    /// Owner thread only.
    stage: UnsafeCell<Stage<F>>,
}

/// An owned reference to a task cell (one count of its reference count).
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

// SAFETY: a `TaskRef` may travel to other threads (in the injection queue or
// inside a `Waker`). Off the owner thread it is only used to touch the
// atomic `state`, the (`Send + Sync`) scheduler, and to drop the reference.
// The future and output are only touched on the owner thread: a task whose
// future is alive is always referenced by the loop's registry, so the last
// reference can only be dropped elsewhere once the future is gone, and the
// output of a task is dropped by its (non-`Send`) handle or by the loop.
// The exception, tasks spawned from another thread (`REMOTE`): their cell is
// made on that thread, and their output taken or dropped by the `Send`
// `ThreadsafeTask` handle. `allocate_remote*` (remote.rs) require a `Send` output and a
// future that is `Send` until its first poll (a `Send` future, or a
// `BuildOnLoop` holding a `Send` closure); that first poll is on the owner
// thread, and from then on the future stays there as any task's does. Off
// the owner thread it is dropped only before that poll (a closed loop's
// injection queue, `abandon_remote`).
unsafe impl Send for TaskRef {}
// SAFETY: as for `Send`: shared access from other threads only touches
// the atomic state and the scheduler.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Allocates a spawned task's cell (scheduled, with a handle) and
    /// returns its three references, one per owner.
    pub(crate) fn allocate<F, S>(future: F, scheduler: S, meta: TaskMeta) -> NewTask
    where
        F: Future + 'static,
        S: Schedule,
    {
        let registry = Self::allocate_with(State::new_spawned(3), future, scheduler, meta);
        let ptr = registry.as_ptr();
        // SAFETY: the cell was counted with three references; `registry` is
        // the first, these are the other two.
        let (queue, handle) = unsafe { (TaskRef::from_counted(ptr), TaskRef::from_counted(ptr)) };
        NewTask { registry, queue, handle }
    }

    #[inline(always)]
    pub(super) fn allocate_with<F, S>(state: State, future: F, scheduler: S, meta: TaskMeta) -> TaskRef
    where
        F: Future + 'static,
        S: Schedule,
    {
        let cell = Box::new(TaskCell {
            header: Header { state, vtable: &TaskCell::<F, S>::VTABLE, join_waker: JoinWaker::new(), meta },
            scheduler,
            stage: UnsafeCell::new(Stage { future: ManuallyDrop::new(future) }),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        TaskRef { ptr }
    }

    /// Makes another owned reference from a count already added to the
    /// reference count (an allocation's, or a waker's).
    ///
    /// # Safety
    /// The caller must own one reference count that no other `TaskRef` or
    /// waker accounts for.
    #[inline]
    pub(super) unsafe fn from_counted(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    /// The raw pointer (no reference transferred).
    #[inline]
    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// The header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we own a reference, so the cell is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// The task's scheduler.
    #[inline]
    pub(crate) fn scheduler(&self) -> &dyn Schedule {
        // SAFETY: the vtable matches the cell; the scheduler lives as long
        // as the cell, which our reference keeps alive.
        unsafe { (self.header().vtable.scheduler)(self.ptr).as_ref() }
    }

    /// Adds a reference and returns it.
    #[inline]
    pub(crate) fn clone_ref(&self) -> TaskRef {
        self.header().state.ref_inc();
        TaskRef { ptr: self.ptr }
    }

    /// A waker that borrows this reference (no count added). Cloning it
    /// adds a reference as usual.
    #[inline]
    pub(crate) fn borrowed_waker(&self) -> ManuallyDrop<Waker> {
        // SAFETY: the vtable's functions uphold the RawWaker contract; the
        // ManuallyDrop makes sure this borrowed waker never drops a count
        // it does not own.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(self.ptr.as_ptr() as *const (), &WAKER_VTABLE)) })
    }

    /// Debug builds: panics unless on the owner thread. A task spawned from
    /// another thread (`REMOTE`) has a `Send` future and output: its handle
    /// takes the output on its own thread, and a closed loop's injection
    /// queue may drop its future anywhere (the state word orders these).
    #[inline(always)]
    fn assert_owner(&self) {
        debug_assert!(
            self.header().state.load().is_remote() || self.scheduler().on_owner_thread(),
            "a task's future or output was touched off its loop's thread"
        );
    }

    /// Polls the future. Owner thread only; the task must not be complete.
    /// Returns true when the future finished (or panicked).
    #[inline]
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> bool {
        self.assert_owner();
        // SAFETY: on the owner thread (the only place the stage is
        // touched, asserted above in debug builds) while the future runs.
        unsafe { (self.header().vtable.poll)(self.ptr, cx) }
    }

    /// Drops the future and stores `Cancelled`. Owner thread only.
    #[inline]
    pub(crate) fn cancel_now(&self) {
        self.assert_owner();
        // SAFETY: owner thread; the vtable matches the cell.
        unsafe { (self.header().vtable.cancel)(self.ptr) }
    }

    /// Drops the stored output, if any. Owner thread only (the loop or the
    /// non-`Send` handle).
    #[inline]
    #[must_use = "a panic message nobody reads must be reported"]
    pub(crate) fn drop_stage(&self) -> Option<String> {
        self.assert_owner();
        // SAFETY: owner thread, as asserted.
        unsafe { (self.header().vtable.drop_stage)(self.ptr) }
    }

    /// The message of the panic the task ended in, if it did. Owner thread.
    #[inline]
    pub(crate) fn panic_message(&self) -> Option<String> {
        self.assert_owner();
        // SAFETY: owner thread, as for `drop_stage`.
        unsafe { (self.header().vtable.panic_message)(self.ptr) }
    }

    /// Moves the output into `out`, a `*mut Poll<Result<T, TaskError>>`.
    ///
    /// # Safety
    /// `T` must be the output type of the task's future, and the task
    /// complete.
    #[inline]
    pub(crate) unsafe fn take_output<T>(&self, out: &mut Poll<Result<T, TaskError>>) {
        self.assert_owner();
        // SAFETY: the caller guarantees that `T` matches; owner thread.
        unsafe { (self.header().vtable.take_output)(self.ptr, out as *mut _ as *mut ()) }
    }

    /// Wakes the task (any thread): queues a new reference unless it is
    /// queued already or complete.
    #[inline]
    pub(crate) fn wake_by_ref(&self) {
        if self.header().state.transition_to_scheduled() {
            self.clone_ref().schedule();
        }
    }

    /// Hands this reference to the scheduler's queue. The caller set
    /// `SCHEDULED` (`transition_to_scheduled` returned true).
    #[inline]
    fn schedule(self) {
        let ptr = self.ptr;
        // SAFETY: the vtable matches the cell; `self` keeps it alive and is
        // handed over.
        unsafe { (self.header().vtable.schedule)(ptr, self) }
    }

    /// The one completion path (owner thread, once per task): the future
    /// is gone. Wakes whoever awaits the handle — or, with no handle, drops
    /// the output and reports a panic nobody will see — then sets
    /// `COMPLETE` and drops this reference and `also` (the registry's, if
    /// the caller holds it) in one atomic step.
    #[inline(always)]
    pub(crate) fn complete(self, also: Option<TaskRef>) {
        let header = self.header();
        let state = header.state.load();
        if state.is_remote() {
            return self.complete_remote(also);
        }
        // HANDLE only changes on this thread: the load is exact.
        if state.has_handle() {
            // The join waker is only touched on the owner thread: here.
            if let Some(waker) = self.take_join_waker() {
                waker.wake();
            }
        } else {
            if let Some(message) = self.drop_stage() {
                self.scheduler().unhandled_panic(header, message);
            }
        }
        self.release_with(also, State::complete_releasing);
    }

    /// Drops this reference and `also` (the same task's, if given) in one
    /// step of the state word, `release(state, count)`; frees the cell if
    /// they were the last.
    #[inline(always)]
    pub(super) fn release_with(self, also: Option<TaskRef>, release: impl FnOnce(&State, usize) -> Release) {
        let refs = 1 + usize::from(also.is_some());
        if let Some(also) = also {
            debug_assert_eq!(also.ptr, self.ptr);
            std::mem::forget(also);
        }
        let ptr = ManuallyDrop::new(self).ptr;
        // SAFETY: we own `refs` references (ours and the forgotten one), so
        // the header is alive until the step below releases them.
        if release(&unsafe { ptr.as_ref() }.state, refs) == Release::Last {
            // SAFETY: those were the last references.
            unsafe { dealloc(ptr) }
        }
    }

    /// Takes out the waker of whoever awaits the handle. Owner thread only.
    #[inline]
    pub(crate) fn take_join_waker(&self) -> Option<Waker> {
        self.assert_owner();
        self.header().join_waker.take(&WAKER_VTABLE)
    }

    /// Stores the waker of whoever awaits the handle (unless it would wake
    /// the same task already). Owner thread only.
    #[inline]
    pub(crate) fn register_join_waker(&self, waker: &Waker) {
        self.assert_owner();
        self.header().join_waker.register(waker, &WAKER_VTABLE);
    }

    /// Clears `HANDLE` and drops this reference (the handle's) in a single
    /// atomic step.
    #[inline]
    pub(crate) fn release_handle(self) {
        let ptr = ManuallyDrop::new(self).ptr;
        // SAFETY: we own a reference, so the header is alive.
        if unsafe { ptr.as_ref() }.state.release_handle() == Release::Last {
            // SAFETY: that was the last reference.
            unsafe { dealloc(ptr) }
        }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { dec_ref(self.ptr) }
    }
}

/// Frees the cell.
///
/// # Safety
/// The last reference to the cell at `ptr` was just released.
unsafe fn dealloc(ptr: NonNull<Header>) {
    // SAFETY: the caller's contract; the vtable matches the cell.
    unsafe { (ptr.as_ref().vtable.dealloc)(ptr) }
}

/// Drops one reference, freeing the cell when it was the last.
///
/// # Safety
/// The caller owns one reference to the live cell at `ptr`.
unsafe fn dec_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller owns a reference, so the header is alive.
    if unsafe { ptr.as_ref() }.state.ref_dec() == Release::Last {
        // SAFETY: that was the last reference; nobody else can reach the cell.
        unsafe { dealloc(ptr) }
    }
}

pub(super) static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// `RawWaker::clone`: one more reference.
unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: a waker's pointer is a live task header it holds a count on.
    let header = unsafe { &*(ptr as *const Header) };
    header.state.ref_inc();
    RawWaker::new(ptr, &WAKER_VTABLE)
}

/// `Waker::wake`: schedules the task, handing our reference to the queue.
unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: the waker owns one reference to this live header.
    let task = unsafe { TaskRef::from_counted(NonNull::new_unchecked(ptr as *mut Header)) };
    if task.header().state.transition_to_scheduled() {
        task.schedule();
    }
}

/// `Waker::wake_by_ref`: schedules the task with a new reference.
unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker holds a reference, so the header is alive.
    let header = unsafe { &*(ptr as *const Header) };
    if header.state.transition_to_scheduled() {
        header.state.ref_inc();
        // SAFETY: the count just added is handed to the new TaskRef.
        let task = unsafe { TaskRef::from_counted(NonNull::new_unchecked(ptr as *mut Header)) };
        task.schedule();
    }
}

/// `Waker::drop`: one reference less.
unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: the waker owned one reference.
    unsafe { dec_ref(NonNull::new_unchecked(ptr as *mut Header)) }
}

impl<F: Future + 'static, S: Schedule> TaskCell<F, S> {
    const VTABLE: TaskVtable = TaskVtable {
        poll: Self::poll,
        cancel: Self::cancel,
        take_output: Self::take_output,
        drop_stage: Self::drop_stage,
        panic_message: Self::panic_message,
        schedule: Self::schedule,
        scheduler: Self::scheduler,
        dealloc: Self::dealloc,
    };

    /// The stage of the cell at `ptr`, and the metadata saying what it
    /// holds.
    ///
    /// # Safety
    /// `ptr` is a live `TaskCell<F, S>` and the caller is on the owner
    /// thread, the only place the stage is accessed, with no other borrow of
    /// it live.
    #[allow(clippy::mut_from_ref)]
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> (&'a mut Stage<F>, &'a TaskMeta) {
        // SAFETY: per the function's contract.
        let cell = unsafe { ptr.cast::<TaskCell<F, S>>().as_ref() };
        // SAFETY: per the function's contract, no other borrow of the stage.
        (unsafe { &mut *cell.stage.get() }, &cell.header.meta)
    }

    /// Drops what the stage holds *in place* — the future is pinned and may
    /// point into itself, so it is never moved — even if its destructor
    /// panics, and marks the stage consumed. Returns that panic's message.
    fn clear(stage: &mut Stage<F>, meta: &TaskMeta) -> Option<String> {
        let kind = meta.stage();
        if kind == StageKind::Consumed {
            return None;
        }
        meta.set_stage(StageKind::Consumed);
        // A future's or output's destructor may panic: the task still ends
        // in a defined state and the loop goes on. If it panics, the drop
        // glue has still dropped every other field during the unwind, so the
        // place holds no live value either way.
        let dropped = panics::catch_payload(|| match kind {
            // SAFETY: `Running` says the future is there; it is dropped
            // once (the kind was set to `Consumed` above) and never moved.
            StageKind::Running => unsafe { ManuallyDrop::drop(&mut stage.future) },
            // SAFETY: `Finished` says the output is there; dropped once.
            StageKind::Finished => unsafe { ManuallyDrop::drop(&mut stage.output) },
            StageKind::Consumed => {}
        });
        dropped.err().map(|payload| panics::message(&*payload))
    }

    /// Stores the task's result in an empty (consumed) stage.
    fn finish(stage: &mut Stage<F>, meta: &TaskMeta, result: Result<F::Output, TaskError>) {
        debug_assert_eq!(meta.stage(), StageKind::Consumed);
        stage.output = ManuallyDrop::new(result);
        meta.set_stage(StageKind::Finished);
    }

    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> bool {
        // SAFETY: forwarded contract of the vtable entry.
        let (stage, meta) = unsafe { Self::stage(ptr) };
        // The state machine polls only tasks that are not complete, whose
        // future is still there.
        debug_assert_eq!(meta.stage(), StageKind::Running, "a task was polled after its future was gone");
        // SAFETY: `Running`: the future is there. It lives inside the heap
        // cell and is never moved until it is dropped in place.
        let future = unsafe { Pin::new_unchecked(&mut *stage.future) };
        match panics::catch_payload(|| future.poll(cx)) {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(output)) => {
                Self::finished(stage, meta, Ok(output));
                true
            }
            Err(payload) => {
                Self::finished(stage, meta, Err(TaskError::Panicked(panics::message(&*payload))));
                true
            }
        }
    }

    /// The future returned (or panicked) with `result`: drops it and stores
    /// the result. Out of line, so the common `Pending` path of `poll` stays
    /// small.
    #[inline(never)]
    fn finished(stage: &mut Stage<F>, meta: &TaskMeta, result: Result<F::Output, TaskError>) {
        // A panic in the finished future's destructor is not the task's
        // result: the future did finish.
        Self::clear(stage, meta);
        Self::finish(stage, meta, result);
    }

    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: forwarded contract.
        let (stage, meta) = unsafe { Self::stage(ptr) };
        // A future whose destructor panics while it is cancelled failed in
        // its cleanup: the task ends `Panicked`, not `Cancelled` (as in
        // tokio), so a `TaskGroup` reports it.
        let result = match Self::clear(stage, meta) {
            Some(message) => Err(TaskError::Panicked(message)),
            None => Err(TaskError::Cancelled),
        };
        Self::finish(stage, meta, result);
    }

    unsafe fn take_output(ptr: NonNull<Header>, out: *mut ()) {
        // SAFETY: forwarded contract: `out` points at a
        // `Poll<Result<F::Output, TaskError>>`.
        let out = unsafe { &mut *(out as *mut Poll<Result<F::Output, TaskError>>) };
        // SAFETY: forwarded contract.
        let (stage, meta) = unsafe { Self::stage(ptr) };
        assert_eq!(meta.stage(), StageKind::Finished, "a Task was polled again after it returned its result");
        meta.set_stage(StageKind::Consumed);
        // SAFETY: `Finished`: the output is there; it is moved out once (the
        // stage is now `Consumed`). A running future is never moved.
        *out = Poll::Ready(unsafe { ManuallyDrop::take(&mut stage.output) });
    }

    unsafe fn drop_stage(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: forwarded contract.
        let (stage, meta) = unsafe { Self::stage(ptr) };
        if meta.stage() != StageKind::Finished {
            Self::clear(stage, meta);
            return None;
        }
        meta.set_stage(StageKind::Consumed);
        // SAFETY: `Finished`: the output is there; moved out once (the stage
        // is now `Consumed`). Only the future is pinned, never the output.
        match unsafe { ManuallyDrop::take(&mut stage.output) } {
            Err(TaskError::Panicked(message)) => Some(message),
            other => {
                // The output's destructor may panic; the loop goes on.
                let _ = panics::catch_payload(|| drop(other));
                None
            }
        }
    }

    unsafe fn panic_message(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: forwarded contract.
        let (stage, meta) = unsafe { Self::stage(ptr) };
        if meta.stage() != StageKind::Finished {
            return None;
        }
        // SAFETY: `Finished`: the output is there.
        match unsafe { &*stage.output } {
            Err(TaskError::Panicked(message)) => Some(message.clone()),
            _ => None,
        }
    }

    unsafe fn schedule(ptr: NonNull<Header>, task: TaskRef) {
        // SAFETY: `task` keeps the cell (a `TaskCell<F, S>`) alive; the
        // scheduler is `Sync` and only read.
        let scheduler = unsafe { &ptr.cast::<TaskCell<F, S>>().as_ref().scheduler };
        scheduler.schedule(task);
    }

    #[inline]
    unsafe fn scheduler(ptr: NonNull<Header>) -> NonNull<dyn Schedule> {
        // SAFETY: the caller holds a reference to the live cell, a
        // `TaskCell<F, S>`; the field pointer stays valid as long as it.
        let scheduler: &dyn Schedule = unsafe { &ptr.cast::<TaskCell<F, S>>().as_ref().scheduler };
        NonNull::from(scheduler)
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the last reference is gone; the cell was made by
        // `Box::new` in `allocate` with these very types.
        let mut cell = unsafe { Box::from_raw(ptr.cast::<TaskCell<F, S>>().as_ptr()) };
        // The union has no drop glue: drop what it holds (normally nothing:
        // a task's stage is consumed on its loop before the last reference
        // goes; a future is alive only while the registry holds the task).
        let cell = &mut *cell;
        Self::clear(cell.stage.get_mut(), &cell.header.meta);
        drop(cell.header.join_waker.take(&WAKER_VTABLE));
    }
}
