//! Catching panics: the one place the executor turns a panic into a
//! message (a task's poll, a destructor, a callback, a blocking job, a
//! thread-safe task, a task group's child).

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `f`, turning a panic into its message. The closure is treated as
/// unwind-safe: every caller leaves the state it touched defined (a task
/// ends `Panicked`, a callback is reported and forgotten).
#[inline(always)]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_payload(f).map_err(|payload| message(&*payload))
}

/// Runs `f`, keeping a panic's payload (to re-raise it elsewhere: a
/// blocking job's panic is resumed inside the task awaiting it, whose poll
/// then catches it with [`catch`]).
#[inline(always)]
pub(crate) fn catch_payload<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    panic::catch_unwind(AssertUnwindSafe(f))
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

pin_project_lite::pin_project! {
    /// Polls a future, turning a panic into `Err(message)`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> CatchUnwind<F> {
        CatchUnwind { future }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch(|| future.poll(cx)) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(message) => Poll::Ready(Err(message)),
        }
    }
}
