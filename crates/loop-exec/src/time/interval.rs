//! `Interval`: ticks at a fixed period on the loop's clock.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::time::sleep::{sleep_until, Sleep};

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
        std::future::poll_fn(move |cx| loop_coop::budgeted(cx, |cx| self.poll_tick_at(cx, at)))
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Polls for the next tick.
    #[track_caller]
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let at = Location::caller();
        loop_coop::budgeted(cx, |cx| self.poll_tick_at(cx, at))
    }

    /// `poll_tick`, with the wait reported at `at`.
    fn poll_tick_at(&mut self, cx: &mut Context<'_>, at: &'static Location<'static>) -> Poll<Instant> {
        let now = crate::event_loop::current::with_current(|i| i.timers().now())
            .unwrap_or_else(|| crate::event_loop::current::no_running_loop("Interval::tick"));
        let due = *self.next.get_or_insert(now);
        if now < due {
            let sleep = self.sleep.get_or_insert_with(|| sleep_until(due));
            sleep.set_location(at);
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
