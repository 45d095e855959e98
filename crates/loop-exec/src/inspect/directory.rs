//! The process's loops, as the inspector lists them: each loop built with
//! inspection on registers here when it is made; the first one binds the
//! endpoint, whose thread starts at once or after `THREAD_AFTER`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
#[cfg(unix)]
use std::time::Instant;

use loop_sync::__locks::BlockingMutex;

use crate::event_loop::shared::LoopShared;

/// How a loop is named in the document.
#[derive(Debug, Clone)]
pub(crate) struct LoopLabel {
    /// Process-wide number of the loop, from 1, in creation order.
    pub(crate) serial: u64,
    /// Its index in its `LoopSet`, if in one.
    pub(crate) index: Option<usize>,
    /// The name of the thread it was made on.
    pub(crate) thread: String,
}

/// Every registered loop (dead ones are pruned on the next registration or
/// request).
static LOOPS: BlockingMutex<Vec<(LoopLabel, Weak<LoopShared>)>> = BlockingMutex::new(Vec::new());

/// The next loop's number.
static SERIAL: AtomicU64 = AtomicU64::new(1);

/// Whether the endpoint was bound: once per process.
static ENDPOINT: OnceLock<bool> = OnceLock::new();

/// The bound endpoint of a single-threaded process, waiting for its thread
/// (see `start_thread_when_due`).
#[cfg(unix)]
static WAITING: BlockingMutex<Option<(std::os::unix::net::UnixListener, Instant)>> = BlockingMutex::new(None);

/// Set while `WAITING` holds the endpoint: the loops look at it each turn
/// (one relaxed load).
static THREAD_PENDING: AtomicBool = AtomicBool::new(false);

/// How long a single-threaded process runs before the endpoint's thread
/// starts.
///
/// A second thread costs a single-threaded program more than its stack:
/// glibc's `malloc` and `free` leave their single-thread fast path for
/// good once a thread is created (they take the arena lock with atomic
/// instructions). Measured on the spawn benchmark (every task allocated
/// and freed through the arena): +12% with the thread there from the
/// start. A process that already has other threads (a `LoopSet`, the
/// blocking pool, the program's own) gets the thread at once; a
/// single-threaded one after it has run for this long, so that short
/// programs (tools, tests, benchmarks) never pay, and a service that hangs
/// later can be inspected. Until then the endpoint is bound (a tool's
/// connection waits in its backlog and is answered when the thread
/// starts), so a loop blocked within its first second cannot answer.
#[cfg(unix)]
pub(crate) const THREAD_AFTER: Duration = Duration::from_secs(1);

/// Registers a new loop (`index`: its place in a `LoopSet`) and starts the
/// endpoint if it is not running yet.
pub(crate) fn register(shared: &Arc<LoopShared>, index: Option<usize>) {
    let thread = std::thread::current();
    let label = LoopLabel {
        serial: SERIAL.fetch_add(1, Ordering::Relaxed),
        index,
        thread: thread.name().map_or_else(|| format!("{:?}", thread.id()), str::to_owned),
    };
    {
        let mut loops = LOOPS.lock();
        loops.retain(|(_, weak)| weak.strong_count() > 0);
        loops.push((label, Arc::downgrade(shared)));
    }
    ENDPOINT.get_or_init(|| {
        // Miri has no sockets; its runs check the loop, not the endpoint.
        #[cfg(all(unix, not(miri)))]
        match super::endpoint::bind() {
            Ok(listener) => {
                if process_is_multithreaded() {
                    start_thread(listener);
                } else {
                    *WAITING.lock() = Some((listener, Instant::now() + THREAD_AFTER));
                    THREAD_PENDING.store(true, Ordering::Release);
                }
                true
            }
            Err(e) => {
                eprintln!(
                    "loop: the inspector endpoint could not start ({e}); `loop-inspect` cannot attach to this \
                     process (set {}=0 to not try)",
                    super::ENV_VAR
                );
                false
            }
        }
        #[cfg(any(not(unix), miri))]
        false
    });
}

/// Whether a loop should look at `start_thread_when_due` (one relaxed
/// load: the loops ask every turn).
#[inline(always)]
pub(crate) fn thread_pending() -> bool {
    THREAD_PENDING.load(Ordering::Relaxed)
}

/// How long until the endpoint's thread is due (at least 1 ms), while it
/// waits to start.
pub(crate) fn thread_due_in() -> Option<Duration> {
    if !thread_pending() {
        return None;
    }
    #[cfg(unix)]
    {
        let waiting = WAITING.lock();
        let (_, at) = waiting.as_ref()?;
        Some(at.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))
    }
    #[cfg(not(unix))]
    None
}

/// Starts the endpoint's thread if its time has come (`THREAD_AFTER`).
#[cold]
pub(crate) fn start_thread_when_due() {
    start_thread_if(false);
}

/// Starts the endpoint's thread now, if it waits to start.
pub(crate) fn start_thread_now() {
    start_thread_if(true);
}

fn start_thread_if(now: bool) {
    #[cfg(not(unix))]
    let _ = now;
    #[cfg(unix)]
    {
        let mut waiting = WAITING.lock();
        let due = waiting.as_ref().is_some_and(|(_, at)| now || Instant::now() >= *at);
        if due {
            THREAD_PENDING.store(false, Ordering::Relaxed);
            if let Some((listener, _)) = waiting.take() {
                drop(waiting);
                start_thread(listener);
            }
        }
    }
}

#[cfg(unix)]
fn start_thread(listener: std::os::unix::net::UnixListener) {
    if let Err(e) = super::endpoint::start_thread(listener) {
        eprintln!("loop: the inspector endpoint's thread could not start ({e}); `loop-inspect` cannot attach");
    }
}

/// Whether the process runs more than one thread now.
#[cfg(unix)]
fn process_is_multithreaded() -> bool {
    #[cfg(target_os = "linux")]
    {
        // Field 20 of /proc/self/stat, after the parenthesised name.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let threads = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(17)?.parse::<u32>().ok());
        threads.is_none_or(|n| n > 1)
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Only glibc's malloc has a single-thread fast path to lose.
        true
    }
}

/// The live, open loops, in creation order.
pub(crate) fn live() -> Vec<(LoopLabel, Arc<LoopShared>)> {
    let mut loops = LOOPS.lock();
    loops.retain(|(_, weak)| weak.strong_count() > 0);
    loops
        .iter()
        .filter_map(|(label, weak)| Some((label.clone(), weak.upgrade()?)))
        .filter(|(_, shared)| !shared.closed.load(Ordering::Relaxed))
        .collect()
}
