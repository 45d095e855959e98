//! loom model of the race between a wake from another thread and the
//! task's own poll on the loop thread, run on the same state transitions
//! the executor uses (`transition_to_scheduled` / `transition_to_running`).
//! Run with `cargo xtask loom` (it sets `--cfg loop_loom`).
#![cfg(loop_loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use loop_exec::__model::{transition_to_running, transition_to_scheduled, StateWord, COMPLETE, SCHEDULED};

/// loom's atomic as the task's state word.
struct Word(AtomicUsize);

impl StateWord for Word {
    fn fetch_or_acq_rel(&self, bits: usize) -> usize {
        self.0.fetch_or(bits, Ordering::AcqRel)
    }
    fn fetch_and_acq_rel(&self, bits: usize) -> usize {
        self.0.fetch_and(bits, Ordering::AcqRel)
    }
    fn load_acquire(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
    fn compare_exchange_acq_rel(&self, current: usize, new: usize) -> Result<usize, usize> {
        self.0.compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
    }
}

/// A task whose future is ready once `data` is set, a run queue, and a
/// waker on another thread that sets `data` and then wakes the task.
struct Model {
    state: Word,
    data: AtomicBool,
    queue: Mutex<Vec<()>>,
}

impl Model {
    /// The waker's side: publish, then wake (queue the task if the wake
    /// says so).
    fn wake(&self) {
        self.data.store(true, Ordering::Release);
        if transition_to_scheduled(&self.state) {
            self.queue.lock().unwrap().push(());
        }
    }

    /// The loop runs whatever is queued; true once a poll saw the data.
    fn run_queued(&self) -> bool {
        loop {
            if self.queue.lock().unwrap().pop().is_none() {
                return false;
            }
            let prev = transition_to_running(&self.state);
            if prev & COMPLETE != 0 {
                // Queued by a wake that raced the completing poll: the loop
                // skips it, as `run_task` does.
                continue;
            }
            // The poll: ready when the data is there.
            if self.data.load(Ordering::Acquire) {
                self.state.fetch_or_acq_rel(COMPLETE);
                return true;
            }
        }
    }
}

/// Whatever the interleaving, the task ends up either polled after the
/// data was published, or queued to be: a wake is never lost.
#[test]
fn a_wake_from_another_thread_racing_the_poll_is_never_lost() {
    loom::model(|| {
        // Spawned: queued once, with SCHEDULED set.
        let m = Arc::new(Model {
            state: Word(AtomicUsize::new(SCHEDULED)),
            data: AtomicBool::new(false),
            queue: Mutex::new(vec![()]),
        });
        let remote = {
            let m = m.clone();
            thread::spawn(move || m.wake())
        };
        let mut done = m.run_queued();
        remote.join().unwrap();
        // The loop's next turn runs what the wake queued.
        done = m.run_queued() || done;
        assert!(done, "the task was never polled after its wake: a lost wake-up");
        assert!(m.queue.lock().unwrap().is_empty(), "the next turn drained the queue");
    });
}

/// Two wakers at once queue the task at most once (one of them owns the
/// queueing), and it still completes.
#[test]
fn two_simultaneous_wakes_queue_the_task_once() {
    loom::model(|| {
        let m = Arc::new(Model {
            state: Word(AtomicUsize::new(0)),
            data: AtomicBool::new(false),
            queue: Mutex::new(Vec::new()),
        });
        let a = {
            let m = m.clone();
            thread::spawn(move || m.wake())
        };
        m.wake();
        a.join().unwrap();
        assert_eq!(m.queue.lock().unwrap().len(), 1, "queued exactly once");
        assert!(m.run_queued());
    });
}

// ---------------------------------------------------------------------
// The cross-thread join of a `ThreadsafeTask` (state.rs: REMOTE,
// JOIN_WAKER): the handle on one thread, the task completing on the loop's.

use loom::cell::UnsafeCell;
use loop_exec::__model::{
    complete_remote, drop_remote_handle, set_join_waker, unset_join_waker, unset_join_waker_after_complete, HANDLE,
    JOIN_WAKER, REMOTE,
};

impl Word {
    fn remote() -> Word {
        Word(AtomicUsize::new(REMOTE | HANDLE))
    }
}

impl StateWord for &Word {
    fn fetch_or_acq_rel(&self, bits: usize) -> usize {
        (**self).fetch_or_acq_rel(bits)
    }
    fn fetch_and_acq_rel(&self, bits: usize) -> usize {
        (**self).fetch_and_acq_rel(bits)
    }
    fn load_acquire(&self) -> usize {
        (**self).load_acquire()
    }
    fn compare_exchange_acq_rel(&self, current: usize, new: usize) -> Result<usize, usize> {
        (**self).compare_exchange_acq_rel(current, new)
    }
}

/// A task with a `ThreadsafeTask` handle: the join slot holds a waker id
/// (loom's `UnsafeCell` reports any access the protocol fails to order),
/// the stage holds the output, and each waker id has a "woken" flag.
struct Join {
    state: Word,
    slot: UnsafeCell<Option<usize>>,
    output: UnsafeCell<Option<u32>>,
    woken: [AtomicBool; 2],
    /// How many times the slot's waker was dropped (freed) by either side.
    slot_frees: AtomicUsize,
}

impl Join {
    fn new() -> Join {
        Join {
            state: Word::remote(),
            slot: UnsafeCell::new(None),
            output: UnsafeCell::new(None),
            woken: [AtomicBool::new(false), AtomicBool::new(false)],
            slot_frees: AtomicUsize::new(0),
        }
    }

