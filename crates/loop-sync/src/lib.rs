//! asyncio's synchronisation primitives for any executor.
//!
//! [`Lock`], [`Mutex`], [`Semaphore`], [`BoundedSemaphore`], [`Event`],
//! [`Condition`], [`Barrier`], the queues ([`Queue`], [`LifoQueue`],
//! [`PriorityQueue`]) and the one-shot [`ResultCell`] (asyncio's `Future`).
//!
//! Everything here is runtime-agnostic (no dependency on an executor) and
//! works across threads as well as inside one event loop. Every waiter queue
//! is FIFO, and every wait is cancel-safe: dropping a waiting future never
//! loses a permit, an item or a notification — what it had been handed goes
//! to the next waiter.
//!
//! ```
//! use loop_sync::ResultCell;
//!
//! let cell = ResultCell::new();
//! let reader = cell.clone();
//! std::thread::spawn(move || cell.set_result(42).unwrap()).join().unwrap();
//! assert_eq!(reader.result(), Some(Ok(42)));
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod barrier;
mod condition;
mod event;
mod lock;
mod locks;
mod observe;
pub mod paths;

/// The thread-blocking locks (parking_lot's, or std-backed under Miri),
/// shared with the executor.
#[doc(hidden)]
pub mod __locks {
    pub use crate::locks::{BlockingMutex, BlockingMutexGuard, Condvar};
}
mod queue;
mod result_cell;
mod semaphore;
mod shim;
mod waiters;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult, BrokenBarrierError};
pub use condition::{Condition, Relock};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockAcquire, LockGuard, Mutex, MutexGuard, MutexLock};
pub use observe::{
    current_task_token, note_wait, note_wait_on, set_task_slot, set_wait_observer, TaskSlot, WaitKind, WaitObserver,
    WaitTarget,
};
pub use queue::{
    Fifo, Get, Join, Lifo, LifoQueue, Priority, PriorityQueue, Put, Queue, QueueOf, QueueShutDown, QueueStorage,
    TaskDoneError, TryGetError, TryPutError,
};
pub use result_cell::{CancelledError, InvalidStateError, ResultCell, Wait};
pub use semaphore::{Acquire, BoundedSemaphore, Semaphore, SemaphoreOverflow, SemaphorePermit};

/// Runs a future to completion on the calling thread (parking it between
/// polls). For this crate's examples and tests; not an event loop.
#[doc(hidden)]
pub fn __block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
