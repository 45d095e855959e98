//! Seeing into a running process from outside: the endpoint that
//! `loop-inspect ps | pstree | top PID` attaches to (`cargo install --path
//! crates/loop-inspect`).
//!
//! **How.** Every loop publishes the task it is polling in a beacon (two
//! plain stores per poll, `beacon.rs`) and registers in the process's list
//! of loops (`directory.rs`). The first loop binds the endpoint, a local
//! socket (`endpoint.rs`), served by one thread asleep in `accept`. A
//! request posts one callback to each running loop, which writes a JSON
//! snapshot of its tasks on its own thread (`snapshot.rs`, into memory
//! mappings returned whole afterwards: `pieces.rs`); a loop that has not
//! answered within 300 ms is reported as stuck, with the task it is
//! polling, that task's spawn line, and how long the poll has lasted. For
//! 10 s after a request, the loops time every poll (exact busy times, every
//! slow poll seen): about 40 ns per poll while a tool watches, nothing
//! otherwise.
//!
//! **Why a socket opened by the runtime (as .NET's diagnostics port), not
//! an attach request answered on demand (the JVM's signal).** A signal
//! handler cannot build a snapshot (it may not allocate or lock), so it
//! would need a thread anyway, and it would take a signal away from the
//! program. A thread asleep in `accept` costs one stack and no CPU, and it
//! answers while every loop is stuck.
//!
//! **When the thread starts.** At once in a process that already has other
//! threads; after the loop has run for a second in a single-threaded one.
//! Creating a thread makes glibc's `malloc` leave its single-thread fast
//! path for good (+12% on the spawn benchmark, measured), which short
//! programs should not pay for a tool they do not use. Until then the socket
//! is bound, and an idle loop wakes up to start the thread on time; a
//! single-threaded program whose loop blocks within its first second cannot
//! be inspected.
//!
//! **Who.** Only the process's own user: the endpoint checks every peer's
//! credentials, and the tool checks the endpoint's. On Linux the socket is
//! abstract (`loop-inspect.<uid>.<pid>`): no file, gone with the process,
//! even after SIGKILL. Elsewhere on Unix it is a file in a private
//! directory (`$TMPDIR/loop-inspect-<uid>/`, mode 0700), where the next
//! endpoint removes the files of dead processes. There is no network
//! listener. Windows has no endpoint yet ([`snapshot_json`] works there).
//!
//! On by default; `LOOP_INSPECT=0` in the environment, or
//! [`Builder::inspect(false)`](crate::Builder::inspect), turns it off (such
//! a loop is not listed, and starts no endpoint).

mod beacon;
pub(crate) mod directory;
#[cfg(unix)]
mod endpoint;
mod json;
mod pieces;
pub(crate) mod snapshot;

pub(crate) use beacon::Beacon;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub use endpoint::endpoint_dir;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use endpoint::endpoint_name;
#[cfg(unix)]
pub use endpoint::{connect, peer_uid};

/// The environment variable that turns the endpoint off: `0`, `off` or
/// `false`.
pub const ENV_VAR: &str = "LOOP_INSPECT";

/// The snapshot protocol this runtime speaks (`loop-inspect` checks it).
pub const PROTOCOL: u32 = 1;

/// Whether the environment leaves the endpoint on (see [`ENV_VAR`]).
pub fn enabled_by_env() -> bool {
    match std::env::var(ENV_VAR) {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "off" | "false" | "no"),
        Err(_) => true,
    }
}

/// Starts the endpoint's thread now if it waits to start (a
/// single-threaded process's first second): for benchmarks that measure
/// the endpoint ready.
#[doc(hidden)]
pub fn __start_thread_now() {
    directory::start_thread_now();
}

/// The document `loop-inspect` receives (JSON, protocol [`PROTOCOL`]),
/// made in-process: for a program that wants to log it itself, or on a
/// platform without the endpoint. Call it from a thread that runs no loop:
/// a loop blocked by the caller cannot answer, and shows as stuck.
///
/// ```
/// use r#loop as aio;
/// let event_loop = aio::EventLoop::new().unwrap();
/// let doc = aio::inspect::snapshot_json();
/// assert!(doc.starts_with("{\"protocol\":1,"));
/// drop(event_loop);
/// ```
pub fn snapshot_json() -> String {
    let doc = snapshot::snapshot_document();
    String::from_utf8(doc.chunks().flatten().copied().collect()).expect("the snapshot is UTF-8")
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use crate::{spawn, yield_now, EventLoop};

    /// A lock records its holder through the loop's task slot (the one
    /// `unsafe` read of `loop_sync::current_task_token`, run under Miri
    /// too): a waiter's report names the holder by its address, outside a
    /// task nobody.
    #[test]
    fn a_lock_waiter_names_the_holder_task_by_its_address() {
        let ev = EventLoop::new().unwrap();
        ev.run_until_complete(async {
            assert_eq!(loop_sync::current_task_token(), 0, "the main future is no task");
            let lock = Rc::new(loop_sync::Lock::new());
            let release = Rc::new(loop_sync::Event::new());
            let (l, r) = (lock.clone(), release.clone());
            let holder = spawn(async move {
                let _guard = l.acquire().await;
                r.wait().await;
            });
            yield_now().await;
            let l = lock.clone();
            let waiter = spawn(async move { drop(l.acquire().await) });
            yield_now().await;
            let (mut holder_addr, mut reported) = (0, None);
            crate::event_loop::current::with_current(|core| {
                core.registry().for_each(|task| {
                    if task.header().meta.id == holder.id() {
                        holder_addr = task.as_ptr().addr().get() as u64;
                    }
                    if task.header().meta.id == waiter.id() {
                        reported = Some(task.header().meta.waiting_target());
                    }
                });
            });
            let reported = reported.expect("the waiter is alive");
            assert_ne!(holder_addr, 0);
            assert_eq!(reported.detail, holder_addr, "the waiter's report names the holder");
            release.set();
            holder.await.unwrap();
            waiter.await.unwrap();
        });
    }
}
