//! A global allocator that counts live bytes, for memory-per-task numbers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Counter shards, each on a cache line of its own.
const SHARDS: usize = 32;

/// One shard of the live-byte count.
#[repr(align(128))]
struct Shard(AtomicIsize);

/// Bytes allocated through the global allocator, less those freed, in
/// shards: a thread counts into its own, so the multi-thread rows do not
/// all write one cache line at every allocation (a single counter did:
/// each spawn's `malloc` took the line from the other threads, a cost of
/// the harness charged to every runtime). A block freed on another thread
/// than the one that allocated it moves bytes between shards; only the sum
/// means anything.
static LIVE: [Shard; SHARDS] = [const { Shard(AtomicIsize::new(0)) }; SHARDS];

/// The next shard to hand to a thread that first allocates.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard (`usize::MAX` until its first allocation). A
    /// `const` `Cell` with no destructor: reading it never allocates.
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Adds `bytes` to the calling thread's shard.
#[inline]
fn count(bytes: isize) {
    let shard = MY_SHARD
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            s.get()
        })
        // A thread's TLS being torn down: any shard keeps the sum right.
        .unwrap_or(0);
    LIVE[shard].0.fetch_add(bytes, Ordering::Relaxed);
}

/// Forwards to the system allocator and keeps `LIVE` up to date.
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees hold; the counter is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes live right now.
pub fn live_bytes() -> isize {
    LIVE.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
}

/// Stops glibc from handing freed heap back to the OS between runs.
///
/// By default glibc trims the top of the heap whenever more than a dynamic
/// threshold of it is free; whether a workload's memory sits at the top
/// when a run ends depends on allocation order, not on the runtime's speed.
/// With the defaults our spawn runs re-faulted ~14 MB per run (3,450 page
/// faults, half of the measured time) while smol's kept theirs. Pinning the
/// thresholds for the whole process makes every runtime's repeated runs
/// measure a warm heap; the cold-process table measures first runs.
pub fn pin_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; it is called
        // before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        }
    }
}
