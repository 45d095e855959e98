//! A second event loop's driver that this thread's reactor turns as part of
//! its own: `loop::compat` installs tokio's (a current-thread runtime per
//! loop thread), so tokio-only libraries run on the loop's thread with no
//! cross-thread hop per readiness event.
//!
//! Once a foreign driver is installed on a thread, a
//! [`Reactor`](crate::Reactor) there that would block hands the wait to it: the
//! foreign driver waits on its own events *and* on the reactor's poller,
//! which is itself a pollable fd (an epoll fd nests inside another epoll).
//! A reactor that only polls turns the foreign driver without blocking too.
//! Linux only: elsewhere the reactor's poller cannot be waited on from
//! outside, and `loop::compat` keeps tokio on a thread of its own.

use std::cell::{Cell, RefCell};
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::time::Duration;

/// An event loop's driver turned by this thread's [`Reactor`](crate::Reactor)
/// (see the module docs). Implemented by `loop::compat` for tokio.
pub trait ForeignDriver {
    /// Runs what is ready (its I/O events, its timers, its tasks) without
    /// blocking.
    fn turn(&self);

    /// Blocks, running its own work meanwhile, until `poller` is readable,
    /// `timeout` passes (`None`: no bound), or [`wake`](Self::wake) is
    /// called. Returns whether `poller` may have events: if so, the
    /// reactor collects them at once, without blocking, so a driver that
    /// caches `poller`'s readiness may clear the cache when it returns
    /// `true` (events that arrive later mark `poller` readable again).
    /// `poller_id` is unique per reactor in the process: a driver that
    /// keeps `poller` registered re-registers when it changes (the OS reuses
    /// fd numbers, so the fd alone does not tell two reactors apart).
    fn park(&self, poller: BorrowedFd<'_>, poller_id: u64, timeout: Option<Duration>) -> bool;

    /// Ends the [`park`](Self::park) in progress on this thread, which
    /// returns `false`: its work queued work of the loop (woke a task on
    /// the loop's own thread, which needs no notification of the poller).
    fn wake(&self);
}

thread_local! {
    /// This thread's foreign driver, if one was installed.
    static FOREIGN: RefCell<Option<Rc<dyn ForeignDriver>>> = const { RefCell::new(None) };
    /// True while the reactor is parked in the foreign driver.
    static PARKED: Cell<bool> = const { Cell::new(false) };
}

/// Installs `driver` as this thread's foreign driver: every reactor parked
/// on this thread from now on turns it (for the thread's life: objects of
/// the foreign loop may still wait on its driver). Replaces (and returns)
/// the one installed before.
pub fn set_foreign_driver(driver: Rc<dyn ForeignDriver>) -> Option<Rc<dyn ForeignDriver>> {
    FOREIGN.with(|f| f.borrow_mut().replace(driver))
}

/// Tells this thread's reactor that the loop has work queued: when it is
/// parked in the foreign driver (whose own work ran the waker that queued
/// it), the park ends. Free otherwise. The executor calls it whenever it
/// queues work on its own thread.
#[inline]
pub fn wake_foreign_park() {
    if PARKED.get() {
        if let Some(driver) = FOREIGN.with(|f| f.borrow().clone()) {
            driver.wake();
        }
    }
}

/// Parks in `driver` with [`PARKED`] set, so that [`wake_foreign_park`]
/// can end the park.
pub(crate) fn park_in(driver: &dyn ForeignDriver, poller: BorrowedFd<'_>, id: u64, timeout: Option<Duration>) -> bool {
    PARKED.set(true);
    let polled = driver.park(poller, id, timeout);
    PARKED.set(false);
    polled
}

/// This thread's foreign driver, if one is installed.
pub(crate) fn installed() -> Option<Rc<dyn ForeignDriver>> {
    FOREIGN.with(|f| f.borrow().clone())
}
