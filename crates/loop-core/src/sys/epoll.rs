//! The Linux driver: epoll driven directly (through `rustix`).
//!
//! One `epoll_wait` per park, and an eventfd registered edge-triggered for
//! notifications. `polling` costs four more syscalls per wait here (it
//! re-arms a timerfd and its notifier on every call); measured on the TCP
//! echo benchmark, that was the whole gap to tokio. Miri runs this same
//! file: its shims cover epoll, eventfd and socket pairs.

use super::{Driver, EventBuffer, Readiness};
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::{eventfd, EventfdFlags, Timespec};
use std::io;
use std::os::fd::RawFd;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

/// The key of the notification eventfd (no source uses it).
const NOTIFY: u64 = u64::MAX;

/// epoll plus an eventfd to interrupt it.
#[derive(Debug)]
pub(crate) struct Epoll {
    epoll: OwnedFd,
    notify: OwnedFd,
}

/// The events of one wait.
pub(crate) struct EpollEvents {
    list: Vec<epoll::Event>,
}

impl EventBuffer for EpollEvents {
    fn new() -> EpollEvents {
        EpollEvents { list: Vec::with_capacity(1024) }
    }

    fn clear(&mut self) {
        self.list.clear();
    }

    fn iter(&self) -> impl Iterator<Item = Readiness> + '_ {
        self.list.iter().filter(|e| e.data.u64() != NOTIFY).map(|e| {
            let f = e.flags;
            let broken = f.intersects(EventFlags::HUP | EventFlags::ERR);
            Readiness {
                key: e.data.u64() as usize,
                readable: broken || f.intersects(EventFlags::IN | EventFlags::RDHUP | EventFlags::PRI),
                writable: broken || f.contains(EventFlags::OUT),
                closed: broken || f.contains(EventFlags::RDHUP),
            }
        })
    }
}

impl Epoll {
    /// The epoll fd itself: readable while it holds events, so another
    /// poller can wait on it (see `foreign.rs`).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.epoll.as_fd()
    }

    /// Whether the last `wait` filled the whole buffer, so that events may
    /// be left in the kernel's ready list.
    pub(crate) fn filled(events: &EpollEvents) -> bool {
        events.list.len() == events.list.capacity()
    }
}

impl Driver for Epoll {
    type Events = EpollEvents;

    fn new() -> io::Result<Epoll> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let notify = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        // Edge-triggered: every write to the eventfd is a new event, and
        // nothing needs re-arming after a wake-up.
        epoll::add(&epoll, &notify, EventData::new_u64(NOTIFY), EventFlags::IN | EventFlags::ET)?;
        Ok(Epoll { epoll, notify })
    }

    fn register(&self, fd: RawFd, key: usize) -> io::Result<()> {
        // SAFETY: the caller (a `Source`) keeps `fd` open until it calls
        // `deregister`.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        Ok(epoll::add(&self.epoll, fd, EventData::new_u64(key as u64), flags)?)
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: the fd is still open (see `register`).
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    fn wait(&self, events: &mut EpollEvents, timeout: Option<Duration>) -> io::Result<usize> {
        let timeout =
            timeout.map(|d| Timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as _, tv_nsec: d.subsec_nanos() as _ });
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

    fn notify(&self) -> io::Result<()> {
        match rustix::io::write(&self.notify, &1u64.to_ne_bytes()) {
            Ok(_) => Ok(()),
            // The counter is full: a wake-up is pending anyway.
            Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
