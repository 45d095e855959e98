//! `ThreadsafeTask`: the `Send` handle of a task spawned from another
//! thread. It is the task itself (a reference to its cell): the join goes
//! through the task's state word (`REMOTE`, `JOIN_WAKER` in state.rs), with
//! no result slot, lock or condition variable between the two threads.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use crate::task::raw::TaskRef;
use crate::task::state::{self, Snapshot};
use crate::task::{TaskError, TaskId};

/// The handle returned by [`LoopHandle::spawn_threadsafe`](crate::LoopHandle::spawn_threadsafe): `Send`, awaitable
/// from anywhere (any loop, any executor), and [`wait`](ThreadsafeTask::wait)able
/// from plain threads (asyncio's `concurrent.futures.Future` from
/// `run_coroutine_threadsafe`).
///
/// Dropping it lets the task run on (detaches it); [`cancel`](ThreadsafeTask::cancel)
/// stops it.
///
/// ```
/// use r#loop as aio;
///
/// let ev = aio::EventLoop::new()?;
/// let handle = ev.handle();
/// let worker = std::thread::spawn(move || {
///     let task = handle.spawn_threadsafe(async { aio::sleep(std::time::Duration::from_millis(1)).await; 7 })?;
///     Ok::<_, aio::LoopClosed>(task.wait())
/// });
/// let out = ev.run_until_complete(async move {
///     aio::spawn_blocking(move || worker.join().unwrap()).await
/// });
/// assert_eq!(out.unwrap(), Ok(Ok(7)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping a ThreadsafeTask detaches the task"]
pub struct ThreadsafeTask<T> {
    /// The handle's reference; released in `drop`.
    raw: ManuallyDrop<TaskRef>,
    /// The output crosses to the handle's thread: `Send` when `T` is.
    _output: PhantomData<T>,
}

// A handle holds no pinned data.
impl<T> Unpin for ThreadsafeTask<T> {}

impl<T> ThreadsafeTask<T> {
    /// Wraps the handle's reference of a task allocated with
    /// `TaskRef::allocate_remote` for a future with output `T`.
    pub(crate) fn from_raw(raw: TaskRef) -> ThreadsafeTask<T> {
        debug_assert!(raw.header().state.load().is_remote());
        ThreadsafeTask { raw: ManuallyDrop::new(raw), _output: PhantomData }
    }

    /// Blocks the calling thread until the task finishes, and gives its
    /// result.
    ///
    /// # Panics
    /// When called on the thread of the loop that runs the task while it is
    /// running: that would wait forever. `.await` it there instead.
    pub fn wait(mut self) -> Result<T, TaskError> {
        assert!(
            !self.raw.scheduler().runs_here(),
            "ThreadsafeTask::wait() called on the thread of the loop that runs the task: \
             it would block that loop forever; `.await` the task instead"
        );
        // Already done (the common case after a burst of spawns): no waker.
        if self.is_done() {
            if let Poll::Ready(result) = self.take_output() {
                return result;
            }
        }
        // This thread's waker; a fresh one while its thread-locals are being
        // destroyed (a wait inside another thread-local's destructor).
        let waker = THREAD_WAKER
            .try_with(Waker::clone)
            .unwrap_or_else(|_| Waker::from(Arc::new(Unpark(std::thread::current()))));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = self.poll_join(&mut cx) {
                return result;
            }
            // A wake-up left over from an earlier wait on this thread only
            // makes this return early: the loop polls again.
            std::thread::park();
        }
    }

    /// Whether the task has finished (returned, panicked or been
    /// cancelled).
    pub fn is_done(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// Asks the loop to drop the task's future (at its next turn, on its
    /// thread); awaiting or waiting then gives [`TaskError::Cancelled`].
    /// Returns `false` when the task had already finished.
    pub fn cancel(&self) -> bool {
        if !self.raw.header().state.request_cancel() {
            return false;
        }
        self.raw.wake_by_ref();
        true
    }

    /// The task's id, unique in the process.
    pub fn id(&self) -> TaskId {
        self.raw.header().meta.id
    }

    /// The join, from any thread. The slot protocol is `JOIN_WAKER`'s in
    /// state.rs: write the waker only while the slot is ours, hand it over
    /// with a compare-exchange that fails once the task is complete.
    fn poll_join(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        let raw = &*self.raw;
        let word = raw.header().state.word();
        let now = raw.header().state.load();
        if now.is_complete() {
            return self.take_output();
        }
        if now.has_join_waker() {
            if raw.remote_join_will_wake(cx.waker()) {
                return Poll::Pending;
            }
            // Take the slot back to change the waker.
            if state::unset_join_waker(word).is_err() {
                return self.take_output();
            }
        }
        raw.store_remote_join_waker(cx.waker());
        if state::set_join_waker(word).is_err() {
            // Completed meanwhile without looking at the slot: the waker in
            // it is ours, and no longer needed.
            raw.clear_remote_join_waker();
            return self.take_output();
        }
        Poll::Pending
    }

    /// Moves the output out of the complete task.
    fn take_output(&mut self) -> Poll<Result<T, TaskError>> {
        let mut out = Poll::Pending;
        // SAFETY: `T` is the task's output type (`from_raw`). It is complete,
        // and with `HANDLE` set its stage is ours (state.rs, `drop_remote_handle`);
        // our `Acquire` load of `COMPLETE` saw the output written.
        unsafe { self.raw.take_output::<T>(&mut out) };
        out
    }
}

impl<T> Future for ThreadsafeTask<T> {
    type Output = Result<T, TaskError>;

    /// `#[track_caller]`: the `.await` line is where the awaiting task is
    /// reported to wait.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let at = Location::caller();
        let this = self.get_mut();
        loop_coop::budgeted(cx, |cx| {
            let polled = this.poll_join(cx);
            if polled.is_pending() {
                crate::task::note_join_wait(at, this.id());
            }
            polled
        })
    }
}

impl<T> Drop for ThreadsafeTask<T> {
    fn drop(&mut self) {
        let header = self.raw.header();
        let prev = Snapshot::of(state::drop_remote_handle(header.state.word()));
        if prev.is_complete() {
            // The output (if not taken) is ours to drop; the slot may still
            // be the loop's (it frees the cell's waker with the cell).
            if let Some(message) = self.raw.drop_stage() {
                self.raw.scheduler().unhandled_panic(header, message);
            }
        } else {
            // Before completion the drop took the slot back: empty it.
            self.raw.clear_remote_join_waker();
        }
        // SAFETY: taken once, here; never used after.
        drop(unsafe { ManuallyDrop::take(&mut self.raw) });
    }
}

impl<T> fmt::Debug for ThreadsafeTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadsafeTask").field("id", &self.id()).field("done", &self.is_done()).finish()
    }
}

thread_local! {
    /// `wait`'s waker for this thread, made once: a wait used to allocate
    /// (and free) one per call.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
}

/// `wait`'s waker: unparks the waiting thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
