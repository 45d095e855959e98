//! The few concurrency types the primitives use, swapped for loom's when the
//! crate is model-checked (`--cfg loop_loom`, see `cargo xtask loom`), and
//! the mutex for a std-backed one under Miri (see `locks`).

#[cfg(not(loop_loom))]
pub(crate) use crate::locks::BlockingMutex;
#[cfg(not(loop_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(not(loop_loom))]
pub(crate) use std::sync::Arc;

#[cfg(loop_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(loop_loom)]
pub(crate) use loom::sync::Arc;

/// loom's mutex with parking_lot's signature (no poisoning).
#[cfg(loop_loom)]
#[derive(Debug)]
pub(crate) struct BlockingMutex<T>(loom::sync::Mutex<T>);

#[cfg(loop_loom)]
impl<T> BlockingMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        BlockingMutex(loom::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}
