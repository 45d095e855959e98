//! `Semaphore` and `BoundedSemaphore`: FIFO, no barging, cancel-safe.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::atomic::Ordering;

use crate::shim::{AtomicUsize, BlockingMutex};

use crate::observe::{note_wait_on, WaitKind, WaitTarget};
use crate::paths::{hit, Path};
use crate::waiters::{WaiterList, WakeList};
use std::panic::Location;

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

/// Set in [`Semaphore::word`] while any waiter is queued, or has been
/// handed its permits and has not run yet: the lock-free fast paths then
/// step aside, so nobody barges past a waiter.
const WAITERS: usize = 1;
/// One permit in [`Semaphore::word`].
const ONE: usize = 2;

#[derive(Debug)]
struct SemaphoreQueue {
    /// Permits handed to waiters that are still in the queue (the head one
    /// collects permits until it has all it needs).
    reserved: usize,
    waiters: WaiterList<Want>,
    /// Waiters handed all their permits that have not run yet (asyncio
    /// 3.13 counts them as holders): while any is pending the semaphore is
    /// `locked()`, and a newcomer queues behind without taking free
    /// permits; the handed waiter passes leftover permits on when it runs.
    handed: usize,
}

/// Takes up to `max` permits from the word; returns how many it took.
fn take_permits(word: &AtomicUsize, max: usize) -> usize {
    let mut cur = word.load(Ordering::Acquire);
    loop {
        let take = (cur / ONE).min(max);
        if take == 0 {
            return 0;
        }
        match word.compare_exchange_weak(cur, cur - take * ONE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return take,
            Err(now) => cur = now,
        }
    }
}

impl SemaphoreQueue {
    /// Hands free permits to the waiters in FIFO order; a waiter is
    /// released once it holds all it asked for. The head waiter keeps what
    /// it was given even when that is not yet enough: nobody behind it, and
    /// no newcomer, can take those permits (no barging). Clears the
    /// `WAITERS` bit once the queue is empty. Called under the lock.
    fn assign(&mut self, word: &AtomicUsize, wakes: &mut WakeList) {
        while let Some(key) = self.waiters.front() {
            let want = self.waiters.payload_mut(key);
            let take = take_permits(word, want.needed - want.assigned);
            want.assigned += take;
            self.reserved += take;
            if want.assigned < want.needed {
                break;
            }
            self.reserved -= want.needed;
            self.handed += 1;
            wakes.push(self.waiters.unlink(key));
        }
        self.clear_waiters_bit_if_idle(word);
    }

    /// Opens the fast paths again once nobody is queued or handed.
    fn clear_waiters_bit_if_idle(&self, word: &AtomicUsize) {
        if self.waiters.is_empty() && self.handed == 0 {
            word.fetch_and(!WAITERS, Ordering::AcqRel);
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
/// use r#loop as aio;
/// # aio::run(async {
/// use r#loop::sync::Semaphore;
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
    /// Free permits times `ONE`, plus the `WAITERS` bit. Uncontended
    /// acquires and releases only touch this word.
    word: AtomicUsize,
    /// The waiter queue; taken only when someone has to wait.
    state: BlockingMutex<SemaphoreQueue>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    /// When `permits` exceeds `usize::MAX / 2`.
    pub fn new(permits: usize) -> Semaphore {
        assert!(permits <= usize::MAX / ONE, "Semaphore::new: at most usize::MAX / 2 permits");
        Semaphore {
            word: AtomicUsize::new(permits * ONE),
            state: BlockingMutex::new(SemaphoreQueue { reserved: 0, waiters: WaiterList::default(), handed: 0 }),
        }
    }

    /// Waits for one permit.
    #[track_caller]
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_as(1, WaitKind::Semaphore, Location::caller())
    }

    /// Waits for `n` permits at once (taken together, in FIFO order).
    ///
    /// A plain semaphore has no upper bound (`release` may add permits), so
    /// `n` above the permits there are now waits for releases that bring
    /// the count up to `n`; a [`BoundedSemaphore`] refuses what it can never
    /// hold.
    ///
    /// # Panics
    /// When `n` exceeds `usize::MAX / 2`, more than a semaphore can ever
    /// hold: such a wait could never end.
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        assert!(
            n <= usize::MAX / ONE,
            "Semaphore::acquire_many({n}): a semaphore holds at most usize::MAX / 2 permits, so this wait could never end"
        );
        self.acquire_as(n, WaitKind::Semaphore, Location::caller())
    }

