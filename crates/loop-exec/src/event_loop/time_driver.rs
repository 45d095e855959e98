//! `TimeDriver`: a loop's clock, its timer wheel and the turn's cached time.
//!
//! Everything that knows about loop time goes through here: `sleep` and the
//! timeouts (`time/`) register wake timers, `call_later` / `call_at`
//! register callback timers, the turn fires what is due and asks how long it
//! may park, and a paused clock jumps to the next timer when nothing else
//! can happen.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use loop_time::{Clock, TimerKey, TimerWheel};

use crate::event_loop::callback_cell::CallbackCell;

/// Turns between two refreshes of the cached turn time when no timer needs
/// the clock (it is also refreshed after every park and whenever timers are
/// checked).
const TIME_REFRESH_TURNS: u64 = 32;

/// What a timer does when it fires.
pub(crate) enum TimerEntry {
    /// Wake a sleeping future.
    Wake(Option<Waker>),
    /// Queue a `call_later` / `call_at` callback.
    Call(Rc<CallbackCell>),
}

/// A loop's time: clock, wheel, and the time of the current turn.
pub(crate) struct TimeDriver {
    /// Real or paused.
    clock: Clock,
    /// Timers of this loop.
    wheel: RefCell<TimerWheel<TimerEntry>>,
    /// Scratch space for the timers fired in one turn (kept to reuse its
    /// allocation).
    fired: RefCell<Vec<TimerEntry>>,
    /// The loop time as last read: at the start of the turn when timers are
    /// pending or the loop parked, otherwise at most `TIME_REFRESH_TURNS`
    /// turns old. Never ahead of the clock. Used for task ages and for the
    /// first check of a new sleep.
    turn_start: Cell<Instant>,
    /// `turn_start` as a (wrapping) millisecond tick, for wait times.
    turn_tick: Cell<u32>,
}

impl TimeDriver {
    pub(crate) fn new(paused: bool) -> TimeDriver {
        let clock = if paused { Clock::paused() } else { Clock::real() };
        let now = clock.now();
        let turn_tick = clock.tick_of(now) as u32;
        // The wheel starts at the clock's present (ticks count from a day
        // back: see `Clock`), so early timers need no cascading down.
        let mut wheel = TimerWheel::new();
        wheel.advance_to(clock.tick_of(now), |_, _| {});
        TimeDriver {
            clock,
            wheel: RefCell::new(wheel),
            fired: RefCell::new(Vec::new()),
            turn_start: Cell::new(now),
            turn_tick: Cell::new(turn_tick),
        }
    }

    /// The loop's time now (a clock read).
    #[inline(always)]
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The cached time of this turn (no clock read; see `turn_start`).
    #[inline(always)]
    pub(crate) fn turn_start(&self) -> Instant {
        self.turn_start.get()
    }

    /// `turn_start` as a wrapping millisecond tick (cached with it: what a
    /// spawn stamps on its task without converting the instant again).
    #[inline]
    pub(crate) fn turn_tick(&self) -> u32 {
        self.turn_tick.get()
    }

    /// `instant` as a wrapping millisecond tick.
    #[inline]
    pub(crate) fn tick_of(&self, instant: Instant) -> u32 {
        self.clock.tick_of(instant) as u32
    }

    #[inline]
    pub(crate) fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    /// Moves a paused clock forward (`EventLoop::advance`).
    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Whether `deadline` is so far from this turn's time that it means
    /// "never" (no timer is set for it).
    #[inline(always)]
    pub(crate) fn is_never(&self, deadline: Instant) -> bool {
        loop_time::is_never(deadline, self.turn_start.get())
    }

    /// Registers a timer due at `deadline`.
    #[inline(always)]
    pub(crate) fn insert(&self, deadline: Instant, entry: TimerEntry) -> TimerKey {
        let tick = self.clock.deadline_tick(deadline);
        self.wheel.borrow_mut().insert(tick, entry)
    }

