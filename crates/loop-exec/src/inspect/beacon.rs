//! `Beacon`: what a loop publishes, at the cost of a few plain stores, so
//! that the inspector's thread can say what it is doing when it does not
//! answer (a task that blocks its thread).

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// `Beacon::polling` while the loop runs a callback rather than a task.
pub(crate) const IN_CALLBACK: u64 = u64::MAX;

/// One loop's published activity. Written only by the loop's thread, with
/// relaxed stores (plain `mov`s on x86-64 and ARM: no fence, no
/// read-modify-write), read by the inspector's thread. The fields are read
/// one by one, so a reader can see a task id with the site of the task
/// polled just before it: the inspector reads them only for a loop that has
/// not answered for a while, which is stuck in one poll, so they no longer
/// change.
#[derive(Debug)]
pub(crate) struct Beacon {
    /// Inside `run_forever` / `run_until_complete`: the loop answers
    /// requests. A loop not running cannot, and is not called stuck.
    running: AtomicBool,
    /// The id of the task being polled (or, until the turn ends, the task
    /// polled last: a poll does not clear it, the end of the turn does); 0
    /// between turns; `IN_CALLBACK` during a callback.
    polling: AtomicU64,
    /// The spawn site of the task being polled (a `&'static Location`;
    /// null before the first poll).
    polling_site: AtomicPtr<Location<'static>>,
    /// The loop's turn time as last read (its millisecond tick): the
    /// current poll started at or after it (see `stuck_for`).
    turn_tick: AtomicU32,
    /// The instant of tick 0 of the loop's clock; `None` for a paused
    /// clock, whose ticks are not real time.
    origin: Option<Instant>,
    /// An inspector's request is queued on the loop and has not run yet:
    /// a stuck loop is not sent one more per refresh of `top`.
    request_pending: AtomicBool,
    /// Until which tick of the loop's clock a tool is watching (0: none):
    /// meanwhile every poll is timed, so that busy times are exact and
    /// every slow poll is seen (see `observed`).
    observed_until: AtomicU32,
}

/// How long a loop times every poll after an inspector's request, in ms.
pub(crate) const OBSERVED_FOR_MS: u32 = 10_000;

/// A loop's activity as the inspector reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BeaconReading {
    /// See `Beacon::running`.
    pub(crate) running: bool,
    /// The task being polled (`None`: none; `Some(IN_CALLBACK)`: a callback).
    pub(crate) polling: Option<u64>,
    /// Its spawn site.
    pub(crate) site: Option<&'static Location<'static>>,
    /// How long since the loop last read its clock, in milliseconds: an
    /// upper bound on how long the current poll has lasted (`None` for a
    /// paused clock).
    pub(crate) since_turn_ms: Option<u64>,
}

impl Beacon {
    /// The beacon of a loop whose clock counts from `origin` (`None`:
    /// paused).
    pub(crate) fn new(origin: Option<Instant>) -> Beacon {
        Beacon {
            running: AtomicBool::new(false),
            polling: AtomicU64::new(0),
            polling_site: AtomicPtr::new(std::ptr::null_mut()),
            turn_tick: AtomicU32::new(0),
            origin,
            request_pending: AtomicBool::new(false),
            observed_until: AtomicU32::new(0),
        }
    }

    /// The loop starts or stops running.
    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    /// A poll of task `id`, spawned at `site`, begins.
    #[inline(always)]
    pub(crate) fn enter(&self, id: u64, site: &'static Location<'static>) {
        self.polling.store(id, Ordering::Relaxed);
        self.polling_site.store(std::ptr::from_ref(site).cast_mut(), Ordering::Relaxed);
    }

    /// A callback begins.
    #[inline]
    pub(crate) fn enter_callback(&self) {
        self.polling.store(IN_CALLBACK, Ordering::Relaxed);
    }

    /// A callback, or the turn, ended.
    #[inline(always)]
    pub(crate) fn leave(&self) {
        self.polling.store(0, Ordering::Relaxed);
    }

    /// The turn's time, as a millisecond tick of the loop's clock.
    #[inline(always)]
    pub(crate) fn turn(&self, tick: u32) {
        self.turn_tick.store(tick, Ordering::Relaxed);
    }

    /// Claims the right to queue a request on the loop: false while an
    /// earlier one has not run. Either way, the loop times every poll for
    /// the next `OBSERVED_FOR_MS` (a real clock's loop only).
    pub(crate) fn begin_request(&self) -> bool {
        if let Some(now) = self.now_tick() {
            self.observed_until.store(now.wrapping_add(OBSERVED_FOR_MS).max(1), Ordering::Relaxed);
        }
        !self.request_pending.swap(true, Ordering::AcqRel)
    }

    /// Whether a tool watches the loop at `tick` (its turn's tick): one
    /// relaxed load per turn; the loop clears the mark once it is past.
    #[inline(always)]
    pub(crate) fn observed(&self, tick: u32) -> bool {
        let until = self.observed_until.load(Ordering::Relaxed);
        if until == 0 {
            return false;
        }
        // Wrapping comparison: `tick` is before `until` by less than half
        // the tick range.
        if until.wrapping_sub(tick) as i32 > 0 {
            return true;
        }
        self.observed_until.store(0, Ordering::Relaxed);
        false
    }

    /// The loop clock's tick now, read on the inspector's thread (`None`
    /// for a paused clock).
    fn now_tick(&self) -> Option<u32> {
        self.origin.map(|origin| Instant::now().saturating_duration_since(origin).as_millis() as u32)
    }

    /// The queued request runs.
    pub(crate) fn end_request(&self) {
        self.request_pending.store(false, Ordering::Release);
    }

    /// What the loop is doing now, as far as the stores above tell.
    pub(crate) fn read(&self) -> BeaconReading {
        let polling = self.polling.load(Ordering::Relaxed);
        let site = self.polling_site.load(Ordering::Relaxed);
        // SAFETY: `polling_site` only ever holds null or a pointer made from
        // a `&'static Location` (in `enter`), which lives forever.
        let site = unsafe { site.cast_const().as_ref() };
        let since_turn_ms =
            self.now_tick().map(|now| u64::from(now.wrapping_sub(self.turn_tick.load(Ordering::Relaxed))));
        BeaconReading {
            running: self.running.load(Ordering::Relaxed),
            polling: (polling != 0).then_some(polling),
            site: if polling != 0 && polling != IN_CALLBACK { site } else { None },
            since_turn_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_names_the_task_being_polled_and_nothing_between_polls() {
        let beacon = Beacon::new(Some(Instant::now()));
        let site = Location::caller();
        assert!(beacon.read().polling.is_none());
        beacon.set_running(true);
        beacon.enter(7, site);
        let reading = beacon.read();
        assert!(reading.running);
        assert_eq!(reading.polling, Some(7));
        assert_eq!(reading.site.map(|s| s.line()), Some(site.line()));
        assert!(reading.since_turn_ms.is_some());
        beacon.leave();
        assert!(beacon.read().polling.is_none() && beacon.read().site.is_none());
        beacon.enter_callback();
        assert_eq!(beacon.read().polling, Some(IN_CALLBACK));
        assert!(beacon.read().site.is_none());
        assert!(Beacon::new(None).read().since_turn_ms.is_none());
    }
}
