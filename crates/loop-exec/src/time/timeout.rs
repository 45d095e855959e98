//! The one timeout future, `Timeout` ([`wait_for`], [`timeout_at`]), and
//! `TimeoutError`; `TimeoutScope` (`scope.rs`) builds on it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::time::sleep::{sleep, sleep_until, Sleep};

/// The deadline passed before the operation finished (asyncio's
/// `TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct TimeoutError(());

impl TimeoutError {
    pub(crate) fn new() -> TimeoutError {
        TimeoutError(())
    }
}

pin_project! {
    /// The future returned by [`wait_for`] and [`timeout_at`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: Option<F>,
        sleep: Sleep,
    }
}

/// Awaits `future` for at most `timeout` (asyncio's `wait_for`, same
/// argument order). On timeout the inner future is dropped — cancelled —
/// before `Err(TimeoutError)` is returned. The future is polled before the
/// timer is checked, so a future that is ready wins even at timeout zero.
///
/// When the future is a [`Task`](crate::Task) (or awaits one), the timeout
/// cancels that task too, as asyncio's `wait_for(task)` does: an awaited
/// task handle that is dropped cancels its task. To wait for a task with a
/// bound and leave it running, wait on [`shield(&mut task)`](crate::shield).
///
/// ```
/// use r#loop as aio;
/// use r#loop::{sleep, wait_for, TimeoutError};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let slow = wait_for(sleep(Duration::from_secs(10)), Duration::from_secs(1));
/// assert!(ev.run_until_complete(slow).is_err());
/// let fast = wait_for(async { 7 }, Duration::from_secs(1));
/// assert_eq!(ev.run_until_complete(fast), Ok(7));
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn wait_for<F: Future>(future: F, timeout: Duration) -> Timeout<F> {
    Timeout { future: Some(future), sleep: sleep(timeout).quiet() }
}

/// Awaits `future` until the loop time `deadline` (asyncio's `timeout_at`).
#[track_caller]
pub fn timeout_at<F: Future>(future: F, deadline: Instant) -> Timeout<F> {
    Timeout::until(future, deadline)
}

impl<F: Future> Timeout<F> {
    /// `future` bounded by loop time `deadline`, reporting no wait of its
    /// own (the inner future's wait is the one worth showing).
    pub(crate) fn until(future: F, deadline: Instant) -> Timeout<F> {
        Timeout { future: Some(future), sleep: sleep_until(deadline).quiet() }
    }

    /// The one timeout, behind `wait_for`, `timeout_at` and `TimeoutScope`:
    /// polls the future first (a ready future wins even at the deadline),
    /// then the deadline, moved first to `moved` if given. Once the deadline
    /// has passed and `may_expire` agrees, the future is dropped (cancelled)
    /// and `TimeoutError` returned; if it does not agree (an enclosing scope
    /// expired too and reports it), the timeout stays pending. Without
    /// `armed` the deadline is not looked at (a scope with none).
    /// `#[track_caller]`: the inner future (a task's join) is reported to
    /// wait at the line that awaits the timeout.
    #[track_caller]
    pub(crate) fn poll_until(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        moved: Option<Instant>,
        armed: bool,
        may_expire: impl FnOnce() -> bool,
    ) -> Poll<Result<F::Output, TimeoutError>> {
        let mut this = self.project();
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            panic!("Timeout polled after it completed");
        };
        if let Poll::Ready(output) = future.poll(cx) {
            this.future.set(None);
            return Poll::Ready(Ok(output));
        }
        if let Some(deadline) = moved {
            this.sleep.reset(deadline);
        }
        if !armed {
            return Poll::Pending;
        }
        match Pin::new(&mut *this.sleep).poll(cx) {
            Poll::Ready(()) if may_expire() => {
                // Cancel (drop) the inner future before reporting.
                this.future.set(None);
                Poll::Ready(Err(TimeoutError(())))
            }
            Poll::Ready(()) | Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, TimeoutError>;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_until(cx, None, true, || true)
    }
}
