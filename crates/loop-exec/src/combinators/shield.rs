//! `shield`: awaiting a task without tying its life to the awaiter.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::task::{Task, TaskError};

/// Awaits a task without owning it (asyncio's `shield`): if the awaiting
/// future is dropped (cancelled), the task keeps running and its result stays
/// reachable through `task`.
///
/// ```
/// use r#loop as aio;
/// use r#loop::{shield, sleep, spawn, wait_for};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
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
