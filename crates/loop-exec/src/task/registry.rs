//! `TaskRegistry`: the live tasks of one loop, so it can list them
//! (`all_tasks`) and cancel them when it closes; and the loop's block of
//! task ids.
//!
//! Dense, not a slab: nothing needs a stable key. Each task's metadata
//! records its index; removal moves the last task into the hole and updates
//! that task's index. One pointer per live task, no free list.
//!
//! The pointers sit in chunks of `CHUNK` rather than one vector: a vector
//! doubling its capacity leaves up to half of it unused (10,000 tasks held
//! 16,384 slots, 13.1 bytes per task instead of 8). Chunks are allocated at
//! their full size and never move; at most one chunk's worth is unused,
//! plus one spare chunk.

use std::cell::RefCell;
use std::ptr::NonNull;

use crate::task::meta::MAX_SLOT;
use crate::task::raw::{Header, TaskRef};
use crate::task::{IdBlock, TaskId};

/// Slots per chunk (a power of two: a slot's chunk is a shift away). 8 KiB;
/// 4 under Miri, so that its tests cross chunk boundaries with few tasks.
pub(crate) const CHUNK: usize = if cfg!(miri) { 4 } else { 1024 };

/// Live tasks, densely (their order is not meaningful).
pub(crate) struct TaskRegistry {
    slots: RefCell<Slots>,
    /// This loop's block of task ids.
    ids: IdBlock,
}

/// The registered tasks: task `i` is `full[i / CHUNK][i % CHUNK]` while
/// `i < full.len() * CHUNK`, else `tail[i - full.len() * CHUNK]`. Every
/// chunk is allocated with capacity `CHUNK` and holds `CHUNK` at most, so a
/// push never reallocates.
struct Slots {
    /// Chunks holding `CHUNK` tasks each.
    full: Vec<Vec<TaskRef>>,
    /// The last chunk, which the next task goes into (once full, at the
    /// next insert, it moves to `full`); empty only when `full` is too.
    tail: Vec<TaskRef>,
    /// An empty chunk kept when the tail empties, so that a loop going back
    /// and forth across a chunk boundary does not free and allocate 8 KiB
    /// each time.
    spare: Option<Vec<TaskRef>>,
}

impl Slots {
    fn len(&self) -> usize {
        self.full.len() * CHUNK + self.tail.len()
    }

    /// Moves the full tail into `full` and starts a new one.
    #[cold]
    #[inline(never)]
    fn next_tail(&mut self) {
        let next = self.spare.take().unwrap_or_else(|| Vec::with_capacity(CHUNK));
        self.full.push(std::mem::replace(&mut self.tail, next));
    }

    /// The tail emptied: the last full chunk (if any) becomes the tail,
    /// the empty one the spare.
    #[cold]
    #[inline(never)]
    fn previous_tail(&mut self) {
        if let Some(last_full) = self.full.pop() {
            self.spare = Some(std::mem::replace(&mut self.tail, last_full));
        }
    }
}

impl TaskRegistry {
    pub(crate) fn new() -> TaskRegistry {
        let slots = Slots { full: Vec::new(), tail: Vec::with_capacity(CHUNK), spare: None };
        TaskRegistry { slots: RefCell::new(slots), ids: IdBlock::new() }
    }

    /// Registers a task and records its index in its metadata.
    ///
    /// # Panics
    /// Past 16 million live tasks (the index must fit the metadata's 24 bits).
    #[inline(always)] // the spawn path; not inlined with plain `#[inline]` (+25 instructions per spawn)
    pub(crate) fn insert(&self, task: TaskRef) {
        let mut slots = self.slots.borrow_mut();
        if slots.tail.len() == CHUNK {
            slots.next_tail();
        }
        let slot = u32::try_from(slots.len())
            .ok()
            .filter(|&s| s <= MAX_SLOT)
            .expect("more than 16 million live tasks on one loop: a task leak? (all_tasks() lists them)");
        task.header().meta.set_registry_slot(slot);
        slots.tail.push(task);
    }

    /// Takes the task at `ptr` out, if it is still registered (not when the
    /// closing loop already took every task).
    #[inline]
    pub(crate) fn remove(&self, ptr: NonNull<Header>) -> Option<TaskRef> {
        // SAFETY: the caller holds a reference to the task, so its header
        // is alive.
        let slot = unsafe { ptr.as_ref() }.meta.registry_slot();
        let mut slots = self.slots.borrow_mut();
        let in_full = slots.full.len() * CHUNK;
        let Slots { full, tail, .. } = &mut *slots;
        // The last task fills the hole.
        let task = if slot < in_full {
            let place = &mut full[slot / CHUNK][slot % CHUNK];
            if place.as_ptr() != ptr {
                return None;
            }
            let last = tail.pop().expect("the tail is empty only when the registry is");
            last.header().meta.set_registry_slot(slot as u32);
            std::mem::replace(place, last)
        } else {
            let index = slot - in_full;
            if tail.get(index).is_none_or(|t| t.as_ptr() != ptr) {
                return None;
            }
            let task = tail.swap_remove(index);
            if let Some(moved) = tail.get(index) {
                moved.header().meta.set_registry_slot(slot as u32);
            }
            task
        };
        if tail.is_empty() && !full.is_empty() {
            slots.previous_tail();
        }
        Some(task)
    }

    /// Every registered task, taken out (the loop closes).
    pub(crate) fn take_all(&self) -> Vec<TaskRef> {
        let mut slots = self.slots.borrow_mut();
        let mut all: Vec<TaskRef> = std::mem::take(&mut slots.full).into_iter().flatten().collect();
        all.append(&mut slots.tail);
        all
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Chunks allocated, the spare included (the tests check there is one
    /// spare at most).
    #[cfg(test)]
    pub(crate) fn chunks(&self) -> usize {
        let slots = self.slots.borrow();
        slots.full.len() + 1 + usize::from(slots.spare.is_some())
    }

    /// Calls `f` on every registered task (`f` must not spawn or complete
    /// tasks: the registry is borrowed meanwhile).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskRef)) {
        let slots = self.slots.borrow();
        for task in slots.full.iter().flatten().chain(&slots.tail) {
            f(task);
        }
    }

    /// The next task id, from this loop's block of ids.
    #[inline]
    pub(crate) fn next_id(&self) -> TaskId {
        self.ids.next()
    }
}
