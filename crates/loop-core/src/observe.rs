//! Where tasks wait on I/O: a hook the executor installs to learn, whenever
//! a socket or pipe operation returns `Pending`, which direction it waits
//! for and where in the user's source that wait was written.
//!
//! Every waiting operation of this crate is `#[track_caller]` (or captures
//! its caller when it is created), so the location is the user's `.await`
//! line, not a line in here. Without an observer, noting a wait costs one
//! thread-local read.

use std::cell::Cell;
use std::panic::Location;

/// Which readiness an I/O operation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoWait {
    /// Data to read, a connection to accept, EOF.
    Readable,
    /// Room to write, a connect to finish.
    Writable,
}

/// The observer's signature: the direction, the user's line, and the
/// descriptor waited on (the fd; the socket on Windows).
pub type IoWaitObserver = fn(IoWait, &'static Location<'static>, u64);

thread_local! {
    static IO_WAIT_OBSERVER: Cell<Option<IoWaitObserver>> = const { Cell::new(None) };
}

/// Installs (or with `None` removes) this thread's I/O wait observer;
/// returns the previous one.
pub fn set_io_wait_observer(observer: Option<IoWaitObserver>) -> Option<IoWaitObserver> {
    IO_WAIT_OBSERVER.with(|o| o.replace(observer))
}

/// Tells the observer (if any) that the current task now waits for `wait`,
/// written at `location`, on descriptor `fd`.
pub(crate) fn note_io_wait(wait: IoWait, location: &'static Location<'static>, fd: u64) {
    if let Ok(Some(f)) = IO_WAIT_OBSERVER.try_with(Cell::get) {
        f(wait, location, fd);
    }
}