    /// An acquire that reports itself as `kind` waiting at `location`.
    pub(crate) fn acquire_as(&self, n: usize, kind: WaitKind, location: &'static Location<'static>) -> Acquire<'_> {
        Acquire { sem: self, n, key: None, kind, location }
    }

    /// Takes one permit if that is possible without waiting and nobody is
    /// queued.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that is possible without waiting and nobody is
    /// queued.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        self.try_take(n).then(|| SemaphorePermit { sem: self, n })
    }

    /// The lock-free path: takes `n` permits when no one is queued.
    fn try_take(&self, n: usize) -> bool {
        let Some(need) = n.checked_mul(ONE) else { return false };
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            if cur & WAITERS != 0 || cur < need {
                return false;
            }
            match self.word.compare_exchange_weak(cur, cur - need, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Adds `n` permits (asyncio's `release()`), waking waiters in order.
    ///
    /// # Panics
    /// When the count would exceed `usize::MAX / 2`.
    pub fn release(&self, n: usize) {
        let add = n.checked_mul(ONE).expect("Semaphore::release: too many permits");
        let mut cur = self.word.load(Ordering::Acquire);
        while cur & WAITERS == 0 {
            let new = cur.checked_add(add).expect("Semaphore::release: the permit count overflowed");
            match self.word.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
        let mut wakes = WakeList::default();
        {
            let mut state = self.state.lock();
            let prev = self.word.fetch_add(add, Ordering::AcqRel);
            assert!(prev.checked_add(add).is_some(), "Semaphore::release: the permit count overflowed");
            state.assign(&self.word, &mut wakes);
        }
        wakes.wake_all();
    }

    /// Permits free right now (not counting those handed to a queued waiter).
    pub fn available_permits(&self) -> usize {
        self.word.load(Ordering::Acquire) / ONE
    }

    /// Whether an `acquire()` would have to wait: no permit is free,
    /// someone is queued, or a waiter has been handed its permits and has
    /// not run yet (asyncio 3.13's `locked()`: a permit handed on counts as
    /// taken, so a task that releases and acquires again in one turn queues
    /// behind that waiter).
    pub fn locked(&self) -> bool {
        let word = self.word.load(Ordering::Acquire);
        word < ONE || word & WAITERS != 0
    }

    /// Number of queued waiters.
    pub fn waiters(&self) -> usize {
        self.state.lock().waiters.len()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("waiters", &self.waiters())
            .finish()
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
    /// What to report while waiting, and where the wait was written.
    kind: WaitKind,
    location: &'static Location<'static>,
}

impl Acquire<'_> {
    /// Where the wait was written.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The semaphore waited on.
    pub(crate) fn semaphore(&self) -> &Semaphore {
        self.sem
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        loop_coop::budgeted(cx, |cx| {
            let sem = self.sem;
            let n = self.n;
            if self.key.is_none() && sem.try_take(n) {
                hit(Path::SemaphoreFast);
                return Poll::Ready(SemaphorePermit { sem, n });
            }
            let mut wakes = WakeList::default();
            let mut state = sem.state.lock();
            let result = match self.key {
                None => {
                    // Queue up; from now on the fast paths step aside.
                    sem.word.fetch_or(WAITERS, Ordering::AcqRel);
                    let key = state.waiters.push_back(Want { needed: n, assigned: 0 }, cx.waker().clone());
                    // At the head of the queue we collect what is free now (and,
                    // with enough, are done at once) — unless a waiter has been
                    // handed its permits and not run yet: then we queue behind
                    // it, and it passes free permits on when it runs.
                    if state.handed == 0 {
                        state.assign(&sem.word, &mut wakes);
                    }
                    if state.waiters.is_linked(key) {
                        hit(Path::SemaphoreQueued);
                        self.key = Some(key);
                        Poll::Pending
                    } else {
                        // Served at once: we were last in the queue, so nobody is
                        // behind us to pass permits on to.
                        state.waiters.remove(key);
                        state.handed -= 1;
                        state.clear_waiters_bit_if_idle(&sem.word);
                        Poll::Ready(SemaphorePermit { sem, n })
                    }
                }
                Some(key) => {
                    if state.waiters.is_linked(key) {
                        state.waiters.set_waker(key, cx.waker());
                        Poll::Pending
                    } else {
                        hit(Path::SemaphoreHandedOnRelease);
                        state.waiters.remove(key);
                        self.key = None;
                        // Run at last: pass on what is free to those behind us
                        // (asyncio's `acquire` does it in its `finally`).
                        state.handed -= 1;
                        state.assign(&sem.word, &mut wakes);
                        Poll::Ready(SemaphorePermit { sem, n })
                    }
                }
            };
            drop(state);
            wakes.wake_all();
            if result.is_pending() {
                let free = sem.available_permits() as u64;
                note_wait_on(self.kind, self.location, WaitTarget::at(sem, free));
            }
            result
        })
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.leave_queue(key);
        }
    }
}

impl Acquire<'_> {
    /// A waiter dropped while queued (cancelled) or holding permits it was
    /// handed but never took: leaves the queue and passes them on. Out of
    /// line, so the common drop (nothing queued) stays a test and a return.
    #[inline(never)]
    fn leave_queue(&mut self, key: usize) {
        let sem = self.sem;
        let mut wakes = WakeList::default();
        {
            let mut state = sem.state.lock();
            let granted = !state.waiters.is_linked(key);
            let want = state.waiters.remove(key);
            // Give back whatever we had been handed, to the next in line.
            let give_back = if granted {
                state.handed -= 1;
                want.needed
            } else {
                state.reserved -= want.assigned;
                want.assigned
            };
            if give_back > 0 {
                hit(Path::SemaphoreCancelledGaveBack);
            }
            sem.word.fetch_add(give_back * ONE, Ordering::AcqRel);
            state.assign(&sem.word, &mut wakes);
        }
        wakes.wake_all();
    }
}

/// A semaphore that refuses to be released above its initial value
/// (asyncio's `BoundedSemaphore`): an extra `release` is an error instead of
/// a silent increase.
///
/// ```
/// use r#loop::sync::{BoundedSemaphore, SemaphoreOverflow};
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
    #[track_caller]
    pub fn acquire(&self) -> Acquire<'_> {
        self.sem.acquire_as(1, WaitKind::Semaphore, Location::caller())
    }

    /// Waits for `n` permits.
    ///
    /// # Panics
    /// When `n` exceeds the bound: the semaphore can never hold that many,
    /// so the wait could never end. Ask for at most the bound.
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        assert!(
            n <= self.bound,
            "BoundedSemaphore::acquire_many({n}): the semaphore holds at most {} permits, so this wait could never end",
            self.bound
        );
        self.sem.acquire_as(n, WaitKind::Semaphore, Location::caller())
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
            // Under the lock the queue (and `reserved`) cannot change, and
            // the word only grows through releases, which we serialize here.
            let mut state = self.sem.state.lock();
            let mut cur = self.sem.word.load(Ordering::Acquire);
            loop {
                // Free plus handed-to-a-queued-waiter permits: the value.
                if cur / ONE + state.reserved >= self.bound {
                    return Err(SemaphoreOverflow { bound: self.bound });
                }
                match self.sem.word.compare_exchange_weak(cur, cur + ONE, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break,
                    Err(now) => cur = now,
                }
            }
            state.assign(&self.sem.word, &mut wakes);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Two threads take turns; while one holds the only permit, the word
    /// shows none free and `try_acquire` fails (a failed `try_acquire` once
    /// minted a permit by dropping a guard it never handed out).
    #[test]
    fn the_only_permit_is_never_duplicated() {
        let sem = Arc::new(Semaphore::new(1));
        let held = Arc::new(AtomicUsize::new(0));
        let rounds = if cfg!(miri) { 20 } else { 5_000 };
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (sem, held) = (sem.clone(), held.clone());
                std::thread::spawn(move || {
                    crate::__block_on(async {
                        for _ in 0..rounds {
                            let permit = sem.acquire().await;
                            assert_eq!(held.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                            assert!(sem.try_acquire().is_none());
                            assert!(sem.word.load(Ordering::SeqCst) < ONE, "a free permit while held");
                            held.fetch_sub(1, Ordering::SeqCst);
                            drop(permit);
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 1);
    }
}
