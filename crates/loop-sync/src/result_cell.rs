//! A one-shot result cell: asyncio's `Future`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::locks::BlockingMutex;

/// The cell was cancelled before a result was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the result cell was cancelled")]
pub struct CancelledError;

/// The cell already holds a result (or was cancelled): it can be set once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid state: the result cell is already done")]
pub struct InvalidStateError;

type DoneCallback<T> = Box<dyn FnOnce(&Result<T, CancelledError>) + Send>;

/// What a cell's pending waits and callbacks need, behind its lock. The
/// common case (one waiter, no callback) lives inline; anything more goes
/// to one boxed `Rest`, so an idle cell costs 64 bytes in all (it was 104
/// with the two vectors inline: issue 27).
struct Waiting<T> {
    /// Slot 0: the first waiter's waker.
    first: Option<Waker>,
    /// Whether slot 0 is taken (its waker may be `None` between polls).
    first_taken: bool,
    /// More waiters and the done callbacks, made on first need.
    rest: Option<Box<Rest<T>>>,
}

/// The rare part of [`Waiting`].
struct Rest<T> {
    /// Slot `i` is `more[i - 1]`; freed slots are reused.
    more: Vec<Option<Waker>>,
    /// Run once the outcome is set, in registration order.
    callbacks: Vec<DoneCallback<T>>,
}

impl<T> Waiting<T> {
    fn new() -> Waiting<T> {
        Waiting { first: None, first_taken: false, rest: None }
    }

    fn rest(&mut self) -> &mut Rest<T> {
        self.rest.get_or_insert_with(|| Box::new(Rest { more: Vec::new(), callbacks: Vec::new() }))
    }

    /// Registers a waiter's waker; its slot.
    fn insert(&mut self, waker: Waker) -> u32 {
        if !self.first_taken {
            self.first_taken = true;
            self.first = Some(waker);
            return 0;
        }
        let more = &mut self.rest().more;
        let i = match more.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                more.push(None);
                more.len() - 1
            }
        };
        more[i] = Some(waker);
        u32::try_from(i + 1).expect("more than 4 billion waits on one ResultCell")
    }

    fn slot(&mut self, i: u32) -> Option<&mut Option<Waker>> {
        match i {
            0 => Some(&mut self.first),
            i => self.rest.as_mut()?.more.get_mut(i as usize - 1),
        }
    }

    fn set(&mut self, i: u32, waker: &Waker) {
        if let Some(slot) = self.slot(i) {
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
    }

    fn remove(&mut self, i: u32) {
        if let Some(slot) = self.slot(i) {
            *slot = None;
        }
        if i == 0 {
            self.first_taken = false;
        }
    }

    fn add_callback(&mut self, callback: DoneCallback<T>) {
        self.rest().callbacks.push(callback);
    }

    /// Takes everything out: the wakers to wake and the callbacks to run.
    fn take(&mut self) -> (impl Iterator<Item = Waker>, Vec<DoneCallback<T>>) {
        self.first_taken = false;
        let first = self.first.take();
        let (more, callbacks) = match self.rest.take() {
            Some(rest) => {
                let Rest { more, callbacks } = *rest;
                (more, callbacks)
            }
            None => (Vec::new(), Vec::new()),
        };
        (first.into_iter().chain(more.into_iter().flatten()), callbacks)
    }
}

struct CellShared<T> {
    /// The outcome; written once, under `state`'s lock, then read freely
    /// (so callbacks and readers never run under the lock).
    outcome: OnceLock<Result<T, CancelledError>>,
    state: BlockingMutex<Waiting<T>>,
}

/// A value set once and awaited by any number of tasks, on any threads
/// (asyncio's `Future`, made by `loop.create_future()`).
///
/// Clones share the same cell. `set_result` or `cancel` completes it once;
/// a second attempt is an [`InvalidStateError`]. Done-callbacks run in
/// registration order, on the thread that completes the cell (or at once, if
/// it is already done).
///
/// ```
/// use r#loop as aio;
/// use r#loop::sync::{CancelledError, ResultCell};
///
/// let cell: ResultCell<&str> = ResultCell::new();
/// let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
/// let l = log.clone();
/// cell.add_done_callback(move |r| l.lock().unwrap().push(format!("{r:?}")));
/// assert!(cell.cancel());
/// assert_eq!(cell.set_result("late"), Err(aio::sync::InvalidStateError));
/// assert_eq!(cell.result(), Some(Err(CancelledError)));
/// assert_eq!(*log.lock().unwrap(), ["Err(CancelledError)"]);
/// ```
pub struct ResultCell<T> {
    shared: Arc<CellShared<T>>,
}

