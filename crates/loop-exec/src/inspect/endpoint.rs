//! The inspector's endpoint: a local socket per process, served by one
//! thread, that answers `loop-inspect` with a snapshot of every loop.
//!
//! **Where.** On Linux an *abstract* Unix socket named
//! `loop-inspect.<uid>.<pid>`: it lives only as long as the process (a
//! SIGKILL leaves nothing behind, and a new process that gets the same pid
//! binds the name again), and it is not a file, so nothing is written that
//! anyone could read. Elsewhere on Unix a socket file
//! `<TMPDIR>/loop-inspect-<uid>/<pid>.sock` in a directory only its user
//! may enter (0700, refused if it belongs to someone else); a file left by
//! a killed process is removed by the next process that starts an
//! endpoint (its pid is dead) or that gets its pid. Windows has no endpoint
//! yet.
//!
//! **Who.** Every connection's peer credentials are checked
//! (`SO_PEERCRED`, `getpeereid`): only the process's own user gets an
//! answer; anyone else gets an error line and the connection is closed.
//! There is no network listener.
//!
//! **Cost.** The thread sleeps in `accept` until a tool connects: nothing
//! runs while nobody is attached. A request posts one callback to each
//! running loop (a remote `call_soon`), which writes its part on its own
//! thread; a loop that has not answered within 300 ms is
//! reported from its beacon as stuck.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use super::pieces::Pieces;
use super::snapshot;

/// The longest request line read.
const MAX_REQUEST: u64 = 256;

/// The endpoint name of process `pid` of user `uid` (Linux: abstract).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn endpoint_name(uid: u32, pid: u32) -> String {
    format!("loop-inspect.{uid}.{pid}")
}

/// The directory of the endpoints of user `uid` (not Linux).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn endpoint_dir(uid: u32) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("loop-inspect-{uid}"))
}

/// Connects to the endpoint of process `pid` (of the calling user).
pub fn connect(pid: u32) -> std::io::Result<UnixStream> {
    let uid = rustix::process::geteuid().as_raw();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(endpoint_name(uid, pid))?;
        UnixStream::connect_addr(&addr)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        UnixStream::connect(endpoint_dir(uid).join(format!("{pid}.sock")))
    }
}

/// The uid of the process at the other end of `stream`.
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        Ok(rustix::net::sockopt::socket_peercred(stream)?.uid.as_raw())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use std::os::fd::AsRawFd;
        let (mut uid, mut gid) = (0, 0);
        // SAFETY: `getpeereid` writes two integers through valid pointers
        // to locals, on a descriptor `stream` keeps open.
        let rc = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
        if rc == 0 {
            Ok(uid)
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Binds this process's endpoint.
pub(crate) fn bind() -> std::io::Result<UnixListener> {
    let uid = rustix::process::geteuid().as_raw();
    let pid = std::process::id();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(endpoint_name(uid, pid))?;
        UnixListener::bind_addr(&addr)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let dir = endpoint_dir(uid);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let meta = std::fs::symlink_metadata(&dir)?;
        if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} is not a private directory of this user", dir.display()),
            ));
        }
        // Files of processes that died without removing theirs (SIGKILL).
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let name = entry.file_name();
            let stale = name
                .to_str()
                .and_then(|n| n.strip_suffix(".sock"))
                .and_then(|n| n.parse::<i32>().ok())
                .and_then(rustix::process::Pid::from_raw)
                .is_some_and(|p| {
                    p.as_raw_nonzero().get() as u32 == pid
                        || rustix::process::test_kill_process(p) == Err(rustix::io::Errno::SRCH)
                });
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        UnixListener::bind(dir.join(format!("{pid}.sock")))
    }
}

/// Starts the thread that answers on `listener`.
pub(crate) fn start_thread(listener: UnixListener) -> std::io::Result<()> {
    std::thread::Builder::new().name("loop-inspect".into()).spawn(move || serve(listener))?;
    Ok(())
}

fn serve(listener: UnixListener) {
    let own_uid = rustix::process::geteuid().as_raw();
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let _ = answer(stream, own_uid);
            }
            // Out of descriptors, or similar: do not spin on it.
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Answers one connection: a request line, then one document.
fn answer(mut stream: UnixStream, own_uid: u32) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let peer = peer_uid(&stream)?;
    if peer != own_uid {
        let message = format!(
            "{{\"error\":\"permission denied: this process belongs to uid {own_uid}, the inspector runs as uid {peer}\"}}\n"
        );
        return stream.write_all(message.as_bytes());
    }
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let reply = match line.trim() {
        "snapshot" => snapshot::snapshot_document(),
        other => {
            let mut out = String::from("{\"error\":");
            super::json::string(
                &mut out,
                &format!("unknown request {other:?} (this process speaks protocol {})", snapshot::PROTOCOL),
            );
            out.push('}');
            let mut pieces = Pieces::default();
            pieces.push_str(&out);
            pieces
        }
    };
    for chunk in reply.chunks() {
        stream.write_all(chunk)?;
    }
    stream.write_all(b"\n")?;
    stream.flush()
}
