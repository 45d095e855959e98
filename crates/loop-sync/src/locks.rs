//! The thread-blocking locks the runtime uses: parking_lot's, or under
//! Miri a std-backed stand-in with parking_lot's signatures (parking_lot
//! turns integers into pointers, which Miri's strict provenance checking
//! rejects; with the stand-in every crate runs under
//! `-Zmiri-strict-provenance`).

#[cfg(not(miri))]
pub use parking_lot::{Condvar, Mutex as BlockingMutex, MutexGuard as BlockingMutexGuard};

#[cfg(miri)]
pub use std_backed::{BlockingMutex, BlockingMutexGuard, Condvar};

#[cfg(miri)]
mod std_backed {
    use std::ops::{Deref, DerefMut};
    use std::time::{Duration, Instant};

    /// std's mutex without poisoning, locked like parking_lot's.
    #[derive(Debug, Default)]
    pub struct BlockingMutex<T>(std::sync::Mutex<T>);

    impl<T> BlockingMutex<T> {
        /// A new, unlocked mutex.
        pub const fn new(value: T) -> BlockingMutex<T> {
            BlockingMutex(std::sync::Mutex::new(value))
        }

        /// Locks, blocking the thread.
        pub fn lock(&self) -> BlockingMutexGuard<'_, T> {
            BlockingMutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
        }

        /// Consumes the mutex.
        pub fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(|e| e.into_inner())
        }

        /// The value, through a unique borrow.
        pub fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// The guard; `None` only while a condition variable waits with it.
    #[derive(Debug)]
    pub struct BlockingMutexGuard<'a, T>(Option<std::sync::MutexGuard<'a, T>>);

    impl<T> Deref for BlockingMutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("guard present")
        }
    }

    impl<T> DerefMut for BlockingMutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("guard present")
        }
    }

    /// Whether a timed wait ended by timing out.
    #[derive(Debug, Clone, Copy)]
    pub struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        /// True when the wait timed out.
        pub fn timed_out(&self) -> bool {
            self.0
        }
    }

    /// std's condition variable, waited on like parking_lot's.
    #[derive(Debug, Default)]
    pub struct Condvar(std::sync::Condvar);

    impl Condvar {
        /// A new condition variable.
        pub const fn new() -> Condvar {
            Condvar(std::sync::Condvar::new())
        }

        /// Wakes one waiter.
        pub fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) -> usize {
            self.0.notify_all();
            0
        }

        /// Waits, releasing the lock meanwhile.
        pub fn wait<T>(&self, guard: &mut BlockingMutexGuard<'_, T>) {
            let g = guard.0.take().expect("guard present");
            guard.0 = Some(self.0.wait(g).unwrap_or_else(|e| e.into_inner()));
        }

        /// Waits at most `timeout`.
        pub fn wait_for<T>(&self, guard: &mut BlockingMutexGuard<'_, T>, timeout: Duration) -> WaitTimeoutResult {
            let g = guard.0.take().expect("guard present");
            let (g, r) = self.0.wait_timeout(g, timeout).unwrap_or_else(|e| e.into_inner());
            guard.0 = Some(g);
            WaitTimeoutResult(r.timed_out())
        }

        /// Waits until `deadline`.
        pub fn wait_until<T>(&self, guard: &mut BlockingMutexGuard<'_, T>, deadline: Instant) -> WaitTimeoutResult {
            let timeout = deadline.saturating_duration_since(Instant::now());
            self.wait_for(guard, timeout)
        }
    }
}
