//! asyncio's synchronisation primitives for any executor.
//!
//! Everything here is runtime-agnostic (no dependency on an executor) and
//! works across threads as well as inside one event loop. This release has
//! the one-shot [`ResultCell`] (asyncio's `Future`); Lock, Semaphore, Event,
//! Condition, Barrier and the queues follow.
//!
//! ```
//! use loop_sync::ResultCell;
//!
//! let cell = ResultCell::new();
//! let reader = cell.clone();
//! std::thread::spawn(move || cell.set_result(42).unwrap()).join().unwrap();
//! assert_eq!(reader.result(), Some(Ok(42)));
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod result_cell;

pub use result_cell::{CancelledError, InvalidStateError, ResultCell, Wait};
