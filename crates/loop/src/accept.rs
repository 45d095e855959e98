//! What every accept loop (`start_server`, `hyper::serve`,
//! `net::serve_least_connections`) does after a failed `accept`.

use std::io;

/// After a failed `accept` (e.g. out of file descriptors), wait a moment
/// rather than spin, as asyncio does.
pub(crate) async fn accept_error_pause(e: io::Error) {
    if e.kind() != io::ErrorKind::ConnectionAborted {
        eprintln!("loop: accept failed: {e}; retrying in 100 ms");
        loop_exec::sleep(std::time::Duration::from_millis(100)).await;
    }
}
