//! `ThreadsafeTask`: the `Send` handle of a task spawned from another
//! thread, and the slot where its result meets the handle.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use loop_sync::__locks::{BlockingMutex, Condvar};

use crate::loop_shared::LoopShared;
use crate::panics;
use crate::task::TaskError;

/// Where a thread-safe task's result meets its handle.
pub(crate) struct ResultSlot<T> {
    state: BlockingMutex<SlotState<T>>,
    /// Signalled when the result arrives (for `wait`).
    ready: Condvar,
    /// Set by `ThreadsafeTask::cancel`.
    cancel: AtomicBool,
}

struct SlotState<T> {
    result: Option<Result<T, TaskError>>,
    /// Set once the result has been handed out.
    taken: bool,
    /// Who awaits the `ThreadsafeTask`.
    awaiter: Option<Waker>,
    /// The loop-side task, to wake it when cancellation is requested.
    runner: Option<Waker>,
}

impl<T> ResultSlot<T> {
    pub(crate) fn new() -> ResultSlot<T> {
        ResultSlot {
            state: BlockingMutex::new(SlotState { result: None, taken: false, awaiter: None, runner: None }),
            ready: Condvar::new(),
            cancel: AtomicBool::new(false),
        }
    }

    /// Stores the result unless one is there already, and wakes the waiters.
    fn complete(&self, result: Result<T, TaskError>) {
        let awaiter = {
            let mut state = self.state.lock();
            if state.result.is_some() || state.taken {
                return;
            }
            state.result = Some(result);
            state.runner = None;
            state.awaiter.take()
        };
        self.ready.notify_all();
        if let Some(w) = awaiter {
            w.wake();
        }
    }
}

/// Completes the slot with `Cancelled` if it is dropped before a result was
/// stored: whatever path drops the work (loop closed, task cancelled), the
/// handle never waits forever.
pub(crate) struct SlotGuard<T>(pub(crate) Arc<ResultSlot<T>>);

impl<T> Drop for SlotGuard<T> {
    fn drop(&mut self) {
        self.0.complete(Err(TaskError::Cancelled));
    }
}

/// The loop-side task of `spawn_threadsafe`: runs the future, forwards its
/// result (or panic) to the slot, and obeys cancellation from the handle.
pub(crate) struct Forward<F: Future> {
    pub(crate) future: Option<Pin<Box<F>>>,
    pub(crate) guard: SlotGuard<F::Output>,
}

impl<F: Future> Future for Forward<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let slot = &this.guard.0;
        if slot.cancel.load(Ordering::Acquire) {
            this.future = None;
            slot.complete(Err(TaskError::Cancelled));
            return Poll::Ready(());
        }
        let Some(future) = this.future.as_mut() else { return Poll::Ready(()) };
        match panics::catch(|| future.as_mut().poll(cx)) {
            Ok(Poll::Pending) => {
                slot.state.lock().runner = Some(cx.waker().clone());
                // A cancel that raced with the poll is seen on the next turn.
                if slot.cancel.load(Ordering::Acquire) {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            Ok(Poll::Ready(value)) => {
                this.future = None;
                slot.complete(Ok(value));
                Poll::Ready(())
            }
            Err(message) => {
                this.future = None;
                slot.complete(Err(TaskError::Panicked(message)));
                Poll::Ready(())
            }
        }
    }
}

/// The handle returned by [`LoopHandle::spawn_threadsafe`](crate::LoopHandle::spawn_threadsafe): `Send`, awaitable
/// from anywhere, and [`wait`](ThreadsafeTask::wait)able from plain threads
/// (asyncio's `concurrent.futures.Future`).
pub struct ThreadsafeTask<T> {
    pub(crate) slot: Arc<ResultSlot<T>>,
    pub(crate) shared: Arc<LoopShared>,
}

impl<T> ThreadsafeTask<T> {
    /// Blocks the calling thread until the task finishes.
    ///
    /// # Panics
    /// When called on the thread of the loop that runs the task while it is
    /// running: that would wait forever. `.await` it there instead.
    pub fn wait(self) -> Result<T, TaskError> {
        let on_own_loop =
            crate::current::with_current(|inner| Arc::ptr_eq(&inner.shared, &self.shared)).unwrap_or(false);
        assert!(
            !on_own_loop,
            "ThreadsafeTask::wait() called on the thread of the loop that runs the task: \
             it would block that loop forever; `.await` the task instead"
        );
        let mut state = self.slot.state.lock();
        loop {
            if let Some(result) = state.result.take() {
                state.taken = true;
                return result;
            }
            self.slot.ready.wait(&mut state);
        }
    }

    /// Whether the result is available.
    pub fn is_done(&self) -> bool {
        let state = self.slot.state.lock();
        state.result.is_some() || state.taken
    }

    /// Asks the loop to drop the task's future; awaiting or waiting then
    /// gives [`TaskError::Cancelled`] unless it had already finished.
    /// Returns `false` when the result was already there.
    pub fn cancel(&self) -> bool {
        if self.is_done() {
            return false;
        }
        self.slot.cancel.store(true, Ordering::Release);
        let runner = self.slot.state.lock().runner.take();
        if let Some(w) = runner {
            w.wake();
        }
        true
    }
}

impl<T> Future for ThreadsafeTask<T> {
    type Output = Result<T, TaskError>;

    /// `#[track_caller]`: the `.await` line is where the awaiting task is
    /// reported to wait.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.state.lock();
        if let Some(result) = state.result.take() {
            state.taken = true;
            return Poll::Ready(result);
        }
        assert!(!state.taken, "ThreadsafeTask polled after it returned its result");
        state.awaiter = Some(cx.waker().clone());
        drop(state);
        crate::task::note_join_wait(Location::caller());
        Poll::Pending
    }
}

impl<T> fmt::Debug for ThreadsafeTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadsafeTask").field("done", &self.is_done()).finish()
    }
}
