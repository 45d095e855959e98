//! The OS poller behind the reactor, in three forms:
//!
//! - Linux: epoll driven directly (through `rustix`): one `epoll_wait` per
//!   park, an eventfd registered edge-triggered for notifications. `polling`
//!   costs four more syscalls per wait here (it re-arms a timerfd and its
//!   notifier on every call); measured on the TCP echo benchmark, that was
//!   the whole gap to tokio.
//!   The same backend runs under Miri, whose shims cover epoll, eventfd and
//!   socket pairs (the condition-variable stand-in it used to need is gone).
//! - Other Unix systems: `polling` (kqueue, event ports, poll).

use std::os::fd::RawFd;
use std::time::Duration;

/// One readiness report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ready {
    pub(crate) key: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its end or the socket failed: reading will never
    /// block again (it returns EOF or the error), so readiness must stick.
    pub(crate) closed: bool,
}

#[cfg(target_os = "linux")]
pub(crate) use epoll_backend::{Events, Poller};
#[cfg(not(target_os = "linux"))]
pub(crate) use polling_backend::{Events, Poller};

#[cfg(target_os = "linux")]
mod epoll_backend {
    use super::{Duration, RawFd, Ready};
    use rustix::event::epoll::{self, EventData, EventFlags};
    use rustix::event::{eventfd, EventfdFlags, Timespec};
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};

    /// The key of the notification eventfd (no source uses it).
    const NOTIFY: u64 = u64::MAX;

    /// epoll plus an eventfd to interrupt it.
    #[derive(Debug)]
    pub(crate) struct Poller {
        epoll: OwnedFd,
        notify: OwnedFd,
    }

    /// The events of one wait.
    pub(crate) struct Events {
        list: Vec<epoll::Event>,
    }

    impl Events {
        pub(crate) fn new() -> Events {
            Events { list: Vec::with_capacity(1024) }
        }

        pub(crate) fn clear(&mut self) {
            self.list.clear();
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = Ready> + '_ {
            self.list.iter().filter(|e| e.data.u64() != NOTIFY).map(|e| {
                let f = e.flags;
                let broken = f.intersects(EventFlags::HUP | EventFlags::ERR);
                Ready {
                    key: e.data.u64() as usize,
                    readable: broken || f.intersects(EventFlags::IN | EventFlags::RDHUP | EventFlags::PRI),
                    writable: broken || f.contains(EventFlags::OUT),
                    closed: broken || f.contains(EventFlags::RDHUP),
                }
            })
        }
    }

    impl Poller {
        pub(crate) fn new() -> io::Result<Poller> {
            let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
            let notify = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            // Edge-triggered: every write to the eventfd is a new event, and
            // nothing needs re-arming after a wake-up.
            epoll::add(&epoll, &notify, EventData::new_u64(NOTIFY), EventFlags::IN | EventFlags::ET)?;
            Ok(Poller { epoll, notify })
        }

        /// Watches `fd` for both directions, edge-triggered.
        pub(crate) fn register(&self, fd: RawFd, key: usize) -> io::Result<()> {
            // SAFETY: the caller (a `Source`) keeps `fd` open until it calls
            // `deregister`.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
            Ok(epoll::add(&self.epoll, fd, EventData::new_u64(key as u64), flags)?)
        }

        pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
            // SAFETY: the fd is still open (see `register`).
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            Ok(epoll::delete(&self.epoll, fd)?)
        }

        pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
            let timeout = timeout
                .map(|d| Timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as _, tv_nsec: d.subsec_nanos() as _ });
            events.list.clear();
            let n = epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events.list), timeout.as_ref())?;
            if events.list.iter().any(|e| e.data.u64() == NOTIFY) {
                // Reset the counter so it can never fill up (a read of an
                // empty eventfd fails with EAGAIN, which is fine).
                let mut buf = [0u8; 8];
                let _ = rustix::io::read(&self.notify, &mut buf);
            }
            Ok(n)
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            match rustix::io::write(&self.notify, &1u64.to_ne_bytes()) {
                Ok(_) => Ok(()),
                // The counter is full: a wake-up is pending anyway.
                Err(rustix::io::Errno::AGAIN) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod polling_backend {
    use super::{Duration, RawFd, Ready};
    use std::io;
    use std::os::fd::BorrowedFd;

    /// `polling`'s poller.
    #[derive(Debug)]
    pub(crate) struct Poller(polling::Poller);

    /// `polling`'s events.
    #[derive(Debug)]
    pub(crate) struct Events(polling::Events);

    impl Events {
        pub(crate) fn new() -> Events {
            Events(polling::Events::new())
        }

        pub(crate) fn clear(&mut self) {
            self.0.clear();
        }

        pub(crate) fn iter(&self) -> impl Iterator<Item = Ready> + '_ {
            self.0.iter().map(|e| Ready { key: e.key, readable: e.readable, writable: e.writable, closed: false })
        }
    }

    impl Poller {
        pub(crate) fn new() -> io::Result<Poller> {
            Ok(Poller(polling::Poller::new()?))
        }

        pub(crate) fn register(&self, fd: RawFd, key: usize) -> io::Result<()> {
            let mode = if self.0.supports_edge() { polling::PollMode::Edge } else { polling::PollMode::Level };
            // SAFETY: `polling` requires the fd to be deleted before it is
            // closed; its `Source` does that in `Drop`, before the I/O object
            // that owns the fd is dropped.
            unsafe { self.0.add_with_mode(fd, polling::Event::all(key), mode) }
        }

        pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
            // SAFETY: the fd is still open (see `register`).
            self.0.delete(unsafe { BorrowedFd::borrow_raw(fd) })
        }

        pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
            events.0.clear();
            self.0.wait(&mut events.0, timeout)
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            self.0.notify()
        }
    }
}
