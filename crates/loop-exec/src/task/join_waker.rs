//! `JoinWaker`: the waker of whoever awaits a task's handle, in one word.
//!
//! Almost always the awaiter is another task of the same runtime, whose
//! waker is just a task pointer: it is stored as that pointer (holding one
//! reference, as the waker would). Any other waker (the main future's, an
//! outside executor's) is boxed, and the pointer tagged in its low bit. A
//! plain `Option<Waker>` would cost every task 8 more bytes.
//!
//! Owner thread only, like the rest of a task's join state — except for a
//! task with a `ThreadsafeTask` handle, where the state word's `JOIN_WAKER`
//! bit says which thread owns the word (state.rs). The task
//! waker's vtable is passed in (`ours`), so this file needs nothing from the
//! task cell; and the cell takes the waker out before it is freed (there is
//! no `Drop` here, which would need that vtable).

use std::cell::Cell;
use std::ptr;
use std::task::{RawWaker, RawWakerVTable, Waker};

/// Tag of a boxed foreign waker (task headers and boxes are 8-aligned, so
/// the low bit of their address is free).
const BOXED: usize = 1;

/// Null: no waker. Untagged: a task header the waker points at, with one
/// reference counted for it. Tagged `BOXED`: a `Box<Waker>`.
pub(crate) struct JoinWaker(Cell<*mut ()>);

impl JoinWaker {
    pub(crate) const fn new() -> JoinWaker {
        JoinWaker(Cell::new(ptr::null_mut()))
    }

    /// Stores `waker`, unless the stored one would wake the same task.
    /// `ours`: the vtable of task wakers.
    #[inline]
    pub(crate) fn register(&self, waker: &Waker, ours: &'static RawWakerVTable) {
        let current = self.0.get();
        if ptr::eq(waker.vtable(), ours) {
            let data = waker.data() as *mut ();
            if current == data {
                return;
            }
            // The stored pointer stands for one reference: the clone's,
            // kept by forgetting it.
            std::mem::forget(waker.clone());
            self.replace(data, ours);
        } else {
            if current.addr() & BOXED != 0 {
                // SAFETY: a tagged pointer is a live `Box<Waker>` we own.
                let boxed = unsafe { &*(current.map_addr(|a| a & !BOXED) as *const Waker) };
                if boxed.will_wake(waker) {
                    return;
                }
            }
            let boxed = Box::into_raw(Box::new(waker.clone())) as *mut ();
            self.replace(boxed.map_addr(|a| a | BOXED), ours);
        }
    }

    /// Whether the stored waker would wake the same as `waker`. Only
    /// reads the word (the cross-thread join reads it from two threads at
    /// once).
    pub(crate) fn will_wake(&self, waker: &Waker, ours: &'static RawWakerVTable) -> bool {
        // SAFETY: the word is in the cell, so it encodes a waker we own.
        unsafe { borrow(self.0.get(), ours, |w| w.will_wake(waker)) }.unwrap_or(false)
    }

    /// Wakes the stored waker without taking it out (a read of the word,
    /// as for `will_wake`).
    pub(crate) fn wake_by_ref(&self, ours: &'static RawWakerVTable) {
        // SAFETY: as in `will_wake`.
        unsafe { borrow(self.0.get(), ours, Waker::wake_by_ref) };
    }

    /// Takes the stored waker out (`ours` as for `register`).
    #[inline]
    pub(crate) fn take(&self, ours: &'static RawWakerVTable) -> Option<Waker> {
        let stored = self.0.replace(ptr::null_mut());
        // SAFETY: `stored` was in the cell, so it is null or encodes a waker
        // we own (see the type); it is decoded once, as it was taken out.
        unsafe { decode(stored, ours) }
    }

    fn replace(&self, new: *mut (), ours: &'static RawWakerVTable) {
        let old = self.0.replace(new);
        // SAFETY: as in `take`: `old` was in the cell.
        drop(unsafe { decode(old, ours) });
    }
}

/// The waker a stored word stands for.
///
/// # Safety
/// `stored` is null or was stored by `JoinWaker::register` with the same
/// `ours`, and is decoded only once.
unsafe fn decode(stored: *mut (), ours: &'static RawWakerVTable) -> Option<Waker> {
    if stored.is_null() {
        None
    } else if stored.addr() & BOXED != 0 {
        // SAFETY: a tagged pointer came from `Box::into_raw` of a `Waker`.
        Some(*unsafe { Box::from_raw(stored.map_addr(|a| a & !BOXED) as *mut Waker) })
    } else {
        // SAFETY: an untagged pointer is the data of a waker with vtable
        // `ours` whose reference we kept; the rebuilt waker now owns it.
        Some(unsafe { Waker::from_raw(RawWaker::new(stored, ours)) })
    }
}

/// Runs `f` on the waker a stored word stands for, without taking it: the
/// word keeps owning it.
///
/// # Safety
/// `stored` is null or was stored by `JoinWaker::register` with the same
/// `ours`, and stays stored while `f` runs.
unsafe fn borrow<R>(stored: *mut (), ours: &'static RawWakerVTable, f: impl FnOnce(&Waker) -> R) -> Option<R> {
    if stored.is_null() {
        None
    } else if stored.addr() & BOXED != 0 {
        // SAFETY: a tagged pointer is a live `Box<Waker>` the word owns.
        Some(f(unsafe { &*(stored.map_addr(|a| a & !BOXED) as *const Waker) }))
    } else {
        // SAFETY: an untagged pointer is the data of a waker with vtable
        // `ours`; `ManuallyDrop` keeps the borrowed count from being dropped.
        let waker = std::mem::ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(stored, ours)) });
        Some(f(&waker))
    }
}
