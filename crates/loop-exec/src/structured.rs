//! Waiting combinators: `wait`, `as_completed`, `shield`, timeout scopes
//! (`TaskGroup` is in `task_group.rs`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::woken::WokenSet;
use crate::{sleep_until, Sleep, Task, TaskError, TimeoutError};

/// When [`wait`] returns (asyncio's `return_when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task finishes.
    FirstCompleted,
    /// As soon as any task panics or is cancelled (else when all finish).
    FirstException,
    /// When every task has finished.
    AllCompleted,
}

/// `wait` was given no task (asyncio raises `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("wait() needs at least one task")]
pub struct EmptyWait;

/// Waits for tasks (asyncio's `wait`) and returns `(done, pending)`; never
/// cancels the pending ones. With a timeout, returns what is done when it
/// expires.
///
/// The done set is computed when the waiter resumes, as in asyncio: once
/// the first task completes (`FirstCompleted`) or fails
/// (`FirstException`), the waiter lets the loop run one more turn, and
/// every task finished by then is in `done`.
///
/// ```
/// use loop_exec::{sleep, spawn, wait, ReturnWhen};
/// use std::time::Duration;
///
/// let ev = loop_exec::EventLoop::builder().paused_clock().build()?;
/// ev.run_until_complete(async {
///     let tasks = vec![
///         spawn(async { sleep(Duration::from_secs(1)).await; 1 }),
///         spawn(async { sleep(Duration::from_secs(9)).await; 2 }),
///     ];
///     let (done, pending) = wait(tasks, ReturnWhen::FirstCompleted, None).await.unwrap();
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     assert_eq!(done.into_iter().next().unwrap().await, Ok(1));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
#[allow(clippy::type_complexity)] // (done, pending), spelled out for the reader
pub fn wait<T>(
    tasks: Vec<Task<T>>,
    return_when: ReturnWhen,
    timeout: Option<Duration>,
) -> impl Future<Output = Result<(Vec<Task<T>>, Vec<Task<T>>), EmptyWait>> + use<T> {
    let at = Location::caller();
    let timer = timeout.map(|d| crate::sleep(d).quiet());
    wait_at(tasks, return_when, timer, at)
}

/// `wait`, with the wait noted at `at`.
async fn wait_at<T>(
    tasks: Vec<Task<T>>,
    return_when: ReturnWhen,
    mut timer: Option<crate::Sleep>,
    at: &'static Location<'static>,
) -> Result<(Vec<Task<T>>, Vec<Task<T>>), EmptyWait> {
    if tasks.is_empty() {
        return Err(EmptyWait);
    }
    let woken = WokenSet::new(tasks.len());
    let mut finished = 0;
    let mut failed = false;
    // Once the condition holds, the waiter steps aside for one turn before
    // it looks (asyncio's completion callback and wake-up are two hops):
    // tasks finishing meanwhile are in the done set too (asyncio's
    // `test_wait_really_done`).
    let mut settling = false;
    std::future::poll_fn(|cx| {
        if settling {
            return Poll::Ready(());
        }
        for (i, waker) in woken.drain(cx.waker()) {
            let t = &tasks[i];
            if t.poll_finished_at(&mut Context::from_waker(waker), at).is_ready() {
                finished += 1;
                failed |= t.is_panicked() || t.is_cancelled();
            }
        }
        let done = match return_when {
            ReturnWhen::FirstCompleted => finished > 0,
            ReturnWhen::FirstException => failed || finished == tasks.len(),
            ReturnWhen::AllCompleted => finished == tasks.len(),
        };
        if done {
            if finished == tasks.len() {
                return Poll::Ready(());
            }
            settling = true;
            crate::combinators::defer_wake(cx.waker());
            return Poll::Pending;
        }
        match timer.as_mut() {
            Some(t) => Pin::new(t).poll(cx),
            None => Poll::Pending,
        }
    })
    .await;
    Ok(tasks.into_iter().partition(Task::is_done))
}

/// Yields task results in the order the tasks finish (asyncio's
/// `as_completed`), as a `futures-core` `Stream`.
///
/// ```
/// use loop_exec::{as_completed, sleep, spawn};
/// use std::time::Duration;
///
/// let ev = loop_exec::EventLoop::builder().paused_clock().build()?;
/// let order = ev.run_until_complete(async {
///     let tasks = [3u64, 1, 2].map(|s| spawn(async move { sleep(Duration::from_secs(s)).await; s }));
///     let mut results = as_completed(tasks);
///     let mut order = Vec::new();
///     while let Some(r) = results.next().await {
///         order.push(r.unwrap());
///     }
///     order
/// });
/// assert_eq!(order, [1, 2, 3]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn as_completed<T>(tasks: impl IntoIterator<Item = Task<T>>) -> AsCompleted<T> {
    let tasks: Vec<_> = tasks.into_iter().map(Some).collect();
    AsCompleted { woken: WokenSet::new(tasks.len()), remaining: tasks.len(), tasks, deadline: None, expired: false }
}

