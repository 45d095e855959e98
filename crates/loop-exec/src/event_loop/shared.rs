//! `LoopShared`: the part of a loop that other threads reach — the
//! injection queue, the reactor's notifier, the closed flag, the owner
//! thread.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::ThreadId;

use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;
use loop_core::Notifier;

use crate::task::raw::TaskRef;
use crate::task::refs::InFlight;

/// Work sent to a loop from another thread.
pub(crate) enum Remote {
    /// A task woken elsewhere.
    Wake(TaskRef),
    /// A task spawned from another thread (`spawn_threadsafe`), its cell
    /// made there: the loop registers it and queues it.
    Spawn(InFlight),
    /// A callback from `call_soon_threadsafe`.
    Call(Box<dyn FnOnce() + Send>),
}

/// State of one loop that any thread may touch.
///
/// Fields written often sit on cache lines of their own (`CachePadded`),
/// apart from what every remote push reads (`notifier`, `closed`): the
/// beacon, which the loop writes at every poll of an inspected loop; the
/// counters other threads write (`remote_wakes`, `load`,
/// `blocking_in_flight`). Unpadded, they shared one line: each remote
/// spawn's write to `load` took the line from the loop, whose next poll
/// took it back.
pub(crate) struct LoopShared {
    /// Wakes and callbacks from other threads, drained every turn.
    pub(crate) injector: SegQueue<Remote>,
    /// Interrupts the loop's park.
    pub(crate) notifier: Notifier,
    /// Set when the loop closes; later remote work is refused or dropped.
    pub(crate) closed: AtomicBool,
    /// Jobs handed to the blocking pool and not yet delivered back. While
    /// non-zero, a paused clock does not auto-advance (their results are
    /// "I/O" the loop is waiting for).
    pub(crate) blocking_in_flight: CachePadded<AtomicUsize>,
    /// Count of wakes that arrived from other threads.
    pub(crate) remote_wakes: CachePadded<AtomicU64>,
    /// For a loop of a `LoopSet`: its load, the set's signal for placing
    /// work. The loop stores its live task count when it parks and, while
    /// busy, every `BUDGET` polls (only when it changed); each spawn from
    /// another thread adds one until then.
    pub(crate) load: CachePadded<AtomicUsize>,
    /// The thread the loop was made on, the only one that runs it (the
    /// loop is not `Send`): its tasks' futures live there.
    pub(crate) owner: ThreadId,
    /// What the loop is polling, for the inspector (see `inspect/`).
    pub(crate) beacon: CachePadded<crate::inspect::Beacon>,
}

impl LoopShared {
    pub(crate) fn new(notifier: Notifier, beacon: crate::inspect::Beacon) -> LoopShared {
        LoopShared {
            injector: SegQueue::new(),
            notifier,
            closed: AtomicBool::new(false),
            blocking_in_flight: CachePadded::new(AtomicUsize::new(0)),
            remote_wakes: CachePadded::new(AtomicU64::new(0)),
            load: CachePadded::new(AtomicUsize::new(0)),
            owner: std::thread::current().id(),
            beacon: CachePadded::new(beacon),
        }
    }

    /// Queues work for the loop and wakes it. If the loop has closed, the
    /// work is dropped here instead (a closed loop never drains again).
    pub(crate) fn push_remote(&self, work: Remote) {
        if matches!(work, Remote::Wake(_)) {
            self.remote_wakes.fetch_add(1, Ordering::Relaxed);
        }
        self.injector.push(work);
        // The close stores `closed` and then drains; we push and then look at
        // `closed`. A `SeqCst` fence between our two steps (and one between
        // the close's) makes that pair a Dekker handshake: one of the two
        // sees the other's write, so no work is left in the queue of a
        // closed loop, where a spawned task would never resolve its handle.
        // `notify` begins with that fence (it needs one for the park
        // handshake too), so it comes first; notifying a loop that has
        // just closed costs nothing.
        self.notifier.notify();
        if self.closed.load(Ordering::SeqCst) {
            self.drain_dropping();
        }
    }

    /// A loop of a `LoopSet` publishes its live task count (end of a turn).
    #[inline]
    pub(crate) fn publish_load(&self, live_tasks: usize) {
        if self.load.load(Ordering::Relaxed) != live_tasks {
            self.load.store(live_tasks, Ordering::Relaxed);
        }
    }

    /// Empties the injection queue, dropping everything in it. A task
    /// spawned from another thread is completed as cancelled (its future
    /// dropped here), so its handle resolves.
    pub(crate) fn drain_dropping(&self) {
        while let Some(work) = self.injector.pop() {
            match work {
                Remote::Spawn(task) => task.abandon(),
                other => drop(other),
            }
        }
    }
}
