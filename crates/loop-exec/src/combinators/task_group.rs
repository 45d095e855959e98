//! `TaskGroup` (asyncio's `TaskGroup`): children that live and fail
//! together, and the scoped form whose body is cancelled with them.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::Location;

use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::combinators::woken::WokenSet;
use crate::task::panics::CatchUnwind;
use crate::task::{Task, TaskError, TaskId};

/// Why a child of a [`TaskGroup`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildError<E> {
    /// It returned this error.
    #[error("a child task failed: {0:?}")]
    Failed(E),
    /// It panicked with this message.
    #[error("a child task panicked: {0}")]
    Panicked(String),
}

/// Every failure of a [`TaskGroup`]'s children (asyncio's
/// `ExceptionGroup`), in the order the children were spawned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} child task(s) of the group failed", errors.len())]
pub struct GroupError<E> {
    /// The failures.
    pub errors: Vec<ChildError<E>>,
}

/// The group has finished (or failed): it takes no new children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the task group is finishing and takes no new tasks")]
pub struct GroupClosed;

/// A child of a group: its value, or why it failed.
type Child<T, E> = Task<Result<T, ChildError<E>>>;

struct GroupState<T, E> {
    tasks: RefCell<Vec<Child<T, E>>>,
    failed: Cell<bool>,
    /// Every child has finished and been collected: no more spawns.
    closing: Cell<bool>,
    /// The waker of the scoped form's body (`TaskGroup::run`), woken when a
    /// child fails so the body is cancelled at once, not at its next wake.
    body: RefCell<Option<Waker>>,
}

impl<T, E> GroupState<T, E> {
    /// Cancels every child but the one running now (a failing child
    /// cancels its siblings from its own last poll: cancelling itself would
    /// turn its error into `Cancelled`, since a task cancelled during its
    /// last poll ends cancelled), and wakes the scoped body to cancel it.
    fn cancel_all(&self) {
        let me = crate::event_loop::current::with_current(|i| i.current_task_id()).flatten();
        for t in self.tasks.borrow().iter() {
            if Some(t.id()) != me {
                t.cancel();
            }
        }
        if let Some(w) = self.body.borrow_mut().take() {
            w.wake();
        }
    }
}

/// A scope for tasks (asyncio's `TaskGroup`): `join().await` waits for all
/// children. The first child that fails — returns `Err` or panics — cancels
/// every sibling, and `join` reports every failure, not only the first.
/// Dropping a group that was not joined cancels its children: no child
/// outlives its scope.
///
/// Children can spawn grandchildren into the same group through a
/// [`GroupHandle`] ([`handle`](TaskGroup::handle)); `join` waits for them
/// too. [`TaskGroup::run`] is the scoped form, asyncio's
/// `async with TaskGroup() as tg:` block, whose body is cancelled with the
/// children when one of them fails.
///
/// ```
/// use r#loop as aio;
/// use r#loop::{sleep, TaskGroup, ChildError};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let out = ev.run_until_complete(async {
///     let group = TaskGroup::new();
///     group.spawn(async { sleep(Duration::from_secs(1)).await; Ok(1) }).unwrap();
///     group.spawn(async { Err::<i32, _>("bad input") }).unwrap();
///     group.spawn(async { sleep(Duration::from_secs(60)).await; Ok(3) }).unwrap(); // cancelled
///     group.join().await
/// });
/// assert_eq!(out.unwrap_err().errors, [ChildError::Failed("bad input")]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TaskGroup<T, E> {
    state: Rc<GroupState<T, E>>,
}

/// Spawns into a [`TaskGroup`] from anywhere, children included (they
/// capture a clone to spawn grandchildren). Cheap to clone; does not keep
/// the group alive.
pub struct GroupHandle<T, E> {
    state: Weak<GroupState<T, E>>,
}

impl<T, E> Clone for GroupHandle<T, E> {
    fn clone(&self) -> Self {
        GroupHandle { state: self.state.clone() }
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group.
    pub fn new() -> Self {
        TaskGroup {
            state: Rc::new(GroupState {
                tasks: RefCell::new(Vec::new()),
                failed: Cell::new(false),
                closing: Cell::new(false),
                body: RefCell::new(None),
            }),
        }
    }

    /// Spawns a child on the running loop; its handle cancels it or waits
    /// for it on its own (the value goes to `join`).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<ChildHandle<T, E>, GroupClosed>
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        spawn_into(&self.state, None, future, Location::caller())
    }

