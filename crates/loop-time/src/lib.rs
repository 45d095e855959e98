//! Time for the `loop` runtime: a hierarchical [`TimerWheel`] and a [`Clock`]
//! that is either real or paused.
//!
//! Both are plain data structures owned by one event loop: no I/O, no threads,
//! no global state. The wheel counts in whole milliseconds ("ticks") from an
//! origin chosen by its owner; [`Clock`] converts between [`Instant`]s and
//! ticks so that a deadline is never reported early.
//!
//! ```
//! use loop_time::TimerWheel;
//!
//! let mut wheel = TimerWheel::new();
//! let a = wheel.insert(5, "a");
//! wheel.insert(3, "b");
//! wheel.insert(5, "c");
//! assert_eq!(wheel.cancel(a), Some("a"));
//! assert_eq!(wheel.next_deadline(), Some(3));
//!
//! let mut fired = Vec::new();
//! wheel.advance_to(10, |_, value| fired.push(value));
//! assert_eq!(fired, ["b", "c"]);
//! ```
//!
//! [`Instant`]: std::time::Instant
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod clock;
mod wheel;

pub use clock::{deadline_after, is_never, Clock, FAR_FUTURE};
pub use wheel::{TimerKey, TimerWheel, LEVELS, SLOTS, SPAN_TICKS};
