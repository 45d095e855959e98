//! The executor of the `loop` runtime: tasks, the run queue, the
//! [`EventLoop`] that drives `loop-core`'s reactor and `loop-time`'s wheel,
//! callbacks, timers, the blocking pool and the task combinators.
//!
//! Most users depend on the facade crate `loop`, which re-exports all of
//! this under asyncio's names.
//!
//! # Map
//!
//! | module | holds |
//! |---|---|
//! | `task/` | the task cell (`raw.rs`), its state word and every transition (`state.rs`), metadata (`meta.rs`), the join waker (`join_waker.rs`), the [`Task`] handle (`handle.rs`), and the `Schedule` seam (`mod.rs`) |
//! | `inner.rs` | `LoopInner`: the loop's parts and the turn that runs them (spawn, poll, complete, park, close) |
//! | `run_queue.rs`, `seeded_order.rs` | what runs next, FIFO or in a seeded order |
//! | `time_driver.rs` | clock, timer wheel, the turn's cached time, the paused-clock jump |
//! | `task_registry.rs` | the live tasks (for `all_tasks` and close) and task ids |
//! | `introspection.rs` | the task being polled, waits, sampled busy time, snapshots |
//! | `loop_shared.rs`, `scheduler.rs` | what other threads reach (injection queue, notifier), and `Schedule` for it |
//! | `current.rs` | which loop runs on this thread (`with_current`, the `Enter` guard) |
//! | `config.rs`, `builder.rs`, `event_loop.rs` | settings and stats, [`Builder`], [`EventLoop`] / [`LoopRef`] and the free functions |
//! | `spawn.rs`, `callback.rs`, `callback_cell.rs` | spawning and [`TaskBuilder`]; `call_soon` / `call_later` |
//! | `time.rs`, `timeout_scope.rs` | [`sleep`], [`Interval`], the one timeout ([`wait_for`], [`timeout_at`], [`TimeoutScope`]) |
//! | `combinators.rs`, `wait.rs`, `as_completed.rs`, `shield.rs`, `task_group.rs`, `woken.rs` | [`gather!`], [`wait`], [`as_completed`], [`shield`], [`TaskGroup`] |
//! | `blocking.rs`, `blocking_pool.rs` | [`spawn_blocking`] and its threads |
//! | `loop_handle.rs`, `threadsafe.rs` | [`LoopHandle`] and [`ThreadsafeTask`], for other threads |
//! | `context.rs`, `wait_site.rs`, `panics.rs`, `seeds.rs` | task-locals, wait sites, panic catching, [`check_seeds`] |
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

mod as_completed;
mod blocking;
mod blocking_pool;
mod build_on_loop;
mod builder;
mod callback;
mod callback_cell;
mod combinators;
mod config;
mod context;
mod current;
mod event_loop;
mod inner;
mod introspection;
mod loop_handle;
mod loop_set;
mod loop_set_handle;
mod loop_shared;
mod panics;
mod run_queue;
mod scheduler;
mod seeded_order;
mod seeds;
mod shield;
mod spawn;
mod task;
mod task_group;
mod task_registry;
mod threadsafe;
mod time;
mod time_driver;
mod timeout_scope;
mod wait;
mod wait_site;
mod woken;

#[cfg(test)]
mod tests;

pub use as_completed::{as_completed, AsCompleted, AsCompletedWithin};
pub use blocking::{spawn_blocking, to_thread};
pub use builder::Builder;
pub use callback::{Handle, TimerHandle};
pub use combinators::{gather, try_gather, yield_now, Gather, TryGather, YieldNow};
pub use config::{ExceptionContext, ExceptionHandler, LoopStats};
pub use context::{LocalKey, Scoped};
pub use event_loop::{
    all_tasks, current_task, dump_tasks, get_running_loop, run, try_get_running_loop, EventLoop, LoopRef,
};
pub use loop_handle::{LoopClosed, LoopHandle};
pub use loop_set::{LoopSet, LoopSetBuilder, ShutdownError};
pub use loop_set_handle::LoopSetHandle;
pub use loop_sync::{CancelledError, InvalidStateError, ResultCell};
pub use seeds::check_seeds;
pub use shield::{shield, Shield};
pub use spawn::{create_task, spawn, TaskBuilder};
pub use task::{Task, TaskError, TaskId, TaskInfo, TaskState, WaitInfo};
pub use task_group::{ChildError, ChildHandle, GroupClosed, GroupError, GroupHandle, TaskGroup};
pub use threadsafe::ThreadsafeTask;
pub use time::{interval, sleep, sleep_until, timeout_at, wait_for, Interval, Sleep, Timeout, TimeoutError};
pub use timeout_scope::TimeoutScope;
pub use wait::{wait, EmptyWait, ReturnWhen};
pub use wait_site::WaitSite;

/// asyncio's name for the one-shot result cell made by
/// [`LoopRef::create_future`].
pub type LoopFuture<T> = ResultCell<T>;

/// The task-state transitions of the wake/poll race and of the
/// cross-thread join, for the loom models in `tests/loom.rs`.
#[doc(hidden)]
pub mod __model {
    pub use crate::task::state::{
        complete_remote, drop_remote_handle, set_join_waker, transition_to_running, transition_to_scheduled,
        unset_join_waker, unset_join_waker_after_complete, StateWord, COMPLETE, HANDLE, JOIN_WAKER, REMOTE, SCHEDULED,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::combinators::MaybeDone;
}
