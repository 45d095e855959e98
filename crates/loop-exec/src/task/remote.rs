//! `impl TaskRef`, the cross-thread half (the local half is raw.rs): tasks
//! spawned from another thread (`LoopHandle::spawn_threadsafe`,
//! `spawn_fn`), their allocation on the spawning thread, their completion,
//! and the handle's side of the join slot. The slot's ownership is the
//! state word's `JOIN_WAKER` bit (state.rs); the handle is
//! `ThreadsafeTask` (threadsafe.rs).

use std::future::Future;
use std::task::Waker;

use super::meta::TaskMeta;
use super::raw::{TaskRef, WAKER_VTABLE};
use super::refs::{InFlight, NewRemoteTask};
use super::state::{self, Snapshot, State};
use super::Schedule;
use crate::task::build_on_loop::BuildOnLoop;

impl TaskRef {
    /// `allocate` for a task spawned from another thread, whose handle is a
    /// `ThreadsafeTask` (see `state::REMOTE`). The future and its output are
    /// `Send`: the cell is made here and travels to its loop.
    pub(crate) fn allocate_remote<F, S>(future: F, scheduler: S, meta: TaskMeta) -> NewRemoteTask
    where
        F: Future + Send + 'static,
        F::Output: Send,
        S: Schedule,
    {
        Self::remote_refs(Self::allocate_with(State::new_remote(3), future, scheduler, meta))
    }

    /// `allocate_remote` for a future built on the loop by a `Send`
    /// closure: until its first poll (on the loop's thread) the cell holds
    /// only the closure, so the cell may travel (see `BuildOnLoop`).
    pub(crate) fn allocate_remote_built<B, F, S>(build: B, scheduler: S, meta: TaskMeta) -> NewRemoteTask
    where
        B: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send,
        S: Schedule,
    {
        Self::remote_refs(Self::allocate_with(State::new_remote(3), BuildOnLoop::new(build), scheduler, meta))
    }

    /// A remote cell's three references: two travel to the loop as one,
    /// the third is the handle's.
    fn remote_refs(task: TaskRef) -> NewRemoteTask {
        // SAFETY: the cell was counted with three references; `task` stands
        // for two of them from here on, and this is the third.
        let handle = unsafe { TaskRef::from_counted(task.as_ptr()) };
        // SAFETY: as above: the two counts `task` now stands for.
        NewRemoteTask { in_flight: unsafe { InFlight::new(task) }, handle }
    }

    /// `complete` for a task with a `ThreadsafeTask` handle, whose join
    /// waker is handed over by the `JOIN_WAKER` protocol (state.rs): set
    /// `COMPLETE` first, then wake the waker the slot holds (the handle may
    /// poll at once on its thread and must see the output), then drop the
    /// references.
    #[cold]
    #[inline(never)]
    pub(super) fn complete_remote(self, also: Option<TaskRef>) {
        let header = self.header();
        let prev = Snapshot::of(state::complete_remote(header.state.word()));
        if !prev.has_handle() {
            // The handle went first: the output is ours to drop.
            if let Some(message) = self.drop_stage() {
                self.scheduler().unhandled_panic(header, message);
            }
        } else if prev.has_join_waker() {
            // The slot is the loop's until it is handed back below: read it
            // only, as the handle may be reading it too (`will_wake`).
            header.join_waker.wake_by_ref(&WAKER_VTABLE);
            let _ = state::unset_join_waker_after_complete(header.state.word());
        }
        self.release_with(also, State::ref_dec_many);
    }

    /// A task spawned from another thread that its loop will never run (it
    /// closed first): drops the future here and completes the task as
    /// cancelled, so its `ThreadsafeTask` resolves. `self` carries two
    /// counts (the registry's and the run queue's it would have had).
    pub(super) fn abandon_remote(self, queue_ref: TaskRef) {
        debug_assert!(self.header().state.load().is_remote());
        let _ = self.header().state.request_cancel();
        self.cancel_now();
        self.complete(Some(queue_ref));
    }

    /// Cross-thread join, handle side: stores `waker` in the join slot,
    /// which the handle owns (`JOIN_WAKER` is clear).
    #[inline]
    pub(crate) fn store_remote_join_waker(&self, waker: &Waker) {
        self.header().join_waker.register(waker, &WAKER_VTABLE);
    }

    /// Cross-thread join, handle side: whether the waker in the slot (which
    /// the loop owns, `JOIN_WAKER` set) would wake the same as `waker`. A
    /// read, as the loop may be reading the slot to wake it.
    #[inline]
    pub(crate) fn remote_join_will_wake(&self, waker: &Waker) -> bool {
        self.header().join_waker.will_wake(waker, &WAKER_VTABLE)
    }

    /// Cross-thread join, handle side: drops the waker in the slot, which
    /// the handle owns.
    #[inline]
    pub(crate) fn clear_remote_join_waker(&self) {
        drop(self.header().join_waker.take(&WAKER_VTABLE));
    }
}
