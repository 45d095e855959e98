//! `WokenSet`: which of many child futures were woken, so that a combinator
//! polls only those (asyncio's `gather` of thousands of coroutines must not
//! cost thousands of polls per wake-up).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use crossbeam_queue::SegQueue;
use loop_sync::__locks::BlockingMutex;

/// The shared half: the queue of woken children and the parent's waker.
struct WokenShared {
    /// Indices of children woken since the parent last drained the queue;
    /// each at most once (see `ChildWaker::queued`).
    woken: SegQueue<usize>,
    /// Whoever polls the combinator: woken whenever a child is.
    parent: BlockingMutex<Option<Waker>>,
}

/// One child's waker.
struct ChildWaker {
    index: usize,
    /// In `woken` (or about to be): a second wake before the parent polls
    /// the child adds nothing.
    queued: AtomicBool,
    shared: Arc<WokenShared>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.shared.woken.push(self.index);
            if let Some(parent) = self.shared.parent.lock().as_ref() {
                parent.wake_by_ref();
            }
        }
    }
}

/// Per-child wakers for `n` children, all of them initially woken (every
/// child is polled once at the start).
pub(crate) struct WokenSet {
    shared: Arc<WokenShared>,
    children: Vec<Arc<ChildWaker>>,
    wakers: Vec<Waker>,
}

impl WokenSet {
    pub(crate) fn new(n: usize) -> WokenSet {
        let shared = Arc::new(WokenShared { woken: SegQueue::new(), parent: BlockingMutex::new(None) });
        let children: Vec<_> = (0..n)
            .map(|index| Arc::new(ChildWaker { index, queued: AtomicBool::new(true), shared: shared.clone() }))
            .collect();
        for index in 0..n {
            shared.woken.push(index);
        }
        let wakers = children.iter().map(|c| Waker::from(c.clone())).collect();
        WokenSet { shared, children, wakers }
    }

    /// Registers `parent` (woken whenever a child is), then yields the
    /// children woken since the last call, each with the waker to poll it
    /// with. At most one per child: a child that keeps waking itself cannot
    /// hold the caller, and it has woken `parent` too, so the caller comes
    /// back for it.
    pub(crate) fn drain<'a>(&'a self, parent: &Waker) -> impl Iterator<Item = (usize, &'a Waker)> + 'a {
        self.register(parent);
        (0..self.children.len()).map_while(move |_| self.next())
    }

    /// Remembers the parent's waker.
    fn register(&self, parent: &Waker) {
        let mut slot = self.shared.parent.lock();
        if !slot.as_ref().is_some_and(|w| w.will_wake(parent)) {
            *slot = Some(parent.clone());
        }
    }

    /// The next woken child, with the waker to poll it with. Its wake flag
    /// is reset first, so a wake during that poll queues it again.
    fn next(&self) -> Option<(usize, &Waker)> {
        let index = self.shared.woken.pop()?;
        self.children[index].queued.store(false, Ordering::Release);
        Some((index, &self.wakers[index]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_child_starts_woken_and_a_wake_queues_it_once() {
        let set = WokenSet::new(3);
        let first: Vec<_> = std::iter::from_fn(|| set.next().map(|(i, _)| i)).collect();
        assert_eq!(first, [0, 1, 2]);
        let mut wakers: Vec<_> = (0..3).map(|i| set.wakers[i].clone()).collect();
        wakers[2].wake_by_ref();
        wakers[2].wake_by_ref();
        wakers.remove(0).wake(); // by value: the Arc's last use
        let wakers: Vec<_> = (0..3).map(|i| set.wakers[i].clone()).collect();
        let again: Vec<_> = std::iter::from_fn(|| set.next().map(|(i, _)| i)).collect();
        assert_eq!(again, [2, 0]);
        // Woken from another thread: the parent hears of it.
        let parent = Arc::new(Flag(AtomicBool::new(false)));
        set.register(&Waker::from(parent.clone()));
        let w = wakers[1].clone();
        std::thread::spawn(move || w.wake()).join().unwrap();
        assert!(parent.0.load(Ordering::Acquire));
        assert_eq!(set.next().map(|(i, _)| i), Some(1));
        assert!(set.next().is_none());
    }

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
    }
}
