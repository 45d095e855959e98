//! Tasks: the unit of concurrency on an event loop.

pub(crate) mod build_on_loop;
mod handle;
mod join_waker;
pub(crate) mod meta;
pub(crate) mod panics;
pub use panics::{install_tokio_panic_hint, TOKIO_HINT};
pub(crate) mod raw;
pub(crate) mod refs;
pub(crate) mod registry;
mod remote;
pub(crate) mod state;
pub(crate) mod threadsafe;

#[cfg(test)]
mod tests;

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) use handle::note_join_wait;
pub use handle::Task;
use raw::{Header, TaskRef};

/// Why a task produced no value.
///
/// ```
/// use r#loop::{EventLoop, TaskError};
///
/// let ev = EventLoop::new()?;
/// let task = ev.spawn(async { panic!("boom") });
/// let err = ev.run_until_complete(task).unwrap_err();
/// assert_eq!(err, TaskError::Panicked("boom".into()));
/// assert!(err.is_panic());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The task was cancelled (by [`Task::cancel`], or because its loop
    /// closed) and its future was dropped before it finished.
    #[error("task was cancelled")]
    Cancelled,
    /// The task's future panicked; the panic was caught and the loop went
    /// on. Carries the panic message.
    #[error("task panicked: {0}")]
    Panicked(String),
}

impl TaskError {
    /// Whether this is [`TaskError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Whether this is [`TaskError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

/// A task's identifier: unique among all tasks of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u64);

/// Task ids are handed to loops in blocks, so spawning does not touch a
/// shared counter for every task.
const TASK_ID_BLOCK: u64 = 1024;

/// The one task-id allocator: a block of ids reserved from the
/// process-wide counter, handed out one by one. Each loop's registry holds
/// one; each thread that spawns onto loops from outside holds another.
#[derive(Debug)]
pub(crate) struct IdBlock(std::cell::Cell<(u64, u64)>);

impl IdBlock {
    /// An empty block (the first `next` reserves one).
    pub(crate) const fn new() -> IdBlock {
        IdBlock(std::cell::Cell::new((0, 0)))
    }

    /// The next id, reserving a new block when this one is used up.
    #[inline]
    pub(crate) fn next(&self) -> TaskId {
        let (next, end) = self.0.get();
        let (id, end) = if next < end {
            (next, end)
        } else {
            static NEXT: AtomicU64 = AtomicU64::new(1);
            let start = NEXT.fetch_add(TASK_ID_BLOCK, Ordering::Relaxed);
            (start, start + TASK_ID_BLOCK)
        };
        self.0.set((id + 1, end));
        TaskId(id)
    }
}

impl TaskId {
    /// An id for a task spawned from another thread (not a loop's own
    /// block: each spawning thread has a block of its own).
    pub(crate) fn next_remote() -> TaskId {
        thread_local! {
            static REMOTE_IDS: IdBlock = const { IdBlock::new() };
        }
        REMOTE_IDS.with(IdBlock::next)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// It is polling right now (it is the current task).
    Running,
    /// In the run queue, waiting for its turn.
    Scheduled,
    /// Waiting to be woken.
    Idle,
    /// Cancellation was requested; its future is dropped at its next turn.
    Cancelling,
}

/// A snapshot of one live task, as returned by `all_tasks()` and
/// `current_task()`.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// The name given at spawn, if any.
    pub name: Option<String>,
    /// Where it stands.
    pub state: TaskState,
    /// Where `spawn` was called.
    pub location: &'static Location<'static>,
    /// How many times its future has been polled.
    pub polls: u64,
    /// Time spent inside its polls. Exact in debug mode (every poll is
    /// timed there); otherwise estimated by timing the polls of one loop
    /// turn in 1,024, picked at random, and counting each 1,024 times: right on
    /// average, with a spread that shrinks as the task polls more (a task
    /// polled a few times may show zero, or 1,024 times its one poll), for a
    /// fraction of a nanosecond per poll. Turn on debug mode for exact
    /// numbers.
    pub busy: Duration,
    /// Whether `busy` is the sampled estimate (outside debug mode).
    pub busy_estimated: bool,
    /// How long ago it was spawned (loop time).
    pub age: Duration,
    /// What it waits on, if one of the runtime's own futures said so.
    pub waiting: Option<WaitInfo>,
}

/// What a task waits on and since when.
#[derive(Debug, Clone, Copy)]
pub struct WaitInfo {
    /// The kind of wait.
    pub kind: loop_sync::WaitKind,
    /// Where in the source the wait was written.
    pub location: &'static Location<'static>,
    /// How long it has waited (loop time, about).
    pub waited: Duration,
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " `{name}`")?;
        }
        write!(f, " spawned at {}:{}, {:?}", self.location.file(), self.location.line(), self.state)?;
        if let Some(w) = &self.waiting {
            write!(
                f,
                ", waiting on {} at {}:{} for {:.3?}",
                w.kind.describe(),
                w.location.file(),
                w.location.line(),
                w.waited
            )?;
        }
        let about = if self.busy_estimated { "~" } else { "" };
        write!(f, ", {} polls, busy {about}{:.3?}, age {:.3?}", self.polls, self.busy, self.age)
    }
}

/// The seam between tasks and whatever runs them (tokio's `Schedule`).
///
/// A task cell stores its scheduler (an `S: Schedule`) beside its header,
/// and its vtable knows `S`: a waker calls `Schedule::schedule` without
/// this module knowing what a loop is. The event loop's implementation
/// (for `Arc<LoopShared>`) is in `scheduler.rs`.
///
/// How a task is queued and who owns it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues a woken task (its `SCHEDULED` bit was just set by the caller).
    /// Called from any thread: on the owner thread while the loop runs it
    /// goes to the local queue, elsewhere through the injection queue.
    fn schedule(&self, task: TaskRef);

    /// Whether a loop other than this scheduler's runs on the calling
    /// thread (a task handle can only be awaited from its own loop).
    fn other_loop_running_here(&self) -> bool;

    /// Whether this scheduler's loop is the one running on the calling
    /// thread (a `ThreadsafeTask::wait` there would block it forever).
    fn runs_here(&self) -> bool;

    /// Whether the calling thread is the owner thread, the only one that may
    /// touch a task's future and output. Checked by debug assertions.
    fn on_owner_thread(&self) -> bool;

    /// A task nobody awaits ended in a panic: report it (asyncio's
    /// exception handler).
    fn unhandled_panic(&self, header: &Header, message: String);
}
