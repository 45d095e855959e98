//! `Semaphore` and `BoundedSemaphore`: FIFO, no barging, cancel-safe.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use parking_lot::Mutex;

use crate::waiters::{WaiterList, WakeList};

/// Releasing a `BoundedSemaphore` would raise it above its initial value
/// (asyncio's `ValueError`): more releases than acquires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("BoundedSemaphore released too many times: it would exceed its initial value of {bound}")]
pub struct SemaphoreOverflow {
    /// The initial (and largest) value.
    pub bound: usize,
}

/// What a queued acquirer wants and has been handed so far.
#[derive(Debug)]
struct Want {
    needed: usize,
    assigned: usize,
}

#[derive(Debug)]
struct State {
    /// Permits free to take.
    permits: usize,
    /// Permits handed to waiters that are still in the queue (the head one
    /// collects permits until it has all it needs).
    reserved: usize,
    waiters: WaiterList<Want>,
}

impl State {
    /// Hands free permits to the waiters in FIFO order; a waiter is
    /// released once it holds all it asked for. The head waiter keeps what
    /// it was given even when that is not yet enough: nobody behind it, and
    /// no newcomer, can take those permits (no barging).
    fn assign(&mut self, wakes: &mut WakeList) {
        while self.permits > 0 {
            let Some(key) = self.waiters.front() else { break };
            let want = self.waiters.payload_mut(key);
            let take = (want.needed - want.assigned).min(self.permits);
            want.assigned += take;
            self.permits -= take;
            self.reserved += take;
            if want.assigned == want.needed {
                self.reserved -= want.needed;
                wakes.push(self.waiters.unlink(key));
            } else {
                break;
            }
        }
    }
}

/// A counting semaphore (asyncio's `Semaphore`).
///
/// `acquire().await` waits for a permit and returns a [`SemaphorePermit`]
/// that gives it back when dropped. Waiters are served strictly in arrival
/// order, and a new caller never takes a permit while someone is queued.
/// Dropping a waiting `acquire` future (cancelling it) never loses a permit:
/// whatever it had been handed goes to the next waiter.
///
/// Works across threads and under any executor.
///
/// ```
/// # loop_sync::__block_on(async {
/// use loop_sync::Semaphore;
///
/// let sem = Semaphore::new(2);
/// let a = sem.acquire().await;
/// let b = sem.acquire().await;
/// assert!(sem.locked());
/// assert!(sem.try_acquire().is_none());
/// drop(a);
/// assert_eq!(sem.available_permits(), 1);
/// drop(b);
/// let three = sem.acquire_many(2).await;
/// assert_eq!(three.count(), 2);
/// # });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore { state: Mutex::new(State { permits, reserved: 0, waiters: WaiterList::default() }) }
    }

    /// Waits for one permit.
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once (taken together, in FIFO order).
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire { sem: self, n, key: None }
    }

    /// Takes one permit if that is possible without waiting and nobody is
    /// queued.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that is possible without waiting and nobody is
    /// queued.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut state = self.state.lock();
        if state.waiters.is_empty() && state.permits >= n {
            state.permits -= n;
            Some(SemaphorePermit { sem: self, n })
        } else {
            None
        }
    }

    /// Adds `n` permits (asyncio's `release()`), waking waiters in order.
    ///
    /// # Panics
    /// When the count would overflow `usize`.
    pub fn release(&self, n: usize) {
        let mut wakes = WakeList::default();
        {
            let mut state = self.state.lock();
            state.permits =
                state.permits.checked_add(n).expect("Semaphore::release: the permit count overflowed usize");
            state.assign(&mut wakes);
        }
        wakes.wake_all();
    }

    /// Permits free right now (not counting those handed to a queued waiter).
    pub fn available_permits(&self) -> usize {
        self.state.lock().permits
    }

    /// Whether an `acquire()` would have to wait: no permit is free or
    /// someone is queued (asyncio's `locked()`).
    pub fn locked(&self) -> bool {
        let state = self.state.lock();
        state.permits == 0 || !state.waiters.is_empty()
    }

    /// Number of queued waiters.
    pub fn waiters(&self) -> usize {
        self.state.lock().waiters.len()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Semaphore").field("permits", &state.permits).field("waiters", &state.waiters.len()).finish()
    }
}