    /// The loop: store the output, complete, wake what the slot holds (as
    /// `TaskRef::complete_remote`).
    fn complete(&self) {
        // SAFETY: loom's UnsafeCell checks this access itself: a race the
        // protocol fails to order is what the model reports.
        self.output.with_mut(|o| unsafe { *o = Some(42) });
        let prev = complete_remote(&&self.state);
        if prev & HANDLE == 0 {
            // The handle is gone: the output is the loop's to drop.
            // SAFETY: loom's UnsafeCell checks this access itself: a race the
            // protocol fails to order is what the model reports.
            self.output.with_mut(|o| unsafe { *o = None });
        } else if prev & JOIN_WAKER != 0 {
            // SAFETY: loom's UnsafeCell checks this access itself: a race the
            // protocol fails to order is what the model reports.
            let id = self.slot.with(|s| unsafe { *s });
            self.woken[id.expect("JOIN_WAKER set: the slot holds a waker")].store(true, Ordering::Release);
            let _ = unset_join_waker_after_complete(&&self.state);
        }
    }

    /// The handle's poll with waker `id` (as `ThreadsafeTask::poll_join`):
    /// the output, or `None` (pending).
    fn poll(&self, id: usize) -> Option<u32> {
        let now = self.state.load_acquire();
        if now & COMPLETE != 0 {
            return self.take();
        }
        if now & JOIN_WAKER != 0 {
            // SAFETY: loom's UnsafeCell checks this access itself: a race the
            // protocol fails to order is what the model reports.
            if self.slot.with(|s| unsafe { *s }) == Some(id) {
                return None;
            }
            if unset_join_waker(&&self.state).is_err() {
                return self.take();
            }
        }
        // SAFETY: loom's UnsafeCell checks this access itself: a race the
        // protocol fails to order is what the model reports.
        self.slot.with_mut(|s| unsafe {
            if (*s).replace(id).is_some() {
                self.slot_frees.fetch_add(1, Ordering::Relaxed);
            }
        });
        if set_join_waker(&&self.state).is_err() {
            self.clear_slot();
            return self.take();
        }
        None
    }

    fn take(&self) -> Option<u32> {
        // SAFETY: loom's UnsafeCell checks this access itself: a race the
        // protocol fails to order is what the model reports.
        self.output.with_mut(|o| unsafe { (*o).take() })
    }

    fn clear_slot(&self) {
        // SAFETY: loom's UnsafeCell checks this access itself: a race the
        // protocol fails to order is what the model reports.
        self.slot.with_mut(|s| unsafe {
            if (*s).take().is_some() {
                self.slot_frees.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// The handle's drop (as `ThreadsafeTask::drop`): the output if complete,
    /// else the slot.
    fn drop_handle(&self) {
        let prev = drop_remote_handle(&&self.state);
        if prev & COMPLETE != 0 {
            // SAFETY: loom's UnsafeCell checks this access itself: a race the
            // protocol fails to order is what the model reports.
            self.output.with_mut(|o| unsafe { *o = None });
        } else {
            self.clear_slot();
        }
    }
}

/// The handle polls with one waker, then (a different task polling it)
/// with another, while the loop completes: the handle always gets the
/// output, either at a poll or after a wake of the waker it stored last.
#[test]
fn a_threadsafe_join_racing_completion_never_loses_the_wake_or_the_output() {
    loom::model(|| {
        let j = Arc::new(Join::new());
        let lp = {
            let j = j.clone();
            thread::spawn(move || j.complete())
        };
        let mut got = j.poll(0);
        if got.is_none() {
            got = j.poll(1);
        }
        while got.is_none() {
            // Pending: only a wake of the waker stored last may end the wait.
            if j.woken[1].load(Ordering::Acquire) {
                got = j.poll(1);
                assert!(got.is_some(), "woken, yet the output is not there");
            } else {
                thread::yield_now();
            }
        }
        assert_eq!(got, Some(42));
        lp.join().unwrap();
        // (Waker 0 may have been woken too: when the task completed before
        // the second poll replaced it. A wait that never ends would spin
        // above until loom gives up, failing the test.)
    });
}

/// The handle drops (after one pending poll, maybe) while the loop
/// completes: the output is dropped exactly once, by one side, and the
/// slot's accesses never race.
#[test]
fn a_threadsafe_handle_dropped_while_the_task_completes_frees_everything_once() {
    loom::model(|| {
        let j = Arc::new(Join::new());
        let lp = {
            let j = j.clone();
            thread::spawn(move || j.complete())
        };
        let got = j.poll(0);
        j.drop_handle();
        lp.join().unwrap();
        // Whoever ended last: the output is gone (taken by the poll, or
        // dropped by the handle or the loop).
        // SAFETY: loom's UnsafeCell checks this access itself: a race the
        // protocol fails to order is what the model reports.
        assert!(j.output.with(|o| unsafe { (*o).is_none() }), "the output outlived both sides");
        assert!(got.is_none() || got == Some(42));
        // SAFETY: loom's UnsafeCell checks this access itself: a race the
        // protocol fails to order is what the model reports.
        let left_in_slot = j.slot.with(|s| unsafe { (*s).is_some() });
        // A waker stays in the slot only if the loop was reading it when the
        // handle went (the cell's free drops it then).
        assert!(j.slot_frees.load(Ordering::Relaxed) + usize::from(left_in_slot) <= 1);
    });
}
