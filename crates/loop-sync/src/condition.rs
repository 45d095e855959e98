//! `Condition`: wait for a notification while giving up a lock.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::task::Poll;

use crate::paths::{hit, Path};
use crate::shim::BlockingMutex;

use crate::lock::{Lock, LockGuard, Mutex, MutexGuard};
use crate::observe::{note_wait_on, WaitKind, WaitTarget};
use crate::waiters::{WaiterList, WakeList};

/// A guard a [`Condition`] can release while waiting and take again after:
/// [`LockGuard`] and [`MutexGuard`].
pub trait Relock<'a>: Sized {
    /// What the guard locks.
    type Lockable: ?Sized + 'a;

    /// Releases the guard, returning what it locked.
    fn unlock(self) -> &'a Self::Lockable;

    /// Takes the lock again.
    fn relock(lockable: &'a Self::Lockable) -> impl Future<Output = Self> + 'a;
}

impl<'a> Relock<'a> for LockGuard<'a> {
    type Lockable = Lock;

    fn unlock(self) -> &'a Lock {
        self.lock()
    }

    fn relock(lock: &'a Lock) -> impl Future<Output = Self> + 'a {
        lock.acquire()
    }
}

impl<'a, T: ?Sized + 'a> Relock<'a> for MutexGuard<'a, T> {
    type Lockable = Mutex<T>;

    fn unlock(self) -> &'a Mutex<T> {
        MutexGuard::mutex(&self)
    }

    fn relock(mutex: &'a Mutex<T>) -> impl Future<Output = Self> + 'a {
        mutex.lock()
    }
}

/// A condition variable for async code (asyncio's `Condition`).
///
/// `wait(guard)` releases the lock, waits for a notification, takes the
/// lock again and returns the new guard. `notify(n)` wakes the `n` longest
/// waiting tasks, `notify_all` all of them. A waiter registers before it
/// releases the lock, so a notification sent by the next holder is never
/// missed; a notified waiter that is dropped before it returns passes its
/// notification on to the next waiter.
///
/// ```
/// use r#loop as aio;
/// # aio::run(async {
/// use r#loop::sync::{Condition, Mutex};
/// use std::sync::Arc;
///
/// let state = Arc::new((Mutex::new(false), Condition::new()));
/// let s = state.clone();
/// let t = std::thread::spawn(move || aio::run(async move {
///     let (ready, cond) = &*s;
///     *ready.lock().await = true;
///     cond.notify_all();
/// }));
/// let (ready, cond) = &*state;
/// let guard = cond.wait_for(ready.lock().await, |r| *r).await;
/// assert!(*guard);
/// # drop(guard);
/// t.join().unwrap();
/// # });
/// ```
pub struct Condition {
    /// Payload: whether the waiter was notified (set when it is unlinked).
    waiters: BlockingMutex<WaiterList<bool>>,
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl Condition {
    /// A condition with no waiters.
    pub fn new() -> Condition {
        Condition { waiters: BlockingMutex::new(WaiterList::default()) }
    }

    /// Wakes up to `n` waiters, longest waiting first.
    pub fn notify(&self, n: usize) {
        let mut wakes = WakeList::default();
        {
            let mut waiters = self.waiters.lock();
            for key in waiters.keys().into_iter().take(n) {
                hit(Path::ConditionNotifiedWaiter);
                *waiters.payload_mut(key) = true;
                wakes.push(waiters.unlink(key));
            }
        }
        wakes.wake_all();
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.notify(usize::MAX);
    }

    /// Number of tasks waiting for a notification.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().len()
    }

    /// Releases `guard`, waits to be notified, takes the lock again.
    ///
    /// The whole wait (notification, then the lock) is reported to a wait
    /// observer as `Condition::wait` at the caller's line.
    #[track_caller]
    pub fn wait<'c, 'a, G: Relock<'a>>(&'c self, guard: G) -> impl Future<Output = G> + use<'c, 'a, G> {
        self.wait_at(guard, Location::caller())
    }

    /// Waits until `predicate` holds for the locked data (checked first,
    /// then after every notification), and returns the guard.
    #[track_caller]
    pub fn wait_for<'c, 'a, G, P>(
        &'c self,
        mut guard: G,
        mut predicate: P,
    ) -> impl Future<Output = G> + use<'c, 'a, G, P>
    where
        G: Relock<'a> + std::ops::Deref,
        P: FnMut(&G::Target) -> bool,
    {
        let at = Location::caller();
        async move {
            while !predicate(&guard) {
                guard = self.wait_at(guard, at).await;
            }
            guard
        }
    }

    /// `wait`, with its waits noted at `at`.
    async fn wait_at<'a, G: Relock<'a>>(&self, guard: G, at: &'static Location<'static>) -> G {
        // Register first, then release: a notify right after the release
        // finds us queued.
        let key = self.waiters.lock().push_back(false, std::task::Waker::noop().clone());
        let mut waiter = Waiter { cond: self, key: Some(key), notified_unreturned: false };
        let lockable = guard.unlock();
        std::future::poll_fn(|cx| {
            let mut waiters = self.waiters.lock();
            if waiters.is_linked(key) {
                waiters.set_waker(key, cx.waker());
                note_wait_on(WaitKind::Condition, at, WaitTarget::at(self, 0));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        waiter.notified_unreturned = true;
        if let Some(key) = waiter.key.take() {
            self.waiters.lock().remove(key);
        }
        let mut relock = std::pin::pin!(G::relock(lockable));
        let guard = std::future::poll_fn(|cx| {
            let polled = relock.as_mut().poll(cx);
            if polled.is_pending() {
                note_wait_on(WaitKind::Condition, at, WaitTarget::at(self, 0));
            }
            polled
        })
        .await;
        waiter.notified_unreturned = false;
        guard
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").field("waiters", &self.waiters()).finish()
    }
}

/// Cleans up a `wait` that is dropped part-way: frees its node, and passes a
/// notification it received but never returned on to the next waiter.
struct Waiter<'c> {
    cond: &'c Condition,
    key: Option<usize>,
    /// Notified, but `wait` has not returned yet (re-taking the lock).
    notified_unreturned: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut pass_on = self.notified_unreturned;
        if let Some(key) = self.key.take() {
            let mut waiters = self.cond.waiters.lock();
            pass_on |= waiters.remove(key);
        }
        if pass_on {
            hit(Path::ConditionCancelledPassedOn);
            self.cond.notify(1);
        }
    }
}
