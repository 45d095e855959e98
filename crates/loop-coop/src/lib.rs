//! The cooperative budget of the `loop` runtime.
//!
//! A task whose awaits are always ready (a socket that always has data, an
//! `accept` that fails at once every time, a lock nobody else holds) would
//! never return to its loop, and nothing else on that loop would run: not
//! the other tasks, not the timers, not the I/O. So the executor gives each
//! task poll a budget of ready results, and the runtime's leaf futures
//! (socket readiness, accept, locks, semaphores, queues, events, result
//! cells, timers already due, joins) spend one unit each time they could
//! proceed. Once the budget is spent, a leaf returns `Pending` once, after
//! waking its task: the task yields to the loop and goes on at its next
//! poll, with a fresh budget. tokio's `coop` does the same.
//!
//! The budget is per thread: the executor sets it before it polls a task
//! ([`reset`]); outside a loop's task it is unlimited, so futures polled by
//! other executors are never held back. [`unconstrained`] lifts it for one
//! future.
//!
//! ```
//! use r#loop as aio;
//! use std::time::Duration;
//!
//! aio::run(async {
//!     let event = aio::sync::Event::new();
//!     event.set();
//!     let fired = std::rc::Rc::new(std::cell::Cell::new(false));
//!     let f = fired.clone();
//!     aio::get_running_loop().call_later(Duration::from_millis(1), move || f.set(true));
//!     // Always ready: without the budget this task would hold the loop
//!     // and the timer could never fire.
//!     while !fired.get() {
//!         event.wait().await;
//!     }
//! });
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Ready results a task may take in one poll by default (tokio's is 128
/// too): enough that a busy connection moves tens of kilobytes per poll,
/// few enough that one poll stays in the microseconds.
pub const DEFAULT_BUDGET: u32 = 128;

/// The budget value that never runs out.
const UNLIMITED: u32 = u32::MAX;

thread_local! {
    /// Units left for the poll running on this thread. `UNLIMITED` outside
    /// a loop's task polls, and inside [`unconstrained`].
    static BUDGET: Cell<u32> = const { Cell::new(UNLIMITED) };
    /// Times a leaf made its task yield on this thread (for the loop's
    /// statistics).
    static FORCED_YIELDS: Cell<u64> = const { Cell::new(0) };
}

/// Sets the budget for the poll about to run on this thread: `Some(n)`
/// units, or `None` for no limit. Executors call it before each task
/// poll.
#[inline]
pub fn reset(budget: Option<u32>) {
    BUDGET.with(|b| b.set(budget.unwrap_or(UNLIMITED)));
}

/// A leaf future's first step: `Ready` (and one unit spent) while the poll
/// has budget left; otherwise wakes the task and returns `Pending`, so the
/// task yields and is polled again next turn. Call it before anything that
/// could complete the operation, so a `Pending` from here changes nothing.
///
/// ```
/// use std::task::{Context, Poll, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// loop_coop::reset(Some(2));
/// assert!(loop_coop::poll_proceed(&mut cx).is_ready());
/// assert!(loop_coop::poll_proceed(&mut cx).is_ready());
/// assert!(loop_coop::poll_proceed(&mut cx).is_pending(), "spent: yield");
/// loop_coop::reset(None);
/// assert!(loop_coop::poll_proceed(&mut cx).is_ready());
/// ```
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let left = BUDGET.with(Cell::get);
    if left == UNLIMITED {
        return Poll::Ready(());
    }
    if left == 0 {
        return spent(cx);
    }
    BUDGET.with(|b| b.set(left - 1));
    Poll::Ready(())
}

#[cold]
#[inline(never)]
fn spent(cx: &mut Context<'_>) -> Poll<()> {
    FORCED_YIELDS.with(|n| n.set(n.get() + 1));
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Whether the poll running on this thread has budget left (a leaf that
/// would spend some can ask first).
#[inline]
pub fn has_budget_remaining() -> bool {
    BUDGET.with(Cell::get) > 0
}

/// Times a leaf future made its task yield on this thread, since the
/// thread began.
pub fn forced_yields() -> u64 {
    FORCED_YIELDS.with(Cell::get)
}

/// Polls `future` with no budget: its leaf futures never make the task
/// yield (tokio's `task::unconstrained`). For a short burst that must not
/// be interleaved with the loop's other work; a loop around it can starve
/// the loop again.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let event = aio::sync::Event::new();
///     event.set();
///     // 10,000 ready waits in one poll: no yield in between.
///     aio::unconstrained(async {
///         for _ in 0..10_000 {
///             event.wait().await;
///         }
///     })
///     .await;
/// });
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

pin_project_lite::pin_project! {
    /// The future of [`unconstrained`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        let saved = BUDGET.with(|b| b.replace(UNLIMITED));
        let _restore = Restore(saved);
        future.poll(cx)
    }
}

/// Puts the budget back when the inner poll returns or unwinds.
struct Restore(u32);

impl Drop for Restore {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(self.0));
    }
}

/// Runs a leaf future's `poll` under the budget: while the task's poll has
/// budget left, `poll` runs and a `Ready` result spends one unit; once it
/// is spent, `poll` does not run, the task is woken and `Pending` returned
/// (it yields, and goes on at its next poll). A `Pending` from `poll`
/// spends nothing.
///
/// ```
/// use std::task::{Context, Poll, Waker};
///
/// let mut cx = Context::from_waker(Waker::noop());
/// loop_coop::reset(Some(1));
/// assert_eq!(loop_coop::budgeted(&mut cx, |_| Poll::<u8>::Pending), Poll::Pending);
/// assert_eq!(loop_coop::budgeted(&mut cx, |_| Poll::Ready(1)), Poll::Ready(1));
/// assert_eq!(loop_coop::budgeted(&mut cx, |_| Poll::Ready(2)), Poll::Pending, "spent");
/// loop_coop::reset(None);
/// ```
#[inline]
pub fn budgeted<T>(cx: &mut Context<'_>, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    let left = BUDGET.with(Cell::get);
    if left == 0 {
        return spent(cx).map(|()| unreachable!("spent() is always Pending"));
    }
    let result = poll(cx);
    if left != UNLIMITED && result.is_ready() {
        // Read again: `poll` may have run leaves of its own.
        BUDGET.with(|b| b.set(b.get().saturating_sub(1)));
    }
    result
}
