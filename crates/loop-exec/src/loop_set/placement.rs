//! Where a spawn from outside a set's loops goes: the loop with the least
//! load, where a loop's load is what it last published (its live tasks)
//! plus the spawns on their way to it.
//!
//! A spawning thread does not add each spawn to the loop's shared counter
//! at once. It counts them in a thread-local tally for the set it spawns
//! on, adds them to the counter [`BATCH`] at a time, and adds its own
//! unpublished tally when it compares loads. So one thread's burst spreads
//! over the loops exactly as before, other threads see its spawns at most
//! `BATCH - 1` per loop late (and the loop's own publication, when it
//! parks or every budget of polls, corrects every estimate), and the
//! counter's cache line moves once per `BATCH` spawns instead of at each:
//! with two threads spawning, that read-modify-write was a third of their
//! spawn loop (issue 27's note has the A/B).

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use crate::event_loop::loop_handle::LoopHandle;

/// Spawns a thread tallies for one loop before it adds them to that
/// loop's shared load in one write.
const BATCH: usize = 16;

/// This thread's spawns not yet added to their loops' shared load, for the
/// set it last spawned on.
struct Tally {
    /// The set's identity (the address of its handles); 0 for none yet. A
    /// set made at the address of a dropped one inherits a stale tally,
    /// which only skews one estimate until the next `BATCH`.
    set: usize,
    /// Unpublished spawns per loop index.
    pending: Vec<usize>,
}

thread_local! {
    static TALLY: RefCell<Tally> = const { RefCell::new(Tally { set: 0, pending: Vec::new() }) };
}

/// Picks the loop for a spawn (`index`, or the least loaded when `None`)
/// and counts the spawn as on its way there.
pub(crate) fn place(loops: &[LoopHandle], index: Option<usize>) -> usize {
    let set = loops.as_ptr().addr();
    let placed = TALLY.try_with(|tally| {
        let mut tally = tally.borrow_mut();
        if tally.set != set || tally.pending.len() != loops.len() {
            tally.set = set;
            tally.pending.clear();
            tally.pending.resize(loops.len(), 0);
        }
        let i = index.unwrap_or_else(|| least_loaded(loops, &tally.pending));
        tally.pending[i] += 1;
        if tally.pending[i] == BATCH {
            tally.pending[i] = 0;
            loops[i].shared.load.fetch_add(BATCH, Ordering::Relaxed);
        }
        i
    });
    placed.unwrap_or_else(|_| {
        // This thread's locals are being torn down: count at once.
        let i = index.unwrap_or_else(|| least_loaded(loops, &[]));
        loops[i].shared.load.fetch_add(1, Ordering::Relaxed);
        i
    })
}

/// The loop with the least load (published plus this thread's
/// unpublished spawns, `pending`, which may be empty). With more than four
/// loops, the less loaded of two picked at random (the "power of two
/// choices"), so a spawn reads two loops' counters, not all of them.
fn least_loaded(loops: &[LoopHandle], pending: &[usize]) -> usize {
    let load = |i: usize| loops[i].shared.load.load(Ordering::Relaxed) + pending.get(i).copied().unwrap_or(0);
    let n = loops.len();
    if n <= 4 {
        return (0..n).min_by_key(|&i| load(i)).unwrap_or(0);
    }
    let (a, b) = two_random(n);
    if load(b) < load(a) {
        b
    } else {
        a
    }
}

/// Two distinct indexes below `n` (n >= 2), from a per-thread xorshift.
fn two_random(n: usize) -> (usize, usize) {
    thread_local! {
        static STATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seeded from the thread's stack address: distinct per thread.
            x = (std::ptr::addr_of!(x).addr() as u64) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        let a = (x % n as u64) as usize;
        let b = (a + 1 + ((x >> 32) % (n as u64 - 1)) as usize) % n;
        (a, b)
    })
}
