//! Task-local values that spawned work inherits (asyncio's `contextvars`:
//! `create_task` copies the current context into the new task).
//!
//! A [`task_local!`](crate::task_local) key holds a value for the code run
//! inside [`LocalKey::scope`]. Whatever is spawned there — tasks,
//! `TaskGroup` children, `spawn_blocking` jobs — gets a copy of the
//! context as it was at the spawn, so the value travels with the work, and
//! a scope opened in a child never changes its parent. `run` starts with an
//! empty context. tokio's `task_local!` has scopes but no inheritance;
//! smol has neither.
//!
//! The context of the code being polled is a thread-local pointer, `None`
//! (no values) almost always: a spawn outside any scope reads it and adds
//! nothing to the task; only work spawned inside a scope is wrapped so that
//! its polls see the copy.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

/// The values of one context: a small immutable map from key to value,
/// shared by every task that inherited it (copying a context is cloning an
/// `Arc`; opening a scope makes a new map).
pub(crate) struct ContextMap {
    values: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
}

/// A context: `None` is the empty one.
pub(crate) type Ctx = Option<Arc<ContextMap>>;

thread_local! {
    /// The context of the code being polled on this thread.
    static TASK_CONTEXT: RefCell<Ctx> = const { RefCell::new(None) };
    /// Whether `TASK_CONTEXT` holds values: the one load a spawn outside any
    /// scope pays.
    static TASK_CONTEXT_SET: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current context is the empty one (cheap).
#[inline]
pub(crate) fn is_empty() -> bool {
    !TASK_CONTEXT_SET.with(Cell::get)
}

/// The current context (a cheap copy).
pub(crate) fn current() -> Ctx {
    if is_empty() {
        return None;
    }
    TASK_CONTEXT.with(|c| c.borrow().clone())
}

/// Runs `f` with `ctx` as the current context, putting the previous one
/// back afterwards, also when `f` panics.
pub(crate) fn enter<R>(ctx: &Ctx, f: impl FnOnce() -> R) -> R {
    struct Restore(Ctx);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            TASK_CONTEXT_SET.with(|n| n.set(previous.is_some()));
            TASK_CONTEXT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = TASK_CONTEXT.with(|c| std::mem::replace(&mut *c.borrow_mut(), ctx.clone()));
    TASK_CONTEXT_SET.with(|n| n.set(ctx.is_some()));
    let _restore = Restore(previous);
    f()
}

pin_project_lite::pin_project! {
    /// A future polled within a context: what a task spawned inside a scope
    /// runs (its copy of the spawner's context), and what `run` wraps its
    /// future in (the empty context).
    pub(crate) struct WithContext<F> {
        ctx: Ctx,
        #[pin]
        future: F,
    }
}

impl<F> WithContext<F> {
    pub(crate) fn new(ctx: Ctx, future: F) -> WithContext<F> {
        WithContext { ctx, future }
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        enter(this.ctx, || future.poll(cx))
    }
}

/// A key for a task-local value of type `T`; made by
/// [`task_local!`](crate::task_local).
pub struct LocalKey<T: 'static> {
    #[doc(hidden)]
    pub __marker: std::marker::PhantomData<fn() -> T>,
    /// The key's identity: the `TypeId` of a type the macro declares for
    /// this key alone (addresses of statics are not a reliable identity).
    #[doc(hidden)]
    pub __id: fn() -> TypeId,
}

impl<T: Send + Sync + 'static> LocalKey<T> {
    fn id(&'static self) -> TypeId {
        (self.__id)()
    }

    /// Runs `future` with this key set to `value`. Everything spawned
    /// inside inherits it; leaving the scope (or the future finishing)
    /// restores what was there.
    ///
    /// ```
    /// use r#loop as aio;
    ///
    /// aio::task_local! {
    ///     static REQUEST_ID: u64;
    /// }
    ///
    /// let seen = aio::run(REQUEST_ID.scope(7, async {
    ///     // A task spawned in the scope gets a copy of the context...
    ///     let child = aio::spawn(async { REQUEST_ID.get() });
    ///     // ...and so does a blocking job.
    ///     let job = aio::spawn_blocking(|| REQUEST_ID.get());
    ///     (REQUEST_ID.get(), child.await.unwrap(), job.await.unwrap())
    /// }));
    /// assert_eq!(seen, (Some(7), Some(7), Some(7)));
    /// assert_eq!(aio::run(async { REQUEST_ID.get() }), None, "run starts with an empty context");
    /// ```
    ///
    /// The scope adds its value to the context it is *polled* in (so
    /// `A.scope(1, B.scope(2, f))` sees both).
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> Scoped<F> {
        Scoped { key: self.id(), value: Some(Arc::new(value)), ctx: None, future }
    }

    /// Calls `f` with the current value, if this key is set here.
    pub fn with<R>(&'static self, f: impl FnOnce(Option<&T>) -> R) -> R {
        let ctx = current();
        let value = ctx
            .as_ref()
            .and_then(|m| m.values.iter().rev().find(|(k, _)| *k == self.id()))
            .and_then(|(_, v)| v.downcast_ref::<T>());
        f(value)
    }

    /// The current value, if this key is set here.
    pub fn get(&'static self) -> Option<T>
    where
        T: Clone,
    {
        self.with(|v| v.cloned())
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").field("type", &std::any::type_name::<T>()).finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`LocalKey::scope`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Scoped<F> {
        key: TypeId,
        // The value, until the first poll builds the scope's context.
        value: Option<Arc<dyn Any + Send + Sync>>,
        // The surrounding context plus the value, built at the first poll.
        ctx: Ctx,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(value) = this.value.take() {
            let base = current();
            let mut values = base.as_ref().map(|m| m.values.clone()).unwrap_or_default();
            values.retain(|(k, _)| k != this.key);
            values.push((*this.key, value));
            *this.ctx = Some(Arc::new(ContextMap { values }));
        }
        let future = this.future;
        enter(this.ctx, || future.poll(cx))
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped").finish_non_exhaustive()
    }
}

/// Declares task-local keys (asyncio's `ContextVar`): values set with
/// [`LocalKey::scope`] that spawned tasks, `TaskGroup` children and
/// `spawn_blocking` jobs inherit. Values must be `Send + Sync` (blocking
/// jobs read them on other threads).
///
/// ```
/// use r#loop as aio;
///
/// aio::task_local! {
///     /// The user a request runs for.
///     pub static USER: String;
///     static DEPTH: u32;
/// }
///
/// aio::run(USER.scope("ada".to_string(), async {
///     assert_eq!(USER.get().as_deref(), Some("ada"));
///     assert_eq!(DEPTH.get(), None);
/// }));
/// ```
#[macro_export]
macro_rules! task_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty;)+) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey {
                __marker: ::std::marker::PhantomData,
                __id: {
                    fn id() -> ::std::any::TypeId {
                        struct Key;
                        ::std::any::TypeId::of::<Key>()
                    }
                    id
                },
            };
        )+
    };
}
