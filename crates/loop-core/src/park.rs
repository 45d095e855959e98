//! The handshake between a loop going to sleep and the threads that wake
//! it: written once, generic over the flag, so that the reactor runs it
//! with a std atomic and the loom model (`loom.rs`) with loom's.
//!
//! The rule it keeps: a wake-up queued by another thread is never lost
//! while the loop parks. The loop announces `parked` *before* it looks at
//! its queues one last time; a waker queues its work *before* it looks at
//! `parked`. Each side puts a `SeqCst` fence between its write and its
//! read (the loop: announce, fence, look; the waker: queue, fence, look at
//! the flag). The two fences are ordered one way or the other: if the
//! waker's comes first, the loop's look sees the queued work; if the
//! loop's comes first, the waker sees `parked` set and interrupts the wait
//! (the OS notification is sticky, so an interrupt sent before the wait
//! starts still ends it).
//!
//! The waker *reads* the flag and swaps it only when it is set (one
//! interrupt for many simultaneous wakers: the first swap clears it). A
//! busy loop never has the flag set, so a stream of remote pushes leaves
//! its cache line shared between the threads, where a swap at every push
//! took the line from the loop each time (A/B in issue 27's note:
//! a third of `push_remote`'s time under remote spawns went to that swap).
//!
//! History: the announcement was once a plain `SeqCst` store and the
//! waker's side a swap, with no fences; that is the store-buffering
//! pattern, which the C++ memory model does not order, and the loom model
//! found the lost wake-up. Then both sides swapped. Now both sides fence,
//! which the model checks (its queue is lock-free, as the real one).

use std::sync::atomic::Ordering;

/// The `parked` flag: a std `AtomicBool`, or loom's in the model, with the
/// fence of the same world (see the module docs for the protocol).
pub trait ParkFlag {
    /// Swaps in `v`, returning the old value (`SeqCst`).
    fn swap_flag(&self, v: bool) -> bool;
    /// Reads the flag (`Relaxed`: the fence before it orders it).
    fn load_flag(&self) -> bool;
    /// A `SeqCst` fence.
    fn fence(&self);
}

impl ParkFlag for std::sync::atomic::AtomicBool {
    #[inline]
    fn swap_flag(&self, v: bool) -> bool {
        self.swap(v, Ordering::SeqCst)
    }
    #[inline]
    fn load_flag(&self) -> bool {
        self.load(Ordering::Relaxed)
    }
    #[inline]
    fn fence(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
    }
}

/// The loop's side: announce, look (`may_block` is true when nothing is
/// queued), then wait (`wait(true)` may block, `wait(false)` must only
/// poll), then retract the announcement.
pub fn park_with<F: ParkFlag, R>(parked: &F, may_block: impl FnOnce() -> bool, wait: impl FnOnce(bool) -> R) -> R {
    parked.swap_flag(true);
    parked.fence();
    let block = may_block();
    let result = wait(block);
    parked.swap_flag(false);
    result
}

/// A waker's side, after it has queued its work: interrupt the wait only
/// if the loop has announced that it parks (one interrupt for many
/// simultaneous wakers: the first clears the flag). Returns whether it
/// interrupted.
#[inline]
pub fn notify_with<F: ParkFlag>(parked: &F, interrupt: impl FnOnce()) -> bool {
    parked.fence();
    if parked.load_flag() && parked.swap_flag(false) {
        interrupt();
        true
    } else {
        false
    }
}
