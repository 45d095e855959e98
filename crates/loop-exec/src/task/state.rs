//! A task's state word and every transition of it.
//!
//! The low bits are flags; the rest counts references (every `Waker`, the
//! run-queue entry, the loop's registry entry and the `Task<T>` or
//! `ThreadsafeTask<T>` handle each hold one). Any thread may *read* the word. Each flag says below which
//! thread may *change* it; "loop thread" means the thread of the task's
//! loop, which is also the only thread that touches the future and its
//! output (the handle is `!Send`, so it lives there too).
//!
//! Every change goes through a method of [`State`] (or, for the wake/poll
//! race, the two free functions the loom model runs, `loom.rs` beside this file). The
//! methods return what the caller must act on, `#[must_use]`: a
//! [`RunAction`] for the poll, [`Release`] when a count was dropped (free
//! the cell if it was the last), a `bool` when the caller must queue the
//! task.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The task is in a run queue, or about to be pushed onto one by whoever
/// set this bit. While set, further wakes are no-ops.
///
/// Set by a wake, from **any thread**; cleared by the **loop thread** just
/// before it polls the task, so a wake during the poll queues it again.
pub const SCHEDULED: usize = 1 << 0;

/// The future is gone (finished, panicked or cancelled) and the stage holds
/// the output or nothing. Wakes are ignored after it.
///
/// Set once, by the **loop thread** (in `State::complete_releasing`);
/// never cleared.
pub const COMPLETE: usize = 1 << 1;

/// Cancellation was requested before completion: the loop drops the future
/// the next time it picks the task instead of polling it. Never set on a
/// complete task.
///
/// Set by the **loop thread** (`Task::cancel`, a dropped awaited handle,
/// the loop's close); never cleared.
pub(crate) const CANCELLED: usize = 1 << 2;

/// A `Task<T>` handle is alive. Without it the output is dropped as soon as
/// the task completes, and a panic goes to the loop's exception handler.
///
/// Set at spawn; cleared once, by the **loop thread** (the handle's drop).
pub const HANDLE: usize = 1 << 3;

/// The `Task<T>` handle was awaited (polled as a future) while the task
/// ran: dropping the handle before the task finishes then cancels the task,
/// as cancelling an awaiting coroutine cancels what it awaits in asyncio.
///
/// Set by the **loop thread** (the handle's poll), with an atomic OR since
/// wakers touch the same word; never cleared.
pub(crate) const AWAITED: usize = 1 << 4;

/// The handle is a `ThreadsafeTask<T>`, which lives on any thread: the
/// task was spawned from another thread (`LoopHandle::spawn_threadsafe`)
/// and its output is `Send`. `HANDLE` is then cleared by that thread, and
/// the join waker is handed over by the `JOIN_WAKER` protocol below instead
/// of being an owner-thread field.
///
/// Set at spawn; never changed.
pub const REMOTE: usize = 1 << 5;

/// Only with `REMOTE`: the join waker slot holds the handle's waker and
/// belongs to the loop, which may read it (to wake) but not change it.
/// While clear, the slot belongs to the handle, which may write it.
///
/// Set by the **handle's thread** (`set_join_waker`), only while the task is
/// not complete; cleared by the handle's thread before it writes the slot
/// again (`unset_join_waker`, also only before completion) or when it drops,
/// and by the **loop thread** after completion, once it has woken the waker
/// (`unset_join_waker_after_complete`).
pub const JOIN_WAKER: usize = 1 << 6;

/// One reference. All bits from here up are the reference count, changed
/// from **any thread** (wakers are cloned and dropped anywhere).
pub(crate) const REF_ONE: usize = 1 << 7;

/// Mask of the reference count.
pub(crate) const REF_MASK: usize = !(REF_ONE - 1);

