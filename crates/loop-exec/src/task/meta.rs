//! `TaskMeta`: what the loop knows about a task for `all_tasks()` and error
//! messages (id, name, spawn site, poll count, what it waits on), kept in
//! the task's header and only touched on the loop's thread.

use std::cell::{Cell, OnceCell, RefCell};
use std::panic::Location;

use super::TaskId;

/// What the loop knows about a task, for `all_tasks()` and error messages.
/// Only touched on the loop's thread.
#[repr(C)] // `packed`, touched on every poll, first: next to the header's `state`
pub(crate) struct TaskMeta {
    /// Bits 0-23: index of the task's entry in the loop's registry of live
    /// tasks. Bits 24-31: the `WaitKind::code` of what the task waits on (0:
    /// nothing reported), set by the leaf future that last returned
    /// `Pending` and cleared at every poll. Bit 32: whether the previous
    /// poll ended with a wait reported (so a report in this poll can tell a
    /// continuing wait from a new one). Bits 33-34: the `StageKind` of the
    /// task cell's stage. Bits 35-63: the number of polls (saturating). Packed to keep tasks small, and so that the per-poll
    /// bookkeeping is one load and one store.
    packed: Cell<u64>,
    /// Unique in the process.
    pub(crate) id: TaskId,
    /// What most tasks never need: the name, and the sampled busy time
    /// (made at spawn for a named task, else by the first timed poll). One
    /// thin pointer keeps every task 8 bytes smaller than the two fields.
    cold: OnceCell<Box<ColdMeta>>,
    /// Where `spawn` was called.
    pub(crate) location: &'static Location<'static>,
    /// When the task was spawned: the loop's clock tick (ms, wrapping) at
    /// the start of that turn (for a task spawned from another thread: of
    /// the turn it arrived in).
    pub(crate) created_tick: Cell<u32>,
    /// Loop tick (ms, wrapping) when that wait began.
    pub(crate) waiting_since: Cell<u32>,
    /// The source location of the wait.
    pub(crate) waiting_at: Cell<Option<&'static Location<'static>>>,
}

/// The rarely used part of a task's metadata (see `TaskMeta::cold`).
#[derive(Default)]
struct ColdMeta {
    /// Set through the task builder.
    name: Option<String>,
    /// Time spent inside the future's `poll`, in nanoseconds: every poll
    /// timed in debug mode, else an unbiased estimate from sampled turns
    /// (see `Introspection::sample_turn`).
    busy_ns: Cell<u64>,
    /// The longest poll timed so far (sampled turns; every poll in debug
    /// mode), in nanoseconds: the inspector's "slow poll" lint.
    max_poll_ns: Cell<u64>,
    /// What exactly the reported wait is on (the lock, the awaited task,
    /// the fd: `loop_sync::WaitTarget`), when its leaf said. Made only
    /// for tasks that wait on such a thing, so that a task that never
    /// does stays without a `ColdMeta`.
    target: Cell<loop_sync::WaitTarget>,
    /// Times the task woke itself during its own poll (a future that
    /// calls `wake_by_ref` and returns `Pending`: a busy wait).
    self_wakes: Cell<u32>,
    /// Every task this one waits for (`gather`, `wait`, `as_completed`,
    /// a `TaskGroup` over several tasks report one join each; later polls
    /// report only the members woken), while it waits only for tasks:
    /// emptied by a wait of another kind, and started afresh when a poll's
    /// first report is a join on a task not in it (the next handle of a
    /// loop awaiting handles one by one). At most `MAX_JOINS`; tasks that
    /// finished are left for the reader to drop.
    joins: RefCell<Vec<u64>>,
}

/// The most joins kept per task (see `ColdMeta::joins`).
const MAX_JOINS: usize = 64;

/// Registry slots must fit in 24 bits (see `TaskMeta::packed`).
pub(crate) const MAX_SLOT: u32 = (1 << 24) - 1;

/// The wait-code bits of `TaskMeta::packed`.
const WAIT_BITS: u64 = 0xFF << 24;
/// `TaskMeta::packed`: the previous poll ended waiting.
const WAITED_BEFORE: u64 = 1 << 32;
/// `TaskMeta::packed`: the stage bits.
const STAGE_BITS: u64 = 0b11 << 33;
/// `TaskMeta::packed`: one poll in the count.
const ONE_POLL: u64 = 1 << 35;

/// What a task cell's stage holds (raw.rs keeps the future and the output
/// in one place; these bits say which is there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StageKind {
    /// The future, not yet finished.
    Running = 0,
    /// The output (or the error the task ended with).
    Finished = 1,
    /// Nothing: the output was taken or dropped.
    Consumed = 2,
}

impl TaskMeta {
    /// Bookkeeping for a task in registry slot 0, not waiting, never polled.
    pub(crate) fn new(
        id: TaskId,
        name: Option<String>,
        location: &'static Location<'static>,
        created_tick: u32,
    ) -> TaskMeta {
        let cold = OnceCell::new();
        if name.is_some() {
            let _ = cold.set(Box::new(ColdMeta { name, ..ColdMeta::default() }));
        }
        TaskMeta {
            id,
            cold,
            location,
            packed: Cell::new(0),
            created_tick: Cell::new(created_tick),
            waiting_since: Cell::new(0),
            waiting_at: Cell::new(None),
        }
    }

