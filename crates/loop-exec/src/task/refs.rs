//! A new task's references, typed by who owns each, so that the loop code
//! never splits a reference count by hand: an allocation counts one
//! reference per owner and hands them out here, inside `task/`.

use super::raw::TaskRef;

/// A task spawned on its own loop: allocation counted three references,
/// one for each owner.
pub(crate) struct NewTask {
    /// The loop's registry of live tasks (for `all_tasks` and close).
    pub(crate) registry: TaskRef,
    /// The run queue: the task is scheduled from the start.
    pub(crate) queue: TaskRef,
    /// The `Task` handle.
    pub(crate) handle: TaskRef,
}

/// A task spawned from another thread: the reference its loop adopts, and
/// the `ThreadsafeTask` handle's.
pub(crate) struct NewRemoteTask {
    /// Travels to the loop in its injection queue.
    pub(crate) in_flight: InFlight,
    /// The `ThreadsafeTask` handle.
    pub(crate) handle: TaskRef,
}

/// A task on its way to its loop in the injection queue: one pointer that
/// stands for two counted references, the registry's and the run
/// queue's (one word in the queue rather than two).
pub(crate) struct InFlight(TaskRef);

impl InFlight {
    /// Wraps a reference whose count includes the two this stands for.
    ///
    /// # Safety
    /// `task` must own two reference counts that no other `TaskRef` or
    /// waker accounts for.
    pub(super) unsafe fn new(task: TaskRef) -> InFlight {
        InFlight(task)
    }

    /// The loop adopts it: (the registry's reference, the run queue's).
    pub(crate) fn split(self) -> (TaskRef, TaskRef) {
        // SAFETY: `self` stands for two counts (see `new`); the second is
        // made into its own reference here, once, as `self` is consumed.
        let queue = unsafe { TaskRef::from_counted(self.0.as_ptr()) };
        (self.0, queue)
    }

    /// Its loop closed before adopting it: the task completes as
    /// cancelled (its future dropped here), so its handle resolves.
    pub(crate) fn abandon(self) {
        let (registry, queue) = self.split();
        registry.abandon_remote(queue);
    }
}
