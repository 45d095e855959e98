//! The flusher of armed `StreamWriter`s: this thread's table of writers
//! waiting for writability (per loop), and the waker that queues a
//! writer's next pump as a loop callback when its socket becomes writable.
//! A writer is in the table only while it has bytes buffered or a close
//! pending; the table keeps it alive, so a dropped writer still flushes.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Wake, Waker};

use slab::Slab;

/// A writer waiting for writability, type-erased for the `ARMED` table.
pub(super) trait Pump {
    /// Writes what it can now; re-arms itself if the socket is full again.
    fn pump(self: Rc<Self>);
}

/// The armed writers of one loop.
struct ArmedOf {
    handle: loop_exec::LoopHandle,
    writers: Slab<Rc<dyn Pump>>,
}

thread_local! {
    /// The writers of this thread waiting for writability, per loop. An
    /// entry keeps its writer alive, so a dropped `StreamWriter` still
    /// flushes its buffer and closes (dropping never loses data). The
    /// writers of a loop that closed are dropped the next time this table
    /// is used (that loop's reactor will never wake them), and all of them
    /// when the thread ends.
    static ARMED: RefCell<Vec<ArmedOf>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the armed writers of the loop behind `handle`.
fn armed_of<R>(handle: &loop_exec::LoopHandle, f: impl FnOnce(&mut Slab<Rc<dyn Pump>>) -> R) -> R {
    let (out, closed) = ARMED.with(|armed| {
        let mut armed = armed.borrow_mut();
        // No allocation unless some loop closed (this runs on every arm).
        let closed: Vec<ArmedOf> = armed.extract_if(.., |t| t.handle.is_closed()).collect();
        let i = match armed.iter().position(|t| t.handle == *handle) {
            Some(i) => i,
            None => {
                armed.push(ArmedOf { handle: handle.clone(), writers: Slab::new() });
                armed.len() - 1
            }
        };
        (f(&mut armed[i].writers), closed)
    });
    // Dropped outside the borrow: a writer's drop may use the table.
    drop(closed);
    out
}

/// Registered with the I/O object while a writer is armed. Waking it (the
/// socket became writable, or the I/O object's own waker fired) queues the
/// writer's next pump as a loop callback: never inside the reactor's
/// dispatch, which is where wakes usually come from.
struct FlushWaker {
    /// The writer's entry in its loop's table of `ARMED`.
    key: usize,
    /// The loop owning the writer (a wake may come from another thread).
    handle: loop_exec::LoopHandle,
}

impl Wake for FlushWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let key = self.key;
        let handle = self.handle.clone();
        // A stale key (the pump ran already) finds nothing or another
        // writer, which pumping spuriously only asks the OS again. A closed
        // loop refuses the callback: its writers are dropped (see `ARMED`).
        let _ = self.handle.call_soon_threadsafe(move || pump_armed(&handle, key));
    }
}

/// The callback a `FlushWaker` queues: disarms the writer and pumps it.
fn pump_armed(handle: &loop_exec::LoopHandle, key: usize) {
    let writer = armed_of(handle, |writers| writers.try_remove(key));
    if let Some(writer) = writer {
        writer.pump();
    }
}

/// Puts `writer` in this thread's table for the loop behind `handle`;
/// returns its key and the waker that pumps it.
pub(super) fn arm(handle: &loop_exec::LoopHandle, writer: Rc<dyn Pump>) -> (usize, Waker) {
    let key = armed_of(handle, |writers| writers.insert(writer));
    (key, Waker::from(Arc::new(FlushWaker { key, handle: handle.clone() })))
}

/// Takes the writer at `key` out of the table again (it is returned, to be
/// dropped by the caller outside the table's borrow).
pub(super) fn disarm(handle: &loop_exec::LoopHandle, key: usize) -> Option<Rc<dyn Pump>> {
    armed_of(handle, |writers| writers.try_remove(key))
}