/// The task's state word: a std `AtomicUsize`, or loom's in the models of
/// the wake/poll race and the cross-thread join (`loom.rs`), which run
/// these same transitions.
pub trait StateWord {
    /// `fetch_or` with `AcqRel`.
    fn fetch_or_acq_rel(&self, bits: usize) -> usize;
    /// `fetch_and` with `AcqRel`.
    fn fetch_and_acq_rel(&self, bits: usize) -> usize;
    /// `load` with `Acquire`.
    fn load_acquire(&self) -> usize;
    /// `compare_exchange_weak` with `AcqRel` / `Acquire`.
    fn compare_exchange_acq_rel(&self, current: usize, new: usize) -> Result<usize, usize>;
}

impl StateWord for AtomicUsize {
    fn fetch_or_acq_rel(&self, bits: usize) -> usize {
        self.fetch_or(bits, Ordering::AcqRel)
    }
    fn fetch_and_acq_rel(&self, bits: usize) -> usize {
        self.fetch_and(bits, Ordering::AcqRel)
    }
    fn load_acquire(&self) -> usize {
        self.load(Ordering::Acquire)
    }
    fn compare_exchange_acq_rel(&self, current: usize, new: usize) -> Result<usize, usize> {
        self.compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

/// Changes the word with `f` (a compare-exchange loop) unless the task is
/// complete. `Ok(previous)` when it changed, `Err(current)` when complete.
#[inline]
fn update_unless_complete(state: &impl StateWord, f: impl Fn(usize) -> usize) -> Result<usize, usize> {
    let mut now = state.load_acquire();
    loop {
        if now & COMPLETE != 0 {
            return Err(now);
        }
        match state.compare_exchange_acq_rel(now, f(now)) {
            Ok(prev) => return Ok(prev),
            Err(actual) => now = actual,
        }
    }
}

/// The cross-thread join, handle side (any thread): the handle wrote its
/// waker into the slot it owns and hands the slot to the loop. `Err` when
/// the task completed meanwhile: the slot stays the handle's and the output
/// is ready.
#[must_use = "on Err the task is complete: take the output"]
pub fn set_join_waker(state: &impl StateWord) -> Result<usize, usize> {
    update_unless_complete(state, |s| s | JOIN_WAKER)
}

/// The cross-thread join, handle side: takes the slot back (to store a
/// different waker). `Err` when the task completed meanwhile: the loop is
/// reading the slot, which must not change; the output is ready.
#[must_use = "on Err the task is complete and the slot is not the handle's"]
pub fn unset_join_waker(state: &impl StateWord) -> Result<usize, usize> {
    update_unless_complete(state, |s| s & !JOIN_WAKER)
}

/// The cross-thread join, loop side: the one completion, setting
/// `COMPLETE` (the output is in the stage, published by this step). The
/// previous word says whether a waker is in the slot (`JOIN_WAKER`) and
/// whether the handle still exists (`HANDLE`).
#[must_use = "the previous word says who to wake and who owns the output"]
pub fn complete_remote(state: &impl StateWord) -> usize {
    state.fetch_or_acq_rel(COMPLETE)
}

/// The cross-thread join, loop side: after waking the slot's waker, hands
/// the slot back. Returns the previous word.
pub fn unset_join_waker_after_complete(state: &impl StateWord) -> usize {
    state.fetch_and_acq_rel(!JOIN_WAKER)
}

/// The cross-thread join, handle side: the handle goes. Clears `HANDLE`,
/// and before completion also `JOIN_WAKER` (the slot is the handle's again,
/// to empty). Returns the previous word: with `COMPLETE` set the output is
/// the handle's to drop; without, the loop drops it when the task ends.
pub fn drop_remote_handle(state: &impl StateWord) -> usize {
    let mut now = state.load_acquire();
    loop {
        let next = if now & COMPLETE != 0 { now & !HANDLE } else { now & !(HANDLE | JOIN_WAKER) };
        match state.compare_exchange_acq_rel(now, next) {
            Ok(prev) => return prev,
            Err(actual) => now = actual,
        }
    }
}

/// A wake, from any thread: sets `SCHEDULED`. True when the caller must
/// queue the task (it was neither queued nor complete); false when someone
/// else already did, or the task is done.
#[must_use = "when true, the caller owns queueing the task"]
#[inline(always)]
pub fn transition_to_scheduled(state: &impl StateWord) -> bool {
    state.fetch_or_acq_rel(SCHEDULED) & (SCHEDULED | COMPLETE) == 0
}

/// The loop takes a queued task to poll it (loop thread only): clears
/// `SCHEDULED` *before* the poll, so that a wake arriving during the poll
/// queues the task again instead of being lost. Returns the state before.
#[must_use = "the previous state says whether the task is complete or cancelled"]
#[inline(always)]
pub fn transition_to_running(state: &impl StateWord) -> usize {
    state.fetch_and_acq_rel(!SCHEDULED)
}

/// What the loop does with a task it took from the run queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the task must be polled, cancelled or skipped as told"]
pub(crate) enum RunAction {
    /// Poll the future.
    Poll,
    /// Cancellation was requested: drop the future instead, and complete.
    Cancel,
    /// Already complete (a stale queue entry): just drop the reference.
    Skip,
}

/// Dropped a reference: whether it was the last, so the cell must be freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "when `Last`, the caller must free the cell"]
pub(crate) enum Release {
    /// Other references remain.
    Shared,
    /// That was the last one: free the cell.
    Last,
}

/// A snapshot of the word, read from any thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    #[inline(always)]
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    #[inline]
    pub(crate) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }
    #[inline(always)]
    pub(crate) fn is_cancel_requested(self) -> bool {
        self.0 & CANCELLED != 0
    }
    #[inline(always)]
    pub(crate) fn has_handle(self) -> bool {
        self.0 & HANDLE != 0
    }
    /// The handle is a `ThreadsafeTask` (see `REMOTE`).
    #[inline(always)]
    pub(crate) fn is_remote(self) -> bool {
        self.0 & REMOTE != 0
    }
    /// The loop owns the join waker slot (see `JOIN_WAKER`).
    #[inline]
    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    /// The number of references.
    #[inline]
    pub(crate) fn refs(self) -> usize {
        (self.0 & REF_MASK) / REF_ONE
    }
    /// Wraps a word read by one of the free transitions.
    #[inline]
    pub(crate) fn of(word: usize) -> Snapshot {
        Snapshot(word)
    }
    /// Awaited and not complete: dropping the handle now cancels the task.
    #[inline]
    pub(crate) fn is_awaited_running(self) -> bool {
        self.0 & (AWAITED | COMPLETE) == AWAITED
    }
}

