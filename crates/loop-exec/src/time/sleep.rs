//! Sleeping and timeouts on the running loop's timer wheel.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use loop_time::TimerKey;
use pin_project_lite::pin_project;

use crate::event_loop::core::LoopInner;
use crate::event_loop::time_driver::TimerEntry;

/// When a [`Sleep`] is due: fixed at creation when a loop is running, else
/// on first poll.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    /// A finite deadline.
    At(Instant),
    /// Made outside a loop: resolved against the loop's clock when polled.
    After(Duration),
    /// "Never" (a duration or instant beyond half of `FAR_FUTURE`): no
    /// timer, a paused clock does not jump to it.
    Never,
}

/// Durations from this many seconds on (15 years) are "never".
const NEVER_SECS: u64 = loop_time::FAR_FUTURE.as_secs() / 2;

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It is `Send` and `Unpin`; it registers one timer on the running loop when
/// first polled and removes it (O(1)) when dropped early.
pub struct Sleep {
    deadline: Deadline,
    /// Where the sleep was created (shown by `all_tasks` while it waits).
    location: &'static Location<'static>,
    /// Do not report the wait (the deadline of a `wait_for`: the inner
    /// future's wait is the interesting one).
    quiet: bool,
    /// The timer, once registered, and the loop (by identity) it is on.
    timer: Option<(TimerKey, usize)>,
}

/// Removes a registered timer of loop `id` (out of line: the callers'
/// fast path is "no timer").
#[inline(never)]
fn cancel_registered(key: TimerKey, id: usize) {
    crate::event_loop::current::with_current(|inner| {
        if loop_id(inner) == id {
            let entry = inner.time.cancel(key);
            drop(entry);
        }
    });
}

/// Identity of a loop, to tell whether a timer key belongs to it.
fn loop_id(inner: &LoopInner) -> usize {
    Arc::as_ptr(&inner.shared) as usize
}

/// Waits until `duration` has passed on the running loop's clock (asyncio's
/// `asyncio.sleep`). A duration longer than
/// [`FAR_FUTURE`](loop_time::FAR_FUTURE) (up to `Duration::MAX`) means
/// never: no timer is set, and a paused clock does not jump to it.
///
/// ```
/// use r#loop as aio;
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let t0 = ev.time();
/// ev.run_until_complete(aio::sleep(Duration::from_millis(1500)));
/// assert_eq!(ev.time() - t0, Duration::from_millis(1500));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// When polled outside a running event loop.
#[track_caller]
#[inline]
pub fn sleep(duration: Duration) -> Sleep {
    let deadline = match crate::event_loop::current::with_current(|inner| inner.time.now()) {
        _ if duration.as_secs() >= NEVER_SECS => Deadline::Never,
        Some(now) => Deadline::At(now + duration),
        None => Deadline::After(duration),
    };
    Sleep { deadline, timer: None, location: Location::caller(), quiet: false }
}

/// Waits until the loop's clock reaches `deadline`.
///
/// # Panics
/// When polled outside a running event loop.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline: Deadline::until(deadline), timer: None, location: Location::caller(), quiet: false }
}

impl Deadline {
    /// A deadline given as an instant (`sleep_until`, `reset`): "never" when
    /// it is that far from the loop's time (read from the turn's cached
    /// time, no clock read; off the `sleep` path, which decides from its
    /// duration).
    fn until(deadline: Instant) -> Deadline {
        let never = crate::event_loop::current::with_current(|i| i.time.is_never(deadline));
        if never == Some(true) {
            Deadline::Never
        } else {
            Deadline::At(deadline)
        }
    }
}

impl Sleep {
    /// This sleep, not reporting itself as the task's wait: a deadline
    /// beside some other wait, which is the one worth showing.
    pub(crate) fn quiet(mut self) -> Sleep {
        self.quiet = true;
        self
    }

    /// When this sleep ends (resolved against the running loop's clock if it
    /// was created outside one and not yet polled).
    pub fn deadline(&self) -> Instant {
        let now = || crate::event_loop::current::with_current(|i| i.time.now()).unwrap_or_else(Instant::now);
        match self.deadline {
            Deadline::At(at) => at,
            Deadline::After(d) => loop_time::deadline_after(now(), d),
            Deadline::Never => loop_time::deadline_after(now(), Duration::MAX),
        }
    }

    /// Whether the deadline has passed on the running loop's clock.
    pub fn is_elapsed(&self) -> bool {
        match self.deadline {
            Deadline::At(at) => crate::event_loop::current::with_current(|i| i.time.now() >= at).unwrap_or(false),
            Deadline::After(_) | Deadline::Never => false,
        }
    }

