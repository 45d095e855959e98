//! `loop`: an async runtime with Python asyncio's model and vocabulary.
//!
//! One event loop per thread; tasks that need not be `Send`; `gather`,
//! `wait_for`, `sleep`; callbacks with `call_soon` / `call_later`; a blocking
//! pool behind `spawn_blocking` (`to_thread`); handles for other threads.
//! `loop` is a Rust keyword, so the crate is written `r#loop` in paths — or
//! renamed once: `use r#loop as aio;`.
//!
//! ```
//! use r#loop as aio;
//! use std::time::Duration;
//!
//! async fn fetch(n: u64) -> u64 {
//!     aio::sleep(Duration::from_millis(n)).await;
//!     n
//! }
//!
//! let total = aio::run(async {
//!     let first = aio::create_task(fetch(3));
//!     let (a, b) = aio::gather!(fetch(1), fetch(2)).await;
//!     let slow = aio::wait_for(fetch(10_000), Duration::from_millis(5)).await;
//!     assert!(slow.is_err(), "timed out, and the inner future was dropped");
//!     a + b + first.await.unwrap()
//! });
//! assert_eq!(total, 6);
//! ```
//!
//! | asyncio | loop |
//! | --- | --- |
//! | `asyncio.run(coro)` | [`run`] |
//! | `new_event_loop()`, `run_until_complete`, `run_forever`, `stop`, `close` | [`EventLoop`] |
//! | `call_soon`, `call_later`, `call_at`, `time` | [`LoopRef::call_soon`] and friends |
//! | `call_soon_threadsafe`, `run_coroutine_threadsafe` | [`LoopHandle`] |
//! | `get_running_loop()` | [`get_running_loop`] |
//! | `create_task(coro, name=)` | [`spawn`] / [`create_task`] / [`TaskBuilder`] |
//! | `current_task()`, `all_tasks()` | [`current_task`], [`all_tasks`] |
//! | `sleep`, `wait_for`, `timeout_at` | [`sleep`], [`wait_for`], [`timeout_at`], [`interval`] |
//! | `gather` | [`gather!`], [`gather()`], [`try_gather`] |
//! | `to_thread`, `run_in_executor` | [`spawn_blocking`], [`to_thread`], [`LoopRef::run_in_executor`] |
//! | `loop.create_future()` | [`LoopRef::create_future`] ([`sync::ResultCell`]) |
//! | (one loop per core; asyncio has none) | [`LoopSet`]: `spawn`, `spawn_fn`, `on_each`, `block_on`, [`net::TcpListener::bind_reuseport`], [`net::serve_least_connections`] |
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![allow(clippy::type_complexity)]

pub use loop_core::{available_cores, pin_to_core};
pub use loop_exec::{
    all_tasks, as_completed, check_seeds, create_task, current_task, default_exception_handler, dump_tasks, gather,
    get_running_loop, install_tokio_panic_hint, interval, run, select, shield, sleep, sleep_until, spawn,
    spawn_blocking, task_local, timeout_at, to_thread, try_gather, try_get_running_loop, unblock, unconstrained, wait,
    wait_for, yield_now, AsCompleted, AsCompletedTasks, AsCompletedTasksWithin, AsCompletedWithin, BlockingFn,
    BlockingJob, Builder, ChildError, ChildHandle, EmptyWait, EventLoop, ExceptionContext, ExceptionHandler, Executor,
    Gather, GroupClosed, GroupError, GroupHandle, Handle, Interval, LocalKey, LoopClosed, LoopFuture, LoopHandle,
    LoopRef, LoopSet, LoopSetBuilder, LoopSetHandle, LoopStats, PanicPayload, ReturnWhen, Scoped, Shield,
    ShutdownError, Sleep, Task, TaskBuilder, TaskError, TaskGroup, TaskId, TaskInfo, TaskState, ThreadsafeTask,
    Timeout, TimeoutError, TimeoutScope, TimerHandle, TryGather, Unconstrained, WaitInfo, WaitSite, YieldNow,
    TOKIO_HINT,
};

pub use loop_macros::{main, test};

/// The inspector endpoint that `loop-inspect` attaches to (see the
/// README's "Seeing inside a running process").
pub use loop_exec::inspect;

mod accept;

// The macros' expansion names the facade `::r#loop`; this makes that path
// work inside the facade's own tests and doctests too.
extern crate self as r#loop;

#[cfg(feature = "tokio-compat")]
pub mod compat;
pub mod fs;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "hyper")]
pub mod hyper;
mod least_connections;
pub mod net;
pub mod process;
mod split;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
pub use loop_core::tokio_io;

pub use split::{split, ReadHalf, WriteHalf};
pub mod signal;
mod streams;

pub use streams::{
    open_connection, start_server, start_server_on, tcp_streams, IncompleteReadError, LimitOverrunError, Server,
    StreamError, StreamReader, StreamWriter, DEFAULT_HIGH_WATER, DEFAULT_LIMIT, DEFAULT_LOW_WATER,
};
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use streams::{open_unix_connection, start_unix_server};

/// Synchronisation primitives (asyncio's `Lock`, `Event`, `Semaphore`,
/// queues, and the one-shot result cell); runtime-agnostic.
pub mod sync {
    pub use loop_sync::*;
}

/// The clock and timer wheel the loop is built on, for tools and tests.
pub mod time {
    pub use loop_time::*;
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
