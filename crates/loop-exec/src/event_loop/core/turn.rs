//! The turn: what one iteration of a loop does (look at the reactor,
//! blocking only when idle; take in remote work and due timers; run at most
//! a budget of what is ready), and parking in between.

use std::sync::atomic::Ordering;

use super::LoopCore;
use crate::event_loop::callback_cell::CallbackCell;
use crate::event_loop::run_queue::{Runnable, BUDGET};
use crate::event_loop::shared::{LoopShared, Remote};
use crate::event_loop::stats::bump;

/// Turns a loop runs without parking before it gives its core to the OS
/// for a moment (`sched_yield`). A loop whose tasks never let it idle (they
/// yield, or more work keeps arriving) otherwise holds its core until the
/// kernel preempts it; a thread woken meanwhile (one waiting for this loop's
/// result, a blocking-pool job) waited a whole time slice for a core when
/// every core ran such a loop: 0.5-3 ms in the remote-busy benchmark. On a
/// core with nothing else to run the call returns at once (one syscall per
/// 4,096 turns).
const BUSY_TURNS_PER_OS_YIELD: u32 = 4096;

impl LoopCore {
    /// One turn: look at the reactor (blocking only when nothing is ready),
    /// take in remote work and due timers, release deferred yields, then run
    /// at most `BUDGET` of what is ready.
    pub(super) fn turn(&self, main_ready: &dyn Fn() -> bool) {
        bump(&self.counters.turns, 1);
        let idle = self.queue.is_empty() && !main_ready();
        // A stopping loop's last turn looks at I/O without waiting.
        let parked = idle && !self.stopping.get();
        if idle && !parked {
            reactor_ok(self.reactor.borrow_mut().poll_now());
            self.polls_since_io.set(0);
        } else if parked {
            self.publish_load();
            self.park(main_ready);
            self.polls_since_io.set(0);
            self.busy_turns.set(0);
        } else if self.busy_turns.get() >= BUSY_TURNS_PER_OS_YIELD {
            // Never idle for this long: let the OS run another thread that
            // waits for this core (see the constant).
            std::thread::yield_now();
            bump(&self.counters.os_yields, 1);
            self.busy_turns.set(0);
        } else {
            self.busy_turns.set(self.busy_turns.get() + 1);
        }
        if self.polls_since_io.get() >= BUDGET {
            self.publish_load();
            // Busy: still look at I/O at least every BUDGET polls, so ready
            // tasks cannot starve sockets. (Each look costs syscalls; doing
            // it every turn would tax every wake-up.)
            reactor_ok(self.reactor.borrow_mut().poll_now());
            self.polls_since_io.set(0);
        }
        if !self.shared.injector.is_empty() {
            self.drain_injector();
        }
        let fired = self.time.start_turn(self.counters.turns.get(), parked, |cell| self.queue.push_call(cell));
        bump(&self.counters.timers_fired, fired as u64);
        let inspected = self.config.inspect;
        if inspected {
            self.shared.beacon.turn(self.time.turn_tick());
        }
        self.queue.wake_deferred();
        let n = self.queue.start_turn();
        // A turn that was not idle counts one poll at least: the main
        // future of `run`/`run_until_complete` is not in the queue, and one
        // that only yields (a `yield_now` loop waiting for a socket) would
        // otherwise never let the reactor be looked at.
        self.polls_since_io.set(self.polls_since_io.get() + n.max(1));
        self.introspection.sample_turn(inspected && self.shared.beacon.observed(self.time.turn_tick()));
        if crate::inspect::directory::thread_pending() && (parked || self.counters.turns.get().is_multiple_of(64)) {
            crate::inspect::directory::start_thread_when_due();
        }
        for _ in 0..n {
            let Some(next) = self.queue.pop() else { break };
            match next {
                Runnable::Task(task) => self.run_task(task),
                Runnable::Call(cell) => self.run_call(&cell),
            }
        }
        self.queue.end_turn();
        // Polls leave the beacon naming their task (one store less per
        // poll); the turn's end clears it.
        if inspected {
            self.shared.beacon.leave();
        }
    }

    /// A loop of a `LoopSet` tells the set its live task count: when it
    /// parks, and when busy at the reactor-poll cadence (every `BUDGET`
    /// polls), not every turn.
    #[inline]
    pub(super) fn publish_load(&self) {
        if self.config.index.is_some() {
            self.shared.publish_load(self.tasks.len());
        }
    }

    /// Blocks in the reactor until something happens or the next timer is
    /// due. A paused clock jumps to that timer instead of waiting for it,
    /// unless work is pending on another thread (blocking jobs, remote wakes).
    pub(super) fn park(&self, main_ready: &dyn Fn() -> bool) {
        bump(&self.counters.parks, 1);
        let shared = &self.shared;
        let outside_work = shared.blocking_in_flight.load(Ordering::SeqCst) > 0;
        if outside_work && !self.time.is_paused() && spin_for_remote(shared) {
            return;
        }
        let timeout = self.time.park_timeout(outside_work, || {
            reactor_ok(self.reactor.borrow_mut().poll_now());
            shared.injector.is_empty() && !main_ready()
        });
        // While the inspector's thread waits to start, an idle loop wakes up
        // to start it (see `directory::THREAD_AFTER`).
        let timeout = match crate::inspect::directory::thread_due_in() {
            Some(due) => Some(timeout.map_or(due, |t| t.min(due))),
            None => timeout,
        };
        reactor_ok(self.reactor.borrow_mut().park(timeout, || shared.injector.is_empty() && !main_ready()));
    }

    pub(super) fn drain_injector(&self) {
        while let Some(work) = self.shared.injector.pop() {
            match work {
                Remote::Wake(task) => self.queue.push_task(task),
                Remote::Call(f) => self.queue.push_call(CallbackCell::new(f)),
                Remote::Spawn(task) => self.adopt(task),
            }
        }
    }
}

/// How long an idle loop with blocking jobs in flight watches its queue
/// before parking. A job on the pool often ends within microseconds (a
/// `stat`, a cached read); its wake then arrives with no syscall on
/// either side, where parking costs the pool thread an `eventfd` write
/// and this thread a wake-up (some 15-20 µs on a VM).
const SPIN_FOR_POOL: std::time::Duration = std::time::Duration::from_micros(30);

/// Spins up to [`SPIN_FOR_POOL`] for remote work; true if some came.
fn spin_for_remote(shared: &LoopShared) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if !shared.injector.is_empty() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN_FOR_POOL || shared.blocking_in_flight.load(Ordering::Relaxed) == 0 {
            return !shared.injector.is_empty();
        }
    }
}

/// Stops the loop loudly when the OS refuses to wait for events (an
/// interrupted wait is not an error: the reactor retries it). Carrying on
/// would spin at 100% CPU without ever seeing I/O or timers again.
#[track_caller]
pub(super) fn reactor_ok(result: std::io::Result<usize>) {
    if let Err(e) = result {
        panic!(
            "the event loop's reactor failed to wait for events: {e}. The loop cannot see I/O or timers any more; \
             this usually means a descriptor the loop owns (its epoll/kqueue or wake-up fd) was closed or replaced \
             behind its back, e.g. by closing a raw fd number"
        );
    }
}
