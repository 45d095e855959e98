//! The process's loops, as the inspector lists them: each loop built with
//! inspection on registers here when it is made, and the first one starts
//! the endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

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

/// Whether the endpoint started: once per process.
static ENDPOINT: OnceLock<bool> = OnceLock::new();

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
        #[cfg(unix)]
        match super::endpoint::start() {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "loop: the inspector endpoint could not start ({e}); `loop-inspect` cannot attach to this \
                     process (set {}=0 to not try)",
                    super::ENV_VAR
                );
                false
            }
        }
        #[cfg(not(unix))]
        false
    });
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
