//! `RunQueue`: what a loop runs next — woken tasks and callbacks in FIFO
//! order (or a seeded permutation of each turn), and the `yield_now`
//! wakers held back until after the next reactor check.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use crate::event_loop::callback_cell::CallbackCell;
use crate::event_loop::seeded_order::SeededOrder;
use crate::task::raw::TaskRef;

/// Polls (tasks and callbacks) between two looks at the reactor and the
/// timers, however busy the run queue is. Prime, as in tokio's scheduler, so
/// it does not line up with common batch sizes.
pub(crate) const BUDGET: usize = 61;

/// Entries of queue capacity kept when it drains (4 KiB).
const READY_KEEP: usize = 256;

/// One entry of the run queue.
pub(crate) enum Runnable {
    Task(TaskRef),
    Call(Rc<CallbackCell>),
}

/// The local run queue of one loop (its thread only).
pub(crate) struct RunQueue {
    /// Tasks woken on this thread, callbacks, and what the injection queue
    /// brought in.
    ready: RefCell<VecDeque<Runnable>>,
    /// Wakers of `yield_now` calls, released after the next reactor check.
    deferred: RefCell<Vec<Waker>>,
    /// The second deferred buffer: `wake_deferred` swaps the two, so a loop
    /// whose tasks yield every turn reuses both instead of freeing one and
    /// growing a new one each turn (a malloc and a free per turn).
    spare: Cell<Vec<Waker>>,
    /// Seeded scheduling (`Builder::seed`): permutes each turn's entries.
    order: Option<SeededOrder>,
}

impl RunQueue {
    pub(crate) fn new(seed: Option<u64>) -> RunQueue {
        RunQueue {
            ready: RefCell::new(VecDeque::with_capacity(READY_KEEP)),
            deferred: RefCell::new(Vec::new()),
            spare: Cell::new(Vec::new()),
            order: seed.map(SeededOrder::new),
        }
    }

    #[inline(always)]
    pub(crate) fn push_task(&self, task: TaskRef) {
        self.ready.borrow_mut().push_back(Runnable::Task(task));
    }

    #[inline(always)]
    pub(crate) fn push_call(&self, cell: Rc<CallbackCell>) {
        self.ready.borrow_mut().push_back(Runnable::Call(cell));
    }

    /// Holds `waker` back until after the next reactor check (`yield_now`:
    /// I/O that became ready meanwhile runs first, as in asyncio).
    #[inline(always)]
    pub(crate) fn defer(&self, waker: Waker) {
        self.deferred.borrow_mut().push(waker);
    }

    /// Wakes the deferred wakers (they queue their tasks).
    #[inline]
    pub(crate) fn wake_deferred(&self) {
        if self.deferred.borrow().is_empty() {
            return;
        }
        // A waker may run any code, even code that defers again: it finds
        // the (empty) spare in place.
        let mut batch = std::mem::replace(&mut *self.deferred.borrow_mut(), self.spare.take());
        for waker in batch.drain(..) {
            waker.wake();
        }
        if batch.capacity() > READY_KEEP {
            batch.shrink_to(READY_KEEP);
        }
        self.spare.set(batch);
    }

    /// Whether nothing is queued (deferred wakers count: they queue work
    /// after the next reactor check).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.ready.borrow().is_empty() && self.deferred.borrow().is_empty()
    }

    /// The number of entries this turn runs: at most `BUDGET`, in seeded
    /// order when a seed is set.
    #[inline]
    pub(crate) fn start_turn(&self) -> usize {
        let mut ready = self.ready.borrow_mut();
        let n = ready.len().min(BUDGET);
        if let Some(order) = &self.order {
            order.shuffle(&mut ready.make_contiguous()[..n], |r| matches!(r, Runnable::Task(_)));
        }
        n
    }

    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.ready.borrow_mut().pop_front()
    }

    /// After a turn: a burst (100k spawns) grows the queue; do not keep its
    /// peak size (16 bytes per entry) for the loop's life once it drained.
    #[inline]
    pub(crate) fn end_turn(&self) {
        let mut ready = self.ready.borrow_mut();
        if ready.is_empty() && ready.capacity() > READY_KEEP {
            ready.shrink_to(READY_KEEP);
        }
    }

    /// Everything queued, taken out (the loop closes); the caller drops it
    /// outside the borrows.
    pub(crate) fn take_all(&self) -> (Vec<Runnable>, Vec<Waker>) {
        let ready = self.ready.borrow_mut().drain(..).collect();
        (ready, std::mem::take(&mut *self.deferred.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::RunQueue;

    thread_local! {
        static QUEUE: RunQueue = RunQueue::new(None);
    }

    /// Counts its wakes; the first one defers another waker on `QUEUE`, as
    /// a waker that runs arbitrary code may.
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                QUEUE.with(|q| q.defer(Waker::noop().clone()));
            }
        }
    }

    #[test]
    fn deferred_wakers_all_wake_and_the_two_buffers_are_reused() {
        QUEUE.with(|q| {
            let counter = Arc::new(Counting(AtomicUsize::new(0)));
            for _ in 0..3 {
                q.defer(Waker::from(counter.clone()));
            }
            q.wake_deferred();
            assert_eq!(counter.0.load(Ordering::SeqCst), 3, "every deferred waker woke once");
            // The waker that deferred during the wake-up queued into the
            // other buffer: it waits for the next turn.
            assert!(!q.is_empty(), "a waker deferred while waking is kept for the next turn");
            q.wake_deferred();
            assert!(q.is_empty());
            // Both buffers kept their capacity: yielding every turn does not
            // free one and grow a new one each time.
            let (deferred, spare) = (q.deferred.borrow().capacity(), q.spare.take());
            assert!(
                deferred >= 1 && spare.capacity() >= 3,
                "capacities: deferred {deferred}, spare {}",
                spare.capacity()
            );
        });
    }
}
