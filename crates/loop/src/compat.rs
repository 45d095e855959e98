//! Calling libraries written for tokio (feature `tokio-compat`).
//!
//! A tokio-only library (reqwest, most gRPC and cloud SDK clients) makes
//! sockets and timers that register with *tokio's* reactor: polled from a
//! `loop` task they panic with "there is no reactor running". Entering a
//! current-thread tokio runtime around them instead hangs silently: that
//! runtime's reactor only turns while something blocks on it, and nothing
//! does. [`tokio()`] wraps such a future so it runs with a tokio context
//! whose reactor turns on a thread of its own (async-compat's).
//!
//! **The cost:** a second reactor and its thread (started on first use,
//! one per process), and a cross-thread wake-up for every readiness event
//! of the library's sockets (a few microseconds each). Fine for an HTTP
//! client call; for a hot path, prefer a library that is runtime-agnostic
//! or written for `loop`.
//!
//! ```
//! use r#loop as aio;
//! use std::time::Duration;
//!
//! aio::run(async {
//!     // tokio's timer, which needs a tokio reactor, awaited on `loop`. Make
//!     // tokio objects *inside* the wrapped future: most need the context
//!     // when they are created, not only when polled.
//!     aio::compat::tokio(async { tokio::time::sleep(Duration::from_millis(1)).await }).await;
//! });
//! ```

use std::future::Future;

pub use async_compat::Compat;

/// Runs `future` (and whatever tokio objects it creates) with a tokio
/// context, its I/O and timers driven by a tokio reactor on its own thread.
/// Awaitable on the loop like any future.
pub fn tokio<F: Future>(future: F) -> Compat<F> {
    Compat::new(future)
}
