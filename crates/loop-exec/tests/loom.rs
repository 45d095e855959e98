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
