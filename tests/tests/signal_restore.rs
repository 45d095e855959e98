//! Dropping the last listener of a signal puts back the disposition that
//! was there before (issue 10, defect 4). A file (a process) of its own:
//! dispositions are process-wide.
#![cfg(unix)]
#![allow(unsafe_code)]

use r#loop as aio;
use r#loop::signal::{Signals, SIGPIPE, SIGUSR2};

/// The handler currently installed for `sig`.
fn handler_of(sig: i32) -> libc::sighandler_t {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new
    // action only reads the current one.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) }, 0);
    old.sa_sigaction
}

extern "C" fn app_handler(_: libc::c_int) {}

#[test]
fn the_last_listener_restores_the_previous_disposition_not_the_default() {
    let _watchdog = loop_tests::watchdog();
    // Rust's runtime ignores SIGPIPE, so a write to a closed pipe is an
    // error rather than death.
    assert_eq!(handler_of(SIGPIPE), libc::SIG_IGN);
    // An application's own handler.
    // SAFETY: a zeroed sigaction with a handler that does nothing.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = app_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(SIGUSR2, &action, std::ptr::null_mut()), 0);
    }
    aio::run(async {
        let a = Signals::new([SIGPIPE, SIGUSR2]).unwrap();
        let b = Signals::new([SIGPIPE]).unwrap();
        assert_ne!(handler_of(SIGPIPE), libc::SIG_IGN, "ours while listened for");
        drop(a);
        assert_eq!(
            handler_of(SIGUSR2),
            app_handler as extern "C" fn(libc::c_int) as libc::sighandler_t,
            "the application's handler is back"
        );
        assert_ne!(handler_of(SIGPIPE), libc::SIG_IGN, "b still listens");
        drop(b);
        assert_eq!(handler_of(SIGPIPE), libc::SIG_IGN, "ignored again, as before");
    });
    // And so a write to a closed pipe is still an error, not exit 141.
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(r);
    use std::io::Write;
    assert!((&w).write(b"x").is_err());
}
