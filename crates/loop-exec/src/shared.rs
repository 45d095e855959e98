//! The part of a loop that other threads reach: the injection queue, the
//! reactor's notifier, and `LoopHandle` built on them.

use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crossbeam_queue::SegQueue;
use loop_core::Notifier;
use loop_sync::__locks::{Condvar, Mutex};

use crate::task::raw::{panic_payload_message, TaskRef};
use crate::task::TaskError;

/// Work sent to a loop from another thread.
pub(crate) enum Remote {
    /// A task woken elsewhere.
    Wake(TaskRef),
    /// A callback from `call_soon_threadsafe`.
    Call(Box<dyn FnOnce() + Send>),
}

/// State of one loop that any thread may touch.
pub(crate) struct LoopShared {
    /// Wakes and callbacks from other threads, drained every turn.
    pub(crate) injector: SegQueue<Remote>,
    /// Interrupts the loop's park.
    pub(crate) notifier: Notifier,
    /// Set when the loop closes; later remote work is refused or dropped.
    pub(crate) closed: AtomicBool,
    /// Jobs handed to the blocking pool and not yet delivered back. While
    /// non-zero, a paused clock does not auto-advance (their results are
    /// "I/O" the loop is waiting for).
    pub(crate) blocking_in_flight: AtomicUsize,
    /// Count of wakes that arrived from other threads.
    pub(crate) remote_wakes: AtomicU64,
}

impl LoopShared {
    pub(crate) fn new(notifier: Notifier) -> LoopShared {
        LoopShared {
            injector: SegQueue::new(),
            notifier,
            closed: AtomicBool::new(false),
            blocking_in_flight: AtomicUsize::new(0),
            remote_wakes: AtomicU64::new(0),
        }
    }

    /// Queues work for the loop and wakes it. If the loop has closed, the
    /// work is dropped here instead (a closed loop never drains again).
    pub(crate) fn push_remote(&self, work: Remote) {
        if matches!(work, Remote::Wake(_)) {
            self.remote_wakes.fetch_add(1, Ordering::Relaxed);
        }
        self.injector.push(work);
        if self.closed.load(Ordering::SeqCst) {
            self.drain_dropping();
        } else {
            self.notifier.notify();
        }
    }

    /// Empties the injection queue, dropping everything in it.
    pub(crate) fn drain_dropping(&self) {
        while let Some(work) = self.injector.pop() {
            drop(work);
        }
    }
}

/// The event loop is closed: it accepts no more work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event loop is closed")]
pub struct LoopClosed;

/// A `Send + Sync + Clone` handle for reaching a loop from other threads
/// (asyncio's `call_soon_threadsafe` and `run_coroutine_threadsafe`).
///
/// ```
/// use loop_exec::EventLoop;
///
/// let ev = EventLoop::new()?;
/// let handle = ev.handle();
/// let worker = std::thread::spawn(move || {
///     let task = handle.spawn_threadsafe(async { 40 + 2 }).unwrap();
///     task.wait() // blocks this plain thread until the loop ran it
/// });
/// // Joining a thread blocks, so do it on the blocking pool.
/// let joined = ev.run_until_complete(async move {
///     loop_exec::spawn_blocking(move || worker.join().unwrap()).await
/// });
/// assert_eq!(joined.unwrap(), Ok(42));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<LoopShared>,
}

impl LoopHandle {
    /// Schedules `f` to run on the loop's thread, in its next turn.
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<(), LoopClosed>
    where
        F: FnOnce() + Send + 'static,
    {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(LoopClosed);
        }
        self.shared.push_remote(Remote::Call(Box::new(f)));
        Ok(())
    }

    /// Runs `future` as a task on the loop and returns a handle that can be
    /// awaited (from any loop or executor) or waited on from a plain thread.
    #[track_caller]
    pub fn spawn_threadsafe<F>(&self, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        let guard = SlotGuard(slot.clone());
        let same_loop = self.shared.clone();
        let location = std::panic::Location::caller();
        self.call_soon_threadsafe(move || {
            let wrapped = Forward { future: Some(Box::pin(future)), guard };
            crate::inner::with_current(|inner| {
                debug_assert!(Arc::ptr_eq(&inner.shared, &same_loop));
                inner.spawn(wrapped, None, location).detach();
            });
        })?;
        Ok(ThreadsafeTask { slot, shared: self.shared.clone() })
    }

    /// Whether the loop has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Stops the loop's `run_forever` after its current turn.
    pub fn stop(&self) -> Result<(), LoopClosed> {
        self.call_soon_threadsafe(|| {
            crate::inner::with_current(|inner| inner.stop());
        })
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle").field("closed", &self.is_closed()).finish()
    }
}

/// Where a thread-safe task's result meets its handle.
struct Slot<T> {
    state: Mutex<SlotState<T>>,
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

impl<T> Slot<T> {
    fn new() -> Slot<T> {
        Slot {
            state: Mutex::new(SlotState { result: None, taken: false, awaiter: None, runner: None }),
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
struct SlotGuard<T>(Arc<Slot<T>>);

impl<T> Drop for SlotGuard<T> {
    fn drop(&mut self) {
        self.0.complete(Err(TaskError::Cancelled));
    }
}

/// The loop-side task of `spawn_threadsafe`: runs the future, forwards its
/// result (or panic) to the slot, and obeys cancellation from the handle.
struct Forward<F: Future> {
    future: Option<Pin<Box<F>>>,
    guard: SlotGuard<F::Output>,
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
        match panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
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
            Err(payload) => {
                this.future = None;
                slot.complete(Err(TaskError::Panicked(panic_payload_message(&*payload))));
                Poll::Ready(())
            }
        }
    }
}

/// The handle returned by [`LoopHandle::spawn_threadsafe`]: `Send`, awaitable
/// from anywhere, and [`wait`](ThreadsafeTask::wait)able from plain threads
/// (asyncio's `concurrent.futures.Future`).
pub struct ThreadsafeTask<T> {
    slot: Arc<Slot<T>>,
    shared: Arc<LoopShared>,
}

impl<T> ThreadsafeTask<T> {
    /// Blocks the calling thread until the task finishes.
    ///
    /// # Panics
    /// When called on the thread of the loop that runs the task while it is
    /// running: that would wait forever. `.await` it there instead.
    pub fn wait(self) -> Result<T, TaskError> {
        let on_own_loop = crate::inner::with_current(|inner| Arc::ptr_eq(&inner.shared, &self.shared)).unwrap_or(false);
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
