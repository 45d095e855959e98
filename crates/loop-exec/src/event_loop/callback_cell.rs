//! `CallbackCell`: a `call_soon` / `call_later` callback while it waits in
//! a run queue or a timer, cancellable until it runs.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A callback waiting in a run queue or a timer.
pub(crate) struct CallbackCell {
    /// Taken when run or cancelled.
    f: RefCell<Option<Box<dyn FnOnce()>>>,
    pub(crate) cancelled: Cell<bool>,
}

impl CallbackCell {
    pub(crate) fn new(f: Box<dyn FnOnce()>) -> Rc<CallbackCell> {
        Rc::new(CallbackCell { f: RefCell::new(Some(f)), cancelled: Cell::new(false) })
    }

    /// The callback, unless it was cancelled or already taken.
    pub(crate) fn take(&self) -> Option<Box<dyn FnOnce()>> {
        if self.cancelled.get() {
            return None;
        }
        self.f.borrow_mut().take()
    }

    pub(crate) fn cancel(&self) {
        self.cancelled.set(true);
        let f = self.f.borrow_mut().take();
        drop(f);
    }
}
