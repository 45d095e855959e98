//! The task cell: one allocation holding header, future and output, and the
//! raw waker vtable over a pointer to it.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::state::{CANCELLED, COMPLETE, HANDLE, REF_MASK, REF_ONE};
use super::{TaskError, TaskId};
use crate::shared::LoopShared;

/// What the loop knows about a task, for `all_tasks()` and error messages.
/// Only touched on the loop's thread.
#[repr(C)] // `packed`, touched on every poll, first: next to the header's `state`
pub(crate) struct TaskMeta {
    /// Bits 0-23: index of the task's entry in the loop's registry of live
    /// tasks. Bits 24-31: the `WaitKind::code` of what the task waits on (0:
    /// nothing reported), set by the leaf future that last returned
    /// `Pending` and cleared at every poll. Bit 32: whether the previous
    /// poll ended with a wait reported (so a report in this poll can tell a
    /// continuing wait from a new one). Bits 33-63: the number of polls
    /// (saturating). Packed to keep tasks small, and so that the per-poll
    /// bookkeeping is one load and one store.
    packed: Cell<u64>,
    /// Unique in the process.
    pub(crate) id: TaskId,
    /// Set through the task builder. `Box<String>` on purpose: a thin
    /// pointer keeps every task 8 bytes smaller; only named tasks pay.
    #[allow(clippy::box_collection)]
    pub(crate) name: Option<Box<String>>,
    /// Where `spawn` was called.
    pub(crate) location: &'static Location<'static>,
    /// When the task was spawned: the loop's clock tick (ms, wrapping) at
    /// the start of that turn.
    pub(crate) created_tick: u32,
    /// Loop tick (ms, wrapping) when that wait began.
    pub(crate) waiting_since: Cell<u32>,
    /// The source location of the wait.
    pub(crate) waiting_at: Cell<Option<&'static Location<'static>>>,
    /// Time spent inside the future's `poll`, in nanoseconds: every poll
    /// timed in debug mode, else an unbiased estimate from sampled turns
    /// (see `LoopInner::sample_turn`).
    pub(crate) busy_ns: Cell<u64>,
}

/// The first part of every task cell, whatever its future type.
///
/// `state` and `shared` are used from any thread (by wakers); everything
/// else only on the loop's thread.
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count (see `state.rs`).
    pub(crate) state: AtomicUsize,
    /// Functions that know the concrete future type.
    vtable: &'static TaskVtable,
    /// The loop the task belongs to: where wakes are sent.
    pub(crate) shared: Arc<LoopShared>,
    /// Waker of whoever awaits the `Task<T>` handle.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    /// Name, id, location, counters.
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
    /// Drops whatever the stage holds, leaving it consumed.
    drop_stage: unsafe fn(NonNull<Header>),
    /// The panic message, if the task ended in a panic.
    panic_message: unsafe fn(NonNull<Header>) -> Option<String>,
    /// Frees the cell.
    dealloc: unsafe fn(NonNull<Header>),
}

/// What the cell holds besides the header.
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, TaskError>),
    Consumed,
}

/// The whole allocation. `repr(C)` puts the header first, so a pointer to
/// the cell is a pointer to its header.
#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// An owned reference to a task cell (one count of its reference count).
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

// SAFETY: a `TaskRef` may travel to other threads (in the injection queue or
// inside a `Waker`). Off the loop's thread it is only used to touch the
// atomic `state`, the `Arc<LoopShared>`, and to drop the reference. The
// future and output are only touched by the loop's thread: a task whose
// future is alive is always referenced by the loop's registry, so the last
// reference can only be dropped elsewhere once the future is gone, and the
// output of a task is dropped by its (non-`Send`) handle or by the loop.
unsafe impl Send for TaskRef {}
// SAFETY: as for `Send`: shared access from other threads only touches
// the atomic state and the `Arc`.
unsafe impl Sync for TaskRef {}

/// Registry slots must fit in 24 bits (see `TaskMeta::packed`).
pub(crate) const MAX_SLOT: u32 = (1 << 24) - 1;

/// The wait-code bits of `TaskMeta::packed`.
const WAIT_BITS: u64 = 0xFF << 24;
/// `TaskMeta::packed`: the previous poll ended waiting.
const WAITED_BEFORE: u64 = 1 << 32;
/// `TaskMeta::packed`: one poll in the count.
const ONE_POLL: u64 = 1 << 33;

