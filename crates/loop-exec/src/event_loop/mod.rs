//! The event loop: [`EventLoop`](crate::EventLoop) and
//! [`LoopRef`](crate::LoopRef) (`loop_ref.rs`), the core that owns the
//! loop's parts and runs its turn (`core/`), and those parts: the run
//! queue, the time driver, introspection, what other threads share, the
//! current-loop context, callbacks, settings and stats.
//!
//! Three files here depend on each other, as tokio's scheduler core, its
//! context and its blocking spawner do: `core/` (the loop) runs inside
//! the `Enter` guard of `current.rs` (which loop runs on this thread), and
//! `Enter` installs `blocking.rs`'s name resolver, which submits jobs to the
//! running core's pool. No folder depends back on this one except through
//! its `pub(crate)` items: `task/` and `blocking/` are leaves below it;
//! `time/`, `combinators/` and `loop_set/` are built on it.

pub(crate) mod blocking;
pub(crate) mod builder;
pub(crate) mod callback;
pub(crate) mod callback_cell;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod core;
pub(crate) mod current;
pub(crate) mod exception;
pub(crate) mod introspection;
pub(crate) mod loop_handle;
pub(crate) mod loop_ref;
pub(crate) mod run_queue;
pub(crate) mod scheduler;
pub(crate) mod seeded_order;
pub(crate) mod seeds;
pub(crate) mod shared;
pub(crate) mod spawn;
pub(crate) mod stats;
pub(crate) mod time_driver;
pub(crate) mod wait_site;
