//! `TaskRegistry`: the live tasks of one loop, so it can list them
//! (`all_tasks`) and cancel them when it closes; and the loop's block of
//! task ids.
//!
//! A dense vector, not a slab: nothing needs a stable key. Each task's
//! metadata records its index; removal moves the last task into the hole
//! and updates that task's index. One pointer per live task, no free list.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use crate::task::meta::MAX_SLOT;
use crate::task::raw::{Header, TaskRef};
use crate::task::{TaskId, TASK_ID_BLOCK};

/// Live tasks, densely (their order is not meaningful).
pub(crate) struct TaskRegistry {
    tasks: RefCell<Vec<TaskRef>>,
    /// The unused part of this loop's block of task ids: (next, end).
    ids: Cell<(u64, u64)>,
}

impl TaskRegistry {
    pub(crate) fn new() -> TaskRegistry {
        TaskRegistry { tasks: RefCell::new(Vec::new()), ids: Cell::new((0, 0)) }
    }

    /// Registers a task and records its index in its metadata.
    ///
    /// # Panics
    /// Past 16 million live tasks (the index must fit the metadata's 24 bits).
    #[inline]
    pub(crate) fn insert(&self, task: TaskRef) {
        let mut tasks = self.tasks.borrow_mut();
        let slot = u32::try_from(tasks.len())
            .ok()
            .filter(|&s| s <= MAX_SLOT)
            .expect("more than 16 million live tasks on one loop: a task leak? (all_tasks() lists them)");
        task.header().meta.set_registry_slot(slot);
        tasks.push(task);
    }

    /// Takes the task at `ptr` out, if it is still registered (not when the
    /// closing loop already took every task).
    #[inline]
    pub(crate) fn remove(&self, ptr: NonNull<Header>) -> Option<TaskRef> {
        let mut tasks = self.tasks.borrow_mut();
        // SAFETY: the caller holds a reference to the task, so its header
        // is alive.
        let slot = unsafe { ptr.as_ref() }.meta.registry_slot();
        if tasks.get(slot).is_none_or(|t| t.as_ptr() != ptr) {
            return None;
        }
        let task = tasks.swap_remove(slot);
        if let Some(moved) = tasks.get(slot) {
            moved.header().meta.set_registry_slot(slot as u32);
        }
        Some(task)
    }

    /// Every registered task, taken out (the loop closes).
    pub(crate) fn take_all(&self) -> Vec<TaskRef> {
        std::mem::take(&mut *self.tasks.borrow_mut())
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Calls `f` on every registered task (`f` must not spawn or complete
    /// tasks: the registry is borrowed meanwhile).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskRef)) {
        for task in self.tasks.borrow().iter() {
            f(task);
        }
    }

    /// The next task id: from this loop's reserved block, reserving a new
    /// block when it runs out.
    #[inline]
    pub(crate) fn next_id(&self) -> TaskId {
        let (next, end) = self.ids.get();
        let (id, end) = if next < end {
            (next, end)
        } else {
            let start = TaskId::reserve_block();
            (start, start + TASK_ID_BLOCK)
        };
        self.ids.set((id + 1, end));
        TaskId::from_u64(id)
    }
}