impl<T> Clone for ResultCell<T> {
    fn clone(&self) -> Self {
        ResultCell { shared: self.shared.clone() }
    }
}

impl<T> Default for ResultCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ResultCell<T> {
    /// An empty cell.
    pub fn new() -> Self {
        ResultCell {
            shared: Arc::new(CellShared { outcome: OnceLock::new(), state: BlockingMutex::new(Waiting::new()) }),
        }
    }

    fn finish(&self, result: Result<T, CancelledError>) -> Result<(), InvalidStateError> {
        let (waiters, callbacks) = {
            let mut state = self.shared.state.lock();
            self.shared.outcome.set(result).map_err(|_| InvalidStateError)?;
            state.take()
        };
        waiters.for_each(Waker::wake);
        if let Some(result) = self.shared.outcome.get() {
            for cb in callbacks {
                cb(result);
            }
        }
        Ok(())
    }

    /// Sets the result and wakes every waiter.
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.finish(Ok(value))
    }

    /// Cancels the cell; waiters get [`CancelledError`]. Returns `false`
    /// when it was already done.
    pub fn cancel(&self) -> bool {
        self.finish(Err(CancelledError)).is_ok()
    }

    /// Whether a result was set or the cell cancelled.
    pub fn is_done(&self) -> bool {
        self.shared.outcome.get().is_some()
    }

    /// Whether the cell was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.shared.outcome.get(), Some(Err(_)))
    }

    /// Runs `f` with the outcome once the cell is done (at once if it is).
    /// Callbacks run in the order they were added.
    pub fn add_done_callback(&self, f: impl FnOnce(&Result<T, CancelledError>) + Send + 'static) {
        {
            let mut state = self.shared.state.lock();
            if self.shared.outcome.get().is_none() {
                state.add_callback(Box::new(f));
                return;
            }
        }
        if let Some(result) = self.shared.outcome.get() {
            f(result);
        }
    }

    /// The outcome, if done.
    pub fn result(&self) -> Option<Result<T, CancelledError>>
    where
        T: Clone,
    {
        self.shared.outcome.get().cloned()
    }

    /// Waits until the cell is done and returns (a clone of) the outcome.
    pub fn wait(&self) -> Wait<T>
    where
        T: Clone,
    {
        Wait { cell: self.clone(), slot: None }
    }
}

impl<T: Clone> IntoFuture for ResultCell<T> {
    type Output = Result<T, CancelledError>;
    type IntoFuture = Wait<T>;

    fn into_future(self) -> Wait<T> {
        Wait { cell: self, slot: None }
    }
}

impl<T> fmt::Debug for ResultCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultCell").field("done", &self.is_done()).finish()
    }
}

/// The future returned by [`ResultCell::wait`].
pub struct Wait<T> {
    cell: ResultCell<T>,
    /// Our slot in the waiter list, once registered.
    slot: Option<u32>,
}

impl<T> Unpin for Wait<T> {}

impl<T: Clone> Future for Wait<T> {
    type Output = Result<T, CancelledError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop_coop::budgeted(cx, |cx| {
            let this = &mut *self;
            let mut state = this.cell.shared.state.lock();
            if let Some(result) = this.cell.shared.outcome.get() {
                this.slot = None;
                return Poll::Ready(result.clone());
            }
            match this.slot {
                Some(i) => state.set(i, cx.waker()),
                None => this.slot = Some(state.insert(cx.waker().clone())),
            }
            Poll::Pending
        })
    }
}

impl<T> Drop for Wait<T> {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let mut state = self.cell.shared.state.lock();
            state.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_first_waiter_is_inline_and_freed_slots_are_reused() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut slots = Waiting::<()>::new();
        assert_eq!(slots.insert(waker.clone()), 0, "the first waiter takes the inline slot");
        assert!(slots.rest.is_none(), "no allocation for one waiter");
        assert_eq!(slots.insert(waker.clone()), 1);
        assert_eq!(slots.insert(waker.clone()), 2);
        slots.remove(0);
        slots.remove(1);
        assert_eq!(slots.insert(waker.clone()), 0, "slot 0 reused");
        assert_eq!(slots.insert(waker.clone()), 1, "slot 1 reused");
        slots.set(2, &waker);
        let (wakers, callbacks) = slots.take();
        wakers.for_each(Waker::wake);
        assert!(callbacks.is_empty());
        assert_eq!(count.0.load(Ordering::SeqCst), 3, "every taken slot woken once");
    }

    #[test]
    fn an_idle_cell_fits_in_64_bytes() {
        // The shared block behind the Arc (the Arc's two counts included).
        assert!(std::mem::size_of::<CellShared<()>>() + 16 <= 64, "{}", std::mem::size_of::<CellShared<()>>());
    }
}