impl TaskMeta {
    /// Bookkeeping for a task in registry slot 0, not waiting, never polled.
    #[allow(clippy::box_collection)] // see `name`
    pub(crate) fn new(
        id: TaskId,
        name: Option<Box<String>>,
        location: &'static Location<'static>,
        created_tick: u32,
    ) -> TaskMeta {
        TaskMeta {
            id,
            name,
            location,
            packed: Cell::new(0),
            created_tick,
            waiting_since: Cell::new(0),
            waiting_at: Cell::new(None),
            busy_ns: Cell::new(0),
        }
    }

    /// The task's registry slot.
    pub(crate) fn registry_slot(&self) -> usize {
        (self.packed.get() as u32 & MAX_SLOT) as usize
    }

    /// Records the task's registry slot (at most `MAX_SLOT`).
    pub(crate) fn set_registry_slot(&self, slot: u32) {
        debug_assert!(slot <= MAX_SLOT);
        self.packed.set((self.packed.get() & !u64::from(MAX_SLOT)) | u64::from(slot));
    }

    /// Number of polls so far (saturating).
    pub(crate) fn polls(&self) -> u32 {
        (self.packed.get() >> 33) as u32
    }

    /// What the task waits on, if reported.
    pub(crate) fn waiting_kind(&self) -> Option<loop_sync::WaitKind> {
        loop_sync::WaitKind::from_code((self.packed.get() >> 24) as u8)
    }

    /// At the start of a poll: counts it, and turns "waits on ..." into
    /// "waited before this poll" (branch-free: this runs on every poll).
    pub(crate) fn start_poll(&self) {
        let packed = self.packed.get();
        let waited = u64::from(packed & WAIT_BITS != 0) << 32;
        // The count is the top bits: adding to it overflows only at the
        // largest count, where it stays.
        let counted = packed.checked_add(ONE_POLL).unwrap_or(packed);
        self.packed.set((counted & !(WAIT_BITS | WAITED_BEFORE)) | waited);
    }

    /// Records that the task now waits on `kind` at `at`, during a poll.
    /// `first` holds, for the first report of this poll, where and since
    /// when the task waited when the poll began: a poll that ends waiting
    /// where the previous one did continues that wait (keeps its start),
    /// even if an outer future refined an inner one's report in between.
    pub(crate) fn record_wait(
        &self,
        kind: loop_sync::WaitKind,
        at: &'static Location<'static>,
        now_tick: u32,
        first: &Cell<(Option<&'static Location<'static>>, u32)>,
    ) {
        let packed = self.packed.get();
        if packed & WAIT_BITS == 0 {
            let before = if packed & WAITED_BEFORE != 0 { self.waiting_at.get() } else { None };
            first.set((before, self.waiting_since.get()));
        }
        let (before, since) = first.get();
        self.waiting_since.set(if before == Some(at) { since } else { now_tick });
        self.waiting_at.set(Some(at));
        self.packed.set((packed & !WAIT_BITS) | (u64::from(kind.code()) << 24));
    }
}

impl TaskRef {
    /// Allocates a task cell with reference count `refs` and the given
    /// initial flags, and returns one reference per requested count as a
    /// single `TaskRef` (callers split it with `from_raw`).
    pub(crate) fn allocate<F>(future: F, shared: Arc<LoopShared>, meta: TaskMeta, flags: usize, refs: usize) -> TaskRef
    where
        F: Future + 'static,
    {
        let cell = Box::new(TaskCell {
            header: Header {
                state: AtomicUsize::new(flags | (refs * REF_ONE)),
                vtable: &TaskCell::<F>::VTABLE,
                shared,
                join_waker: UnsafeCell::new(None),
                meta,
            },
            stage: UnsafeCell::new(Stage::Running(future)),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        TaskRef { ptr }
    }

    /// Makes another owned reference from a count already added to the
    /// reference count (see `allocate`'s `refs`).
    ///
    /// # Safety
    /// The caller must own one reference count that no other `TaskRef` or
    /// waker accounts for.
    pub(crate) unsafe fn from_counted(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    /// The raw pointer (no reference transferred).
    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// The header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we own a reference, so the cell is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Adds a reference and returns it.
    pub(crate) fn clone_ref(&self) -> TaskRef {
        inc_ref(self.header());
        TaskRef { ptr: self.ptr }
    }

    /// A waker that borrows this reference (no count added). Cloning it
    /// adds a reference as usual.
    pub(crate) fn borrowed_waker(&self) -> ManuallyDrop<Waker> {
        // SAFETY: the vtable's functions uphold the RawWaker contract; the
        // ManuallyDrop makes sure this borrowed waker never drops a count
        // it does not own.
        ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(self.ptr.as_ptr() as *const (), &WAKER_VTABLE)) })
    }