/// The stream returned by [`as_completed`].
pub struct AsCompleted<T> {
    /// `None` once yielded.
    tasks: Vec<Option<Task<T>>>,
    remaining: usize,
    /// One waker per task: a wake-up looks only at the tasks that woke it.
    woken: WokenSet,
    deadline: Option<Sleep>,
    expired: bool,
}

impl<T> AsCompleted<T> {
    /// An overall timeout: once it expires the stream yields one
    /// `Err(TimeoutError)` and ends (the remaining tasks keep running;
    /// get them back with [`into_pending`](AsCompleted::into_pending)).
    pub fn timeout(self, timeout: Duration) -> AsCompletedWithin<T> {
        AsCompletedWithin { inner: AsCompleted { deadline: Some(crate::sleep(timeout).quiet()), ..self } }
    }

    /// The next result, in completion order; `None` when all were yielded.
    #[track_caller]
    #[allow(clippy::should_implement_trait)] // the async `next`; `Stream` is implemented too
    pub fn next(&mut self) -> impl Future<Output = Option<Result<T, TaskError>>> + use<'_, T> {
        let at = Location::caller();
        std::future::poll_fn(move |cx| self.poll_next_result(cx, at))
    }

    /// The tasks not yielded yet.
    pub fn into_pending(self) -> Vec<Task<T>> {
        self.tasks.into_iter().flatten().collect()
    }

    fn poll_next_result(
        &mut self,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Option<Result<T, TaskError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        for (i, waker) in self.woken.drain(cx.waker()) {
            let Some(task) = self.tasks[i].as_ref() else { continue };
            if task.poll_finished_at(&mut Context::from_waker(waker), at).is_ready() {
                // Others woken with it stay queued for the next call, which
                // a stream's consumer makes right after this result.
                let mut task = self.tasks[i].take().expect("checked above");
                self.remaining -= 1;
                return Pin::new(&mut task).poll(cx).map(Some);
            }
        }
        Poll::Pending
    }
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, TaskError>;

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_result(cx, Location::caller())
    }
}

/// [`AsCompleted`] with an overall timeout.
pub struct AsCompletedWithin<T> {
    inner: AsCompleted<T>,
}

impl<T> AsCompletedWithin<T> {
    /// The next result; `Err(TimeoutError)` once (then `None`) if the
    /// timeout expires first.
    #[track_caller]
    #[allow(clippy::should_implement_trait)] // the async `next`; `Stream` is implemented too
    pub fn next(&mut self) -> impl Future<Output = Option<Result<Result<T, TaskError>, TimeoutError>>> + use<'_, T> {
        let at = Location::caller();
        std::future::poll_fn(move |cx| self.poll_next_within(cx, at))
    }

    /// The tasks not yielded yet.
    pub fn into_pending(self) -> Vec<Task<T>> {
        self.inner.into_pending()
    }

    fn poll_next_within(
        &mut self,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Option<Result<Result<T, TaskError>, TimeoutError>>> {
        if self.inner.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(r) = self.inner.poll_next_result(cx, at) {
            return Poll::Ready(r.map(Ok));
        }
        if let Some(d) = self.inner.deadline.as_mut() {
            if Pin::new(d).poll(cx).is_ready() {
                self.inner.expired = true;
                return Poll::Ready(Some(Err(TimeoutError::new())));
            }
        }
        Poll::Pending
    }
}

impl<T> Stream for AsCompletedWithin<T> {
    type Item = Result<Result<T, TaskError>, TimeoutError>;

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_within(cx, Location::caller())
    }
}

/// Awaits a task without owning it (asyncio's `shield`): if the awaiting
/// future is dropped (cancelled), the task keeps running and its result stays
/// reachable through `task`.
///
/// ```
/// use loop_exec::{shield, sleep, spawn, wait_for};
/// use std::time::Duration;
///
/// let ev = loop_exec::EventLoop::builder().paused_clock().build()?;
/// ev.run_until_complete(async {
///     let mut save = spawn(async { sleep(Duration::from_secs(5)).await; "saved" });
///     // The timeout drops the shield, not the task.
///     assert!(wait_for(shield(&mut save), Duration::from_secs(1)).await.is_err());
///     assert_eq!(save.await, Ok("saved"));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn shield<T>(task: &mut Task<T>) -> Shield<'_, T> {
    Shield { task }
}

/// The future returned by [`shield`].
#[must_use = "futures do nothing unless awaited"]
pub struct Shield<'a, T> {
    task: &'a mut Task<T>,
}

impl<T> Future for Shield<'_, T> {
    type Output = Result<T, TaskError>;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Not marked as awaited: dropping the shield (or, later, the
        // handle) leaves the task running.
        self.task.poll_join(cx, false, std::panic::Location::caller())
    }
}

/// The shared deadline of a [`TimeoutScope`].
struct ScopeState {
    deadline: Cell<Instant>,
    /// The running scope's waker, to re-arm its timer after `reschedule`.
    waker: RefCell<Option<Waker>>,
    /// The deadline passed while the scope ran (asyncio's `expired()`).
    expired: Cell<bool>,
}

