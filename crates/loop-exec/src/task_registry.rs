//! `TaskRegistry`: the live tasks of one loop, so it can list them
//! (`all_tasks`) and cancel them when it closes; and the loop's block of
//! task ids.

use std::cell::{Cell, RefCell};

use slab::Slab;

use crate::task::meta::MAX_SLOT;
use crate::task::raw::TaskRef;
use crate::task::{TaskId, TASK_ID_BLOCK};

/// Live tasks by slot (the slot is kept in the task's metadata, so
/// completion removes it in O(1)).
pub(crate) struct TaskRegistry {
    tasks: RefCell<Slab<TaskRef>>,
    /// The unused part of this loop's block of task ids: (next, end).
    ids: Cell<(u64, u64)>,
}

impl TaskRegistry {
    pub(crate) fn new() -> TaskRegistry {
        TaskRegistry { tasks: RefCell::new(Slab::new()), ids: Cell::new((0, 0)) }
    }

    /// Registers a task; returns its slot.
    ///
    /// # Panics
    /// Past 16 million live tasks (the slot must fit the metadata's 24 bits).
    #[inline]
    pub(crate) fn insert(&self, task: TaskRef) -> u32 {
        let slot = self.tasks.borrow_mut().insert(task);
        u32::try_from(slot)
            .ok()
            .filter(|&s| s <= MAX_SLOT)
            .expect("more than 16 million live tasks on one loop: a task leak? (all_tasks() lists them)")
    }

    /// Takes the task in `slot` out, if it is still registered.
    #[inline]
    pub(crate) fn remove(&self, slot: usize) -> Option<TaskRef> {
        self.tasks.borrow_mut().try_remove(slot)
    }

    /// Every registered task, taken out (the loop closes).
    pub(crate) fn take_all(&self) -> Vec<TaskRef> {
        self.tasks.borrow_mut().drain().collect()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Calls `f` on every registered task (`f` must not spawn or complete
    /// tasks: the registry is borrowed meanwhile).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskRef)) {
        for (_, task) in self.tasks.borrow().iter() {
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