    /// Polls the future. Loop thread only; the task must not be complete.
    /// Returns true when the future finished (or panicked).
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> bool {
        let header = self.header();
        // SAFETY: called only on the loop's thread (the only place the stage
        // is touched) while the future is still running.
        unsafe { (header.vtable.poll)(self.ptr, cx) }
    }

    /// Drops the future and stores `Cancelled`. Loop thread only.
    pub(crate) fn cancel_now(&self) {
        // SAFETY: loop thread only; the vtable matches the cell.
        unsafe { (self.header().vtable.cancel)(self.ptr) }
    }

    /// Drops the stored output, if any. Loop thread (or handle's thread) only.
    pub(crate) fn drop_stage(&self) {
        // SAFETY: only the loop's thread and the non-Send handle call this.
        unsafe { (self.header().vtable.drop_stage)(self.ptr) }
    }

    /// The message of the panic the task ended in, if it did.
    pub(crate) fn panic_message(&self) -> Option<String> {
        // SAFETY: loop-thread only, as for `drop_stage`.
        unsafe { (self.header().vtable.panic_message)(self.ptr) }
    }

    /// Moves the output into `out`, a `*mut Poll<Result<T, TaskError>>`.
    ///
    /// # Safety
    /// `T` must be the output type of the task's future, and the task
    /// complete.
    pub(crate) unsafe fn take_output<T>(&self, out: &mut Poll<Result<T, TaskError>>) {
        // SAFETY: the caller guarantees that `T` matches.
        unsafe { (self.header().vtable.take_output)(self.ptr, out as *mut _ as *mut ()) }
    }

    /// Sets `SCHEDULED` unless already set or complete; true when the caller
    /// must now push a reference onto a run queue.
    pub(crate) fn mark_scheduled(&self) -> bool {
        mark_scheduled(self.header())
    }
}

impl TaskRef {
    /// Marks the task complete and drops two references — this one and one
    /// more the caller owns and has forgotten (the registry's) — in a single
    /// atomic step. Loop thread only, and only once per task.
    pub(crate) fn complete_releasing_two(self) {
        let ptr = ManuallyDrop::new(self).ptr;
        // SAFETY: we own two references, so the header is alive.
        let header = unsafe { ptr.as_ref() };
        // COMPLETE is clear (only this call sets it) and below REF_ONE, so
        // subtracting `2 * REF_ONE - COMPLETE` drops two counts and sets it.
        let prev = header.state.fetch_sub(2 * REF_ONE - COMPLETE, Ordering::AcqRel);
        debug_assert_eq!(prev & COMPLETE, 0, "a task completed twice");
        if prev & REF_MASK == 2 * REF_ONE {
            // SAFETY: those were the last references.
            unsafe { (header.vtable.dealloc)(ptr) }
        }
    }

    /// Clears `HANDLE` and drops this reference (the handle's) in a single
    /// atomic step.
    pub(crate) fn release_handle(self) {
        let ptr = ManuallyDrop::new(self).ptr;
        // SAFETY: we own a reference, so the header is alive.
        let header = unsafe { ptr.as_ref() };
        let prev = header.state.fetch_sub(REF_ONE + HANDLE, Ordering::AcqRel);
        debug_assert_ne!(prev & HANDLE, 0, "a task handle was released twice");
        if prev & REF_MASK == REF_ONE {
            // SAFETY: that was the last reference.
            unsafe { (header.vtable.dealloc)(ptr) }
        }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { dec_ref(self.ptr) }
    }
}

/// Adds one reference.
fn inc_ref(header: &Header) {
    let prev = header.state.fetch_add(REF_ONE, Ordering::Relaxed);
    if prev > isize::MAX as usize {
        // As `Arc` does: a count this large means references are leaked in
        // a loop; continuing could overflow into use-after-free.
        std::process::abort();
    }
}