    /// The name given at spawn, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.cold.get()?.name.as_deref()
    }

    /// Busy time so far, in nanoseconds (see `ColdMeta::busy_ns`).
    pub(crate) fn busy_ns(&self) -> u64 {
        self.cold.get().map_or(0, |c| c.busy_ns.get())
    }

    /// Adds a timed poll to the busy time: `ns` weighted (see
    /// `Introspection::add_busy`), `took_ns` the poll itself.
    pub(crate) fn add_busy_ns(&self, ns: u64, took_ns: u64) {
        let cold = self.cold.get_or_init(Box::default);
        cold.busy_ns.set(cold.busy_ns.get().saturating_add(ns));
        cold.max_poll_ns.set(cold.max_poll_ns.get().max(took_ns));
    }

    /// The longest poll timed so far, in nanoseconds.
    pub(crate) fn max_poll_ns(&self) -> u64 {
        self.cold.get().map_or(0, |c| c.max_poll_ns.get())
    }

    /// What the reported wait is on (`NONE` when not said).
    pub(crate) fn waiting_target(&self) -> loop_sync::WaitTarget {
        self.cold.get().map_or(loop_sync::WaitTarget::NONE, |c| c.target.get())
    }

    /// Records what the wait being reported is on.
    #[inline]
    fn set_target(&self, target: loop_sync::WaitTarget) {
        if target != loop_sync::WaitTarget::NONE {
            self.cold.get_or_init(Box::default).target.set(target);
        } else if let Some(cold) = self.cold.get() {
            cold.target.set(target);
        }
    }

    /// The tasks this one waits for (see `ColdMeta::joins`).
    pub(crate) fn joins(&self) -> Vec<u64> {
        self.cold.get().map_or_else(Vec::new, |c| c.joins.borrow().clone())
    }

    /// Notes a join on `awaited` (`first`: the poll's first report), or a
    /// wait of another kind.
    fn note_join(&self, kind: loop_sync::WaitKind, awaited: u64, first: bool) {
        if kind == loop_sync::WaitKind::TaskJoin && awaited != 0 {
            let cold = self.cold.get_or_init(Box::default);
            let mut joins = cold.joins.borrow_mut();
            if !joins.contains(&awaited) {
                if first {
                    joins.clear();
                }
                if joins.len() < MAX_JOINS {
                    joins.push(awaited);
                }
            }
        } else if let Some(cold) = self.cold.get() {
            cold.joins.borrow_mut().clear();
        }
    }

    /// Counts a wake of the task by itself, during its poll.
    pub(crate) fn add_self_wake(&self) {
        let cold = self.cold.get_or_init(Box::default);
        cold.self_wakes.set(cold.self_wakes.get().saturating_add(1));
    }

    /// Times the task woke itself during its own poll.
    pub(crate) fn self_wakes(&self) -> u32 {
        self.cold.get().map_or(0, |c| c.self_wakes.get())
    }

    /// The task's registry slot.
    pub(crate) fn registry_slot(&self) -> usize {
        (self.packed.get() as u32 & MAX_SLOT) as usize
    }

    /// Records the task's registry slot (at most `MAX_SLOT`).
    pub(crate) fn set_registry_slot(&self, slot: u32) {
        debug_assert!(slot <= MAX_SLOT);
        self.packed.set((self.packed.get() & !u64::from(MAX_SLOT)) | u64::from(slot));
    }

    /// Number of polls so far (saturating).
    pub(crate) fn polls(&self) -> u32 {
        (self.packed.get() >> 35) as u32
    }

    /// What the task cell's stage holds.
    #[inline(always)]
    pub(crate) fn stage(&self) -> StageKind {
        match (self.packed.get() & STAGE_BITS) >> 33 {
            0 => StageKind::Running,
            1 => StageKind::Finished,
            _ => StageKind::Consumed,
        }
    }

    /// Records what the stage now holds.
    #[inline(always)]
    pub(crate) fn set_stage(&self, kind: StageKind) {
        self.packed.set((self.packed.get() & !STAGE_BITS) | ((kind as u64) << 33));
    }

    /// What the task waits on, if reported.
    pub(crate) fn waiting_kind(&self) -> Option<loop_sync::WaitKind> {
        loop_sync::WaitKind::from_code((self.packed.get() >> 24) as u8)
    }

    /// At the start of a poll: counts it, and turns "waits on ..." into
    /// "waited before this poll" (branch-free: this runs on every poll).
    pub(crate) fn start_poll(&self) {
        let packed = self.packed.get();
        let waited = u64::from(packed & WAIT_BITS != 0) << 32;
        // The count is the top bits: adding to it overflows only at the
        // largest count, where it stays.
        let counted = packed.checked_add(ONE_POLL).unwrap_or(packed);
        self.packed.set((counted & !(WAIT_BITS | WAITED_BEFORE)) | waited);
    }

    /// Records that the task now waits on `kind` at `at` (on `target`, if
    /// known), during a poll.
    /// `first` holds, for the first report of this poll, where and since
    /// when the task waited when the poll began: a poll that ends waiting
    /// where the previous one did continues that wait (keeps its start),
    /// even if an outer future refined an inner one's report in between.
    pub(crate) fn record_wait(
        &self,
        kind: loop_sync::WaitKind,
        at: &'static Location<'static>,
        target: loop_sync::WaitTarget,
        now_tick: u32,
        first: &Cell<(Option<&'static Location<'static>>, u32)>,
    ) {
        self.set_target(target);
        let packed = self.packed.get();
        self.note_join(kind, target.resource, packed & WAIT_BITS == 0);
        if packed & WAIT_BITS == 0 {
            let before = if packed & WAITED_BEFORE != 0 { self.waiting_at.get() } else { None };
            first.set((before, self.waiting_since.get()));
        }
        let (before, since) = first.get();
        self.waiting_since.set(if before == Some(at) { since } else { now_tick });
        self.waiting_at.set(Some(at));
        self.packed.set((packed & !WAIT_BITS) | (u64::from(kind.code()) << 24));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::IdBlock;

    #[test]
    fn joins_gather_a_polls_members_and_start_afresh_for_the_next_handle() {
        use loop_sync::{WaitKind, WaitTarget};
        let meta = TaskMeta::new(IdBlock::new().next(), None, Location::caller(), 0);
        let first = Cell::new((None, 0));
        let at = Location::caller();
        let join = |id| WaitTarget { resource: id, detail: 0 };
        // gather(7, 8, 9): one poll reports all three.
        meta.start_poll();
        for id in [7, 8, 9] {
            meta.record_wait(WaitKind::TaskJoin, at, join(id), 0, &first);
        }
        assert_eq!(meta.joins(), [7, 8, 9]);
        // Woken by 7's end: the next poll reports 8 only (still pending).
        meta.start_poll();
        meta.record_wait(WaitKind::TaskJoin, at, join(8), 0, &first);
        assert_eq!(meta.joins(), [7, 8, 9], "the members stay (7 is dropped by the reader once gone)");
        // Handles awaited one by one: each new one starts the list afresh.
        meta.start_poll();
        meta.record_wait(WaitKind::TaskJoin, at, join(10), 0, &first);
        assert_eq!(meta.joins(), [10]);
        meta.start_poll();
        meta.record_wait(WaitKind::TaskJoin, at, join(11), 0, &first);
        assert_eq!(meta.joins(), [11]);
        // Another kind of wait empties it.
        meta.start_poll();
        meta.record_wait(WaitKind::Sleep, at, WaitTarget::NONE, 0, &first);
        assert!(meta.joins().is_empty());
    }

    #[test]
    fn packed_fields_stay_apart_and_the_poll_count_saturates() {
        let meta = TaskMeta::new(IdBlock::new().next(), None, Location::caller(), 0);
        let first = Cell::new((None, 0));
        let (here, there) = (Location::caller(), Location::caller());
        meta.set_registry_slot(MAX_SLOT);
        meta.start_poll();
        meta.record_wait(loop_sync::WaitKind::Blocking, here, loop_sync::WaitTarget::NONE, 10, &first);
        assert_eq!((meta.registry_slot(), meta.polls()), (MAX_SLOT as usize, 1));
        assert_eq!(meta.waiting_kind(), Some(loop_sync::WaitKind::Blocking));
        assert_eq!(meta.waiting_since.get(), 10);
        // Polled again, waiting at the same place (after an inner report
        // elsewhere): the wait goes on.
        meta.start_poll();
        assert_eq!(meta.waiting_kind(), None, "a poll clears the report");
        meta.record_wait(loop_sync::WaitKind::Lock, there, loop_sync::WaitTarget::NONE, 20, &first);
        meta.record_wait(loop_sync::WaitKind::Blocking, here, loop_sync::WaitTarget::NONE, 20, &first);
        assert_eq!((meta.waiting_since.get(), meta.polls()), (10, 2));
        // A poll that reports nothing, then the same place again: a new wait.
        meta.start_poll();
        meta.start_poll();
        meta.record_wait(loop_sync::WaitKind::Blocking, here, loop_sync::WaitTarget::NONE, 30, &first);
        assert_eq!((meta.waiting_since.get(), meta.polls()), (30, 4));
        assert_eq!(meta.registry_slot(), MAX_SLOT as usize);
        meta.set_stage(StageKind::Finished);
        assert_eq!((meta.stage(), meta.polls()), (StageKind::Finished, 4));
        meta.packed.set((!WAIT_BITS & !STAGE_BITS & !u64::from(MAX_SLOT)) | 5);
        meta.set_stage(StageKind::Consumed);
        meta.start_poll();
        assert_eq!((meta.registry_slot(), meta.polls()), (5, u32::MAX >> 3), "saturated");
        assert_eq!(meta.stage(), StageKind::Consumed);
    }
}
