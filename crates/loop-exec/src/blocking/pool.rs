//! `BlockingPool`: the threads behind `spawn_blocking` / `run_in_executor`,
//! started on demand up to a bound, idle ones retired after a keep-alive.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use loop_sync::__locks::{BlockingMutex, Condvar};

type Job = Box<dyn FnOnce() + Send>;

struct PoolState {
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    /// Threads that just finished a job and watch `PoolShared::queued` a
    /// moment before waiting: a job pushed meanwhile needs neither a
    /// notify nor a new thread.
    spinning: usize,
    shutdown: bool,
    /// Join handles of threads started; finished ones are reaped as new
    /// threads start, the rest joined at shutdown.
    handles: Vec<thread::JoinHandle<()>>,
}

struct PoolShared {
    state: BlockingMutex<PoolState>,
    /// `state.queue.len()`, written under the lock, read by spinning
    /// threads without it.
    queued: AtomicUsize,
    /// Signalled when work arrives or the pool shuts down.
    work: Condvar,
    /// Signalled when a thread exits.
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// One loop's pool of threads for blocking work.
pub(crate) struct BlockingPool {
    shared: Arc<PoolShared>,
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> BlockingPool {
        BlockingPool {
            shared: Arc::new(PoolShared {
                state: BlockingMutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    spinning: 0,
                    shutdown: false,
                    handles: Vec::new(),
                }),
                queued: AtomicUsize::new(0),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads,
                keep_alive,
            }),
        }
    }

    /// Queues a job, starting a thread when none is idle and the bound
    /// allows; beyond the bound jobs wait in the queue.
    pub(crate) fn execute(&self, job: Job) {
        let mut state = self.shared.state.lock();
        state.queue.push_back(job);
        self.shared.queued.store(state.queue.len(), Ordering::Release);
        if state.spinning >= state.queue.len() {
            // A spinning thread takes it.
        } else if state.idle >= state.queue.len() {
            self.shared.work.notify_one();
        } else if state.threads < self.shared.max_threads {
            state.threads += 1;
            let shared = self.shared.clone();
            state.handles.retain(|h| !h.is_finished());
            let spawned = thread::Builder::new().name("loop-blocking".into()).spawn(move || worker(shared));
            if let Ok(handle) = spawned {
                state.handles.push(handle);
            } else {
                // The OS refused a thread: the job waits for a running one
                // (or, with none, the shutdown drops it and its task is
                // reported as failed).
                state.threads -= 1;
            }
        }
    }

    /// Number of threads alive.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.shared.state.lock().threads
    }

    /// Waits (on the pool's own condition variable) until at most `n`
    /// threads are alive; false if `timeout` passed first.
    #[cfg(test)]
    pub(crate) fn wait_for_threads(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        while state.threads > n {
            if self.shared.exited.wait_until(&mut state, deadline).timed_out() {
                return state.threads <= n;
            }
        }
        true
    }

    /// Stops taking work, drops queued jobs, and waits up to `timeout` for
    /// running jobs to finish and their threads to exit; true if they all
    /// did.
    pub(crate) fn shutdown(self, timeout: Duration) -> bool {
        let deadline = loop_time::deadline_after(Instant::now(), timeout);
        let dropped: Vec<Job> = {
            let mut state = self.shared.state.lock();
            state.shutdown = true;
            self.shared.queued.store(0, Ordering::Release);
            state.queue.drain(..).collect()
        };
        drop(dropped);
        self.shared.work.notify_all();
        let mut state = self.shared.state.lock();
        while state.threads > 0 {
            if self.shared.exited.wait_until(&mut state, deadline).timed_out() {
                break;
            }
        }
        let all_exiting = state.threads == 0;
        let handles = std::mem::take(&mut state.handles);
        drop(state);
        for handle in handles {
            // Threads still running a job past the bound are left detached;
            // the others are past their last use of the pool and end now.
            if all_exiting || handle.is_finished() {
                let _ = handle.join();
            }
        }
        all_exiting
    }

    /// Lets the threads finish the jobs queued and exit, without waiting
    /// for them (the pool was replaced by `set_default_executor`: jobs
    /// already submitted still run and deliver).
    pub(crate) fn retire(self) {
        self.shared.state.lock().shutdown = true;
        self.shared.work.notify_all();
    }
}

/// How long a thread that finished a job watches for the next before it
/// waits on the condition variable: the loop often submits the next job
/// of a sequence (a file's next block, the next `stat`) right after the
/// last one's result, and a thread still awake takes it without a futex
/// wake on either side.
const SPIN_FOR_WORK: Duration = Duration::from_micros(50);

fn worker(shared: Arc<PoolShared>) {
    let mut state = shared.state.lock();
    loop {
        if let Some(job) = pop(&shared, &mut state) {
            drop(state);
            job();
            state = shared.state.lock();
            // One thread watches at a time: on few cores, more would take
            // the CPU from the threads running jobs.
            if state.queue.is_empty() && state.spinning == 0 && !state.shutdown {
                state.spinning += 1;
                drop(state);
                spin_for_work(&shared);
                state = shared.state.lock();
                state.spinning -= 1;
            }
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let timed_out = shared.work.wait_for(&mut state, shared.keep_alive).timed_out();
        state.idle -= 1;
        if timed_out && state.queue.is_empty() {
            break;
        }
    }
    state.threads -= 1;
    drop(state);
    shared.exited.notify_all();
}

fn pop(shared: &PoolShared, state: &mut PoolState) -> Option<Job> {
    let job = state.queue.pop_front();
    if job.is_some() {
        shared.queued.store(state.queue.len(), Ordering::Release);
    }
    job
}

/// Watches `queued` for up to [`SPIN_FOR_WORK`] (the caller then looks
/// under the lock, so a job pushed at the last moment is not missed).
fn spin_for_work(shared: &PoolShared) {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if shared.queued.load(Ordering::Acquire) > 0 {
                return;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN_FOR_WORK {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn threads_grow_to_the_bound_and_retire_when_idle() {
        let pool = BlockingPool::new(2, Duration::from_millis(20));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..4 {
            let rx = release_rx.clone();
            let done = done_tx.clone();
            pool.execute(Box::new(move || {
                rx.lock().unwrap().recv().unwrap();
                done.send(()).unwrap();
            }));
        }
        assert_eq!(pool.threads(), 2, "bounded at 2 threads, the rest queue");
        for _ in 0..4 {
            release_tx.send(()).unwrap();
        }
        for _ in 0..4 {
            done_rx.recv().unwrap();
        }
        // Idle threads retire after the keep-alive, with no shutdown.
        assert!(pool.wait_for_threads(0, Duration::from_secs(30)), "idle threads retired");
        // A new job starts a new thread.
        let (tx, rx) = mpsc::channel();
        pool.execute(Box::new(move || tx.send(7).unwrap()));
        assert_eq!(rx.recv().unwrap(), 7);
        assert_eq!(pool.threads(), 1);
        pool.shutdown(Duration::from_secs(5));
    }
}