/// Permits taken from a [`Semaphore`]; they go back when this is dropped.
#[must_use = "the permits are released as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn count(&self) -> usize {
        self.n
    }

    /// Keeps the permits taken for good (they are not released on drop).
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release(self.n);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("count", &self.n).finish()
    }
}

/// The future returned by [`Semaphore::acquire`] and
/// [`Semaphore::acquire_many`].
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    n: usize,
    /// Our node in the waiter queue, once queued.
    key: Option<usize>,
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        let sem = self.sem;
        let n = self.n;
        let mut state = sem.state.lock();
        match self.key {
            None => {
                if state.waiters.is_empty() && state.permits >= n {
                    state.permits -= n;
                    return Poll::Ready(SemaphorePermit { sem, n });
                }
                let key = state.waiters.push_back(Want { needed: n, assigned: 0 }, cx.waker().clone());
                // At the head of an empty queue we may collect what is free
                // now (and, with enough, be done at once).
                let mut wakes = WakeList::default();
                state.assign(&mut wakes);
                if !state.waiters.is_linked(key) {
                    state.waiters.remove(key);
                    return Poll::Ready(SemaphorePermit { sem, n });
                }
                self.key = Some(key);
                Poll::Pending
            }
            Some(key) => {
                if state.waiters.is_linked(key) {
                    state.waiters.set_waker(key, cx.waker());
                    Poll::Pending
                } else {
                    state.waiters.remove(key);
                    self.key = None;
                    Poll::Ready(SemaphorePermit { sem, n })
                }
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakes = WakeList::default();
        {
            let mut state = self.sem.state.lock();
            let granted = !state.waiters.is_linked(key);
            let want = state.waiters.remove(key);
            // Give back whatever we had been handed, to the next in line.
            let give_back = if granted {
                want.needed
            } else {
                state.reserved -= want.assigned;
                want.assigned
            };
            if give_back > 0 {
                state.permits += give_back;
            }
            state.assign(&mut wakes);
        }
        wakes.wake_all();
    }
}

/// A semaphore that refuses to be released above its initial value
/// (asyncio's `BoundedSemaphore`): an extra `release` is an error instead of
/// a silent increase.
///
/// ```
/// use loop_sync::{BoundedSemaphore, SemaphoreOverflow};
///
/// let sem = BoundedSemaphore::new(1);
/// assert_eq!(sem.release(), Err(SemaphoreOverflow { bound: 1 }));
/// let permit = sem.try_acquire().unwrap();
/// permit.forget(); // taken for good...
/// assert_eq!(sem.release(), Ok(())); // ...so one release is allowed
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
    bound: usize,
}

impl BoundedSemaphore {
    /// A semaphore with `permits` permits, which is also its bound.
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore { sem: Semaphore::new(permits), bound: permits }
    }

    /// Waits for one permit.
    pub fn acquire(&self) -> Acquire<'_> {
        self.sem.acquire()
    }

    /// Waits for `n` permits.
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        self.sem.acquire_many(n)
    }

    /// Takes one permit without waiting, if possible.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.sem.try_acquire()
    }

    /// Gives back one permit taken without a guard (after
    /// [`SemaphorePermit::forget`]); an error if that would exceed the bound.
    pub fn release(&self) -> Result<(), SemaphoreOverflow> {
        let mut wakes = WakeList::default();
        {
            let mut state = self.sem.state.lock();
            // Free plus handed-to-a-queued-waiter permits: the semaphore's value.
            if state.permits + state.reserved >= self.bound {
                return Err(SemaphoreOverflow { bound: self.bound });
            }
            state.permits += 1;
            state.assign(&mut wakes);
        }
        wakes.wake_all();
        Ok(())
    }

    /// Permits free right now.
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// Whether an `acquire()` would have to wait.
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore").field("sem", &self.sem).field("bound", &self.bound).finish()
    }
}