    /// Spawns a named child.
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F) -> Result<ChildHandle<T, E>, GroupClosed>
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        spawn_into(&self.state, Some(name.into()), future, Location::caller())
    }

    /// A handle that spawns into this group (for children to spawn
    /// grandchildren).
    pub fn handle(&self) -> GroupHandle<T, E> {
        GroupHandle { state: Rc::downgrade(&self.state) }
    }

    /// Waits for every child, also those spawned (through a
    /// [`GroupHandle`]) while it waits. `Ok` with their values (in spawn
    /// order) when none failed; otherwise every failure. Children cancelled
    /// because a sibling failed are not failures, unless their cancellation
    /// itself fails (a destructor panics): that is reported too, as
    /// [`ChildError::Panicked`]. When it returns, every child's future has
    /// been dropped.
    #[track_caller]
    pub fn join(self) -> impl Future<Output = Result<Vec<T>, GroupError<E>>> + use<T, E> {
        self.join_at(Location::caller())
    }

    /// The scoped form (asyncio's `async with TaskGroup() as tg:`): runs
    /// `body` with a handle to a new group, then waits for every child. When
    /// a child fails, the siblings *and the body* are cancelled (the body's
    /// future is dropped, so its result is lost) and the failures are
    /// returned. Otherwise `Ok` with the body's output and the children's
    /// values.
    ///
    /// ```
    /// use r#loop as aio;
    /// use r#loop::{sleep, TaskGroup};
    /// use std::time::Duration;
    ///
    /// let ev = aio::EventLoop::builder().paused_clock().build()?;
    /// let out = ev.run_until_complete(TaskGroup::<u32, &str>::run(|tg| async move {
    ///     tg.spawn(async { Ok(1) }).unwrap();
    ///     let grand = tg.clone();
    ///     tg.spawn(async move {
    ///         grand.spawn(async { Ok(3) }).unwrap(); // a grandchild, same group
    ///         Ok(2)
    ///     })
    ///     .unwrap();
    ///     sleep(Duration::from_secs(1)).await;
    ///     "body done"
    /// }));
    /// let (body, mut values) = out.unwrap();
    /// values.sort();
    /// assert_eq!((body, values), ("body done", vec![1, 2, 3]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn run<B, Fut>(body: B) -> impl Future<Output = Result<(Fut::Output, Vec<T>), GroupError<E>>>
    where
        B: FnOnce(GroupHandle<T, E>) -> Fut,
        Fut: Future,
    {
        let at = Location::caller();
        let group = TaskGroup::new();
        let body = body(group.handle());
        async move {
            let output = {
                let mut body = std::pin::pin!(body);
                std::future::poll_fn(|cx| {
                    if group.state.failed.get() {
                        return Poll::Ready(None);
                    }
                    *group.state.body.borrow_mut() = Some(cx.waker().clone());
                    match body.as_mut().poll(cx) {
                        Poll::Ready(v) => Poll::Ready(Some(v)),
                        // A child that failed during this poll cancelled us.
                        Poll::Pending if group.state.failed.get() => Poll::Ready(None),
                        Poll::Pending => Poll::Pending,
                    }
                })
                .await
                // A cancelled body is dropped here, before the children are
                // waited for.
            };
            *group.state.body.borrow_mut() = None;
            let values = group.join_at(at).await?;
            let output = output.expect("a group whose body was cancelled has a failed child, which join reports");
            Ok((output, values))
        }
    }

    /// `join`, with the wait noted at `at`.
    async fn join_at(self, at: &'static Location<'static>) -> Result<Vec<T>, GroupError<E>> {
        // Wait until every child has finished, keeping them in the group
        // meanwhile, so a failing child can still cancel all of them. One
        // waker per child: a wake-up looks only at the children that woke
        // it. Children spawned meanwhile (grandchildren) extend the set.
        let mut woken = WokenSet::new(self.state.tasks.borrow().len());
        let mut watched = self.state.tasks.borrow().len();
        let mut unfinished = watched;
        std::future::poll_fn(|cx| loop {
            {
                let tasks = self.state.tasks.borrow();
                for (i, waker) in woken.drain(cx.waker()) {
                    if tasks[i].poll_finished_at(&mut Context::from_waker(waker), at).is_ready() {
                        unfinished -= 1;
                    }
                }
            }
            let now = self.state.tasks.borrow().len();
            if now > watched {
                // New children: watch them all afresh (each starts woken, so
                // the finished ones are counted once more from zero).
                woken = WokenSet::new(now);
                watched = now;
                unfinished = now;
                continue;
            }
            return if unfinished == 0 { Poll::Ready(()) } else { Poll::Pending };
        })
        .await;
        self.state.closing.set(true);
        let tasks = std::mem::take(&mut *self.state.tasks.borrow_mut());
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Ok(v)) => values.push(v),
                Ok(Err(e)) => errors.push(e),
                Err(TaskError::Cancelled) => {}
                Err(TaskError::Panicked(m)) => errors.push(ChildError::Panicked(m)),
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(GroupError { errors })
        }
    }

    /// Number of children not yet joined.
    pub fn len(&self) -> usize {
        self.state.tasks.borrow().len()
    }

    /// Whether there is no child left to join.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: 'static, E: 'static> GroupHandle<T, E> {
    /// Spawns a child into the group: `GroupClosed` once the group has
    /// finished, failed, or been dropped.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<ChildHandle<T, E>, GroupClosed>
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        let state = self.state.upgrade().ok_or(GroupClosed)?;
        spawn_into(&state, None, future, Location::caller())
    }

    /// Spawns a named child into the group.
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F) -> Result<ChildHandle<T, E>, GroupClosed>
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        let state = self.state.upgrade().ok_or(GroupClosed)?;
        spawn_into(&state, Some(name.into()), future, Location::caller())
    }
}

