//! The executor of the `loop` runtime: tasks, the run queue, the
//! [`EventLoop`] that drives `loop-core`'s reactor and `loop-time`'s wheel,
//! callbacks, timers, the blocking pool and the task combinators.
//!
//! Most users depend on the facade crate `loop`, which re-exports all of
//! this under asyncio's names.
//!
//! # Map
//!
//! Folders, bottom-up:
//!
//! | folder | holds |
//! |---|---|
//! | `task/` | the task cell (`raw.rs`), its state word and every transition (`state.rs`), metadata (`meta.rs`), the join waker (`join_waker.rs`), the [`Task`] handle (`handle.rs`), the cross-thread cell (`remote.rs`, `build_on_loop.rs`) and [`ThreadsafeTask`] (`threadsafe.rs`), the live-task registry (`registry.rs`), panic catching (`panics.rs`), and the `Schedule` seam (`mod.rs`) |
//! | `blocking/` | the pool's threads and jobs (`pool.rs`): a leaf |
//! | `event_loop/` | [`EventLoop`] / [`LoopRef`] and the free functions (`loop_ref.rs`); [`spawn_blocking`] / [`to_thread`] and the name resolver on the pool (`blocking.rs`); `LoopCore`, the loop's parts (`core/mod.rs`), the turn and parking (`core/turn.rs`), a poll or callback run (`core/run.rs`); the run queue (`run_queue.rs`, `seeded_order.rs`); the time driver (`time_driver.rs`); introspection (`introspection.rs`); what other threads reach and its `Schedule` (`shared.rs`, `scheduler.rs`, [`LoopHandle`] in `loop_handle.rs`); which loop runs on this thread (`current.rs`); `call_soon` / `call_later` (`callback.rs`, `callback_cell.rs`); settings and [`Builder`] (`config.rs`, `builder.rs`); counters and [`LoopStats`] (`stats.rs`); the exception handler's [`ExceptionContext`] (`exception.rs`); [`spawn`] and [`TaskBuilder`] (`spawn.rs`); task-locals (`context.rs`); wait sites (`wait_site.rs`); [`check_seeds`] (`seeds.rs`) |
//! | `time/` | [`sleep`] (`sleep.rs`), the one timeout, [`wait_for`] and [`timeout_at`] (`timeout.rs`), [`TimeoutScope`] (`scope.rs`), [`Interval`] (`interval.rs`) |
//! | `combinators/` | [`yield_now`] (`yield_now.rs`), [`gather!`] (`gather.rs`), `select!` (`select.rs`), [`wait`], [`as_completed`], [`shield`], [`TaskGroup`], and `WokenSet` (`woken.rs`) |
//! | `loop_set/` | [`LoopSet`] (`set.rs`) and [`LoopSetHandle`] (`handle.rs`) |
//! | `inspect/` | what `loop-inspect` attaches to: each loop's beacon of the task it polls (`beacon.rs`), the process's list of loops (`directory.rs`), the endpoint socket and its thread (`endpoint.rs`), the JSON snapshot (`snapshot.rs`, `json.rs`, `pieces.rs`); see [`inspect`] |
//!
//! **How a task travels.** [`spawn`] allocates one cell (header, scheduler,
//! future) with three references: the registry's, the run queue's, the
//! handle's. The turn pops it from the `RunQueue`, clears `SCHEDULED`
//! (`transition_to_running`) and polls it with a waker that is the cell
//! itself. A leaf future that returns `Pending` keeps that waker (a socket
//! in `loop-core`, a timer in the `TimeDriver`, a waiter list in
//! `loop-sync`). Its wake sets `SCHEDULED` and calls the cell's
//! `Schedule::schedule`: the local queue on the loop's thread, the
//! injection queue plus a notify from anywhere else; the loop drains that
//! queue on its next turn. When the future returns `Ready`, the output
//! replaces it in the cell, `TaskRef::complete` wakes the awaiter (the join
//! waker), and the registry's and queue's references go in one atomic step;
//! the handle takes the output and frees the cell.
//!
//! ```
//! use std::time::Duration;
//!
//! let out = loop_exec::run(async {
//!     let a = loop_exec::spawn(async { 1 });
//!     let b = loop_exec::spawn(async {
//!         loop_exec::sleep(Duration::from_millis(1)).await;
//!         2
//!     });
//!     let (a, b) = loop_exec::gather!(a, b).await;
//!     a.unwrap() + b.unwrap()
//! });
//! assert_eq!(out, 3);
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod blocking;
mod combinators;
mod event_loop;
pub mod inspect;
mod loop_set;
mod task;
mod time;

pub use blocking::executor::{BlockingFn, Executor};
pub use combinators::as_completed::{
    as_completed, AsCompleted, AsCompletedTasks, AsCompletedTasksWithin, AsCompletedWithin,
};
pub use combinators::gather::{gather, try_gather, Gather, TryGather};
pub use combinators::shield::{shield, Shield};
pub use combinators::task_group::{ChildError, ChildHandle, GroupClosed, GroupError, GroupHandle, TaskGroup};
pub use combinators::wait::{wait, EmptyWait, ReturnWhen};
pub use combinators::yield_now::{yield_now, YieldNow};
pub use event_loop::blocking::{spawn_blocking, to_thread, unblock, BlockingJob};
pub use event_loop::builder::Builder;
pub use event_loop::callback::{Handle, TimerHandle};
pub use event_loop::context::{LocalKey, Scoped};
pub use event_loop::exception::{default_exception_handler, ExceptionContext, ExceptionHandler, PanicPayload};
pub use event_loop::loop_handle::{LoopClosed, LoopHandle};
pub use event_loop::loop_ref::{
    all_tasks, current_task, dump_tasks, get_running_loop, run, try_get_running_loop, EventLoop, LoopRef,
};
pub use event_loop::seeds::check_seeds;
pub use event_loop::spawn::{create_task, spawn, TaskBuilder};
pub use event_loop::stats::LoopStats;
pub use event_loop::wait_site::WaitSite;
pub use loop_coop::{unconstrained, Unconstrained};
pub use loop_set::handle::LoopSetHandle;
pub use loop_set::set::{LoopSet, LoopSetBuilder, ShutdownError};
pub use loop_sync::{CancelledError, InvalidStateError, ResultCell};
pub use task::threadsafe::ThreadsafeTask;
pub use task::{install_tokio_panic_hint, TOKIO_HINT};
pub use task::{Task, TaskError, TaskId, TaskInfo, TaskState, WaitInfo};
pub use time::interval::{interval, Interval};
pub use time::scope::TimeoutScope;
pub use time::sleep::{sleep, sleep_until, Sleep};
pub use time::timeout::{timeout_at, wait_for, Timeout, TimeoutError};

/// asyncio's name for the one-shot result cell made by
/// [`LoopRef::create_future`].
pub type LoopFuture<T> = ResultCell<T>;

/// The task-state transitions of the wake/poll race and of the
/// cross-thread join, for the loom models in `task/loom.rs`.
#[doc(hidden)]
pub mod __model {
    pub use crate::task::state::{
        complete_remote, drop_remote_handle, set_join_waker, transition_to_running, transition_to_scheduled,
        unset_join_waker, unset_join_waker_after_complete, StateWord, COMPLETE, HANDLE, JOIN_WAKER, REMOTE, SCHEDULED,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::combinators::gather::MaybeDone;
}