/// The state word of one task.
pub(crate) struct State(AtomicUsize);

impl State {
    /// A new task's word: scheduled (it is queued at spawn), with a handle,
    /// and `refs` references.
    #[inline]
    pub(crate) fn new_spawned(refs: usize) -> State {
        State(AtomicUsize::new(SCHEDULED | HANDLE | (refs * REF_ONE)))
    }

    /// A task spawned from another thread: as `new_spawned`, with a
    /// `ThreadsafeTask` handle (`REMOTE`).
    #[inline]
    pub(crate) fn new_remote(refs: usize) -> State {
        State(AtomicUsize::new(SCHEDULED | HANDLE | REMOTE | (refs * REF_ONE)))
    }

    /// The word itself, for the cross-thread join's transitions (the free
    /// functions above).
    #[inline(always)]
    pub(crate) fn word(&self) -> &AtomicUsize {
        &self.0
    }

    /// The flags as they are now (any thread).
    #[inline(always)]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// A wake (any thread); see [`transition_to_scheduled`].
    #[must_use = "when true, the caller owns queueing the task"]
    #[inline(always)]
    pub(crate) fn transition_to_scheduled(&self) -> bool {
        transition_to_scheduled(&self.0)
    }

    /// The loop picks the task from its run queue (loop thread); see
    /// [`transition_to_running`].
    #[inline(always)]
    pub(crate) fn transition_to_running(&self) -> RunAction {
        let prev = transition_to_running(&self.0);
        if prev & COMPLETE != 0 {
            RunAction::Skip
        } else if prev & CANCELLED != 0 {
            RunAction::Cancel
        } else {
            RunAction::Poll
        }
    }

