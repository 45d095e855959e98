//! `yield_now`: give the other ready tasks a turn, and `defer_wake`, the
//! loop's "wake at the next turn" that it and the combinators use.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives the other ready tasks a turn (asyncio's `await asyncio.sleep(0)`).
///
/// On a `loop` event loop the wake-up is deferred until after the loop has
/// looked at I/O and timers, so a task that yields in a busy loop cannot
/// starve them. Under any other executor it simply wakes itself.
///
/// ```
/// use r#loop as aio;
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let order = aio::run(async {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let l = log.clone();
///     let other = aio::spawn(async move { l.borrow_mut().push("other task") });
///     log.borrow_mut().push("before yield");
///     aio::yield_now().await; // the spawned task runs here
///     log.borrow_mut().push("after yield");
///     other.await.unwrap();
///     log.take()
/// });
/// assert_eq!(order, ["before yield", "other task", "after yield"]);
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        defer_wake(cx.waker());
        Poll::Pending
    }
}

/// Wakes `waker` at the start of the loop's next turn, after this turn's
/// ready tasks and the reactor (the loop's deferred list); outside a loop,
/// at once.
pub(crate) fn defer_wake(waker: &std::task::Waker) {
    if crate::event_loop::current::with_current(|inner| inner.defer(waker.clone())).is_none() {
        waker.wake_by_ref();
    }
}
