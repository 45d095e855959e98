//! Signals as ordinary wake-ups (asyncio's `add_signal_handler`).
//!
//! [`ctrl_c`] works everywhere. On Unix, [`Signals`] streams any catchable
//! signal (`SIGTERM`, `SIGHUP`, `SIGUSR1`, ...); on Windows, which has no
//! Unix signals, `Signals` and the `SIG*` constants do not exist.
//!
//! **Unix.** A listener ([`Signals`], or [`ctrl_c`]) owns one end of a
//! socket pair; the process-wide signal handler writes the signal's number
//! to the other end of every listener that asked for it. That handler only
//! does async-signal-safe work: atomic loads and `write(2)`. Several
//! listeners for one signal each get it; when the last listener of a signal
//! is dropped, the disposition that was there before the first one is put
//! back (for `SIGPIPE`, Rust's "ignore"; or the application's own handler).
//!
//! **Windows.** [`ctrl_c`] installs a console control handler
//! (`SetConsoleCtrlHandler`) once. While some `ctrl_c()` waits, Ctrl+C and
//! Ctrl+Break wake every waiter and the process goes on; with none waiting
//! the handler declines, and Windows ends the process as it would without
//! it (as an unhandled `SIGINT` does on Unix).

use std::future::Future;
use std::io;

use loop_exec::WaitSite;
use loop_sync::WaitKind;

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use unix::{Signals, SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

/// Waits for Ctrl-C: `SIGINT` on Unix; Ctrl+C or Ctrl+Break at the console
/// on Windows.
///
/// ```no_run
/// r#loop::run(async {
///     println!("press Ctrl-C to stop");
///     r#loop::signal::ctrl_c().await?;
///     println!("stopping");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> {
    #[cfg(unix)]
    let next = unix::next_sigint();
    #[cfg(windows)]
    let next = windows::next_ctrl_c();
    WaitSite::new(Some(WaitKind::Signal), next)
}

#[cfg(windows)]
#[doc(hidden)]
pub use windows::__console_event;
