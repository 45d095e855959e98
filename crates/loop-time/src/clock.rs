//! A clock that is either the real monotonic clock or a paused one.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How far ahead a deadline can be: a longer duration (up to
/// `Duration::MAX`, which cannot be added to an `Instant`) means "never"
/// and is clamped to this, about 30 years (tokio's choice too).
pub const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `now + d`, where a `d` too long to represent, or longer than
/// [`FAR_FUTURE`], means "never": the result is `FAR_FUTURE` from now.
/// Never panics (std's `Instant + Duration` does on overflow).
///
/// ```
/// use r#loop::time::{deadline_after, is_never, FAR_FUTURE};
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// assert_eq!(deadline_after(now, Duration::from_secs(2)), now + Duration::from_secs(2));
/// let never = deadline_after(now, Duration::MAX);
/// assert_eq!(never, now + FAR_FUTURE);
/// assert!(is_never(never, now) && !is_never(now + Duration::from_secs(3600), now));
/// ```
#[inline]
pub fn deadline_after(now: Instant, d: Duration) -> Instant {
    if d <= FAR_FUTURE {
        now + d
    } else {
        far_future(now)
    }
}

#[cold]
fn far_future(now: Instant) -> Instant {
    now + FAR_FUTURE
}

/// Whether `when`, seen from `now`, is a "never" deadline: more than half of
/// [`FAR_FUTURE`] away (a clamped deadline stays that far for 15 years).
/// A paused clock does not jump to such a deadline.
///
/// It subtracts two instants (~30 instructions): the timer hot path
/// (`sleep`) decides from the duration instead.
#[inline]
pub fn is_never(when: Instant, now: Instant) -> bool {
    when.saturating_duration_since(now) >= FAR_FUTURE / 2
}

/// The time source of one event loop.
///
/// A real clock reads [`Instant::now`]. A paused clock starts at the moment it
/// was made and moves only when [`Clock::advance`] or [`Clock::advance_to`] is
/// called; the event loop advances it to the next timer deadline whenever it
/// would otherwise sit idle, which makes timeout tests instant and
/// deterministic.
///
/// The clock also fixes the *origin* from which timer ticks (whole
/// milliseconds) are counted: [`Clock::deadline_tick`] rounds a deadline up so
/// a timer never fires early, and [`Clock::now_tick`] rounds the current time
/// down.
///
/// ```
/// use r#loop::time::Clock;
/// use std::time::Duration;
///
/// let clock = Clock::paused();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now() - t0, Duration::from_secs(3600));
/// ```
#[derive(Debug)]
pub struct Clock {
    /// Tick 0: [`HEADROOM`] before the clock was made (or boot, if that
    /// is sooner), so that a deadline already past when it is set keeps its
    /// place among other past deadlines instead of every one of them
    /// rounding to tick 0.
    origin: Instant,
    /// The instant the clock was made: a paused clock reads this plus how
    /// far it was advanced.
    start: Instant,
    /// `None` for a real clock; for a paused clock, how far it has been
    /// advanced from `start`.
    paused_at: Option<Cell<Duration>>,
}

/// How far back from its creation a clock counts ticks (one day, or as
/// much of it as the platform's `Instant` allows).
pub const HEADROOM: Duration = Duration::from_secs(86_400);

/// The origin for a clock made at `start`: [`HEADROOM`] before it, or as
/// far back as the platform's `Instant` goes (on Windows it counts from
/// boot and cannot go below zero), in whole milliseconds so that ticks
/// keep their boundaries at the clock's start.
fn origin_for(start: Instant) -> Instant {
    let mut ms = HEADROOM.as_millis() as u64;
    while ms > 0 {
        if let Some(origin) = start.checked_sub(Duration::from_millis(ms)) {
            return origin;
        }
        ms /= 2;
    }
    start
}

impl Clock {
    /// A clock that follows [`Instant::now`].
    pub fn real() -> Clock {
        let start = Instant::now();
        Clock { origin: origin_for(start), start, paused_at: None }
    }

    /// A paused clock: it reads the same instant until advanced.
    pub fn paused() -> Clock {
        let start = Instant::now();
        Clock { origin: origin_for(start), start, paused_at: Some(Cell::new(Duration::ZERO)) }
    }

