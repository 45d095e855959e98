//! asyncio's queues: `Queue` (FIFO), `LifoQueue`, `PriorityQueue`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::paths::{hit, Path};
use crate::shim::{Arc, BlockingMutex};

use std::panic::Location;

use crate::observe::{note_wait_on, WaitKind, WaitTarget};
use crate::waiters::{WaiterList, WakeList};

/// `put_nowait` could not add the item; the item comes back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TryPutError<T> {
    /// The queue is at `maxsize` (asyncio's `QueueFull`).
    #[error("the queue is full (QueueFull)")]
    Full(T),
    /// The queue was shut down (asyncio's `QueueShutDown`).
    #[error("the queue was shut down (QueueShutDown)")]
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(t) | TryPutError::ShutDown(t) => t,
        }
    }
}

/// `get_nowait` found nothing to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryGetError {
    /// The queue is empty (asyncio's `QueueEmpty`).
    #[error("the queue is empty (QueueEmpty)")]
    Empty,
    /// The queue was shut down and is empty (asyncio's `QueueShutDown`).
    #[error("the queue was shut down (QueueShutDown)")]
    ShutDown,
}

/// The queue was shut down (asyncio's `QueueShutDown`). From `put`, it
/// carries the item back; from `get`, it carries `()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue was shut down (QueueShutDown)")]
pub struct QueueShutDown<T = ()>(pub T);

/// `task_done` was called more times than items were put (asyncio's
/// `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called more times than there were items put in the queue")]
pub struct TaskDoneError;

mod storage;
mod waits;

pub use storage::{Fifo, Lifo, Priority, QueueStorage};
pub use waits::{Get, Join, Put};

/// A getter's node: what it was handed.
enum GetSlot<T> {
    Waiting,
    Handed(T),
    ShutDown,
}

/// A putter's node: whether a free slot was reserved for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PutSlot {
    Waiting,
    Granted,
    ShutDown,
}

struct QueueState<S, T> {
    items: S,
    /// 0 = unbounded.
    maxsize: usize,
    getters: WaiterList<GetSlot<T>>,
    putters: WaiterList<PutSlot>,
    /// Slots granted to putters that have not inserted their item yet.
    reserved: usize,
    /// Items put and not yet marked done.
    unfinished: usize,
    joiners: WaiterList<()>,
    shutdown: bool,
}

impl<S: QueueStorage<T>, T> QueueState<S, T> {
    fn has_room(&self) -> bool {
        self.maxsize == 0 || self.items.len() + self.reserved < self.maxsize
    }

    /// An item enters the queue: straight to the longest-waiting getter,
    /// or into storage.
    ///
    /// Invariant of every path that frees room (an item taken, a reserved
    /// slot given up or used by a direct hand-off): it ends with
    /// `grant_putters`, so no putter waits while there is room.
    fn deliver(&mut self, item: T, wakes: &mut WakeList) {
        if let Some(key) = self.getters.front() {
            hit(Path::QueuePutToWaitingGetter);
            *self.getters.payload_mut(key) = GetSlot::Handed(item);
            wakes.push(self.getters.unlink(key));
        } else {
            hit(Path::QueuePutToStorage);
            self.items.push(item);
        }
    }

    /// Reserves free slots for waiting putters, in order.
    fn grant_putters(&mut self, wakes: &mut WakeList) {
        while self.has_room() {
            let Some(key) = self.putters.front() else { break };
            hit(Path::QueueSlotGranted);
            *self.putters.payload_mut(key) = PutSlot::Granted;
            self.reserved += 1;
            wakes.push(self.putters.unlink(key));
        }
    }

    fn take(&mut self, wakes: &mut WakeList) -> Option<T> {
        let item = self.items.pop()?;
        self.grant_putters(wakes);
        Some(item)
    }

    fn finish_tasks(&mut self, n: usize, wakes: &mut WakeList) {
        self.unfinished = self.unfinished.saturating_sub(n);
        if self.unfinished == 0 {
            for key in self.joiners.keys() {
                wakes.push(self.joiners.unlink(key));
            }
        }
    }
}

struct QueueShared<S, T> {
    state: BlockingMutex<QueueState<S, T>>,
}

/// An async queue (asyncio's `Queue`, and with another storage its
/// `LifoQueue` and `PriorityQueue`).
///
/// Clones share one queue: any number of producers and consumers, on any
/// threads or executors. `maxsize` 0 is unbounded; otherwise `put` waits
/// while the queue is full (backpressure). Waiting getters and putters are
/// served in arrival order. Cancel-safe: a dropped `get` that had already
/// been handed an item puts it back at the front; a dropped `put` never
/// inserts its item.
///
/// `task_done` / `join` track processing as in asyncio, and `shutdown`
/// follows Python 3.13.
///
/// ```
/// use r#loop as aio;
/// # aio::run(async {
/// use r#loop::sync::{Queue, TryGetError};
///
/// let q = Queue::new(2);
/// q.put(1).await.unwrap();
/// q.put_nowait(2).unwrap();
/// assert!(q.full());
/// assert!(q.put_nowait(3).is_err());
/// assert_eq!(q.get().await, Ok(1));
/// assert_eq!(q.get_nowait(), Ok(2));
/// assert_eq!(q.get_nowait(), Err(TryGetError::Empty));
/// q.task_done().unwrap();
/// q.task_done().unwrap();
/// q.join().await; // every item was processed
/// # });
/// ```
pub struct QueueOf<S, T> {
    shared: Arc<QueueShared<S, T>>,
}

