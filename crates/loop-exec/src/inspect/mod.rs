//! Seeing into a running process from outside: the endpoint that
//! `loop-inspect ps | pstree | top PID` attaches to.
//!
//! Every loop publishes what it polls in a [`Beacon`](beacon::Beacon) (a
//! few plain stores per poll) and registers in the process's
//! [`directory`]; the first loop starts the [`endpoint`], a thread asleep
//! in `accept` on a local socket that only the process's user may use. A
//! request asks each running loop for a JSON snapshot of its tasks
//! ([`snapshot`]), written on the loop's own thread; a loop that does not
//! answer within 300 ms is reported as stuck, with the task it is polling,
//! that task's spawn line and how long the poll has lasted.
//!
//! **Why a socket opened at start, not an attach request answered on
//! demand (the JVM's signal).** A signal handler cannot build a snapshot
//! (it may not allocate or lock), so it would need a thread anyway, and it
//! would take a signal number away from the program. A thread asleep in
//! `accept` costs one stack and no CPU, and it answers even when every
//! loop is stuck.
//!
//! On by default; `LOOP_INSPECT=0` in the environment, or
//! [`Builder::inspect(false)`](crate::Builder::inspect), turns it off (a
//! loop built so is not listed, and starts no endpoint). Unix only for
//! now: on Windows nothing is started.

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