thread_local! {
    /// The scopes being polled on this thread, outermost first: a scope's
    /// `run` is on this stack while it polls its body, so an inner scope
    /// can see whether an enclosing one has expired too.
    static POLLING: RefCell<Vec<Rc<ScopeState>>> = const { RefCell::new(Vec::new()) };
}

/// Pops the scope `run` pushed, also when the body panics.
struct PollingGuard;

impl Drop for PollingGuard {
    fn drop(&mut self) {
        POLLING.with(|p| p.borrow_mut().pop());
    }
}

/// Whether a scope enclosing the innermost one being polled has reached its
/// deadline at `now`.
fn enclosing_expired(now: Instant) -> bool {
    POLLING.with(|p| {
        let p = p.borrow();
        p.split_last().is_some_and(|(_, outer)| outer.iter().any(|s| s.deadline.get() <= now))
    })
}

/// A timeout whose deadline can be read and moved while it runs (asyncio's
/// `asyncio.timeout()` context manager and its `reschedule`). Clones share
/// the deadline, so code inside the scope can push it back.
///
/// Nested scopes are independent: only the one whose deadline passed
/// reports [`TimeoutError`]; an outer expiry drops the inner scope. When an
/// outer and an inner scope expire at the same instant, only the outermost
/// reports `TimeoutError`; the inner block is simply dropped with it (its
/// [`expired`](TimeoutScope::expired) is true all the same), as in
/// asyncio's `test_nested_timeouts`.
///
/// ```
/// use loop_exec::{sleep, TimeoutScope};
/// use std::time::Duration;
///
/// let ev = loop_exec::EventLoop::builder().paused_clock().build()?;
/// let out = ev.run_until_complete(async {
///     let scope = TimeoutScope::after(Duration::from_secs(1));
///     let s = scope.clone();
///     scope
///         .run(async move {
///             // Progress: push the deadline back before it passes.
///             s.reschedule(s.deadline() + Duration::from_secs(5));
///             sleep(Duration::from_secs(3)).await;
///             "finished"
///         })
///         .await
/// });
/// assert_eq!(out, Ok("finished"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TimeoutScope {
    state: Rc<ScopeState>,
}

impl TimeoutScope {
    /// A scope expiring `timeout` from now (loop time).
    ///
    /// # Panics
    /// When no event loop runs on this thread.
    pub fn after(timeout: Duration) -> TimeoutScope {
        let now = crate::current::with_current(|i| i.time.now())
            .unwrap_or_else(|| crate::current::no_running_loop("TimeoutScope::after"));
        TimeoutScope::at(loop_time::deadline_after(now, timeout))
    }

    /// A scope expiring at loop time `deadline`.
    pub fn at(deadline: Instant) -> TimeoutScope {
        TimeoutScope {
            state: Rc::new(ScopeState {
                deadline: Cell::new(deadline),
                waker: RefCell::new(None),
                expired: Cell::new(false),
            }),
        }
    }

    /// The current deadline.
    pub fn deadline(&self) -> Instant {
        self.state.deadline.get()
    }

    /// Moves the deadline (earlier or later) while the scope runs.
    pub fn reschedule(&self, deadline: Instant) {
        self.state.deadline.set(deadline);
        if let Some(w) = self.state.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether the deadline passed while the scope ran (asyncio's
    /// `Timeout.expired()`): true after `run` returned `TimeoutError`, and
    /// also for an inner scope dropped because an enclosing one expired at
    /// the same instant.
    pub fn expired(&self) -> bool {
        self.state.expired.get()
    }

    /// Runs `future` within the scope: its output, or `TimeoutError` (after
    /// dropping it) once the deadline passes — unless an enclosing scope
    /// expired at the same time, which then reports it instead.
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, TimeoutError> {
        let mut future = std::pin::pin!(future);
        let mut timer: Option<(Instant, Sleep)> = None;
        std::future::poll_fn(|cx| {
            POLLING.with(|p| p.borrow_mut().push(self.state.clone()));
            let _polling = PollingGuard;
            if let Poll::Ready(v) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            let deadline = self.state.deadline.get();
            if timer.as_ref().is_none_or(|(at, _)| *at != deadline) {
                // Quiet: the wait worth showing is the inner future's.
                timer = Some((deadline, sleep_until(deadline).quiet()));
            }
            *self.state.waker.borrow_mut() = Some(cx.waker().clone());
            let (_, sleep) = timer.as_mut().expect("set above");
            match Pin::new(sleep).poll(cx) {
                Poll::Ready(()) => {
                    self.state.expired.set(true);
                    let now = crate::current::with_current(|i| i.time.now()).unwrap_or_else(Instant::now);
                    // (Still on the stack: `enclosing_expired` skips us.)
                    if enclosing_expired(now) {
                        // An enclosing scope expired too: it reports the
                        // timeout (it is polled right after us, in this same
                        // poll) and drops us with our body.
                        Poll::Pending
                    } else {
                        Poll::Ready(Err(TimeoutError::new()))
                    }
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

impl fmt::Debug for TimeoutScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutScope").field("deadline", &self.deadline()).finish()
    }
}
