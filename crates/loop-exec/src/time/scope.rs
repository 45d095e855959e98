//! `TimeoutScope`: a timeout whose deadline moves while it runs (asyncio's
//! `asyncio.timeout()`), built on the one timeout future (`Timeout`, in
//! `sleep.rs`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::time::timeout::Timeout;
use crate::time::timeout::TimeoutError;

/// The shared deadline of a [`TimeoutScope`].
struct ScopeState {
    /// `None`: no deadline (asyncio's `timeout(None)`).
    deadline: Cell<Option<Instant>>,
    /// `run` was called (a scope runs once, as asyncio's `Timeout` is
    /// entered once).
    entered: Cell<bool>,
    /// The running scope's waker, to re-arm its timer after `reschedule`.
    waker: RefCell<Option<Waker>>,
    /// The deadline passed while the scope ran (asyncio's `expired()`).
    expired: Cell<bool>,
}

thread_local! {
    /// The scopes being polled on this thread, outermost first: a scope's
    /// `run` is on this stack while it polls its body, so an inner scope
    /// can see whether an enclosing one has expired too.
    static POLLING: RefCell<Vec<Rc<ScopeState>>> = const { RefCell::new(Vec::new()) };
}

/// Pops the scope `run` pushed, also when the body panics.
struct PollingGuard;

impl Drop for PollingGuard {
    fn drop(&mut self) {
        POLLING.with(|p| p.borrow_mut().pop());
    }
}

/// Whether a scope enclosing the innermost one being polled has reached its
/// deadline at `now`.
fn enclosing_expired(now: Instant) -> bool {
    POLLING.with(|p| {
        let p = p.borrow();
        p.split_last().is_some_and(|(_, outer)| outer.iter().any(|s| s.deadline.get().is_some_and(|d| d <= now)))
    })
}

/// A timeout whose deadline can be read and moved while it runs (asyncio's
/// `asyncio.timeout()` context manager and its `reschedule`). Clones share
/// the deadline, so code inside the scope can push it back.
///
/// Nested scopes are independent: only the one whose deadline passed
/// reports [`TimeoutError`]; an outer expiry drops the inner scope. When an
/// outer and an inner scope expire at the same instant, only the outermost
/// reports `TimeoutError`; the inner block is simply dropped with it (its
/// [`expired`](TimeoutScope::expired) is true all the same), as in
/// asyncio's `test_nested_timeouts`.
///
/// A scope may have no deadline ([`TimeoutScope::never`], asyncio's
/// `timeout(None)`) and get one later, or lose it, through
/// [`reschedule`](TimeoutScope::reschedule).
///
/// ```
/// use r#loop as aio;
/// use r#loop::{sleep, TimeoutScope};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let out = ev.run_until_complete(async {
///     let scope = TimeoutScope::after(Duration::from_secs(1));
///     let s = scope.clone();
///     scope
///         .run(async move {
///             // Progress: push the deadline back before it passes.
///             s.reschedule(s.deadline().unwrap() + Duration::from_secs(5));
///             sleep(Duration::from_secs(3)).await;
///             "finished"
///         })
///         .await
/// });
/// assert_eq!(out, Ok("finished"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TimeoutScope {
    state: Rc<ScopeState>,
}

impl TimeoutScope {
    /// A scope expiring `timeout` from now (loop time).
    ///
    /// # Panics
    /// When no event loop runs on this thread.
    pub fn after(timeout: Duration) -> TimeoutScope {
        let now = crate::event_loop::current::with_current(|i| i.timers().now())
            .unwrap_or_else(|| crate::event_loop::current::no_running_loop("TimeoutScope::after"));
        TimeoutScope::at(loop_time::deadline_after(now, timeout))
    }

    /// A scope expiring at loop time `deadline`.
    pub fn at(deadline: Instant) -> TimeoutScope {
        TimeoutScope::with_deadline(Some(deadline))
    }

