//! `Barrier`: wait until a number of tasks have all arrived.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::paths::{hit, Path};
use crate::shim::BlockingMutex;

use std::panic::Location;

use crate::observe::{note_wait_on, WaitKind, WaitTarget};
use crate::waiters::{WaiterList, WakeList};

/// The barrier was reset or aborted while waiting, or is broken (asyncio's
/// `BrokenBarrierError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the barrier is broken (it was reset or aborted)")]
pub struct BrokenBarrierError;

/// What [`Barrier::wait`] returns to each of the parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    index: usize,
    parties: usize,
}

impl BarrierWaitResult {
    /// A number unique among the parties of one round, `0..parties`, in
    /// arrival order among those still waiting when the barrier released.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether this is the party whose arrival released the others (the
    /// last one; its index is `parties - 1`).
    pub fn is_leader(&self) -> bool {
        self.index + 1 == self.parties
    }
}

/// The outcome recorded in a waiter's node.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Waiting,
    Released(usize),
    Broken,
}

struct BarrierState {
    waiters: WaiterList<Slot>,
    broken: bool,
}

/// A cyclic barrier for `parties` tasks (asyncio's `Barrier`).
///
/// Each `wait` blocks until `parties` tasks are waiting; then all of them
/// return, and the barrier is ready for the next round. A waiter dropped
/// before the round fills no longer counts. `reset` sends
/// [`BrokenBarrierError`] to the current waiters and returns the barrier to
/// its initial state, usable again (after an `abort` too, as asyncio's);
/// `abort` breaks it until the next `reset`.
///
/// ```
/// use r#loop as aio;
/// # aio::run(async {
/// use r#loop::sync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(2));
/// let b = barrier.clone();
/// let t = std::thread::spawn(move || aio::run(b.wait()));
/// let mine = barrier.wait().await.unwrap();
/// let theirs = t.join().unwrap().unwrap();
/// assert_eq!(mine.is_leader() as u8 + theirs.is_leader() as u8, 1);
/// # });
/// ```
pub struct Barrier {
    parties: usize,
    state: BlockingMutex<BarrierState>,
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Panics
    /// When `parties` is zero.
    pub fn new(parties: usize) -> Barrier {
        assert!(parties > 0, "Barrier::new(0): a barrier needs at least one party");
        Barrier { parties, state: BlockingMutex::new(BarrierState { waiters: WaiterList::default(), broken: false }) }
    }

    /// Waits for the other parties.
    #[track_caller]
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait { barrier: self, key: None, location: Location::caller() }
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many tasks are waiting now.
    pub fn n_waiting(&self) -> usize {
        self.state.lock().waiters.len()
    }

    /// Whether the barrier was aborted (and not reset since).
    pub fn broken(&self) -> bool {
        self.state.lock().broken
    }

    /// Sends [`BrokenBarrierError`] to the current waiters and returns the
    /// barrier to its initial state: usable again, also after
    /// [`abort`](Self::abort) (asyncio's `reset`).
    pub fn reset(&self) {
        self.break_waiters(false);
    }

    /// Breaks the barrier: current and future waits get
    /// [`BrokenBarrierError`] until [`reset`](Self::reset).
    pub fn abort(&self) {
        self.break_waiters(true);
    }

    /// Breaks the current waiters; `broken`: whether the barrier stays
    /// broken (abort) or is whole again (reset).
    fn break_waiters(&self, broken: bool) {
        let mut wakes = WakeList::default();
        {
            let mut state = self.state.lock();
            state.broken = broken;
            for key in state.waiters.keys() {
                *state.waiters.payload_mut(key) = Slot::Broken;
                wakes.push(state.waiters.unlink(key));
            }
        }
        wakes.wake_all();
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}

/// The future returned by [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl Future for BarrierWait<'_> {
    type Output = Result<BarrierWaitResult, BrokenBarrierError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop_coop::budgeted(cx, |cx| {
            let parties = self.barrier.parties;
            let mut wakes = WakeList::default();
            let result = {
                let mut state = self.barrier.state.lock();
                match self.key {
                    None => {
                        if state.broken {
                            return Poll::Ready(Err(BrokenBarrierError));
                        }
                        if state.waiters.len() + 1 < parties {
                            self.key = Some(state.waiters.push_back(Slot::Waiting, cx.waker().clone()));
                            note_wait_on(WaitKind::Barrier, self.location, WaitTarget::at(self.barrier, 0));
                            return Poll::Pending;
                        }
                        // We complete the round: release everyone, in order.
                        hit(Path::BarrierRoundCompleted);
                        for (index, key) in state.waiters.keys().into_iter().enumerate() {
                            *state.waiters.payload_mut(key) = Slot::Released(index);
                            wakes.push(state.waiters.unlink(key));
                        }
                        Poll::Ready(Ok(BarrierWaitResult { index: parties - 1, parties }))
                    }
                    Some(key) => {
                        if state.waiters.is_linked(key) {
                            state.waiters.set_waker(key, cx.waker());
                            note_wait_on(WaitKind::Barrier, self.location, WaitTarget::at(self.barrier, 0));
                            return Poll::Pending;
                        }
                        self.key = None;
                        match state.waiters.remove(key) {
                            Slot::Released(index) => Poll::Ready(Ok(BarrierWaitResult { index, parties })),
                            Slot::Broken | Slot::Waiting => Poll::Ready(Err(BrokenBarrierError)),
                        }
                    }
                }
            };
            wakes.wake_all();
            result
        })
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Still filling: we no longer count. Already released: the
            // round happened; nothing to give back.
            hit(Path::BarrierCancelledWaiter);
            self.barrier.state.lock().waiters.remove(key);
        }
    }
}
