//! Subprocesses on every OS (Linux natively, Windows under Wine), with the
//! `child` helper binary of this crate as the child: exit codes, pipes both
//! ways (16 MiB through `communicate`), kill, kill on drop, a cancelled
//! wait, a program that is missing.

use r#loop as aio;
use r#loop::process::{Command, Stdio};
use r#loop::{StreamReader, StreamWriter};
use std::io;
use std::time::Duration;

fn child(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_child"));
    command.args(args);
    command
}

#[test]
fn concurrent_children_report_their_exit_codes() {
    let _watchdog = loop_tests::watchdog();
    let codes = aio::run(async {
        let tasks: Vec<_> =
            (0..20).map(|i| aio::spawn(async move { child(&["exit", &i.to_string()]).status().await })).collect();
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.unwrap().unwrap().code());
        }
        codes
    });
    assert_eq!(codes, (0..20).map(Some).collect::<Vec<_>>());
}

#[test]
fn communicate_sixteen_mib_each_way_without_deadlock() {
    let _watchdog = loop_tests::watchdog();
    let input: Vec<u8> = (0..16 << 20).map(|i: usize| (i % 251) as u8).collect();
    let expected = input.clone();
    let (out, err, status) = aio::run(async move {
        // stdout and stderr both get a copy: both pipes fill at once.
        let mut c =
            child(&["tee"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (out, err) = c.communicate(Some(&input)).await.unwrap();
        (out, err, c.wait().await.unwrap())
    });
    assert!(status.success());
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "stdout matches");
    assert!(err == expected, "stderr matches");
}

#[test]
fn output_collects_stdout_and_the_status() {
    let _watchdog = loop_tests::watchdog();
    let out = aio::run(child(&["echo", "hello", "there"]).output()).unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "hello there");
    assert!(out.stderr.is_empty());
}

#[test]
fn a_stream_writer_and_reader_over_the_pipes_round_trip_lines() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut c = child(&["cat"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let writer = StreamWriter::new(c.stdin.take().unwrap());
        let mut reader = StreamReader::new(c.stdout.take().unwrap());
        for i in 0..50 {
            let line = format!("line {i}\n");
            writer.write(line.as_bytes());
            writer.drain().await.unwrap();
            assert_eq!(reader.readline().await.unwrap(), line.as_bytes());
        }
        writer.close();
        writer.wait_closed().await.unwrap();
        assert_eq!(reader.read_to_end().await.unwrap(), b"", "EOF once stdin closed");
        assert_eq!(c.wait().await.unwrap().code(), Some(0));
    });
}

#[test]
fn kill_ends_a_sleeping_child_and_wait_reports_a_failure() {
    let _watchdog = loop_tests::watchdog();
    let status = aio::run(async {
        let mut c = child(&["sleep", "60"]).spawn().unwrap();
        assert_eq!(c.try_wait().unwrap(), None, "still running");
        c.kill().unwrap();
        let status = c.wait().await.unwrap();
        // Killing again, and waiting again, after the exit: no error.
        c.kill().unwrap();
        assert_eq!(c.wait().await.unwrap(), status);
        status
    });
    assert!(!status.success(), "a killed child did not succeed: {status:?}");
}

#[test]
fn a_wait_cancelled_by_a_timeout_can_be_waited_again() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut c = child(&["sleep", "60"]).spawn().unwrap();
        let first = aio::wait_for(c.wait(), Duration::from_millis(50)).await;
        assert!(first.is_err(), "the child sleeps for a minute");
        c.kill().unwrap();
        assert!(!c.wait().await.unwrap().success());
    });
}

#[test]
fn kill_on_drop_ends_the_child_so_its_pipe_reaches_eof() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut c = child(&["sleep", "60"]).stdout(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
        let mut stdout = StreamReader::new(c.stdout.take().unwrap());
        drop(c);
        // EOF only comes once the child is gone (it never writes).
        assert_eq!(stdout.read_to_end().await.unwrap(), b"");
    });
}

#[test]
fn a_missing_program_is_not_found() {
    let _watchdog = loop_tests::watchdog();
    let err = aio::run(async { Command::new("surely-no-such-program-here").status().await }).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

#[test]
fn writing_after_stdin_is_closed_is_a_broken_pipe_error() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut c = child(&["cat"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let mut stdin = c.stdin.take().unwrap();
        std::future::poll_fn(|cx| futures_io::AsyncWrite::poll_close(std::pin::Pin::new(&mut stdin), cx))
            .await
            .unwrap();
        let err =
            std::future::poll_fn(|cx| futures_io::AsyncWrite::poll_write(std::pin::Pin::new(&mut stdin), cx, b"x"))
                .await
                .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(c.wait().await.unwrap().success(), "cat saw EOF and exited");
    });
}

/// Windows only: Ctrl+C reaches every waiting `ctrl_c()`, and the console
/// handler claims the event only while someone waits. (No console raises
/// one under test, so the handler's work is called as Windows would.)
#[cfg(windows)]
#[test]
fn ctrl_c_wakes_every_waiter_and_is_claimed_only_while_one_waits() {
    let _watchdog = loop_tests::watchdog();
    const CTRL_C_EVENT: u32 = 0;
    const CTRL_BREAK_EVENT: u32 = 1;
    const CTRL_CLOSE_EVENT: u32 = 2;
    assert!(!aio::signal::__console_event(CTRL_C_EVENT), "nobody waits: Windows' default (exit) applies");
    aio::run(async {
        let a = aio::spawn(aio::signal::ctrl_c());
        let b = aio::spawn(aio::signal::ctrl_c());
        aio::yield_now().await; // both have run up to their wait
        assert!(!aio::signal::__console_event(CTRL_CLOSE_EVENT), "not Ctrl+C");
        assert!(!a.is_done() && !b.is_done());
        let raiser = std::thread::spawn(|| aio::signal::__console_event(CTRL_BREAK_EVENT));
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        assert!(raiser.join().unwrap(), "claimed: someone waited");
    });
    assert!(!aio::signal::__console_event(CTRL_C_EVENT), "the waiters are gone again");
}
