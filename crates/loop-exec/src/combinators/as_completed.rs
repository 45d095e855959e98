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
