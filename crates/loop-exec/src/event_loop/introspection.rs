//! What a loop can tell about its tasks: which one is being polled, what
//! each waits on and since when, sampled busy time, and the snapshots of
//! `all_tasks()` / `current_task()` / `dump_tasks()`.

use std::cell::Cell;
use std::panic::Location;
use std::ptr::NonNull;
use std::time::Duration;

use crate::event_loop::config::Config;
use crate::event_loop::exception::ExceptionContext;
use crate::task::meta::TaskMeta;
use crate::task::raw::Header;
use crate::task::{TaskInfo, TaskState, WaitInfo};

/// One turn in this many (on average) has its polls timed for the tasks'
/// busy time.
const SAMPLE_EVERY: u32 = 1024;

/// The introspection state of one loop (its thread only).
pub(crate) struct Introspection {
    /// Per-task bookkeeping on (`Builder::introspection`).
    enabled: bool,
    /// Debug mode: every poll is timed, slow ones reported.
    debug: bool,
    /// The task being polled right now.
    current: Cell<Option<NonNull<Header>>>,
    /// For the task being polled: where and since when it waited when the
    /// poll began, saved by the poll's first wait report.
    first_wait: Cell<(Option<&'static Location<'static>>, u32)>,
    /// Weight of this turn's polls in the tasks' busy time: 0 when they
    /// are not timed (most turns), `SAMPLE_EVERY` in a sampled turn, 1 in
    /// debug mode (every poll is timed).
    turn_weight: Cell<u32>,
    /// Turns left until the next sampled one.
    turns_to_sample: Cell<u32>,
    /// xorshift state drawing the gaps between sampled turns.
    sample_rng: Cell<u32>,
}

impl Introspection {
    pub(crate) fn new(config: &Config) -> Introspection {
        let sample_seed = {
            static LOOPS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = LOOPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Any odd multiplier spreads consecutive loops apart; never 0
            // (xorshift's fixed point).
            n.wrapping_mul(0x9E37_79B9) | 1
        };
        Introspection {
            enabled: config.introspection,
            debug: config.debug,
            current: Cell::new(None),
            first_wait: Cell::new((None, 0)),
            turn_weight: Cell::new(u32::from(config.debug)),
            // A different sequence per loop, and not always the first turn.
            turns_to_sample: Cell::new(1 + (sample_seed >> 8) % (2 * SAMPLE_EVERY - 1)),
            sample_rng: Cell::new(sample_seed),
        }
    }

    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Decides whether this turn's polls are timed for the tasks' busy
    /// time (see `turn_weight`). Timing every poll would cost two clock
    /// reads (~50 ns) per poll, more than a whole `yield_now`; instead about
    /// one turn in `SAMPLE_EVERY` is timed, each of its polls counting
    /// `SAMPLE_EVERY` times. The gaps between sampled turns are random
    /// (uniform on 1..2*SAMPLE_EVERY), so every poll is equally likely to
    /// be timed, whatever its place in a round of tasks: a task's estimate
    /// is right on average. Deciding per turn keeps the per-poll cost at one
    /// predictable branch.
    ///
    /// `observed`: a tool watches the loop (see `Beacon::observed`): every
    /// poll is timed, as in debug mode, for exact busy times and slow polls.
    #[inline]
    pub(crate) fn sample_turn(&self, observed: bool) {
        if self.debug || !self.enabled {
            return;
        }
        if observed {
            self.turn_weight.set(1);
            return;
        }
        let left = self.turns_to_sample.get() - 1;
        if left > 0 {
            self.turns_to_sample.set(left);
            self.turn_weight.set(0);
            return;
        }
        let mut x = self.sample_rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.sample_rng.set(x);
        self.turns_to_sample.set(1 + x % (2 * SAMPLE_EVERY - 1));
        self.turn_weight.set(SAMPLE_EVERY);
    }

    /// The weight of this turn's polls (0: not timed).
    #[inline]
    pub(crate) fn turn_weight(&self) -> u32 {
        self.turn_weight.get()
    }

    /// Makes `task` the one being polled (None: none); returns the previous.
    #[inline]
    pub(crate) fn set_current(&self, task: Option<NonNull<Header>>) -> Option<NonNull<Header>> {
        self.current.replace(task)
    }

    /// The cell naming the task being polled, as `loop_sync`'s `TaskSlot`
    /// (a `Lock` records the task found there as its holder). The same
    /// layout: `Cell<T>` is `T`, and `Option<NonNull<_>>` of any sized
    /// type is one thin pointer.
    pub(crate) fn task_slot(&self) -> *const loop_sync::TaskSlot {
        std::ptr::from_ref(&self.current).cast()
    }

    /// The task being polled.
    #[inline]
    pub(crate) fn current(&self) -> Option<NonNull<Header>> {
        self.current.get()
    }

