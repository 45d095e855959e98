//! `Sleep`: waiting on the running loop's timer wheel (asyncio's `sleep`).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use loop_time::TimerKey;

use crate::event_loop::core::LoopCore;
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
            let entry = inner.timers().cancel(key);
            drop(entry);
        }
    });
}

/// Identity of a loop, to tell whether a timer key belongs to it.
fn loop_id(inner: &LoopCore) -> usize {
    Arc::as_ptr(inner.shared()) as usize
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
    let deadline = match crate::event_loop::current::with_current(|inner| inner.timers().now()) {
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
        let never = crate::event_loop::current::with_current(|i| i.timers().is_never(deadline));
        if never == Some(true) {
            Deadline::Never
        } else {
            Deadline::At(deadline)
        }
    }
}

impl Sleep {
    /// Reports its wait at `at` (an `Interval` tick's caller) from now on.
    pub(crate) fn set_location(&mut self, at: &'static Location<'static>) {
        self.location = at;
    }

    /// This sleep, not reporting itself as the task's wait: a deadline
    /// beside some other wait, which is the one worth showing.
    pub(crate) fn quiet(mut self) -> Sleep {
        self.quiet = true;
        self
    }

    /// When this sleep ends (resolved against the running loop's clock if it
    /// was created outside one and not yet polled).
    pub fn deadline(&self) -> Instant {
        let now = || crate::event_loop::current::with_current(|i| i.timers().now()).unwrap_or_else(Instant::now);
        match self.deadline {
            Deadline::At(at) => at,
            Deadline::After(d) => loop_time::deadline_after(now(), d),
            Deadline::Never => loop_time::deadline_after(now(), Duration::MAX),
        }
    }

    /// Whether the deadline has passed on the running loop's clock.
    pub fn is_elapsed(&self) -> bool {
        match self.deadline {
            Deadline::At(at) => crate::event_loop::current::with_current(|i| i.timers().now() >= at).unwrap_or(false),
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
    fn pend_forever(&mut self, inner: &LoopCore) -> Poll<()> {
        self.deadline = Deadline::Never;
        self.cancel_timer();
        if !self.quiet {
            inner.record_wait(loop_sync::WaitKind::Sleep, self.location, loop_sync::WaitTarget::NONE);
        }
        Poll::Pending
    }

    #[inline]
    fn cancel_timer(&mut self) {
        if let Some((key, id)) = self.timer.take() {
            cancel_registered(key, id);
        }
    }

    fn poll_on(&mut self, inner: &LoopCore, cx: &mut Context<'_>) -> Poll<()> {
        let id = loop_id(inner);
        // First poll of a sleep with a fixed deadline: the time at the start
        // of this turn is recent enough to decide whether to register a
        // timer (if the deadline passed since, the timer fires next turn),
        // and it saves a clock read on the hot register/cancel path.
        let first_poll = !matches!(self.timer, Some((_, owner)) if owner == id);
        let now = if first_poll && matches!(self.deadline, Deadline::At(_)) {
            inner.timers().turn_start()
        } else {
            inner.timers().now()
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
            if owner == id && inner.timers().update_waker(key, cx.waker()) {
                {
                    if !self.quiet {
                        inner.record_wait(loop_sync::WaitKind::Sleep, self.location, loop_sync::WaitTarget::NONE);
                    }
                    return Poll::Pending;
                }
            }
        }
        let key = inner.timers().insert(deadline, TimerEntry::Wake(Some(cx.waker().clone())));
        self.timer = Some((key, id));
        if !self.quiet {
            inner.record_wait(loop_sync::WaitKind::Sleep, self.location, loop_sync::WaitTarget::NONE);
        }
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop_coop::budgeted(cx, |cx| {
            crate::event_loop::current::with_current(|inner| this.poll_on(inner, cx))
                .unwrap_or_else(|| crate::event_loop::current::no_running_loop("sleep()"))
        })
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
