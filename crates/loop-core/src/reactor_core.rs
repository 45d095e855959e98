//! `ReactorCore`: what a reactor shares with its notifiers and its source
//! table — the OS driver, the parked flag, the notify counter.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::sys::{Driver, RawSource, Sys};

/// State shared between a [`Reactor`] and its [`Notifier`]s.
pub(crate) struct ReactorCore {
    /// The OS poller (epoll/kqueue); its `notify` interrupts a `wait`.
    pub(crate) poller: Sys,
    /// True while the loop is parked or about to park. A notifier only pays
    /// for the `notify` syscall when this is set, and clears it so that many
    /// simultaneous notifiers make one syscall between them.
    pub(crate) parked: AtomicBool,
    /// How many `notify` syscalls were made (a counter for diagnostics).
    pub(crate) notifies: AtomicU64,
    /// Unique per reactor in the process: a foreign driver that caches a
    /// registration of `poller` tells this reactor from an earlier one
    /// whose fd number the OS gave out again.
    #[cfg(target_os = "linux")]
    pub(crate) id: u64,
}

/// The next [`ReactorCore::id`].
#[cfg(target_os = "linux")]
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl ReactorCore {
    /// Registers `fd` under `key` for both directions (edge-triggered where
    /// the OS supports it).
    pub(crate) fn add(&self, fd: RawSource, key: usize) -> io::Result<()> {
        self.poller.register(fd, key)
    }

    /// Removes `fd`'s registration; `fd` must still be open.
    pub(crate) fn delete(&self, fd: RawSource) -> io::Result<()> {
        self.poller.deregister(fd)
    }
}

impl fmt::Debug for ReactorCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorCore").finish_non_exhaustive()
    }
}
