//! `Executor`: what runs blocking jobs (asyncio's `concurrent.futures`
//! executor), and `DefaultExecutor`, where a loop sends the jobs of
//! `spawn_blocking`, `to_thread`, `unblock` and `run_in_executor`.

use std::sync::Arc;
use std::time::Duration;

use crate::blocking::pool::BlockingPool;

/// One blocking job, as an [`Executor`] receives it.
pub type BlockingFn = Box<dyn FnOnce() + Send>;

/// Anything that runs blocking jobs: a thread pool of yours, a pool with
/// other bounds than the loop's, a dedicated thread (asyncio's executor
/// argument of `run_in_executor`). Closures taking a [`BlockingFn`]
/// implement it.
///
/// An executor runs each job once, on a thread that may block. A job it
/// drops unrun fails whoever awaits it with a panic that says so (never a
/// hang).
///
/// ```
/// use r#loop as aio;
/// use std::sync::Arc;
///
/// // A thread per job, named so it shows in a debugger.
/// let per_thread = |job: aio::BlockingFn| {
///     std::thread::Builder::new().name("report-writer".into()).spawn(job).unwrap();
/// };
/// let name = aio::run(async move {
///     let ev = aio::get_running_loop();
///     ev.run_in_executor_with(&per_thread, || std::thread::current().name().map(str::to_owned)).await
/// });
/// assert_eq!(name.unwrap().as_deref(), Some("report-writer"));
/// ```
pub trait Executor: Send + Sync + 'static {
    /// Runs `job`, now or later, on some thread.
    fn execute(&self, job: BlockingFn);

    /// Stops taking jobs and waits up to `timeout` for the running ones
    /// (asyncio's `executor.shutdown(wait=True)`, bounded); true if they
    /// all finished in time. Called on a thread of its own by
    /// [`LoopRef::shutdown_default_executor`](crate::LoopRef::shutdown_default_executor)
    /// and at `close()` for the loop's default executor. The default does
    /// nothing and says true.
    fn shutdown(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }
}

impl<F> Executor for F
where
    F: Fn(BlockingFn) + Send + Sync + 'static,
{
    fn execute(&self, job: BlockingFn) {
        self(job)
    }
}

/// Where a loop's blocking jobs go.
pub(crate) enum DefaultExecutor {
    /// The loop's own pool, started on the first job (`None` until then).
    Pool(Option<BlockingPool>),
    /// Set by `set_default_executor`.
    Custom(Arc<dyn Executor>),
    /// `shutdown_default_executor` ran, or the loop closed: jobs are
    /// dropped unrun, and whoever awaits one is told why.
    ShutDown,
}

/// A job's way out of a `DefaultExecutor` borrow: an executor of the
/// user's runs outside the loop's `RefCell`, since it may call back into
/// the loop.
pub(crate) enum Dispatch {
    /// The pool took the job.
    Done,
    /// Hand the job to this executor.
    To(Arc<dyn Executor>, BlockingFn),
    /// Shut down: drop the job (outside the borrow: dropping it wakes its
    /// awaiter).
    Drop(BlockingFn),
}

impl DefaultExecutor {
    /// Sends `job` on, starting the pool with `start` if needed.
    pub(crate) fn dispatch(&mut self, job: BlockingFn, start: impl FnOnce() -> BlockingPool) -> Dispatch {
        match self {
            DefaultExecutor::Pool(pool) => {
                pool.get_or_insert_with(start).execute(job);
                Dispatch::Done
            }
            DefaultExecutor::Custom(executor) => Dispatch::To(executor.clone(), job),
            DefaultExecutor::ShutDown => Dispatch::Drop(job),
        }
    }

    /// Whether there is something to shut down.
    pub(crate) fn is_started(&self) -> bool {
        matches!(self, DefaultExecutor::Pool(Some(_)) | DefaultExecutor::Custom(_))
    }

    /// Shuts down what was taken out of a loop, waiting up to `timeout`;
    /// true if every running job finished in time. Blocks: call it where
    /// blocking is allowed.
    pub(crate) fn shutdown(self, timeout: Duration) -> bool {
        match self {
            DefaultExecutor::Pool(Some(pool)) => pool.shutdown(timeout),
            DefaultExecutor::Custom(executor) => executor.shutdown(timeout),
            DefaultExecutor::Pool(None) | DefaultExecutor::ShutDown => true,
        }
    }
}
