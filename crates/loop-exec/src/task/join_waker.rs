//! `JoinWaker`: the waker of whoever awaits a task's handle, in one word.
//!
//! Almost always the awaiter is another task of the same runtime, whose
//! waker is just a task pointer: it is stored as that pointer (holding one
//! reference, as the waker would). Any other waker (the main future's, an
//! outside executor's) is boxed, and the pointer tagged in its low bit. A
//! plain `Option<Waker>` would cost every task 8 more bytes.
//!
//! Owner thread only, like the rest of a task's join state.

use std::cell::Cell;
use std::ptr;
use std::task::{RawWaker, Waker};

use super::raw::{Header, WAKER_VTABLE};

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
    #[inline]
    pub(crate) fn register(&self, waker: &Waker) {
        let current = self.0.get();
        if ptr::eq(waker.vtable(), &WAKER_VTABLE) {
            let data = waker.data() as *mut ();
            if current == data {
                return;
            }
            // SAFETY: a waker with our vtable points at a live task header
            // (the waker holds a reference to it); we add the reference the
            // stored pointer stands for.
            unsafe { (*(data as *const Header)).state.ref_inc() };
            self.replace(data);
        } else {
            if current.addr() & BOXED != 0 {
                // SAFETY: a tagged pointer is a live `Box<Waker>` we own.
                let boxed = unsafe { &*(current.map_addr(|a| a & !BOXED) as *const Waker) };
                if boxed.will_wake(waker) {
                    return;
                }
            }
            let boxed = Box::into_raw(Box::new(waker.clone())) as *mut ();
            self.replace(boxed.map_addr(|a| a | BOXED));
        }
    }

    /// Takes the stored waker out.
    #[inline]
    pub(crate) fn take(&self) -> Option<Waker> {
        let stored = self.0.replace(ptr::null_mut());
        // SAFETY: `stored` was in the cell, so it is null or encodes a waker
        // we own (see the type); it is decoded once, as it was taken out.
        unsafe { decode(stored) }
    }

    fn replace(&self, new: *mut ()) {
        let old = self.0.replace(new);
        // SAFETY: as in `take`: `old` was in the cell.
        drop(unsafe { decode(old) });
    }
}

impl Drop for JoinWaker {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The waker a stored word stands for.
///
/// # Safety
/// `stored` is null or was stored by `JoinWaker::register` and is decoded
/// only once.
unsafe fn decode(stored: *mut ()) -> Option<Waker> {
    if stored.is_null() {
        None
    } else if stored.addr() & BOXED != 0 {
        // SAFETY: a tagged pointer came from `Box::into_raw` of a `Waker`.
        Some(*unsafe { Box::from_raw(stored.map_addr(|a| a & !BOXED) as *mut Waker) })
    } else {
        // SAFETY: an untagged pointer is a task header with one reference
        // counted for us, which the rebuilt waker now owns.
        Some(unsafe { Waker::from_raw(RawWaker::new(stored, &WAKER_VTABLE)) })
    }
}
