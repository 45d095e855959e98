//! `wait`: waiting for tasks until the first completes, the first fails, or
//! all are done (asyncio's `asyncio.wait`).

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::combinators::woken::WokenSet;
use crate::task::Task;

/// When [`wait`] returns (asyncio's `return_when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task finishes.
    FirstCompleted,
    /// As soon as any task panics (else when all finish). A cancelled task
    /// does not count, as in asyncio, where a cancelled future has no
    /// exception.
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
/// use r#loop as aio;
/// use r#loop::{sleep, spawn, wait, ReturnWhen};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
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
    let timer = timeout.map(|d| crate::time::sleep::sleep(d).quiet());
    wait_at(tasks, return_when, timer, at)
}

/// `wait`, with the wait noted at `at`.
async fn wait_at<T>(
    tasks: Vec<Task<T>>,
    return_when: ReturnWhen,
    mut timer: Option<crate::time::sleep::Sleep>,
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
                failed |= t.is_panicked();
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
            crate::combinators::yield_now::defer_wake(cx.waker());
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
