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

#[cfg(test)]
mod tests {
    //! The seam with a real foreign driver: `poll(2)` on the reactor's
    //! epoll fd, which is all a driver needs to wait on the loop's events.

    use super::*;
    use crate::Reactor;
    use rustix::event::{poll, PollFd, PollFlags, Timespec};

    /// Waits with `poll(2)`; `work` stands for what a real driver runs
    /// while it waits (tokio's tasks), here called once per park.
    #[derive(Default)]
    struct PollDriver {
        turns: Cell<usize>,
        parks: Cell<usize>,
        woke: Cell<bool>,
        /// Ids of the pollers it was handed.
        ids: RefCell<Vec<u64>>,
        work: RefCell<Option<Box<dyn Fn()>>>,
    }

    impl ForeignDriver for PollDriver {
        fn turn(&self) {
            self.turns.set(self.turns.get() + 1);
        }

        fn park(&self, poller: BorrowedFd<'_>, poller_id: u64, timeout: Option<Duration>) -> bool {
            self.parks.set(self.parks.get() + 1);
            self.ids.borrow_mut().push(poller_id);
            if let Some(work) = self.work.borrow().as_ref() {
                work();
            }
            if self.woke.replace(false) {
                return false;
            }
            let timeout = timeout.map(|t| Timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
            let mut fds = [PollFd::new(&poller, PollFlags::IN)];
            poll(&mut fds, timeout.as_ref()).unwrap();
            true
        }

        fn wake(&self) {
            self.woke.set(true);
        }
    }

    /// A fresh `PollDriver`, installed on this thread until the guard
    /// drops (libtest may run several tests on one thread).
    fn install() -> (Rc<PollDriver>, Installed) {
        let driver = Rc::new(PollDriver::default());
        set_foreign_driver(driver.clone());
        (driver, Installed)
    }

    struct Installed;

    impl Drop for Installed {
        fn drop(&mut self) {
            FOREIGN.with(|f| f.borrow_mut().take());
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "poll(2) is not among Miri's shims")]
    fn a_blocking_park_waits_in_the_foreign_driver_until_a_notify() {
        let mut reactor = Reactor::new().unwrap();
        let (driver, _installed) = install();
        // The notify lands in the reactor's epoll, which makes its fd
        // readable to the driver's poll: the unbounded park ends.
        crate::reactor::tests::park_until_notified_from_another_thread(&mut reactor);
        assert_eq!((driver.parks.get(), driver.turns.get()), (1, 0));
        assert_eq!(reactor.notify_count(), 1);
    }

    #[test]
    #[cfg_attr(miri, ignore = "poll(2) is not among Miri's shims")]
    fn work_that_queues_loop_work_ends_the_park_and_only_then() {
        let mut reactor = Reactor::new().unwrap();
        let (driver, _installed) = install();
        // Outside a park, the call does nothing.
        wake_foreign_park();
        assert!(!driver.woke.get());
        // The driver's work queues loop work (as a tokio task waking a loop
        // task does): the park ends without waiting for the poller.
        *driver.work.borrow_mut() = Some(Box::new(wake_foreign_park));
        assert_eq!(reactor.park(None, || true).unwrap(), 0);
        assert_eq!(driver.parks.get(), 1);
        assert!(!PARKED.get(), "the park is over");
    }

    #[test]
    #[cfg_attr(miri, ignore = "poll(2) is not among Miri's shims")]
    fn polls_turn_the_driver_and_each_reactor_has_its_own_id() {
        let mut first = Reactor::new().unwrap();
        let (driver, _installed) = install();
        // No source, but a driver: the poll is not skipped.
        first.poll_now().unwrap();
        first.park(Some(Duration::from_secs(30)), || false).unwrap();
        assert_eq!((driver.turns.get(), driver.parks.get()), (2, 0));
        first.park(Some(Duration::ZERO), || true).unwrap();
        assert_eq!(driver.turns.get(), 3, "a zero timeout only turns");
        let mut second = Reactor::new().unwrap();
        first.park(Some(Duration::from_millis(1)), || true).unwrap();
        second.park(Some(Duration::from_millis(1)), || true).unwrap();
        let ids = driver.ids.borrow();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1], "two reactors, two ids");
    }
}
