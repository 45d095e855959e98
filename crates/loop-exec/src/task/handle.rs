//! `Task<T>`: the handle to a spawned task.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::raw::TaskRef;
use super::{TaskError, TaskId};

/// A handle to a task running on an event loop (asyncio's `Task`).
///
/// Awaiting it gives the task's output, or a [`TaskError`] when it was
/// cancelled or panicked.
///
/// **Cancellation travels through `await`**, as in asyncio: a handle that
/// is being awaited and is dropped before the task finishes — the awaiting
/// future was cancelled, or `wait_for(task, d)` timed out — cancels the
/// task. A handle that was never awaited and is dropped *detaches* the
/// task instead: it keeps running, and its output is dropped when it
/// finishes (a panic then goes to the loop's exception handler). To await
/// a task without tying its life to the awaiter, await
/// [`shield(&mut task)`](crate::shield); to let an awaited task run on,
/// call [`detach`](Task::detach).
///
/// A `Task` belongs to the thread of its loop (it is not `Send`); from other
/// threads use `LoopHandle::spawn_threadsafe`.
///
/// ```
/// use r#loop as aio;
/// use r#loop::{EventLoop, TaskError};
///
/// let ev = EventLoop::new()?;
/// let out = ev.run_until_complete(async {
///     let task = aio::spawn(async { 6 * 7 });
///     task.await
/// });
/// assert_eq!(out, Ok(42));
///
/// let pending = ev.spawn(std::future::pending::<()>());
/// assert!(pending.cancel());
/// assert_eq!(ev.run_until_complete(pending), Err(TaskError::Cancelled));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping a Task detaches it; call .detach() to say so"]
pub struct Task<T> {
    /// The handle's reference; released (with the `HANDLE` flag) in `drop`.
    raw: ManuallyDrop<TaskRef>,
    /// The output type, and `!Send`/`!Sync`: the handle stays on the loop's
    /// thread, where the output lives.
    _marker: PhantomData<(T, *const ())>,
}

// A handle holds no pinned data: it can move freely whatever `T` is.
impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    /// Wraps the handle's reference.
    pub(crate) fn from_raw(raw: TaskRef) -> Task<T> {
        Task { raw: ManuallyDrop::new(raw), _marker: PhantomData }
    }

    /// Requests cancellation: the task's future is dropped (running its
    /// destructors) the next time the loop gets to it, and awaiting the task
    /// gives [`TaskError::Cancelled`] — or [`TaskError::Panicked`] if a
    /// destructor panicked while the future was dropped (its cleanup
    /// failed). Returns `false` when the task had already finished (then
    /// nothing changes).
    pub fn cancel(&self) -> bool {
        if !self.raw.header().state.request_cancel() {
            return false;
        }
        self.raw.wake_by_ref();
        true
    }

    /// Whether the task has finished: returned, panicked, or been cancelled.
    pub fn is_done(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// Whether the task *ended* cancelled (asyncio's `cancelled()`): its
    /// result is [`TaskError::Cancelled`]. False while it runs, even after
    /// [`cancel`](Task::cancel) (see [`cancel_requested`](Task::cancel_requested)),
    /// and false for a task whose cleanup panicked while it was cancelled
    /// (that one ended [`TaskError::Panicked`]).
    pub fn is_cancelled(&self) -> bool {
        let state = self.raw.header().state.load();
        state.is_complete() && state.is_cancel_requested() && !self.is_panicked()
    }

    /// Whether [`cancel`](Task::cancel) was called before the task finished
    /// (asyncio's `cancelling() > 0`): once the loop gets to it the task
    /// ends cancelled — also a task that requested its own cancellation and
    /// then returned without reaching another await point (asyncio's
    /// `test_cancel_at_end`).
    pub fn cancel_requested(&self) -> bool {
        self.raw.header().state.load().is_cancel_requested()
    }

    /// The task's name, if it was spawned with one.
    pub fn name(&self) -> Option<&str> {
        self.raw.header().meta.name()
    }

    /// The task's id, unique in the process.
    pub fn id(&self) -> TaskId {
        self.raw.header().meta.id
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.raw.header().meta.location
    }

    /// Lets the task run on without a handle, even if it was awaited
    /// (dropping an awaited handle would cancel the task).
    pub fn detach(self) {
        let mut this = ManuallyDrop::new(self);
        this.release(false);
    }

    /// What dropping the handle does; `cancel_if_awaited` is false for
    /// `detach`. Called once, by `drop` or `detach`.
    #[inline(always)]
    fn release(&mut self, cancel_if_awaited: bool) {
        let header = self.raw.header();
        // Loop thread only: the handle is not `Send`.
        drop(self.raw.take_join_waker());
        // COMPLETE and AWAITED only change on this (the loop's) thread, so
        // one load sees them as they are.
        let state = header.state.load();
        if cancel_if_awaited && state.is_awaited_running() {
            // Awaited and dropped before it finished: the awaiter was
            // cancelled (or timed out), and so is what it awaited.
            cancel_awaited(&self.raw);
        }
        if state.is_complete() {
            if let Some(message) = self.raw.drop_stage() {
                self.raw.scheduler().unhandled_panic(header, message);
            }
        }
        // SAFETY: `raw` is taken exactly once (`release` runs once), and
        // never used after.
        let raw = unsafe { ManuallyDrop::take(&mut self.raw) };
        raw.release_handle();
    }

    /// Polls for the result like `.await`, without marking the task as
    /// awaited when `mark` is false (`shield`: the task's life is not tied
    /// to this wait).
    pub(crate) fn poll_join(
        &mut self,
        cx: &mut Context<'_>,
        mark: bool,
        at: &'static Location<'static>,
    ) -> Poll<Result<T, TaskError>> {
        if !self.raw.header().state.load().is_complete() {
            wait_for_join(&self.raw, cx, mark, at);
            return Poll::Pending;
        }
        let mut out = Poll::Pending;
        // SAFETY: `T` is the output type this handle was created with, and
        // the task is complete.
        unsafe { self.raw.take_output::<T>(&mut out) };
        out
    }

    /// Whether the task ended in a panic (its result is
    /// [`TaskError::Panicked`]); false while it runs or after its result was
    /// taken.
    pub fn is_panicked(&self) -> bool {
        self.is_done() && self.raw.panic_message().is_some()
    }

    /// `Ready` once the task has finished, without taking its result; the
    /// waker is registered like an `.await`'s. Used by `wait` and
    /// `as_completed`.
    #[track_caller]
    pub fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_finished_at(cx, Location::caller())
    }

    /// [`poll_finished`](Task::poll_finished), with the wait noted at `at`.
    pub(crate) fn poll_finished_at(&self, cx: &mut Context<'_>, at: &'static Location<'static>) -> Poll<()> {
        if self.raw.header().state.load().is_complete() {
            return Poll::Ready(());
        }
        wait_for_join(&self.raw, cx, false, at);
        Poll::Pending
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    /// `#[track_caller]`: the location of the `.await` is where the
    /// awaiting task is reported to wait (see `all_tasks`).
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let at = Location::caller();
        let this = self.get_mut();
        loop_coop::budgeted(cx, |cx| this.poll_join(cx, true, at))
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.release(true);
    }
}

