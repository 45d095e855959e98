//! The bits of a task's atomic state word.
//!
//! The low bits are flags; the rest counts references (every `Waker`, the
//! run-queue entry, the loop's registry entry and the `Task<T>` handle each
//! hold one). Flags may be read from any thread; the future and its output
//! are only ever touched on the loop's thread.

/// The task is in a run queue, or about to be pushed onto one by whoever set
/// this bit. While set, further wakes are no-ops. Cleared by the loop just
/// before it polls the task, so a wake during the poll queues it again.
pub const SCHEDULED: usize = 1 << 0;

/// The future is gone (finished, panicked or cancelled) and the stage holds
/// the output or nothing. Set once, never cleared; wakes are ignored after it.
pub const COMPLETE: usize = 1 << 1;

/// `cancel()` was called before completion: the loop drops the future the
/// next time it picks the task instead of polling it. Never set on a task
/// that was already complete.
pub(crate) const CANCELLED: usize = 1 << 2;

/// A `Task<T>` handle is alive. Without it the output is dropped as soon as
/// the task completes, and a panic goes to the loop's exception handler.
pub(crate) const HANDLE: usize = 1 << 3;

/// The `Task<T>` handle was awaited (polled as a future) while the task
/// ran: dropping the handle before the task finishes then cancels the task,
/// as cancelling an awaiting coroutine cancels what it awaits in asyncio.
/// Set and read only on the loop's thread, by the handle (the handle is
/// not `Send`); set with an atomic OR, since wakers touch the same word.
pub(crate) const AWAITED: usize = 1 << 4;

/// One reference. All bits from here up are the reference count.
pub(crate) const REF_ONE: usize = 1 << 6;

/// Mask of the reference count.
pub(crate) const REF_MASK: usize = !(REF_ONE - 1);

use std::sync::atomic::{AtomicUsize, Ordering};

/// The task's state word: a std `AtomicUsize`, or loom's in the model of
/// the wake/poll race (`tests/loom.rs`), which runs these same transitions.
pub trait StateWord {
    /// `fetch_or` with `AcqRel`.
    fn fetch_or_acq_rel(&self, bits: usize) -> usize;
    /// `fetch_and` with `AcqRel`.
    fn fetch_and_acq_rel(&self, bits: usize) -> usize;
}

impl StateWord for AtomicUsize {
    fn fetch_or_acq_rel(&self, bits: usize) -> usize {
        self.fetch_or(bits, Ordering::AcqRel)
    }
    fn fetch_and_acq_rel(&self, bits: usize) -> usize {
        self.fetch_and(bits, Ordering::AcqRel)
    }
}

/// A wake, from any thread: sets `SCHEDULED`. True when the caller must
/// queue the task (it was neither queued nor complete); false when someone
/// else already did, or the task is done.
#[must_use = "when true, the caller owns queueing the task"]
pub fn transition_to_scheduled(state: &impl StateWord) -> bool {
    state.fetch_or_acq_rel(SCHEDULED) & (SCHEDULED | COMPLETE) == 0
}

/// The loop takes a queued task to poll it (loop thread only): clears
/// `SCHEDULED` *before* the poll, so that a wake arriving during the poll
/// queues the task again instead of being lost. Returns the state before.
#[must_use = "the previous state says whether the task is complete or cancelled"]
pub fn transition_to_running(state: &impl StateWord) -> usize {
    state.fetch_and_acq_rel(!SCHEDULED)
}
