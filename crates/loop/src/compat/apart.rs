//! The process-wide tokio runtime for compat futures polled where no loop
//! can drive one (off a loop thread, or not on Linux): a current-thread
//! runtime whose driver turns on a thread of its own, started on first use.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

/// A handle to the process-wide runtime, starting it on first use.
pub(super) fn handle() -> Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("loop::compat: could not start tokio's runtime (its epoll or timer fd)");
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("loop-compat-tokio".into())
                // The thread blocks on a future that never ends, so the
                // runtime's reactor and timers turn for the whole process.
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .expect("loop::compat: could not start the thread for tokio's runtime");
            handle
        })
        .clone()
}