/// Spawns `future` as a child of the group in `state`.
fn spawn_into<T: 'static, E: 'static, F>(
    state: &Rc<GroupState<T, E>>,
    name: Option<String>,
    future: F,
    location: &'static Location<'static>,
) -> Result<ChildHandle<T, E>, GroupClosed>
where
    F: Future<Output = Result<T, E>> + 'static,
{
    if state.closing.get() || state.failed.get() {
        return Err(GroupClosed);
    }
    let group = Rc::downgrade(state);
    let done = Rc::new(loop_sync::Event::new());
    let signal = SetOnDrop(done.clone());
    let child = async move {
        // Set however the child ends: returns, fails, panics or is cancelled.
        let _signal = signal;
        let outcome = match CatchUnwind::new(future).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => ChildError::Failed(e),
            Err(message) => ChildError::Panicked(message),
        };
        // The first failure cancels every sibling (and the scoped body).
        if let Some(group) = group.upgrade() {
            if !group.failed.replace(true) {
                group.cancel_all();
            }
        }
        Err(outcome)
    };
    let task = crate::event_loop::current::with_current(|inner| inner.spawn(child, name, location))
        .unwrap_or_else(|| crate::event_loop::current::no_running_loop("TaskGroup::spawn"));
    let id = task.id();
    state.tasks.borrow_mut().push(task);
    Ok(ChildHandle { group: Rc::downgrade(state), id, done })
}

/// Sets its event when dropped.
struct SetOnDrop(Rc<loop_sync::Event>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// One child of a [`TaskGroup`], as `spawn` returns it: cancel it or wait
/// for it on its own (asyncio's task returned by `tg.create_task`). Its
/// value (or failure) goes to the group's `join`. Dropping the handle does
/// nothing to the child.
///
/// ```
/// use r#loop as aio;
/// use r#loop::{sleep, TaskGroup};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let values = ev.run_until_complete(async {
///     let group: TaskGroup<u32, ()> = TaskGroup::new();
///     let slow = group.spawn(async { sleep(Duration::from_secs(60)).await; Ok(1) }).unwrap();
///     let fast = group.spawn(async { sleep(Duration::from_secs(1)).await; Ok(2) }).unwrap();
///     fast.finished().await;
///     assert!(slow.cancel()); // a cancelled child is not a failure
///     group.join().await
/// });
/// assert_eq!(values, Ok(vec![2]));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChildHandle<T, E> {
    group: Weak<GroupState<T, E>>,
    id: TaskId,
    done: Rc<loop_sync::Event>,
}

impl<T, E> ChildHandle<T, E> {
    /// Requests the child's cancellation; false when it has finished (or
    /// the group is gone).
    pub fn cancel(&self) -> bool {
        let Some(group) = self.group.upgrade() else { return false };
        let tasks = group.tasks.borrow();
        tasks.iter().find(|t| t.id() == self.id).is_some_and(|t| t.cancel())
    }

    /// Whether the child has finished (returned, failed, panicked or been
    /// cancelled).
    pub fn is_done(&self) -> bool {
        self.done.is_set()
    }

    /// The child task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Waits until the child has finished.
    #[track_caller]
    pub fn finished(&self) -> loop_sync::EventWait<'_> {
        self.done.wait()
    }
}

impl<T, E> fmt::Debug for ChildHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildHandle").field("id", &self.id).field("done", &self.is_done()).finish()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        // Not joined (or `join` was itself cancelled): no child outlives the
        // scope.
        self.state.closing.set(true);
        self.state.cancel_all();
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("children", &self.state.tasks.borrow().len())
            .field("failed", &self.state.failed.get())
            .finish()
    }
}

impl<T, E> fmt::Debug for GroupHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle").field("open", &(self.state.strong_count() > 0)).finish()
    }
}
