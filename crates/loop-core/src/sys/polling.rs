//! The driver of the other Unix systems: the `polling` crate (kqueue on
//! macOS and the BSDs, event ports on illumos, `poll` elsewhere).

use super::{Driver, EventBuffer, Readiness};
use std::io;
use std::os::fd::BorrowedFd;
use std::os::fd::RawFd;
use std::time::Duration;

/// `polling`'s poller.
#[derive(Debug)]
pub(crate) struct Polling(polling::Poller);

/// `polling`'s events.
#[derive(Debug)]
pub(crate) struct PollingEvents(polling::Events);

impl EventBuffer for PollingEvents {
    fn new() -> PollingEvents {
        PollingEvents(polling::Events::new())
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    fn iter(&self) -> impl Iterator<Item = Readiness> + '_ {
        self.0.iter().map(|e| Readiness { key: e.key, readable: e.readable, writable: e.writable, closed: false })
    }
}

impl Driver for Polling {
    type Events = PollingEvents;

    fn new() -> io::Result<Polling> {
        Ok(Polling(polling::Poller::new()?))
    }

    fn register(&self, fd: RawFd, key: usize) -> io::Result<()> {
        let mode = if self.0.supports_edge() { polling::PollMode::Edge } else { polling::PollMode::Level };
        // SAFETY: `polling` requires the fd to be deleted before it is
        // closed; its `Source` does that in `Drop`, before the I/O object
        // that owns the fd is dropped.
        unsafe { self.0.add_with_mode(fd, polling::Event::all(key), mode) }
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: the fd is still open (see `register`).
        self.0.delete(unsafe { BorrowedFd::borrow_raw(fd) })
    }

    fn wait(&self, events: &mut PollingEvents, timeout: Option<Duration>) -> io::Result<usize> {
        events.0.clear();
        self.0.wait(&mut events.0, timeout)
    }

    fn notify(&self) -> io::Result<()> {
        self.0.notify()
    }
}