    /// Requests cancellation (loop thread). False when the task is already
    /// complete (nothing changes then).
    #[must_use = "when true, the task must be woken so the loop sees the request"]
    #[inline]
    pub(crate) fn request_cancel(&self) -> bool {
        let mut state = self.0.load(Ordering::Acquire);
        loop {
            if state & COMPLETE != 0 {
                return false;
            }
            match self.0.compare_exchange_weak(state, state | CANCELLED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// The handle is being awaited (loop thread).
    #[inline]
    pub(crate) fn mark_awaited(&self) {
        if self.0.load(Ordering::Relaxed) & AWAITED == 0 {
            self.0.fetch_or(AWAITED, Ordering::Relaxed);
        }
    }

    /// The one completion (loop thread, once per task): sets `COMPLETE` and
    /// drops `refs` references (0 to 2) in a single atomic step.
    #[inline(always)]
    pub(crate) fn complete_releasing(&self, refs: usize) -> Release {
        // COMPLETE is clear (only this call sets it) and below REF_ONE, so
        // subtracting `refs * REF_ONE - COMPLETE` drops the counts and sets it.
        let prev = self.0.fetch_sub(refs * REF_ONE - COMPLETE, Ordering::AcqRel);
        debug_assert_eq!(prev & COMPLETE, 0, "a task completed twice");
        Self::released(prev, refs)
    }

    /// The handle goes (loop thread, once): clears `HANDLE` and drops the
    /// handle's reference in one step.
    #[inline(always)]
    pub(crate) fn release_handle(&self) -> Release {
        let prev = self.0.fetch_sub(REF_ONE + HANDLE, Ordering::AcqRel);
        debug_assert_ne!(prev & HANDLE, 0, "a task handle was released twice");
        Self::released(prev, 1)
    }

    /// One more reference (any thread).
    #[inline(always)]
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            // As `Arc` does: a count this large means references are leaked
            // in a loop; continuing could overflow into use-after-free.
            std::process::abort();
        }
    }

    /// One reference less (any thread).
    #[inline(always)]
    pub(crate) fn ref_dec(&self) -> Release {
        let prev = self.0.fetch_sub(REF_ONE, Ordering::AcqRel);
        Self::released(prev, 1)
    }

    /// `refs` references less in one step (any thread).
    #[inline]
    pub(crate) fn ref_dec_many(&self, refs: usize) -> Release {
        let prev = self.0.fetch_sub(refs * REF_ONE, Ordering::AcqRel);
        Self::released(prev, refs)
    }

    #[inline(always)]
    fn released(prev: usize, refs: usize) -> Release {
        if refs > 0 && prev & REF_MASK == refs * REF_ONE {
            Release::Last
        } else {
            Release::Shared
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transitions_of_one_task_life() {
        let s = State::new_spawned(3);
        assert!(s.load().is_scheduled() && s.load().has_handle());
        assert!(!s.transition_to_scheduled(), "already queued");
        assert_eq!(s.transition_to_running(), RunAction::Poll);
        assert!(s.transition_to_scheduled(), "a wake during the poll queues it again");
        assert_eq!(s.ref_dec(), Release::Shared);
        s.mark_awaited();
        assert!(s.load().is_awaited_running());
        assert!(s.request_cancel());
        assert_eq!(s.transition_to_running(), RunAction::Cancel);
        assert_eq!(s.complete_releasing(1), Release::Shared);
        assert!(s.load().is_complete() && !s.load().is_awaited_running());
        assert!(!s.request_cancel(), "complete: nothing to cancel");
        assert!(!s.transition_to_scheduled(), "complete: wakes are ignored");
        assert_eq!(s.transition_to_running(), RunAction::Skip);
        assert_eq!(s.release_handle(), Release::Last);
    }
}