    /// Notes on the task being polled that it now waits on `kind` at
    /// `location` (no-op outside a task). `now_tick`: the turn's tick.
    #[inline]
    pub(crate) fn record_wait(
        &self,
        kind: loop_sync::WaitKind,
        location: &'static Location<'static>,
        target: loop_sync::WaitTarget,
        now_tick: u32,
    ) {
        self.with_polled_meta(|meta| meta.record_wait(kind, location, target, now_tick, &self.first_wait));
    }

    /// A [`WaitSite`](crate::WaitSite)'s report: the task waits at
    /// `location`, on `kind`, or with `None` on whatever the futures polled
    /// under the site reported (nothing, if they reported nothing).
    pub(crate) fn record_wait_site(
        &self,
        kind: Option<loop_sync::WaitKind>,
        target: Option<loop_sync::WaitTarget>,
        location: &'static Location<'static>,
        now_tick: u32,
    ) {
        self.with_polled_meta(|meta| {
            if let Some(kind) = kind.or_else(|| meta.waiting_kind()) {
                // Unless the site names its target, it refines where, not
                // what: the leaf's target stays.
                let target = target.unwrap_or_else(|| {
                    if meta.waiting_kind().is_some() {
                        meta.waiting_target()
                    } else {
                        loop_sync::WaitTarget::NONE
                    }
                });
                meta.record_wait(kind, location, target, now_tick, &self.first_wait);
            }
        });
    }

    /// Runs `f` on the bookkeeping of the task being polled, when
    /// introspection is on (not outside a task).
    #[inline]
    fn with_polled_meta(&self, f: impl FnOnce(&TaskMeta)) {
        if !self.enabled {
            return;
        }
        let Some(ptr) = self.current.get() else { return };
        // SAFETY: the current task is being polled; the run loop holds a
        // reference to it for the whole poll, and `f` runs within it.
        f(unsafe { &ptr.as_ref().meta });
    }

    /// `header`'s task, being polled, woke itself.
    #[cold]
    pub(crate) fn note_self_wake(&self, header: &Header) {
        if self.enabled {
            header.meta.add_self_wake();
        }
    }

    /// The id of the task being polled, if any (cheap: no snapshot).
    #[inline]
    pub(crate) fn current_task_id(&self) -> Option<crate::task::TaskId> {
        let ptr = self.current.get()?;
        // SAFETY: as in `with_polled_meta`: the task is being polled.
        Some(unsafe { ptr.as_ref() }.meta.id)
    }

    /// A snapshot of the task being polled; `now_tick`: the loop's tick now.
    pub(crate) fn current_info(&self, now_tick: u32) -> Option<TaskInfo> {
        let ptr = self.current.get()?;
        // SAFETY: the current task is being polled, so the run loop holds a
        // reference to it for the whole poll.
        Some(self.info(unsafe { ptr.as_ref() }, true, now_tick))
    }

    /// A snapshot of one task.
    pub(crate) fn info(&self, header: &Header, running: bool, now_tick: u32) -> TaskInfo {
        let state = header.state.load();
        let state = if running {
            TaskState::Running
        } else if state.is_cancel_requested() {
            TaskState::Cancelling
        } else if state.is_scheduled() {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        };
        let meta = &header.meta;
        let ms = |since: u32| Duration::from_millis(u64::from(now_tick.wrapping_sub(since)));
        TaskInfo {
            id: meta.id,
            name: meta.name().map(str::to_owned),
            state,
            location: meta.location,
            polls: u64::from(meta.polls()),
            busy: Duration::from_nanos(meta.busy_ns()),
            busy_estimated: !self.debug,
            age: ms(meta.created_tick.get()),
            waiting: match (meta.waiting_kind(), meta.waiting_at.get()) {
                (Some(kind), Some(location)) => Some(WaitInfo { kind, location, waited: ms(meta.waiting_since.get()) }),
                _ => None,
            },
        }
    }

    /// Adds a timed poll to the task's busy time (weighted by the turn).
    #[inline]
    pub(crate) fn add_busy(&self, header: &Header, took: Duration) {
        if self.enabled {
            let took = took.as_nanos() as u64;
            let weighted = took.saturating_mul(u64::from(self.turn_weight.get()));
            header.meta.add_busy_ns(weighted, took);
        }
    }
}

/// The report of a poll that took `took`, at least the slow-callback
/// threshold (debug mode).
pub(crate) fn slow_poll(header: &Header, took: Duration, threshold: Duration) -> ExceptionContext {
    let meta = &header.meta;
    // Where the poll ended up waiting is usually just after the code that
    // blocked: worth naming.
    let then = match (meta.waiting_kind(), meta.waiting_at.get()) {
        (Some(kind), Some(at)) => format!("; it then waited on {} at {}:{}", kind.describe(), at.file(), at.line()),
        _ => String::new(),
    };
    let mut ctx = ExceptionContext::new(format!(
        "slow poll: one poll took {took:.3?}, blocking the loop (slow_callback_duration is {threshold:.3?}){then}"
    ));
    ctx.task_id = Some(meta.id);
    ctx.task_name = meta.name().map(str::to_owned);
    ctx.location = Some(meta.location);
    ctx
}
