//! The handshake between a loop going to sleep and the threads that wake
//! it: written once, generic over the flag, so that the reactor runs it
//! with a std atomic and the loom model (`loom.rs`) with loom's.
//!
//! The rule it keeps: a wake-up queued by another thread is never lost
//! while the loop parks. The loop announces `parked` *before* it looks at
//! its queues one last time; a waker queues its work *before* it looks at
//! `parked`. Both sides access the flag with read-modify-writes: if the
//! waker's swap comes first, the loop's announcement reads what it wrote
//! and so synchronizes with it, and the loop's look sees the queued work;
//! if the announcement comes first, the waker's swap reads `true` and
//! interrupts the wait (the OS notification is sticky, so an interrupt
//! sent before the wait starts still ends it).
//!
//! The announcement used to be a plain `SeqCst` store. Then the argument
//! needs the store and the queue's (non-`SeqCst`) look to stay in order,
//! the store-buffering pattern, which the C++ memory model does not promise
//! (x86 happens to, its `SeqCst` store being an `xchg`). The loom model
//! found that lost wake-up; with a swap it passes. Parking costs a system
//! call, so the swap is not measurable.

use std::sync::atomic::Ordering;

/// The `parked` flag: a std `AtomicBool`, or loom's in the model. Every
/// access is a `SeqCst` swap (see the module docs for why not a store).
pub trait ParkFlag {
    /// Swaps in `v`, returning the old value (`SeqCst`).
    fn swap_flag(&self, v: bool) -> bool;
}

impl ParkFlag for std::sync::atomic::AtomicBool {
    fn swap_flag(&self, v: bool) -> bool {
        self.swap(v, Ordering::SeqCst)
    }
}

/// The loop's side: announce, look (`may_block` is true when nothing is
/// queued), then wait (`wait(true)` may block, `wait(false)` must only
/// poll), then retract the announcement.
pub fn park_with<F: ParkFlag, R>(parked: &F, may_block: impl FnOnce() -> bool, wait: impl FnOnce(bool) -> R) -> R {
    parked.swap_flag(true);
    let block = may_block();
    let result = wait(block);
    parked.swap_flag(false);
    result
}

/// A waker's side, after it has queued its work: interrupt the wait only
/// if the loop has announced that it parks (one interrupt for many
/// simultaneous wakers: the first clears the flag). Returns whether it
/// interrupted.
pub fn notify_with<F: ParkFlag>(parked: &F, interrupt: impl FnOnce()) -> bool {
    if parked.swap_flag(false) {
        interrupt();
        true
    } else {
        false
    }
}