    /// Moves the deadline (the timer is re-registered on the next poll).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel_timer();
        self.deadline = Deadline::until(deadline);
    }

    /// A "never" sleep: pending for good, with no timer (nothing could fire
    /// it, and a paused clock must not jump 30 years ahead to it).
    fn pend_forever(&mut self, inner: &LoopInner) -> Poll<()> {
        self.deadline = Deadline::Never;
        self.cancel_timer();
        if !self.quiet {
            inner.record_wait(loop_sync::WaitKind::Sleep, self.location);
        }
        Poll::Pending
    }

    #[inline]
    fn cancel_timer(&mut self) {
        if let Some((key, id)) = self.timer.take() {
            cancel_registered(key, id);
        }
    }

    fn poll_on(&mut self, inner: &LoopInner, cx: &mut Context<'_>) -> Poll<()> {
        let id = loop_id(inner);
        // First poll of a sleep with a fixed deadline: the time at the start
        // of this turn is recent enough to decide whether to register a
        // timer (if the deadline passed since, the timer fires next turn),
        // and it saves a clock read on the hot register/cancel path.
        let first_poll = !matches!(self.timer, Some((_, owner)) if owner == id);
        let now = if first_poll && matches!(self.deadline, Deadline::At(_)) {
            inner.time.turn_start()
        } else {
            inner.time.now()
        };
        let deadline = match self.deadline {
            Deadline::At(at) => at,
            Deadline::After(d) if d.as_secs() >= NEVER_SECS => return self.pend_forever(inner),
            Deadline::After(d) => {
                let at = now + d;
                self.deadline = Deadline::At(at);
                at
            }
            Deadline::Never => return self.pend_forever(inner),
        };
        if now >= deadline {
            self.cancel_timer();
            return Poll::Ready(());
        }
        if let Some((key, owner)) = self.timer {
            if owner == id && inner.time.update_waker(key, cx.waker()) {
                {
                    if !self.quiet {
                        inner.record_wait(loop_sync::WaitKind::Sleep, self.location);
                    }
                    return Poll::Pending;
                }
            }
        }
        let key = inner.time.insert(deadline, TimerEntry::Wake(Some(cx.waker().clone())));
        self.timer = Some((key, id));
        if !self.quiet {
            inner.record_wait(loop_sync::WaitKind::Sleep, self.location);
        }
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        crate::event_loop::current::with_current(|inner| this.poll_on(inner, cx))
            .unwrap_or_else(|| crate::event_loop::current::no_running_loop("sleep()"))
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel_timer();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("deadline", &self.deadline).finish()
    }
}

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
    /// expired too and reports it), the timeout stays pending.
    /// `#[track_caller]`: the inner future (a task's join) is reported to
    /// wait at the line that awaits the timeout.
    #[track_caller]
    pub(crate) fn poll_until(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        moved: Option<Instant>,
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
        self.poll_until(cx, None, || true)
    }
}

/// Ticks at a fixed period (see [`interval`]).
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Option<Instant>,
    sleep: Option<Sleep>,
}

/// A stream of ticks every `period`; the first tick completes at once.
///
/// A tick that comes late (the loop was busy) is delivered as soon as
/// possible and the following ones keep the original schedule; ticks missed
/// entirely are skipped rather than delivered in a burst.
///
/// ```
/// use r#loop as aio;
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let t0 = ev.time();
/// let ticks = ev.run_until_complete(async {
///     let mut every = aio::interval(Duration::from_millis(250));
///     let mut ticks = Vec::new();
///     for _ in 0..4 {
///         ticks.push(every.tick().await - t0);
///     }
///     ticks
/// });
/// assert_eq!(ticks, [0, 250, 500, 750].map(Duration::from_millis));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Panics
/// When `period` is zero.
pub fn interval(period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "interval(Duration::ZERO): the period must be positive");
    Interval { period, next: None, sleep: None }
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time. The wait is
    /// reported (`all_tasks`) at the caller's line.
    #[track_caller]
    pub fn tick(&mut self) -> impl Future<Output = Instant> + use<'_> {
        let at = Location::caller();
        std::future::poll_fn(move |cx| self.poll_tick_at(cx, at))
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Polls for the next tick.
    #[track_caller]
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        self.poll_tick_at(cx, Location::caller())
    }

    /// `poll_tick`, with the wait reported at `at`.
    fn poll_tick_at(&mut self, cx: &mut Context<'_>, at: &'static Location<'static>) -> Poll<Instant> {
        let now = crate::event_loop::current::with_current(|i| i.time.now())
            .unwrap_or_else(|| crate::event_loop::current::no_running_loop("Interval::tick"));
        let due = *self.next.get_or_insert(now);
        if now < due {
            let sleep = self.sleep.get_or_insert_with(|| sleep_until(due));
            sleep.location = at;
            if Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        self.sleep = None;
        let mut next = loop_time::deadline_after(due, self.period);
        while next <= now {
            next = loop_time::deadline_after(next, self.period);
        }
        self.next = Some(next);
        Poll::Ready(due)
    }
}
