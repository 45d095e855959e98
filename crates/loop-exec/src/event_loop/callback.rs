//! Callbacks scheduled with `call_soon`, `call_later` and `call_at`, and the
//! handles that cancel them.

use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Instant;

use loop_time::TimerKey;

use crate::event_loop::callback_cell::CallbackCell;
use crate::event_loop::core::LoopCore;

/// Cancels a callback scheduled with `call_soon` (asyncio's `Handle`).
///
/// Dropping the handle does *not* cancel the callback.
pub struct Handle {
    pub(crate) cell: Rc<CallbackCell>,
}

impl Handle {
    /// Cancels the callback if it has not run yet (its closure is dropped).
    pub fn cancel(&self) {
        self.cell.cancel();
    }

    /// Whether [`cancel`](Handle::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.cell.cancelled.get()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("cancelled", &self.cancelled()).finish()
    }
}

/// Cancels a callback scheduled with `call_later` / `call_at` (asyncio's
/// `TimerHandle`). Cancelling removes the timer in O(1).
///
/// Dropping the handle does *not* cancel the callback.
pub struct TimerHandle {
    pub(crate) cell: Rc<CallbackCell>,
    /// The timer; `None` for a "never" deadline, which gets no timer.
    pub(crate) key: Option<TimerKey>,
    pub(crate) when: Instant,
    pub(crate) owner: Weak<LoopCore>,
}

impl TimerHandle {
    /// Cancels the callback if it has not run yet.
    pub fn cancel(&self) {
        self.cell.cancel();
        if let (Some(inner), Some(key)) = (self.owner.upgrade(), self.key) {
            let removed = inner.timers().cancel(key);
            drop(removed);
        }
    }

    /// Whether [`cancel`](TimerHandle::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.cell.cancelled.get()
    }

    /// When the callback is due.
    pub fn when(&self) -> Instant {
        self.when
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle").field("when", &self.when).field("cancelled", &self.cancelled()).finish()
    }
}
