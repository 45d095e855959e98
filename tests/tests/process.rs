//! Subprocesses: real `sh` and `cat` children (Unix; `process_any.rs`
//! runs the portable cases on every OS).
#![cfg(unix)]

use r#loop as aio;
use r#loop::process::{Command, Stdio};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// Zombie children of this process, from /proc.
fn zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...
        let Some(after) = stat.rsplit_once(") ").map(|(_, a)| a) else { continue };
        let mut fields = after.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next());
        if state == Some("Z") && ppid == Some(me.as_str()) {
            out.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    out
}

/// Waits (yielding, bounded) for the kernel and the reaper to finish.
fn no_zombies_within(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !zombies().is_empty() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

#[test]
fn a_hundred_concurrent_children_are_reaped_with_their_exit_codes() {
    let _watchdog = loop_tests::watchdog();
    let codes = loop_tests::concurrent_exit_codes(100);
    assert_eq!(codes, (0..100).map(Some).collect::<Vec<_>>());
    assert!(no_zombies_within(Duration::from_secs(5)), "zombies left: {:?}", zombies());
}

#[test]
fn a_child_killed_by_a_signal_reports_it() {
    let _watchdog = loop_tests::watchdog();
    let status = aio::run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        child.kill().unwrap();
        child.wait().await.unwrap()
    });
    assert_eq!(status.signal(), Some(9));
    assert_eq!(status.code(), None);
}

#[test]
fn send_signal_terminates_with_that_signal() {
    let _watchdog = loop_tests::watchdog();
    let status = aio::run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        child.send_signal(aio::signal::SIGTERM).unwrap();
        child.wait().await.unwrap()
    });
    assert_eq!(status.signal(), Some(aio::signal::SIGTERM));
}

#[test]
fn a_missing_program_is_not_found() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let err = Command::new("/definitely/not/a/program").spawn().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = Command::new("/dev/null").spawn().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    });
}

#[test]
fn output_and_readline_over_the_child_stdout() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let out = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 4"]).output().await.unwrap();
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice(), out.status.code()),
            (&b"out\n"[..], &b"err\n"[..], Some(4))
        );

        let mut child = Command::new("printf").arg("a\\nb\\n").stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = aio::StreamReader::new(child.stdout.take().unwrap());
        assert_eq!(lines.readline().await.unwrap(), b"a\n");
        assert_eq!(lines.readline().await.unwrap(), b"b\n");
        assert_eq!(lines.readline().await.unwrap(), b"");
        assert!(child.wait().await.unwrap().success());
        assert!(child.try_wait().unwrap().is_some());
    });
}

#[test]
fn dropped_children_are_reaped_and_kill_on_drop_kills() {
    let _watchdog = loop_tests::watchdog();
    let pid = aio::run(async {
        // Dropped while running, without kill_on_drop: still reaped later.
        let quick = Command::new("sh").args(["-c", "exit 0"]).spawn().unwrap();
        drop(quick);
        let sleeper = Command::new("sleep").arg("30").kill_on_drop(true).spawn().unwrap();
        let pid = sleeper.id();
        drop(sleeper);
        pid
    });
    // The killed sleeper disappears (reaped), and no zombie is left.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "kill_on_drop killed and reaped the child");
    assert!(no_zombies_within(Duration::from_secs(5)), "zombies left: {:?}", zombies());
}

#[test]
fn spawning_with_pipes_outside_a_loop_is_an_error_not_a_stray_child() {
    let _watchdog = loop_tests::watchdog();
    let err = Command::new("sleep").arg("30").stdout(Stdio::piped()).spawn().unwrap_err();
    assert!(err.to_string().contains("no running event loop"), "{err}");
    assert!(no_zombies_within(Duration::from_secs(5)), "zombies left: {:?}", zombies());
}
