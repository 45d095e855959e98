//! Getting a snapshot from a process: connect to its endpoint, check who
//! is at the other end, read one document. Every failure is an
//! [`AttachError`] that says what to do.

use std::io::{Read, Write};
use std::time::Duration;

use crate::model::Process;
use crate::procfs;

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// No process has that pid.
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    /// The process belongs to someone else.
    #[error(
        "process {pid} belongs to uid {owner}, and you are uid {me}: loop-inspect only attaches to your own processes \
         (run it as that user)"
    )]
    OtherUser {
        /// The pid.
        pid: u32,
        /// Its owner.
        owner: u32,
        /// The caller.
        me: u32,
    },
    /// Nothing listens for this pid.
    #[error(
        "process {0} has no loop inspector endpoint: it is not a `loop` program, it has not created an event loop yet, \
         or it runs with LOOP_INSPECT=0 (or Builder::inspect(false))"
    )]
    NotALoop(u32),
    /// The endpoint is there but nobody answers.
    #[error(
        "process {0} has a loop inspector endpoint, but nothing answered within 3 s: a single-threaded program starts \
         the inspector's thread after its loop has run for a second, and a loop blocked before that cannot be \
         inspected (a program with other threads gets it at once)"
    )]
    Unserved(u32),
    /// The process went away mid-answer.
    #[error("process {0} exited while being inspected")]
    Exited(u32),
    /// The endpoint refused.
    #[error("process {pid} refused: {message}")]
    Refused {
        /// The pid.
        pid: u32,
        /// What it said.
        message: String,
    },
    /// Someone else answers on the endpoint.
    #[error("the endpoint of process {pid} is served by uid {server}, not by you (uid {me}): not trusting it")]
    Impostor {
        /// The pid.
        pid: u32,
        /// Who serves it.
        server: u32,
        /// The caller.
        me: u32,
    },
    /// The answer is not a snapshot this tool reads.
    #[error("process {pid} answered something this loop-inspect cannot read ({reason})")]
    Garbled {
        /// The pid.
        pid: u32,
        /// Why.
        reason: String,
    },
    /// Timed out or other I/O failure.
    #[error("talking to process {pid}: {source}")]
    Io {
        /// The pid.
        pid: u32,
        /// The error.
        source: std::io::Error,
    },
}

/// Takes one snapshot of process `pid`: the parsed document and its text.
pub fn snapshot(pid: u32) -> Result<(Process, String), AttachError> {
    let raw = request(pid, "snapshot")?;
    let value: serde_json::Value =
        serde_json::from_str(&raw).map_err(|e| AttachError::Garbled { pid, reason: e.to_string() })?;
    if let Some(message) = value.get("error").and_then(|e| e.as_str()) {
        return Err(AttachError::Refused { pid, message: message.to_owned() });
    }
    let protocol = value.get("protocol").and_then(|p| p.as_u64());
    if protocol != Some(u64::from(loop_exec::inspect::PROTOCOL)) {
        return Err(AttachError::Garbled {
            pid,
            reason: format!(
                "protocol {protocol:?}, this tool reads {}: use the loop-inspect of the runtime's version",
                loop_exec::inspect::PROTOCOL
            ),
        });
    }
    let process: Process =
        serde_json::from_value(value).map_err(|e| AttachError::Garbled { pid, reason: e.to_string() })?;
    Ok((process, raw))
}

#[cfg(unix)]
fn request(pid: u32, what: &str) -> Result<String, AttachError> {
    let me = procfs::my_uid();
    match procfs::owner(pid) {
        None => return Err(AttachError::NoSuchProcess(pid)),
        Some(owner) if owner != me => return Err(AttachError::OtherUser { pid, owner, me }),
        Some(_) => {}
    }
    let mut stream = loop_exec::inspect::connect(pid).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => AttachError::NotALoop(pid),
        _ => AttachError::Io { pid, source: e },
    })?;
    let server = loop_exec::inspect::peer_uid(&stream).map_err(|source| AttachError::Io { pid, source })?;
    if server != me {
        return Err(AttachError::Impostor { pid, server, me });
    }
    let io = |source| AttachError::Io { pid, source };
    // The endpoint answers within ANSWER_WITHIN (300 ms) plus the time to
    // write the snapshots; a first byte later than this means nobody serves
    // the socket.
    stream.set_read_timeout(Some(Duration::from_secs(3))).map_err(io)?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(io)?;
    let gone = |e: std::io::Error| if exiting(pid) { AttachError::Exited(pid) } else { io(e) };
    stream.write_all(format!("{what}\n").as_bytes()).map_err(gone)?;
    let mut raw = String::new();
    let mut first = [0u8; 1];
    match stream.read(&mut first) {
        Ok(n) => raw.push_str(&String::from_utf8_lossy(&first[..n])),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            return Err(AttachError::Unserved(pid));
        }
        Err(e) => return Err(gone(e)),
    }
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(io)?;
    stream.read_to_string(&mut raw).map_err(gone)?;
    // The document ends with a newline: without it the process closed the
    // connection mid-answer, which it does only by exiting.
    if !raw.ends_with('\n') {
        return Err(if exiting(pid) {
            AttachError::Exited(pid)
        } else {
            AttachError::Garbled { pid, reason: "the connection closed before the answer was complete".into() }
        });
    }
    Ok(raw)
}

/// Whether process `pid` is gone, or goes within a second: its endpoint
/// closes while the process exits, a moment before the OS shows it dead.
#[cfg(unix)]
fn exiting(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while procfs::owner(pid).is_some() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
