//! `LoopSetHandle`: the spawning side of a `LoopSet`, shared by its loops.

use std::future::Future;
use std::sync::Arc;

use super::placement;
use crate::event_loop::loop_handle::{LoopClosed, LoopHandle};
use crate::event_loop::loop_ref::{all_tasks, current_task, LoopRef};
use crate::task::threadsafe::ThreadsafeTask;
use crate::task::TaskInfo;

impl LoopRef {
    /// The handle of this loop's [`LoopSet`](crate::LoopSet), to spawn on
    /// its other loops (see [`LoopSetHandle`]); `None` for a loop made on
    /// its own.
    pub fn set(&self) -> Option<LoopSetHandle> {
        self.set_cell()?.downcast_ref::<std::sync::OnceLock<LoopSetHandle>>()?.get().cloned()
    }
}

/// What spawns on a [`LoopSet`](crate::LoopSet)'s loops: `Send + Sync +
/// Clone`, so any thread or task can hold one. The set dereferences to
/// it, and every task on one of its loops gets it from
/// [`get_running_loop().set()`](crate::LoopRef::set) (e.g. inside a
/// `#[loop::main(loops = N)]`).
///
/// ```
/// use r#loop as aio;
///
/// let set = aio::LoopSet::builder().loops(2).build()?;
/// let from_inside = set.block_on_fn(|| async {
///     let set = aio::get_running_loop().set().expect("a loop of a set");
///     set.spawn_on(1, async { aio::get_running_loop().index() }).unwrap().await
/// });
/// assert_eq!(from_inside, Ok(Some(1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LoopSetHandle {
    /// One per loop, in index order.
    pub(crate) loops: Arc<[LoopHandle]>,
}

impl LoopSetHandle {
    /// How many loops the set runs.
    pub fn len(&self) -> usize {
        self.loops.len()
    }

    /// Always false: a set has at least one loop.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The handle of loop `index` (to spawn on it, call into it, stop it).
    ///
    /// # Panics
    /// When `index >= len()`.
    pub fn handle(&self, index: usize) -> &LoopHandle {
        match self.loops.get(index) {
            Some(h) => h,
            None => panic!("LoopSet::handle({index}): the set has {} loops (0..{})", self.len(), self.len()),
        }
    }

    /// Spawns a `Send` future on the least-loaded loop. The handle can be
    /// awaited anywhere or [`wait`](ThreadsafeTask::wait)ed on a plain
    /// thread. `Err` only when that loop has stopped (its thread panicked).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = &self.loops[placement::place(&self.loops, None)];
        handle.spawn_threadsafe(future)
    }

    /// Spawns a `Send` future on loop `index`.
    ///
    /// # Panics
    /// When `index >= len()`.
    #[track_caller]
    pub fn spawn_on<F>(&self, index: usize, future: F) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = self.handle(index);
        placement::place(&self.loops, Some(index));
        handle.spawn_threadsafe(future)
    }

    /// Runs the future `build` makes on the least-loaded loop; `build` runs
    /// there, so the future need not be `Send` (see
    /// [`LoopHandle::spawn_fn`]).
    #[track_caller]
    pub fn spawn_fn<B, F>(&self, build: B) -> Result<ThreadsafeTask<F::Output>, LoopClosed>
    where
        B: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let handle = &self.loops[placement::place(&self.loops, None)];
        handle.spawn_fn(build)
    }

    /// Starts the same set-up on every loop: `build(index)` runs on loop
    /// `index` and makes its future (which need not be `Send`), e.g. one
    /// server per core on a `SO_REUSEPORT` listener. Returns the tasks in
    /// index order.
    ///
    /// ```
    /// use r#loop as aio;
    /// use std::rc::Rc;
    ///
    /// let set = aio::LoopSet::builder().loops(2).build()?;
    /// let tasks = set.on_each(|index| async move {
    ///     let here = Rc::new(aio::get_running_loop().index()); // !Send is fine
    ///     (index, *here)
    /// })?;
    /// let got: Vec<_> = tasks.into_iter().map(|t| t.wait().unwrap()).collect();
    /// assert_eq!(got, vec![(0, Some(0)), (1, Some(1))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn on_each<B, F>(&self, build: B) -> Result<Vec<ThreadsafeTask<F::Output>>, LoopClosed>
    where
        B: Fn(usize) -> F + Send + Sync + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let build = Arc::new(build);
        (0..self.len())
            .map(|index| {
                let build = build.clone();
                self.handle(index).spawn_fn(move || build(index))
            })
            .collect()
    }

    /// Every unfinished task of every loop, grouped by loop index (each
    /// loop takes its own snapshot in its next turn). A loop that has
    /// stopped shows no tasks.
    ///
    /// It blocks the calling thread for the snapshots, so call it from a
    /// plain thread (a monitor, a signal handler's thread, `main` outside
    /// the set). From a task on one of the set's own loops it panics (that
    /// loop could not take its snapshot while blocked); there, use
    /// `on_each(|_| async { aio::all_tasks() })` and await the tasks.
    pub fn all_tasks(&self) -> Vec<(usize, Vec<TaskInfo>)> {
        let snapshots: Vec<_> = self
            .loops
            .iter()
            .map(|h| {
                h.spawn_threadsafe(async {
                    let me = current_task().map(|t| t.id);
                    all_tasks().into_iter().filter(|t| Some(t.id) != me).collect::<Vec<_>>()
                })
            })
            .collect();
        snapshots
            .into_iter()
            .enumerate()
            .map(|(i, snap)| (i, snap.ok().and_then(|t| t.wait().ok()).unwrap_or_default()))
            .collect()
    }

    /// [`dump_tasks`](crate::dump_tasks) for the whole set: a table of
    /// every unfinished task, one section per loop.
    pub fn dump_tasks(&self) -> String {
        let mut out = String::new();
        for (index, tasks) in self.all_tasks() {
            out.push_str(&format!("loop {index}: {} task(s) alive\n", tasks.len()));
            for t in tasks {
                out.push_str(&format!("  {t}\n"));
            }
        }
        out
    }
}

impl std::fmt::Debug for LoopSetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopSetHandle").field("loops", &self.loops.len()).finish()
    }
}