/// Drops one reference, freeing the cell when it was the last.
///
/// # Safety
/// The caller owns one reference to the live cell at `ptr`.
unsafe fn dec_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller owns a reference, so the header is alive.
    let header = unsafe { ptr.as_ref() };
    let prev = header.state.fetch_sub(REF_ONE, Ordering::AcqRel);
    if prev & REF_MASK == REF_ONE {
        // SAFETY: that was the last reference; nobody else can reach the cell.
        unsafe { (header.vtable.dealloc)(ptr) }
    }
}

/// Sets `SCHEDULED`; true when it was clear and the task is not complete.
fn mark_scheduled(header: &Header) -> bool {
    super::state::transition_to_scheduled(&header.state)
}

/// Marks the task complete and returns the previous state.
pub(crate) fn mark_complete(header: &Header) -> usize {
    header.state.fetch_or(COMPLETE, Ordering::AcqRel)
}

/// Requests cancellation; false when the task is already complete.
pub(crate) fn mark_cancelled(header: &Header) -> bool {
    let mut state = header.state.load(Ordering::Acquire);
    loop {
        if state & COMPLETE != 0 {
            return false;
        }
        match header.state.compare_exchange_weak(state, state | CANCELLED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => state = now,
        }
    }
}

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// `RawWaker::clone`: one more reference.
unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: a waker's pointer is a live task header it holds a count on.
    let header = unsafe { &*(ptr as *const Header) };
    inc_ref(header);
    RawWaker::new(ptr, &WAKER_VTABLE)
}

/// `Waker::wake`: schedules the task, handing our reference to the queue.
unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: the waker owns one reference to this live header.
    let task = unsafe { TaskRef::from_counted(NonNull::new_unchecked(ptr as *mut Header)) };
    if task.mark_scheduled() {
        crate::inner::schedule(task);
    }
}

/// `Waker::wake_by_ref`: schedules the task with a new reference.
unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker holds a reference, so the header is alive.
    let header = unsafe { &*(ptr as *const Header) };
    if mark_scheduled(header) {
        inc_ref(header);
        // SAFETY: the count just added is handed to the new TaskRef.
        let task = unsafe { TaskRef::from_counted(NonNull::new_unchecked(ptr as *mut Header)) };
        crate::inner::schedule(task);
    }
}

/// `Waker::drop`: one reference less.
unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: the waker owned one reference.
    unsafe { dec_ref(NonNull::new_unchecked(ptr as *mut Header)) }
}

