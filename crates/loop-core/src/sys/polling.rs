//! The driver of every system but Linux: the `polling` crate (kqueue on
//! macOS and the BSDs, event ports on illumos, IOCP with `\Device\Afd`
//! polling on Windows, `poll` elsewhere).
//!
//! Edge-triggered where `polling` supports it (kqueue, event ports), so a
//! source is registered once for both directions. Elsewhere (Windows,
//! `poll`) one-shot: level-triggered interest in both directions would
//! report an idle connected socket writable on every wait and spin the
//! loop, so a registration watches only what a task waits for and `Source`
//! re-arms it (see `sys/mod.rs`).

use super::{Driver, EventBuffer, RawSource};
use std::io;
use std::time::Duration;

/// `polling`'s poller, and whether it runs one-shot.
#[derive(Debug)]
pub(crate) struct Polling {
    poller: polling::Poller,
    /// `!poller.supports_edge()`: registrations are one-shot and re-armed.
    oneshot: bool,
}

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

    fn iter(&self) -> impl Iterator<Item = super::Readiness> + '_ {
        self.0.iter().map(|e| super::Readiness {
            key: e.key,
            readable: e.readable,
            writable: e.writable,
            closed: false,
        })
    }
}

/// `polling`'s interest in the given directions, reported under `key`.
fn interest(key: usize, read: bool, write: bool) -> polling::Event {
    let mut event = polling::Event::none(key);
    event.readable = read;
    event.writable = write;
    event
}

/// Borrows a registered source for `polling`'s `modify` / `delete`.
///
/// # Safety
/// `raw` must be open for the borrow's lifetime (a `Source` calls the
/// driver only between registering and deregistering its open handle).
unsafe fn borrow_raw<'a>(raw: RawSource) -> super::BorrowedSource<'a> {
    // SAFETY: the caller keeps `raw` open (see above). `BorrowedFd` and
    // `BorrowedSocket` have the same `borrow_raw`.
    unsafe { super::BorrowedSource::borrow_raw(raw) }
}

impl Driver for Polling {
    type Events = PollingEvents;

    fn new() -> io::Result<Polling> {
        let poller = polling::Poller::new().map_err(|e| {
            #[cfg(windows)]
            let e = io::Error::new(
                e.kind(),
                format!(
                    "could not open an I/O completion port with \\Device\\Afd polling ({e}); on Wine this needs \
                     Wine 7.13 or later"
                ),
            );
            e
        })?;
        let oneshot = !poller.supports_edge();
        Ok(Polling { poller, oneshot })
    }

    fn register(&self, fd: RawSource, key: usize) -> io::Result<()> {
        let (event, mode) = if self.oneshot {
            (polling::Event::none(key), polling::PollMode::Oneshot)
        } else {
            (polling::Event::all(key), polling::PollMode::Edge)
        };
        // SAFETY: `polling` requires the source to be deleted before it is
        // closed; our `Source` does that in `Drop`, before the I/O object
        // that owns it is dropped.
        unsafe { self.poller.add_with_mode(fd, event, mode) }
    }

    fn deregister(&self, fd: RawSource) -> io::Result<()> {
        // SAFETY: the source is still open (see `register`).
        self.poller.delete(unsafe { borrow_raw(fd) })
    }

    fn oneshot(&self) -> bool {
        self.oneshot
    }

    fn rearm(&self, fd: RawSource, key: usize, read: bool, write: bool) -> io::Result<()> {
        // SAFETY: the source is still open (see `register`).
        let fd = unsafe { borrow_raw(fd) };
        self.poller.modify_with_mode(fd, interest(key, read, write), polling::PollMode::Oneshot)
    }

    fn wait(&self, events: &mut PollingEvents, timeout: Option<Duration>) -> io::Result<usize> {
        events.0.clear();
        self.poller.wait(&mut events.0, timeout)
    }

    fn notify(&self) -> io::Result<()> {
        self.poller.notify()
    }
}
