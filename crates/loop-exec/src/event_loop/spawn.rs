//! Spawning: `spawn` / `create_task` on the running loop, and
//! [`TaskBuilder`] for named tasks.

use std::future::Future;
use std::panic::Location;

use crate::event_loop::current::{no_running_loop, with_current};
use crate::task::Task;

/// Spawns a task on the running loop (asyncio's `create_task`). The future
/// need not be `Send`. It first runs after the caller yields.
///
/// ```
/// use r#loop as aio;
/// use std::rc::Rc;
/// use std::cell::Cell;
///
/// let count = aio::run(async {
///     let hits = Rc::new(Cell::new(0)); // not Send: fine on one loop
///     let tasks: Vec<_> = (0..3).map(|_| {
///         let hits = hits.clone();
///         aio::spawn(async move { hits.set(hits.get() + 1) })
///     }).collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     hits.get()
/// });
/// assert_eq!(count, 3);
/// ```
///
/// # Panics
/// When no loop is running on this thread.
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
{
    let location = Location::caller();
    with_current(|inner| inner.spawn(future, None, location)).unwrap_or_else(|| no_running_loop("spawn()"))
}

/// Alias of [`spawn`], asyncio's name.
#[track_caller]
pub fn create_task<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
{
    let location = Location::caller();
    with_current(|inner| inner.spawn(future, None, location)).unwrap_or_else(|| no_running_loop("create_task()"))
}

/// Spawns tasks with a name (asyncio's `create_task(coro, name=...)`).
///
/// ```
/// use r#loop::{EventLoop, TaskBuilder};
///
/// let ev = EventLoop::new()?;
/// let name = ev.run_until_complete(async {
///     let task = TaskBuilder::new().name("fetch-3").spawn(async { 1 });
///     let name = task.name().map(str::to_owned);
///     task.await.unwrap();
///     name
/// });
/// assert_eq!(name.as_deref(), Some("fetch-3"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct TaskBuilder {
    name: Option<String>,
}

impl TaskBuilder {
    /// A builder with no name set.
    pub fn new() -> TaskBuilder {
        TaskBuilder::default()
    }

    /// Names the task (shown by `all_tasks()`, panics reports and debug
    /// warnings).
    pub fn name(mut self, name: impl Into<String>) -> TaskBuilder {
        self.name = Some(name.into());
        self
    }

    /// Spawns the future on the running loop.
    ///
    /// # Panics
    /// When no event loop is running on this thread.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        let location = Location::caller();
        let name = self.name;
        with_current(|inner| inner.spawn(future, name, location))
            .unwrap_or_else(|| no_running_loop("TaskBuilder::spawn"))
    }

    /// Spawns the future on the given loop (running or not).
    #[track_caller]
    pub fn spawn_on<F>(self, ev: &crate::event_loop::loop_ref::LoopRef, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        let location = Location::caller();
        ev.inner().spawn(future, self.name, location)
    }
}
