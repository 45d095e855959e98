//! Counters of the hand-off paths the primitives take, for stress tests
//! that must prove they exercised every path (a stress test that never had
//! putters and getters waiting at once missed a deadlock).
//!
//! Compiled in only with the `path-counters` feature; without it
//! the counting call is an empty inline function and costs nothing.

/// One hand-off path through a primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
#[allow(missing_docs)] // each name says the path; see `Path::describe`
pub enum Path {
    SemaphoreFast,
    SemaphoreQueued,
    SemaphoreHandedOnRelease,
    SemaphoreCancelledGaveBack,
    QueuePutToWaitingGetter,
    QueuePutToStorage,
    QueuePutWaited,
    QueueSlotGranted,
    QueueGrantedPutterHandedToGetter,
    QueueCancelledPutterPassedSlot,
    QueueCancelledGetterHandedOn,
    QueueCancelledGetterPutBack,
    QueueGetWaited,
    ConditionNotifiedWaiter,
    ConditionCancelledPassedOn,
    EventWaited,
    EventCancelledWaiter,
    BarrierRoundCompleted,
    BarrierCancelledWaiter,
}

impl Path {
    /// Every path, in declaration order.
    pub const ALL: [Path; 19] = [
        Path::SemaphoreFast,
        Path::SemaphoreQueued,
        Path::SemaphoreHandedOnRelease,
        Path::SemaphoreCancelledGaveBack,
        Path::QueuePutToWaitingGetter,
        Path::QueuePutToStorage,
        Path::QueuePutWaited,
        Path::QueueSlotGranted,
        Path::QueueGrantedPutterHandedToGetter,
        Path::QueueCancelledPutterPassedSlot,
        Path::QueueCancelledGetterHandedOn,
        Path::QueueCancelledGetterPutBack,
        Path::QueueGetWaited,
        Path::ConditionNotifiedWaiter,
        Path::ConditionCancelledPassedOn,
        Path::EventWaited,
        Path::EventCancelledWaiter,
        Path::BarrierRoundCompleted,
        Path::BarrierCancelledWaiter,
    ];
}

#[cfg(feature = "path-counters")]
static COUNTS: [std::sync::atomic::AtomicU64; Path::ALL.len()] =
    [const { std::sync::atomic::AtomicU64::new(0) }; Path::ALL.len()];

/// Counts one pass through `path` (only with the `path-counters` feature).
#[inline(always)]
pub(crate) fn hit(path: Path) {
    #[cfg(feature = "path-counters")]
    COUNTS[path as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(feature = "path-counters"))]
    let _ = path;
}

/// How often each path was taken since the process started (all zero
/// without the `path-counters` feature).
pub fn counts() -> Vec<(Path, u64)> {
    Path::ALL
        .iter()
        .map(|&p| {
            #[cfg(feature = "path-counters")]
            let n = COUNTS[p as usize].load(std::sync::atomic::Ordering::Relaxed);
            #[cfg(not(feature = "path-counters"))]
            let n = 0;
            (p, n)
        })
        .collect()
}

/// Whether the counters are compiled in.
pub const ENABLED: bool = cfg!(feature = "path-counters");
