//! `as_completed`: task results as a stream, in the order the tasks finish.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use crate::combinators::woken::WokenSet;
use crate::task::{Task, TaskError};
use crate::time::sleep::Sleep;
use crate::time::timeout::TimeoutError;

/// Yields task results in the order the tasks finish (asyncio's
/// `as_completed`), as a `futures-core` `Stream`.
///
/// ```
/// use r#loop as aio;
/// use r#loop::{as_completed, sleep, spawn};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
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
        AsCompletedWithin { inner: AsCompleted { deadline: Some(crate::time::sleep::sleep(timeout).quiet()), ..self } }
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

    /// The same stream, giving back the tasks themselves as they finish
    /// (Python 3.13's `async for task in as_completed(tasks)`), so the
    /// caller can tell which one it was; awaiting a yielded task gives its
    /// result at once.
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::time::Duration;
    ///
    /// let ev = aio::EventLoop::builder().paused_clock().build()?;
    /// let order = ev.run_until_complete(async {
    ///     let tasks = [("slow", 3), ("fast", 1)].map(|(name, s)| {
    ///         aio::TaskBuilder::new().name(name).spawn(aio::sleep(Duration::from_secs(s)))
    ///     });
    ///     let mut finished = aio::as_completed(tasks).tasks();
    ///     let mut order = Vec::new();
    ///     while let Some(task) = finished.next().await {
    ///         order.push(task.name().unwrap().to_owned());
    ///         task.await.unwrap();
    ///     }
    ///     order
    /// });
    /// assert_eq!(order, ["fast", "slow"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(self) -> AsCompletedTasks<T> {
        AsCompletedTasks { inner: self }
    }

    fn poll_next_result(
        &mut self,
        cx: &mut Context<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Option<Result<T, TaskError>>> {
        self.poll_next_task(cx, at).map(|finished| {
            finished.map(|mut task| match Pin::new(&mut task).poll(cx) {
                Poll::Ready(result) => result,
                Poll::Pending => unreachable!("as_completed yields finished tasks only"),
            })
        })
    }

    /// The next task to have finished.
    fn poll_next_task(&mut self, cx: &mut Context<'_>, at: &'static Location<'static>) -> Poll<Option<Task<T>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        for (i, waker) in self.woken.drain(cx.waker()) {
            let Some(task) = self.tasks[i].as_ref() else { continue };
            if task.poll_finished_at(&mut Context::from_waker(waker), at).is_ready() {
                // Others woken with it stay queued for the next call, which
                // a stream's consumer makes right after this result.
                self.remaining -= 1;
                return Poll::Ready(self.tasks[i].take());
            }
        }
        Poll::Pending
    }

    /// The deadline's part of the `timeout` forms: `Err` once it passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<TimeoutError> {
        if let Some(d) = self.deadline.as_mut() {
            if Pin::new(d).poll(cx).is_ready() {
                self.expired = true;
                return Poll::Ready(TimeoutError::new());
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

    /// The same stream, giving back the tasks themselves as they finish
    /// (see [`AsCompleted::tasks`]), then `Err(TimeoutError)` once if the
    /// timeout expires first.
    pub fn tasks(self) -> AsCompletedTasksWithin<T> {
        AsCompletedTasksWithin { inner: self.inner }
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
        self.inner.poll_deadline(cx).map(|e| Some(Err(e)))
    }
}

impl<T> Stream for AsCompletedWithin<T> {
    type Item = Result<Result<T, TaskError>, TimeoutError>;

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_within(cx, Location::caller())
    }
}

/// The stream of [`AsCompleted::tasks`]: the tasks themselves, finished,
/// in the order they finished.
pub struct AsCompletedTasks<T> {
    inner: AsCompleted<T>,
}

impl<T> AsCompletedTasks<T> {
    /// The next task to finish; `None` when all were yielded.
    #[track_caller]
    #[allow(clippy::should_implement_trait)] // the async `next`; `Stream` is implemented too
    pub fn next(&mut self) -> impl Future<Output = Option<Task<T>>> + use<'_, T> {
        let at = Location::caller();
        std::future::poll_fn(move |cx| self.inner.poll_next_task(cx, at))
    }

    /// The tasks not yielded yet.
    pub fn into_pending(self) -> Vec<Task<T>> {
        self.inner.into_pending()
    }
}

impl<T> Stream for AsCompletedTasks<T> {
    type Item = Task<T>;

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Task<T>>> {
        self.get_mut().inner.poll_next_task(cx, Location::caller())
    }
}

/// The stream of [`AsCompletedWithin::tasks`]: finished tasks, then
/// `Err(TimeoutError)` once if the timeout expires first.
pub struct AsCompletedTasksWithin<T> {
    inner: AsCompleted<T>,
}

impl<T> AsCompletedTasksWithin<T> {
    /// The next task to finish; `Err(TimeoutError)` once (then `None`) if
    /// the timeout expires first.
    #[track_caller]
    #[allow(clippy::should_implement_trait)] // the async `next`; `Stream` is implemented too
    pub fn next(&mut self) -> impl Future<Output = Option<Result<Task<T>, TimeoutError>>> + use<'_, T> {
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
    ) -> Poll<Option<Result<Task<T>, TimeoutError>>> {
        if self.inner.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(t) = self.inner.poll_next_task(cx, at) {
            return Poll::Ready(t.map(Ok));
        }
        self.inner.poll_deadline(cx).map(|e| Some(Err(e)))
    }
}

impl<T> Stream for AsCompletedTasksWithin<T> {
    type Item = Result<Task<T>, TimeoutError>;

    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_within(cx, Location::caller())
    }
}