/// FIFO queue.
pub type Queue<T> = QueueOf<Fifo<T>, T>;
/// LIFO queue (asyncio's `LifoQueue`).
pub type LifoQueue<T> = QueueOf<Lifo<T>, T>;
/// Priority queue, lowest first (asyncio's `PriorityQueue`).
pub type PriorityQueue<T> = QueueOf<Priority<T>, T>;

impl<S, T> Clone for QueueOf<S, T> {
    fn clone(&self) -> Self {
        QueueOf { shared: self.shared.clone() }
    }
}

impl<S: QueueStorage<T>, T> QueueOf<S, T> {
    /// A queue holding at most `maxsize` items (0: unbounded).
    pub fn new(maxsize: usize) -> Self {
        QueueOf {
            shared: Arc::new(QueueShared {
                state: BlockingMutex::new(QueueState {
                    items: S::default(),
                    maxsize,
                    getters: WaiterList::default(),
                    putters: WaiterList::default(),
                    reserved: 0,
                    unfinished: 0,
                    joiners: WaiterList::default(),
                    shutdown: false,
                }),
            }),
        }
    }

    /// An unbounded queue.
    pub fn unbounded() -> Self {
        Self::new(0)
    }

    /// Puts an item, waiting while the queue is full.
    #[track_caller]
    pub fn put(&self, item: T) -> Put<'_, S, T> {
        Put { queue: self, item: Some(item), key: None, location: Location::caller() }
    }

    /// Puts an item if there is room now.
    pub fn put_nowait(&self, item: T) -> Result<(), TryPutError<T>> {
        let mut wakes = WakeList::default();
        {
            let mut state = self.shared.state.lock();
            if state.shutdown {
                return Err(TryPutError::ShutDown(item));
            }
            if !state.has_room() || !state.putters.is_empty() {
                return Err(TryPutError::Full(item));
            }
            state.unfinished += 1;
            state.deliver(item, &mut wakes);
        }
        wakes.wake_all();
        Ok(())
    }

    /// Takes an item, waiting while the queue is empty.
    #[track_caller]
    pub fn get(&self) -> Get<'_, S, T> {
        Get { queue: self, key: None, location: Location::caller() }
    }

    /// Takes an item if one is there.
    pub fn get_nowait(&self) -> Result<T, TryGetError> {
        let mut wakes = WakeList::default();
        let result = {
            let mut state = self.shared.state.lock();
            match state.take(&mut wakes) {
                Some(item) => Ok(item),
                None if state.shutdown => Err(TryGetError::ShutDown),
                None => Err(TryGetError::Empty),
            }
        };
        wakes.wake_all();
        result
    }

    /// What a wait on this queue reports: the queue (shared by its
    /// clones), and its length now.
    pub(crate) fn wait_target(&self) -> WaitTarget {
        WaitTarget::at(&*self.shared, self.qsize() as u64)
    }

    /// Number of items in the queue.
    pub fn qsize(&self) -> usize {
        self.shared.state.lock().items.len()
    }

    /// Whether the queue holds no item.
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether a `put` would wait.
    pub fn full(&self) -> bool {
        !self.shared.state.lock().has_room()
    }

    /// The bound given at creation (0: unbounded).
    pub fn maxsize(&self) -> usize {
        self.shared.state.lock().maxsize
    }

    /// Marks one item taken earlier as processed.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut wakes = WakeList::default();
        {
            let mut state = self.shared.state.lock();
            if state.unfinished == 0 {
                return Err(TaskDoneError);
            }
            state.finish_tasks(1, &mut wakes);
        }
        wakes.wake_all();
        Ok(())
    }

    /// Waits until every item put has been marked done.
    #[track_caller]
    pub fn join(&self) -> Join<'_, S, T> {
        Join { queue: self, key: None, location: Location::caller() }
    }

    /// Shuts the queue down (Python 3.13): `put` fails from now on, waiting
    /// putters get their item back in the error, and `get` fails once the
    /// queue is empty. With `immediate`, the items left are dropped (each
    /// counted as done, which releases `join`) and waiting getters fail now.
    pub fn shutdown(&self, immediate: bool) {
        let mut wakes = WakeList::default();
        let dropped;
        {
            let mut state = self.shared.state.lock();
            state.shutdown = true;
            if immediate {
                let mut items = std::mem::take(&mut state.items);
                let n = items.clear();
                dropped = Some(items);
                state.finish_tasks(n, &mut wakes);
            } else {
                dropped = None;
            }
            if state.items.is_empty() {
                for key in state.getters.keys() {
                    *state.getters.payload_mut(key) = GetSlot::ShutDown;
                    wakes.push(state.getters.unlink(key));
                }
            }
            for key in state.putters.keys() {
                *state.putters.payload_mut(key) = PutSlot::ShutDown;
                wakes.push(state.putters.unlink(key));
            }
        }
        drop(dropped);
        wakes.wake_all();
    }

    /// Whether `shutdown` was called.
    pub fn is_shutdown(&self) -> bool {
        self.shared.state.lock().shutdown
    }
}

impl<S: QueueStorage<T>, T> fmt::Debug for QueueOf<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Queue")
            .field("qsize", &state.items.len())
            .field("maxsize", &state.maxsize)
            .field("getters", &state.getters.len())
            .field("putters", &state.putters.len())
            .field("unfinished", &state.unfinished)
            .field("shutdown", &state.shutdown)
            .finish()
    }
}
