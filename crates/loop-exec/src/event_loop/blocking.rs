//! `spawn_blocking` / `to_thread`: a blocking function run on the loop's
//! `BlockingPool`, its result handed back to a task.

use std::future::Future;
use std::panic::{self, Location};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;

use loop_sync::__locks::BlockingMutex;

use crate::blocking::executor::BlockingFn;
use crate::event_loop::core::LoopCore;
use crate::event_loop::shared::LoopShared;
use crate::task::Task;

/// Where a blocking job's result meets the task awaiting it.
struct Handoff<T> {
    state: BlockingMutex<HandoffState<T>>,
}

/// What the job and the task share, behind `Handoff`'s lock.
struct HandoffState<T> {
    /// The job's result (or its panic), once it ran.
    result: Option<thread::Result<T>>,
    /// The awaiting task's waker, while it waits.
    waker: Option<Waker>,
    /// The job is gone: it ran, or the pool dropped it unrun.
    finished: bool,
}

/// Sends the result and keeps the loop's in-flight count right, whether the
/// job runs or is dropped unrun.
struct Sender<T> {
    handoff: Arc<Handoff<T>>,
    loop_shared: Arc<LoopShared>,
}

impl<T> Sender<T> {
    fn send(self, result: thread::Result<T>) {
        self.handoff.state.lock().result = Some(result);
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.handoff.state.lock();
            state.finished = true;
            state.waker.take()
        };
        self.loop_shared.blocking_in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The loop side of a blocking job.
pub(crate) struct Receiver<T> {
    handoff: Arc<Handoff<T>>,
    /// Where `spawn_blocking` was called: the task's wait location.
    location: &'static Location<'static>,
}

impl<T> Future for Receiver<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        loop_coop::budgeted(cx, |cx| self.poll_result(cx))
    }
}

impl<T> Receiver<T> {
    /// The result, once the job delivered it.
    fn poll_result(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.handoff.state.lock();
        match state.result.take() {
            Some(Ok(value)) => Poll::Ready(value),
            Some(Err(payload)) => {
                drop(state);
                // Re-raised inside the task, which turns it into
                // `TaskError::Panicked` (resume_unwind skips the hook, so
                // the panic is not printed twice).
                panic::resume_unwind(payload)
            }
            None if state.finished => {
                panic!(
                    "a blocking job was dropped unrun: its executor shut down (the loop closed, or \
                     shutdown_default_executor ran) or dropped it; submit jobs before shutting it down"
                )
            }
            None => {
                state.waker = Some(cx.waker().clone());
                drop(state);
                crate::event_loop::current::with_current(|inner| {
                    inner.record_wait(loop_sync::WaitKind::Blocking, self.location, loop_sync::WaitTarget::NONE)
                });
                Poll::Pending
            }
        }
    }
}

/// Runs `f` on the blocking pool of `inner` and returns the task awaiting it.
pub(crate) fn spawn_blocking_on<F, T>(inner: &LoopCore, f: F, location: &'static Location<'static>) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    inner.spawn(submit(inner, f, location), None, location)
}

/// Hands `f` to the blocking pool of `inner`; the returned future (`Send`
/// when `T` is) gives its result. A panic in `f` is resumed in whoever
/// awaits it.
fn submit<F, T>(inner: &LoopCore, f: F, location: &'static Location<'static>) -> Receiver<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    submit_to(inner, |job| inner.execute_blocking(job), f, location)
}

/// [`submit`] through `send` (an executor's `execute`) rather than to the
/// loop's default executor.
pub(crate) fn submit_to<F, T>(
    inner: &LoopCore,
    send: impl FnOnce(BlockingFn),
    f: F,
    location: &'static Location<'static>,
) -> Receiver<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handoff =
        Arc::new(Handoff { state: BlockingMutex::new(HandoffState { result: None, waker: None, finished: false }) });
    inner.shared().blocking_in_flight.fetch_add(1, Ordering::SeqCst);
    inner.count_blocking_job();
    let sender = Sender { handoff: handoff.clone(), loop_shared: inner.shared().clone() };
    // The job runs in a copy of the spawner's context (asyncio's
    // `to_thread` copies it too).
    let ctx = crate::event_loop::context::current();
    let job = Box::new(move || {
        let result = crate::event_loop::context::enter(&ctx, || crate::task::panics::catch_payload(f));
        sender.send(result);
    });
    send(job);
    Receiver { handoff, location }
}

/// Runs the blocking function `f` on the running loop's thread pool and
/// returns a task for its result (asyncio's `to_thread` /
/// `run_in_executor(None, f)`). A panic in `f` becomes
/// `TaskError::Panicked`. Cancelling the task does not stop `f`: a thread
/// cannot be interrupted; its result is dropped.
///
/// ```
/// use r#loop as aio;
/// let n = aio::run(async {
///     aio::spawn_blocking(|| (1..=10).sum::<u32>()).await
/// });
/// assert_eq!(n, Ok(55));
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    crate::event_loop::current::with_current(|inner| spawn_blocking_on(inner, f, location))
        .unwrap_or_else(|| crate::event_loop::current::no_running_loop("spawn_blocking()"))
}

/// A blocking function on the running loop's pool, awaited in place: the
/// future of [`unblock`]. It has no task of its own, so it costs one
/// allocation fewer than [`spawn_blocking`]; dropping it does not stop
/// the function (a thread cannot be interrupted), its result is dropped.
/// A panic in the function is resumed in whoever polls this.
#[must_use = "the function runs anyway; await the job for its result"]
pub struct BlockingJob<T> {
    receiver: Receiver<T>,
}

impl<T> Future for BlockingJob<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.receiver).poll(cx)
    }
}

impl<T> std::fmt::Debug for BlockingJob<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingJob").field("at", &self.receiver.location).finish_non_exhaustive()
    }
}

/// Runs the blocking function `f` on the running loop's pool and returns
/// a future of its result, polled by the caller's own task (asyncio's
/// `await asyncio.to_thread(f)`, which is a coroutine, not a task). The
/// loop counts the job as work in flight: a paused clock does not jump
/// past it. `loop::fs` is built on it.
///
/// ```
/// use r#loop as aio;
/// let n = aio::run(async { aio::unblock(|| (1..=10).sum::<u32>()).await });
/// assert_eq!(n, 55);
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn unblock<F, T>(f: F) -> BlockingJob<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    crate::event_loop::current::with_current(|inner| BlockingJob { receiver: submit(inner, f, location) })
        .unwrap_or_else(|| crate::event_loop::current::no_running_loop("unblock()"))
}

/// Alias of [`spawn_blocking`], asyncio's name.
#[track_caller]
pub fn to_thread<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    crate::event_loop::current::with_current(|inner| spawn_blocking_on(inner, f, location))
        .unwrap_or_else(|| crate::event_loop::current::no_running_loop("to_thread()"))
}

/// The loop's name resolver (installed by `Enter`): `getaddrinfo` as a
/// blocking job, so a DNS lookup never blocks the loop. The future is
/// `Send` (the sockets' connect futures are, for connection pools).
pub(crate) fn resolve_on_pool(
    name: String,
) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<std::net::SocketAddr>>> + Send>> {
    use std::net::ToSocketAddrs;
    let lookup = move || name.to_socket_addrs().map(Iterator::collect::<Vec<_>>);
    let here = Location::caller();
    match crate::event_loop::current::with_current(|inner| submit(inner, lookup, here)) {
        Some(job) => Box::pin(job),
        None => Box::pin(std::future::ready(Err(std::io::Error::other("name lookup outside a running event loop")))),
    }
}
