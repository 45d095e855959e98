//! Calling libraries written for tokio (feature `tokio-compat`).
//!
//! A tokio-only library (reqwest, sqlx, most cloud SDK clients) makes
//! sockets and timers that register with *tokio's* reactor: polled from a
//! `loop` task they panic with "there is no reactor running". [`tokio()`]
//! wraps such a future so it runs with a tokio context.
//!
//! **Where tokio's reactor turns.** On Linux, each loop thread gets a
//! current-thread tokio runtime of its own, which the loop turns as part of
//! its own turn: when the loop would block, it blocks in tokio's driver,
//! which also watches the loop's epoll fd. The library's sockets, timers
//! and spawned tasks run on the loop's thread, and a readiness event wakes
//! the waiting task with no thread hop. A thread that has run a compat
//! future keeps parking in tokio's driver (one more `epoll_wait` per park),
//! because the tokio objects a compat future returns may still wait on it;
//! a thread that never ran one parks as it always did. Elsewhere (macOS, Windows), or when the future is polled off a loop
//! thread, one process-wide tokio runtime turns on a thread of its own, and
//! each readiness event costs a cross-thread wake-up.
//!
//! tokio objects belong to the runtime they were made in: poll a compat
//! future on the thread that first polled it, and keep the objects it
//! returns (a pooled client, a body stream) on that thread. Native recipes
//! (docs/ecosystem.md) need no compat at all where the library takes tokio's
//! I/O traits (`tokio-io`).
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
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::runtime::Handle;

mod apart;
#[cfg(target_os = "linux")]
mod driven;

pin_project_lite::pin_project! {
    /// A future run with a tokio context (see [`tokio()`]).
    #[must_use = "futures do nothing unless awaited"]
    pub struct Compat<F> {
        #[pin]
        inner: F,
        // The runtime entered around each poll, chosen at the first poll
        // by the thread that polls (see `choose`).
        runtime: Option<Handle>,
    }
}

/// Runs `future` (and whatever tokio objects it creates) with a tokio
/// context: its I/O, timers and spawned tasks run on the loop's thread
/// (Linux), or on a tokio thread of their own (see the module docs).
/// Awaitable on the loop like any future.
pub fn tokio<F: Future>(future: F) -> Compat<F> {
    Compat { inner: future, runtime: None }
}

impl<F> Compat<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.inner
    }

    /// The wrapped future, unwrapped.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Future> Future for Compat<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _enter = this.runtime.get_or_insert_with(choose).enter();
        this.inner.poll(cx)
    }
}

/// The runtime for a future first polled on this thread: the caller's own
/// tokio runtime if it runs in one, this loop thread's (Linux), or the
/// process-wide one.
fn choose() -> Handle {
    if let Ok(handle) = Handle::try_current() {
        return handle;
    }
    #[cfg(target_os = "linux")]
    if let Some(handle) = driven::here() {
        return handle;
    }
    apart::handle()
}

impl<F> std::fmt::Debug for Compat<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compat").field("polled", &self.runtime.is_some()).finish_non_exhaustive()
    }
}