/// The cancellation of an awaited handle's task, out of the common drop path.
#[cold]
#[inline(never)]
fn cancel_awaited(raw: &TaskRef) {
    if raw.header().state.request_cancel() {
        raw.wake_by_ref();
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("done", &self.is_done())
            .finish()
    }
}

/// The waiting half of a join (not generic, so every `Task<T>` shares it):
/// checks that the waiter runs on the task's own loop, marks the task
/// awaited when `mark`, records on the current task that it waits for this
/// one at `at` (the awaiting line), and stores the join waker. One
/// thread-local look-up does the loop check and the record.
///
/// A location inside the standard library (an `.await` through `&mut Task`
/// or `Pin<Box<Task>>`, whose forwarding `poll` does not pass the caller on)
/// says nothing useful: such waits go unnoted.
///
/// # Panics
/// When the waiter runs on another loop of this thread: that wait could
/// never end (the other loop does not run meanwhile), misuse as asyncio's
/// "attached to a different loop" is.
pub(crate) fn wait_for_join(raw: &TaskRef, cx: &mut Context<'_>, mark: bool, at: &'static Location<'static>) {
    let header = raw.header();
    if raw.scheduler().other_loop_running_here() {
        let meta = &header.meta;
        let name = meta.name().map_or_else(String::new, |n| format!(" `{n}`"));
        panic!(
            "task {}{name} (spawned at {}) belongs to another event loop than the one awaiting it: \
             it can only be awaited from its own loop (to pass a result between loops, use \
             `LoopHandle::spawn_threadsafe` or a `sync::ResultCell`)",
            meta.id, meta.location,
        );
    }
    note_join_wait(at, header.meta.id);
    if mark {
        header.state.mark_awaited();
    }
    // The join waker is only touched on the loop's thread, and the handle
    // is not `Send`, so we are on it.
    raw.register_join_waker(cx.waker());
}

/// Whether `at` is inside the standard library (a forwarding `poll`), so
/// not a line worth reporting.
fn in_std(at: &'static Location<'static>) -> bool {
    at.file().starts_with("/rustc/") || at.file().contains("library/core/src/")
}

/// Records on the current task that it waits for task `awaited`'s result
/// at `at`.
pub(crate) fn note_join_wait(at: &'static Location<'static>, awaited: TaskId) {
    if !in_std(at) {
        let target = loop_sync::WaitTarget { resource: awaited.as_u64(), detail: 0 };
        loop_sync::note_wait_on(loop_sync::WaitKind::TaskJoin, at, target);
    }
}
