//! Subprocesses waited for through `SIGCHLD`, the path of systems without
//! pidfds, forced on here (its own test binary: the switch is process-wide,
//! and so is the signal).
#![cfg(unix)]

use r#loop as aio;
use r#loop::process::Command;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// The SIGCHLD path, with its backstop poll moved an hour away: a waiter
/// that the signal does not wake hangs, and the watchdog fails the test
/// with a message (rather than a wall-clock threshold judging it).
fn sigchld() {
    aio::process::__force_sigchld_reaping(true);
    aio::process::__set_sigchld_backstop(Duration::from_secs(3600));
}

#[test]
fn concurrent_children_are_reaped_with_their_exit_codes() {
    let _watchdog = loop_tests::watchdog();
    sigchld();
    // Some exit at once, before their waiter could listen: the listen-then-
    // look order must still catch them.
    let codes = loop_tests::concurrent_exit_codes(50);
    assert_eq!(codes, (0..50).map(Some).collect::<Vec<_>>());
}

#[test]
fn the_signal_wakes_the_waiter_before_the_backstop_poll() {
    let _watchdog = loop_tests::watchdog_for(Duration::from_secs(60));
    sigchld();
    let status = aio::run(async {
        let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
        child.wait().await.unwrap()
    });
    assert!(status.success());
}

#[test]
fn a_killed_child_reports_its_signal() {
    let _watchdog = loop_tests::watchdog();
    sigchld();
    let status = aio::run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        child.kill().unwrap();
        child.wait().await.unwrap()
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn a_hundred_waiting_children_share_one_signal_listener() {
    let _watchdog = loop_tests::watchdog_for(Duration::from_secs(60));
    sigchld();
    aio::run(async {
        let waits: Vec<_> = (0..100)
            .map(|_| {
                let mut child = Command::new("sleep").arg("0.3").spawn().unwrap();
                aio::spawn(async move { child.wait().await })
            })
            .collect();
        aio::yield_now().await; // every wait starts listening
                                // The process has 64 signal listener slots: had every waiting child
                                // taken one, none would be left for the program's own handlers.
        let own = aio::signal::Signals::new([libc::SIGUSR2]);
        assert!(own.is_ok(), "{:?}", own.err());
        for w in waits {
            assert!(w.await.unwrap().unwrap().success());
        }
    });
}