impl<F: Future + 'static> TaskCell<F> {
    const VTABLE: TaskVtable = TaskVtable {
        poll: Self::poll,
        cancel: Self::cancel,
        take_output: Self::take_output,
        drop_stage: Self::drop_stage,
        panic_message: Self::panic_message,
        dealloc: Self::dealloc,
    };

    /// The stage of the cell at `ptr`.
    ///
    /// # Safety
    /// `ptr` is a live `TaskCell<F>` and the caller is on the loop's thread,
    /// the only place the stage is accessed, with no other borrow of it live.
    #[allow(clippy::mut_from_ref)]
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> &'a mut Stage<F> {
        // SAFETY: per the function's contract.
        unsafe { &mut *ptr.cast::<TaskCell<F>>().as_ref().stage.get() }
    }

    /// Replaces the stage, dropping the old one *in place* — the future is
    /// pinned and may point into itself, so it must never be moved — and
    /// even if its destructor panics. Returns that panic's message.
    fn set_stage(stage: &mut Stage<F>, new: Stage<F>) -> Option<String> {
        let ptr: *mut Stage<F> = stage;
        // A future's or output's destructor may panic: the task still ends
        // in a defined state and the loop goes on. If it panics, the drop
        // glue has still dropped every other field during the unwind, so the
        // place holds no live value either way.
        // SAFETY: `ptr` comes from a live `&mut` and the value is dropped
        // exactly once; nothing reads it before the write below.
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe { std::ptr::drop_in_place(ptr) }));
        // SAFETY: the place is valid for writes and holds no live value.
        unsafe { std::ptr::write(ptr, new) };
        dropped.err().map(|payload| panic_payload_message(&*payload))
    }

    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> bool {
        // SAFETY: forwarded contract of the vtable entry.
        let stage = unsafe { Self::stage(ptr) };
        let Stage::Running(future) = stage else { unreachable!("a task was polled after its future was gone") };
        // SAFETY: the future lives inside the heap cell and is never moved
        // until it is dropped in place.
        let future = unsafe { Pin::new_unchecked(future) };
        match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(output)) => {
                Self::set_stage(stage, Stage::Finished(Ok(output)));
                true
            }
            Err(payload) => {
                let message = panic_payload_message(&*payload);
                Self::set_stage(stage, Stage::Finished(Err(TaskError::Panicked(message))));
                true
            }
        }
    }

    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: forwarded contract.
        let stage = unsafe { Self::stage(ptr) };
        // A future whose destructor panics while it is cancelled failed in
        // its cleanup: the task ends `Panicked`, not `Cancelled` (as in
        // tokio), so a `TaskGroup` reports it.
        if let Some(message) = Self::set_stage(stage, Stage::Finished(Err(TaskError::Cancelled))) {
            *stage = Stage::Finished(Err(TaskError::Panicked(message)));
        }
    }

    unsafe fn take_output(ptr: NonNull<Header>, out: *mut ()) {
        // SAFETY: forwarded contract: `out` points at a
        // `Poll<Result<F::Output, TaskError>>`.
        let out = unsafe { &mut *(out as *mut Poll<Result<F::Output, TaskError>>) };
        // SAFETY: forwarded contract.
        let stage = unsafe { Self::stage(ptr) };
        assert!(matches!(stage, Stage::Finished(_)), "a Task was polled again after it returned its result");
        // Only the output is moved out; a running future is never moved.
        if let Stage::Finished(result) = std::mem::replace(stage, Stage::Consumed) {
            *out = Poll::Ready(result);
        }
    }

    unsafe fn drop_stage(ptr: NonNull<Header>) {
        // SAFETY: forwarded contract.
        let stage = unsafe { Self::stage(ptr) };
        Self::set_stage(stage, Stage::Consumed);
    }

    unsafe fn panic_message(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: forwarded contract.
        match unsafe { Self::stage(ptr) } {
            Stage::Finished(Err(TaskError::Panicked(message))) => Some(message.clone()),
            _ => None,
        }
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the last reference is gone; the cell was made by
        // `Box::new` in `allocate` with this very type.
        drop(unsafe { Box::from_raw(ptr.cast::<TaskCell<F>>().as_ptr()) });
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

#[cfg(test)]
mod meta_tests {
    use super::*;

    #[test]
    fn packed_fields_stay_apart_and_the_poll_count_saturates() {
        let meta = TaskMeta::new(TaskId::from_u64(7), None, Location::caller(), 0);
        let first = Cell::new((None, 0));
        let (here, there) = (Location::caller(), Location::caller());
        meta.set_registry_slot(MAX_SLOT);
        meta.start_poll();
        meta.record_wait(loop_sync::WaitKind::Blocking, here, 10, &first);
        assert_eq!((meta.registry_slot(), meta.polls()), (MAX_SLOT as usize, 1));
        assert_eq!(meta.waiting_kind(), Some(loop_sync::WaitKind::Blocking));
        assert_eq!(meta.waiting_since.get(), 10);
        // Polled again, waiting at the same place (after an inner report
        // elsewhere): the wait goes on.
        meta.start_poll();
        assert_eq!(meta.waiting_kind(), None, "a poll clears the report");
        meta.record_wait(loop_sync::WaitKind::Lock, there, 20, &first);
        meta.record_wait(loop_sync::WaitKind::Blocking, here, 20, &first);
        assert_eq!((meta.waiting_since.get(), meta.polls()), (10, 2));
        // A poll that reports nothing, then the same place again: a new wait.
        meta.start_poll();
        meta.start_poll();
        meta.record_wait(loop_sync::WaitKind::Blocking, here, 30, &first);
        assert_eq!((meta.waiting_since.get(), meta.polls()), (30, 4));
        assert_eq!(meta.registry_slot(), MAX_SLOT as usize);
        meta.packed.set((!WAIT_BITS & !u64::from(MAX_SLOT)) | 5);
        meta.start_poll();
        assert_eq!((meta.registry_slot(), meta.polls()), (5, u32::MAX >> 1), "saturated");
    }
}