    /// A scope with no deadline (asyncio's `timeout(None)`): it never
    /// expires unless [`reschedule`](TimeoutScope::reschedule) gives it one.
    ///
    /// ```
    /// use r#loop as aio;
    /// use r#loop::{sleep, TimeoutScope};
    /// use std::time::Duration;
    ///
    /// let ev = aio::EventLoop::builder().paused_clock().build()?;
    /// let out = ev.run_until_complete(async {
    ///     let scope = TimeoutScope::never();
    ///     assert_eq!(scope.deadline(), None);
    ///     let s = scope.clone();
    ///     scope
    ///         .run(async move {
    ///             sleep(Duration::from_secs(3600)).await; // no deadline: fine
    ///             s.reschedule(aio::get_running_loop().time() + Duration::from_secs(1));
    ///             sleep(Duration::from_secs(3600)).await; // now there is one
    ///         })
    ///         .await
    /// });
    /// assert!(out.is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn never() -> TimeoutScope {
        TimeoutScope::with_deadline(None)
    }

    fn with_deadline(deadline: Option<Instant>) -> TimeoutScope {
        TimeoutScope {
            state: Rc::new(ScopeState {
                deadline: Cell::new(deadline),
                entered: Cell::new(false),
                waker: RefCell::new(None),
                expired: Cell::new(false),
            }),
        }
    }

    /// The current deadline (`None`: none).
    pub fn deadline(&self) -> Option<Instant> {
        self.state.deadline.get()
    }

    /// Moves the deadline (earlier or later), or with `None` removes it,
    /// before or while the scope runs.
    ///
    /// # Panics
    /// When the scope has expired (asyncio's "Cannot change state of
    /// expired Timeout"): its block was already dropped, so a new deadline
    /// could not apply to anything.
    #[track_caller]
    pub fn reschedule(&self, deadline: impl Into<Option<Instant>>) {
        assert!(
            !self.state.expired.get(),
            "TimeoutScope::reschedule on a scope that has expired: its block was dropped when the deadline passed; \
             make a new scope"
        );
        self.state.deadline.set(deadline.into());
        if let Some(w) = self.state.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether the deadline passed while the scope ran (asyncio's
    /// `Timeout.expired()`): true after `run` returned `TimeoutError`, and
    /// also for an inner scope dropped because an enclosing one expired at
    /// the same instant.
    pub fn expired(&self) -> bool {
        self.state.expired.get()
    }

    /// Runs `future` within the scope: its output, or `TimeoutError` (after
    /// dropping it) once the deadline passes — unless an enclosing scope
    /// expired at the same time, which then reports it instead.
    ///
    /// # Panics
    /// When the scope (or a clone) was run before: a scope runs once, as
    /// asyncio's `Timeout` is entered once.
    #[track_caller]
    pub fn run<F: Future>(&self, future: F) -> impl Future<Output = Result<F::Output, TimeoutError>> + use<'_, F> {
        assert!(
            !self.state.entered.replace(true),
            "TimeoutScope::run called twice on one scope (asyncio: \"Timeout has already been entered\"): make a new \
             scope for each block"
        );
        self.run_entered(future)
    }

    async fn run_entered<F: Future>(&self, future: F) -> Result<F::Output, TimeoutError> {
        // Without a deadline the timer waits at the far end of the clock,
        // and is not looked at.
        let far = || loop_time::deadline_after(Instant::now(), Duration::MAX);
        let mut armed = self.state.deadline.get();
        let mut timeout = std::pin::pin!(Timeout::until(future, armed.unwrap_or_else(far)));
        std::future::poll_fn(|cx| {
            POLLING.with(|p| p.borrow_mut().push(self.state.clone()));
            let _polling = PollingGuard;
            *self.state.waker.borrow_mut() = Some(cx.waker().clone());
            let deadline = self.state.deadline.get();
            let moved = (deadline != armed).then(|| deadline.unwrap_or_else(far));
            armed = deadline;
            timeout.as_mut().poll_until(cx, moved, deadline.is_some(), || {
                self.state.expired.set(true);
                let now = crate::event_loop::current::with_current(|i| i.timers().now()).unwrap_or_else(Instant::now);
                // (Still on the stack: `enclosing_expired` skips us.) When
                // an enclosing scope expired too, it reports the timeout (it
                // is polled right after us, in this same poll) and drops us
                // with our body.
                !enclosing_expired(now)
            })
        })
        .await
    }
}

impl fmt::Debug for TimeoutScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutScope").field("deadline", &self.deadline()).finish()
    }
}
