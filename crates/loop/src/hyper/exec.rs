//! hyper's executors: [`LocalExec`] (tasks of the running loop) and
//! [`SendExec`] (tasks of a given loop, from any thread).

use std::future::Future;

/// hyper's executor on the running loop: `execute` spawns a task (no `Send`
/// bound; the task is detached, as hyper expects).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        crate::spawn(fut).detach();
    }
}

/// hyper's executor for `Send` futures, spawning on the loop behind a
/// [`LoopHandle`](crate::LoopHandle) from any thread.
#[derive(Debug, Clone)]
pub struct SendExec(pub crate::LoopHandle);

impl<F> hyper::rt::Executor<F> for SendExec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        if self.0.is_current() {
            // On the loop's own thread (a pooled client's request, most
            // often): a plain spawn, no trip through the remote queue.
            crate::spawn(fut).detach();
        } else {
            // A closed loop drops the work, as a stopped runtime would.
            let _ = self.0.spawn_threadsafe(fut);
        }
    }
}