    /// Whether this clock is paused.
    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        match &self.paused_at {
            None => Instant::now(),
            Some(at) => self.start + at.get(),
        }
    }

    /// Tick 0, the instant from which ticks are counted.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Moves a paused clock forward by `by`.
    ///
    /// # Panics
    /// When the clock is real: only a paused clock can be advanced by hand.
    /// Build the loop with a paused clock to control time in tests.
    pub fn advance(&self, by: Duration) {
        let at = self.paused_at.as_ref().expect(
            "Clock::advance on a real clock: only a paused clock can be advanced \
             (build the event loop with `paused_clock()`)",
        );
        at.set(at.get() + by);
    }

    /// Moves a paused clock forward to `when`; does nothing if `when` is not
    /// later than the current time (a clock never goes back).
    ///
    /// # Panics
    /// When the clock is real (see [`Clock::advance`]).
    pub fn advance_to(&self, when: Instant) {
        let now = self.now();
        if when > now {
            self.advance(when - now);
        }
    }

    /// The tick at or after `when`: the first tick at which a timer for
    /// `when` may fire without firing early.
    pub fn deadline_tick(&self, when: Instant) -> u64 {
        let since = when.saturating_duration_since(self.origin);
        let (ms, rest) = split_millis(since);
        if rest == 0 {
            ms
        } else {
            ms.saturating_add(1)
        }
    }

    /// The last tick that has fully begun at the current time.
    pub fn now_tick(&self) -> u64 {
        self.tick_of(self.now())
    }

    /// The tick that contains `when` (rounded down).
    pub fn tick_of(&self, when: Instant) -> u64 {
        split_millis(when.saturating_duration_since(self.origin)).0
    }

    /// The instant at which `tick` begins.
    pub fn instant_of(&self, tick: u64) -> Instant {
        self.origin + Duration::from_millis(tick)
    }
}

/// Whole milliseconds of `d` (saturating) and the nanoseconds left over,
/// without the 128-bit arithmetic of `Duration::as_millis`.
fn split_millis(d: Duration) -> (u64, u32) {
    let ms = d.as_secs().saturating_mul(1000).saturating_add(u64::from(d.subsec_millis()));
    (ms, d.subsec_nanos() % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up_now_ticks_round_down() {
        let clock = Clock::paused();
        let o = clock.origin();
        assert_eq!(clock.deadline_tick(o), 0);
        assert_eq!(clock.deadline_tick(o + Duration::from_micros(1)), 1);
        assert_eq!(clock.deadline_tick(o + Duration::from_millis(7)), 7);
        let base = clock.now_tick();
        clock.advance(Duration::from_micros(7_999));
        assert_eq!(clock.now_tick(), base + 7);
        clock.advance(Duration::from_micros(1));
        assert_eq!(clock.now_tick(), base + 8);
        assert_eq!(clock.instant_of(base + 8), clock.now());
    }

    #[test]
    fn deadlines_already_past_at_creation_keep_their_order() {
        // asyncio orders overdue timers by deadline: two deadlines before
        // the clock was made must not both round to one tick.
        let clock = Clock::real();
        let now = clock.now();
        let (Some(earlier), Some(later)) =
            (now.checked_sub(Duration::from_millis(20)), now.checked_sub(Duration::from_millis(10)))
        else {
            return; // this close to boot, there is no past to order
        };
        if earlier < clock.origin() {
            return; // the platform's clock has no more past than that
        }
        assert!(clock.deadline_tick(earlier) < clock.deadline_tick(later));
        assert!(clock.deadline_tick(later) <= clock.now_tick());
    }

    #[test]
    fn paused_clock_never_goes_back() {
        let clock = Clock::paused();
        let t = clock.now();
        clock.advance_to(t + Duration::from_secs(1));
        clock.advance_to(t);
        assert_eq!(clock.now(), t + Duration::from_secs(1));
    }

    #[test]
    #[should_panic(expected = "only a paused clock can be advanced")]
    fn advancing_a_real_clock_is_misuse() {
        Clock::real().advance(Duration::from_millis(1));
    }
}
