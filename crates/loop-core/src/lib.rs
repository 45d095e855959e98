//! The reactor of the `loop` runtime.
//!
//! An event loop parks its thread in a [`Reactor`] when it has nothing to run,
//! with a timeout set by its next timer; any thread can interrupt the wait
//! through a [`Notifier`]. The reactor sits on [`polling`] (epoll on Linux,
//! kqueue on the BSDs and macOS). I/O sources (`Async<T>` and sockets) build on
//! it in a later layer.
//!
//! ```
//! use loop_core::Reactor;
//! use std::time::Duration;
//!
//! let mut reactor = Reactor::new()?;
//! let notifier = reactor.notifier();
//! let t = std::thread::spawn(move || notifier.notify());
//! // Blocks until the other thread notifies (the timeout is only a bound).
//! reactor.park(Some(Duration::from_secs(10)), || true)?;
//! t.join().unwrap();
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod reactor;
mod sys;

pub use reactor::{Notifier, Reactor};
