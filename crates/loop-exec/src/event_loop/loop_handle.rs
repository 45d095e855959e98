//! `LoopHandle`: reaching a loop from other threads.

use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::event_loop::shared::{LoopShared, Remote};
use crate::task::meta::TaskMeta;
use crate::task::raw::TaskRef;
use crate::task::refs::NewRemoteTask;
use crate::task::threadsafe::ThreadsafeTask;
use crate::task::TaskId;

/// The event loop is closed: it accepts no more work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event loop is closed")]
pub struct LoopClosed;

/// A `Send + Sync + Clone` handle for reaching a loop from other threads
/// (asyncio's `call_soon_threadsafe` and `run_coroutine_threadsafe`).
///
/// ```
/// use r#loop as aio;
/// use r#loop::EventLoop;
///
/// let ev = EventLoop::new()?;
/// let handle = ev.handle();
/// let worker = std::thread::spawn(move || {
///     let task = handle.spawn_threadsafe(async { 40 + 2 }).unwrap();
///     task.wait() // blocks this plain thread until the loop ran it
/// });
/// // Joining a thread blocks, so do it on the blocking pool.
/// let joined = ev.run_until_complete(async move {
///     aio::spawn_blocking(move || worker.join().unwrap()).await
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
    ///
    /// The task cell is made on the calling thread and the task itself goes
    /// through the loop's injection queue (one allocation; the handle is the
    /// task). It starts in the loop's next turn.
    #[track_caller]
    pub fn spawn_threadsafe<F>(&self, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = std::panic::Location::caller();
        self.send_task(|meta| TaskRef::allocate_remote(future, self.shared.clone(), meta), location)
    }

    /// Runs the future that `build` makes, as a task on the loop, and
    /// returns a handle as [`spawn_threadsafe`](Self::spawn_threadsafe)
    /// does. `build` is called on the loop's thread, so the future need not
    /// be `Send` (only the closure and the output cross threads): the way to
    /// run `!Send` code, such as `Rc` state or per-loop servers, on another
    /// loop (actix's `spawn_fn`).
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::rc::Rc;
    ///
    /// let set = aio::LoopSet::builder().loops(2).build()?;
    /// let task = set.handle(1).spawn_fn(|| async {
    ///     let local = Rc::new(5); // not Send: it never leaves loop 1
    ///     aio::yield_now().await;
    ///     *local * 2
    /// })?;
    /// assert_eq!(task.wait(), Ok(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn_fn<B, F>(&self, build: B) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        B: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let location = std::panic::Location::caller();
        self.send_task(|meta| TaskRef::allocate_remote_built(build, self.shared.clone(), meta), location)
    }

    /// The one path of a spawn from another thread: `allocate` makes the
    /// cell (with the given metadata and reference count) here, and the task
    /// itself goes to the loop's injection queue. `T` must be the output
    /// type of the future that `allocate` stores (the handle takes it out as
    /// a `T`); both callers tie them in their signatures.
    fn send_task<T>(
        &self,
        allocate: impl FnOnce(TaskMeta) -> NewRemoteTask,
        location: &'static std::panic::Location<'static>,
    ) -> Result<ThreadsafeTask<T>, LoopClosed> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(LoopClosed);
        }
        let meta = TaskMeta::new(TaskId::next_remote(), None, location, 0);
        let NewRemoteTask { in_flight, handle } = allocate(meta);
        self.shared.push_remote(Remote::Spawn(in_flight));
        Ok(ThreadsafeTask::from_raw(handle))
    }

    /// Whether this handle's loop is the one running on this thread (then
    /// plain [`spawn`](crate::spawn) reaches it without crossing threads).
    ///
    /// ```
    /// use r#loop as aio;
    /// aio::run(async {
    ///     let handle = aio::get_running_loop().handle();
    ///     assert!(handle.is_current());
    ///     let elsewhere = std::thread::spawn(move || handle.is_current()).join().unwrap();
    ///     assert!(!elsewhere);
    /// });
    /// ```
    pub fn is_current(&self) -> bool {
        crate::event_loop::current::with_current(|inner| Arc::ptr_eq(inner.shared(), &self.shared)).unwrap_or(false)
    }

    /// Whether the loop has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Stops the loop's `run_forever` after its current turn.
    pub fn stop(&self) -> Result<(), LoopClosed> {
        self.call_soon_threadsafe(|| {
            crate::event_loop::current::with_current(|inner| inner.stop());
        })
    }
}

/// Two handles are equal when they reach the same loop.
impl PartialEq for LoopHandle {
    fn eq(&self, other: &LoopHandle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for LoopHandle {}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle").field("closed", &self.is_closed()).finish()
    }
}
