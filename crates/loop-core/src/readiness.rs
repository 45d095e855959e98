//! The readiness protocol of one direction of a source, written once and
//! generic over the state word and the waker list, so that sources run it
//! with std's atomic and mutex and the loom model (`loom.rs`) with
//! loom's.
//!
//! The state word is `READY | CLOSED | ticks * TICK`. Any thread may poll
//! (sockets are `Send + Sync`); the reactor's thread sets readiness. Two
//! races, both kept from losing a wake-up:
//! - a poll that finds the direction not ready registers its waker, then
//!   looks again *under the waker lock*; the reactor sets `READY` before it
//!   takes that lock to wake, so the event is either seen by the second look
//!   or finds the waker;
//! - an operation that would block clears `READY` with a compare-exchange
//!   against the word it was attempted under: if an event arrived in
//!   between (the tick moved), the clear fails and the direction stays
//!   ready, so the edge is not forgotten.

use std::task::Waker;

/// The OS said ready, and no operation has since found it would block.
pub const READY: u32 = 1;
/// Hung up or failed: operations no longer block; readiness never clears.
/// (An edge for EOF may arrive together with the last data; forgetting it
/// after a short read would wait forever.)
pub const CLOSED: u32 = 2;
/// One readiness event; the bits from here up count them (wrapping).
pub const TICK: u32 = 4;

/// The state word: a std `AtomicU32`, or loom's in the model.
pub trait StateWord {
    /// `load(Acquire)`.
    fn load_acquire(&self) -> u32;
    /// `compare_exchange(current, new, AcqRel, Relaxed)`; true on success.
    fn compare_exchange(&self, current: u32, new: u32) -> bool;
    /// `fetch_update(AcqRel, Acquire, f)`.
    fn update(&self, f: impl FnMut(u32) -> u32);
}

/// The waiting tasks' wakers behind a lock: std's mutex, or loom's.
pub trait WakerList {
    /// Runs `f` with the list locked.
    fn with<R>(&self, f: impl FnOnce(&mut Vec<Waker>) -> R) -> R;
}

/// A poll: `Some(state)` when ready (the word to clear against later);
/// otherwise `waker` is registered and `None` returned.
#[inline]
pub fn poll_ready_with(state: &impl StateWord, wakers: &impl WakerList, waker: &Waker) -> Option<u32> {
    let s = state.load_acquire();
    if s & READY != 0 {
        return Some(s);
    }
    register(state, wakers, waker)
}

/// `poll_ready_with`'s slow half (see the module docs).
#[cold]
fn register(state: &impl StateWord, wakers: &impl WakerList, waker: &Waker) -> Option<u32> {
    wakers.with(|list| {
        let s = state.load_acquire();
        if s & READY != 0 {
            return Some(s);
        }
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
        None
    })
}

/// An operation attempted under `seen` would block: clear `READY`, unless
/// an event came since or the direction is closed.
#[inline]
pub fn clear_ready_with(state: &impl StateWord, seen: u32) {
    if seen & CLOSED == 0 {
        state.compare_exchange(seen, seen & !READY);
    }
}

/// The reactor: the OS reported the direction ready (and `closed`, for a
/// hang-up). Sets `READY` (one tick more), then wakes the registered tasks.
pub fn set_ready_with(state: &impl StateWord, wakers: &impl WakerList, closed: bool) {
    let extra = if closed { CLOSED } else { 0 };
    state.update(|s| s.wrapping_add(TICK) | READY | extra);
    // Woken outside the lock. The usual single waiter is popped, so the
    // list keeps its buffer: taking the whole `Vec` would make the next
    // `register` allocate again, a malloc and a free per event.
    let woken =
        wakers.with(|list| if list.len() <= 1 { Woken::One(list.pop()) } else { Woken::All(std::mem::take(list)) });
    match woken {
        Woken::One(w) => {
            if let Some(w) = w {
                w.wake();
            }
        }
        Woken::All(all) => all.into_iter().for_each(Waker::wake),
    }
}

/// What `set_ready_with` took out of the list to wake.
enum Woken {
    /// None or one waker (the list keeps its buffer).
    One(Option<Waker>),
    /// Several (the list's buffer goes with them).
    All(Vec<Waker>),
}

impl StateWord for std::sync::atomic::AtomicU32 {
    fn load_acquire(&self) -> u32 {
        self.load(std::sync::atomic::Ordering::Acquire)
    }
    fn compare_exchange(&self, current: u32, new: u32) -> bool {
        use std::sync::atomic::Ordering::{AcqRel, Relaxed};
        std::sync::atomic::AtomicU32::compare_exchange(self, current, new, AcqRel, Relaxed).is_ok()
    }
    fn update(&self, mut f: impl FnMut(u32) -> u32) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let _ = self.fetch_update(AcqRel, Acquire, |s| Some(f(s)));
    }
}

impl WakerList for std::sync::Mutex<Vec<Waker>> {
    fn with<R>(&self, f: impl FnOnce(&mut Vec<Waker>) -> R) -> R {
        f(&mut self.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
