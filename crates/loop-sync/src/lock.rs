//! `Lock` (no data) and `Mutex<T>` (data inside): FIFO, cancel-safe.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use std::panic::Location;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::observe::{current_task_token, note_wait_on, WaitKind, WaitTarget};
use crate::semaphore::{Acquire, Semaphore, SemaphorePermit};

/// A mutual-exclusion lock without data (asyncio's `Lock`).
///
/// `acquire().await` returns a guard; the lock is released when the guard
/// is dropped. Waiters get the lock in arrival order; a new caller never
/// takes it while someone is queued.
///
/// ```
/// use r#loop as aio;
/// # aio::run(async {
/// let lock = aio::sync::Lock::new();
/// let guard = lock.acquire().await;
/// assert!(lock.locked());
/// assert!(lock.try_acquire().is_none());
/// drop(guard);
/// assert!(!lock.locked());
/// # });
/// ```
#[derive(Debug)]
pub struct Lock {
    sem: Semaphore,
    /// The task that took the lock last (0: none known), for the waits
    /// reported on it (see [`Holder`]).
    holder: Holder,
}

/// Who took a lock last: the executor's token of the task that was being
/// polled (`observe::current_task_token`, the task's address), reported
/// with each wait on the lock so that a tool can draw "task 7 waits for the
/// lock task 3 holds" and find deadlock cycles. A hint: stale once the lock
/// is released, and never read to decide anything.
#[derive(Debug, Default)]
struct Holder(AtomicU64);

impl Holder {
    /// The task being polled took the lock.
    #[inline]
    fn taken(&self) {
        self.0.store(current_task_token(), Ordering::Relaxed);
    }

    /// A wait on the lock behind `acquire`: reported with the holder.
    fn report_wait(&self, kind: WaitKind, acquire: &Acquire<'_>) {
        let target = WaitTarget::at(acquire.semaphore(), self.0.load(Ordering::Relaxed));
        note_wait_on(kind, acquire.location(), target);
    }
}

/// Polls a lock's inner acquire, noting the holder or the wait.
fn poll_lock<'a>(
    inner: &mut Acquire<'a>,
    holder: &Holder,
    kind: WaitKind,
    cx: &mut Context<'_>,
) -> Poll<SemaphorePermit<'a>> {
    let polled = Pin::new(&mut *inner).poll(cx);
    match polled {
        Poll::Ready(_) => holder.taken(),
        Poll::Pending => holder.report_wait(kind, inner),
    }
    polled
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Lock {
        Lock { sem: Semaphore::new(1), holder: Holder::default() }
    }

    /// Waits for the lock.
    #[track_caller]
    pub fn acquire(&self) -> LockAcquire<'_> {
        LockAcquire { inner: self.sem.acquire_as(1, WaitKind::Lock, Location::caller()), lock: self }
    }

    /// Takes the lock if it is free and nobody is queued.
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        let permit = self.sem.try_acquire()?;
        self.holder.taken();
        Some(LockGuard { _permit: permit, lock: self })
    }

    /// Whether the lock is held (or someone is queued for it).
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }
}

/// The future returned by [`Lock::acquire`].
#[must_use = "futures do nothing unless awaited"]
pub struct LockAcquire<'a> {
    inner: Acquire<'a>,
    lock: &'a Lock,
}

impl<'a> Future for LockAcquire<'a> {
    type Output = LockGuard<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a>> {
        loop_coop::budgeted(cx, |cx| {
            let lock = self.lock;
            poll_lock(&mut self.inner, &lock.holder, WaitKind::Lock, cx)
                .map(|permit| LockGuard { _permit: permit, lock })
        })
    }
}

/// Holds a [`Lock`]; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    _permit: SemaphorePermit<'a>,
    lock: &'a Lock,
}

impl<'a> LockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &'a Lock {
        self.lock
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// A lock holding data (tokio's and async-lock's `Mutex<T>`): the guard
/// dereferences to the data. FIFO and cancel-safe like [`Lock`].
///
/// ```
/// use r#loop as aio;
/// # aio::run(async {
/// let counter = aio::sync::Mutex::new(0);
/// *counter.lock().await += 1;
/// *counter.lock().await += 1;
/// assert_eq!(counter.into_inner(), 2);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    /// As [`Lock`]'s.
    holder: Holder,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, and at most one guard
// exists at a time (it holds the semaphore's only permit), so sending the
// mutex to another thread or sharing it is as safe as sending `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared access hands out `&mut T` to one guard at a time,
// which only requires `T: Send` (as for `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A mutex holding `data`.
    pub fn new(data: T) -> Mutex<T> {
        Mutex { sem: Semaphore::new(1), holder: Holder::default(), data: UnsafeCell::new(data) }
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock.
    #[track_caller]
    pub fn lock(&self) -> MutexLock<'_, T> {
        MutexLock { inner: self.sem.acquire_as(1, WaitKind::Mutex, Location::caller()), mutex: self }
    }

    /// Takes the lock if it is free and nobody is queued.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let permit = self.sem.try_acquire()?;
        self.holder.taken();
        Some(MutexGuard { _permit: permit, mutex: self })
    }

    /// Whether the lock is held (or someone is queued for it).
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }

    /// The data, through exclusive access to the mutex (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").field("locked", &self.locked()).finish_non_exhaustive()
    }
}

/// The future returned by [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct MutexLock<'a, T: ?Sized> {
    inner: Acquire<'a>,
    mutex: &'a Mutex<T>,
}

impl<'a, T: ?Sized> Future for MutexLock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        loop_coop::budgeted(cx, |cx| {
            let mutex = self.mutex;
            poll_lock(&mut self.inner, &mutex.holder, WaitKind::Mutex, cx)
                .map(|permit| MutexGuard { _permit: permit, mutex })
        })
    }
}

/// Holds a [`Mutex`]; dereferences to its data; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    _permit: SemaphorePermit<'a>,
    mutex: &'a Mutex<T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex's only permit, so no other
        // guard, and so no other reference to the data, exists.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Small enough for Miri: guards on two threads touching the data.
    #[test]
    fn mutex_guards_are_exclusive_across_threads() {
        let m = Arc::new(Mutex::new(Vec::new()));
        let m2 = m.clone();
        let t = std::thread::spawn(move || {
            crate::__block_on(async {
                for i in 0..20 {
                    m2.lock().await.push(i);
                }
            })
        });
        crate::__block_on(async {
            for i in 100..120 {
                let mut g = m.lock().await;
                g.push(i);
                assert!(m.try_lock().is_none());
            }
        });
        t.join().unwrap();
        let mut v = Arc::try_unwrap(m).unwrap().into_inner();
        v.sort();
        assert_eq!(v.len(), 40);
        assert_eq!(v[0], 0);
        assert_eq!(v[39], 119);
    }
}