    /// Removes a timer that has not fired (O(1)); its entry is returned so
    /// the caller drops it outside the wheel's borrow.
    #[inline(always)]
    pub(crate) fn cancel(&self, key: TimerKey) -> Option<TimerEntry> {
        self.wheel.borrow_mut().cancel(key)
    }

    /// Points a pending wake timer at `waker` (unless it would wake the same
    /// task already). False when `key` is no longer a pending wake timer.
    #[inline(always)]
    pub(crate) fn update_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut wheel = self.wheel.borrow_mut();
        let Some(TimerEntry::Wake(slot)) = wheel.get_mut(key) else { return false };
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
        true
    }

    /// Timers waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.wheel.borrow().len()
    }

    /// Tick 0 of the loop's clock.
    pub(crate) fn origin(&self) -> Instant {
        self.clock.origin()
    }

    /// How long until the next timer is due, in milliseconds (0: overdue;
    /// `None`: no timer).
    pub(crate) fn next_timer_in_ms(&self) -> Option<u64> {
        let next = self.wheel.borrow().next_deadline()?;
        Some(next.saturating_sub(self.clock.tick_of(self.clock.now())))
    }

    /// The start of a turn: fires the timers that are due (waking sleepers,
    /// handing callbacks to `queue_call`) and returns how many fired. With
    /// no timer pending, only refreshes the turn's time now and then
    /// (`parked`: after a park it is refreshed at once).
    pub(crate) fn start_turn(&self, turn: u64, parked: bool, mut queue_call: impl FnMut(Rc<CallbackCell>)) -> usize {
        if self.wheel.borrow().is_empty() {
            if parked || turn.is_multiple_of(TIME_REFRESH_TURNS) {
                // Nobody needs the exact time this turn; refresh the cached
                // turn time after a park and now and then, so that task ages
                // stay close without a clock read on every turn.
                self.refresh();
            }
            return 0;
        }
        let now = self.refresh();
        let now = self.clock.tick_of(now);
        let mut fired = std::mem::take(&mut *self.fired.borrow_mut());
        self.wheel.borrow_mut().advance_to(now, |_, entry| fired.push(entry));
        let n = fired.len();
        for entry in fired.drain(..) {
            match entry {
                TimerEntry::Wake(Some(waker)) => waker.wake(),
                TimerEntry::Wake(None) => {}
                TimerEntry::Call(cell) => queue_call(cell),
            }
        }
        *self.fired.borrow_mut() = fired;
        n
    }

    /// Reads the clock into the turn's cached time.
    fn refresh(&self) -> Instant {
        let now = self.clock.now();
        self.turn_start.set(now);
        self.turn_tick.set(self.clock.tick_of(now) as u32);
        now
    }

    /// How long the loop may park: until the next timer (`None`: no
    /// timer, no bound). A paused clock does not wait: unless work is
    /// pending elsewhere (`outside_work`: blocking jobs, whose results are
    /// the loop's "I/O"), it jumps to the next timer once `idle` (polled
    /// after a last look at the reactor) confirms nothing else can happen.
    pub(crate) fn park_timeout(&self, outside_work: bool, idle: impl FnOnce() -> bool) -> Option<Duration> {
        let next = self.wheel.borrow().next_deadline().map(|tick| self.clock.instant_of(tick));
        match next {
            None => None,
            Some(_) if self.clock.is_paused() && outside_work => None,
            Some(when) if self.clock.is_paused() => {
                if idle() {
                    self.clock.advance_to(when);
                }
                Some(Duration::ZERO)
            }
            Some(when) => Some(when.saturating_duration_since(self.clock.now())),
        }
    }

    /// Drops every timer (the loop closes); returns them so the caller drops
    /// them outside the borrow (a dropped callback may touch the loop).
    pub(crate) fn take_all(&self) -> TimerWheel<TimerEntry> {
        std::mem::take(&mut *self.wheel.borrow_mut())
    }
}
