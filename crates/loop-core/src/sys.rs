//! The OS poller, or a stand-in for Miri.
//!
//! Miri cannot run epoll's timerfd, so under `cfg(miri)` the reactor parks
//! on a condition variable instead. It has no I/O sources, only timeouts and
//! notifications, which is all the executor's unsafe code needs for its
//! Miri tests.

#[cfg(not(miri))]
pub(crate) use polling::{Events, Poller};

#[cfg(miri)]
pub(crate) use miri_poller::{Events, Poller};

#[cfg(miri)]
mod miri_poller {
    use std::io;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// Nothing to report: the stand-in has no I/O sources.
    pub(crate) struct Events;

    impl Events {
        pub(crate) fn new() -> Events {
            Events
        }

        pub(crate) fn clear(&mut self) {}

        pub(crate) fn iter(&self) -> std::iter::Empty<polling_event::Event> {
            std::iter::empty()
        }
    }

    /// The shape of `polling::Event`, for the code that reads events.
    pub(crate) mod polling_event {
        pub(crate) struct Event {
            pub(crate) key: usize,
            pub(crate) readable: bool,
            pub(crate) writable: bool,
        }
    }

    /// A notification flag and a condition variable to wait on it.
    pub(crate) struct Poller {
        notified: Mutex<bool>,
        cv: Condvar,
    }

    impl Poller {
        pub(crate) fn new() -> io::Result<Poller> {
            Ok(Poller { notified: Mutex::new(false), cv: Condvar::new() })
        }

        /// Waits until notified or the timeout passes; like `polling`, a
        /// notification made while nobody waits ends the next wait at once.
        pub(crate) fn wait(&self, _events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
            let mut notified = self.notified.lock().unwrap();
            match timeout {
                None => {
                    while !*notified {
                        notified = self.cv.wait(notified).unwrap();
                    }
                }
                Some(t) => {
                    if !*notified {
                        notified = self.cv.wait_timeout(notified, t).unwrap().0;
                    }
                }
            }
            *notified = false;
            Ok(0)
        }

        /// The stand-in has no I/O sources.
        pub(crate) fn unsupported<T>() -> io::Result<T> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "no I/O sources under Miri"))
        }

        pub(crate) fn notify(&self) -> io::Result<()> {
            *self.notified.lock().unwrap() = true;
            self.cv.notify_one();
            Ok(())
        }
    }
}
