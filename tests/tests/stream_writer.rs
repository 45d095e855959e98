//! `StreamWriter` without a helper task: it writes directly, watches for
//! writability only while data is pending, still delivers what a dropped
//! writer buffered, and lets go of writers whose loop closed.

use r#loop as aio;
use std::io::Read;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::Duration;

/// More than a Unix socket pair's buffers hold, so part of it waits.
const BIG: usize = 4 << 20;

#[test]
fn writers_spawn_no_task_idle_or_busy() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let before = aio::all_tasks().len();
        let mut peers = Vec::new();
        let mut writers = Vec::new();
        for _ in 0..20 {
            let (ours, theirs) = aio::net::UnixStream::pair().unwrap();
            let writer = aio::StreamWriter::new(ours);
            writer.write(b"hello");
            writers.push(writer);
            peers.push(theirs);
        }
        // One of them with a full socket: armed for writability, still no task.
        writers[0].write(&loop_tests::pattern(1, BIG));
        assert!(writers[0].get_write_buffer_size() > 0, "the socket took everything: the test needs a bigger write");
        assert_eq!(aio::all_tasks().len(), before, "a StreamWriter must not spawn a task");
        let mut reader = aio::StreamReader::new(peers.remove(0));
        assert_eq!(reader.readexactly(5).await.unwrap(), b"hello");
        assert_eq!(reader.readexactly(BIG).await.unwrap(), loop_tests::pattern(1, BIG));
        writers[0].drain().await.unwrap();
        assert_eq!(writers[0].get_write_buffer_size(), 0);
    });
}

#[test]
fn a_dropped_writer_still_sends_what_the_socket_could_not_take_then_eof() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (ours, theirs) = aio::net::UnixStream::pair().unwrap();
        let writer = aio::StreamWriter::new(ours);
        let body = loop_tests::pattern(2, BIG);
        writer.write(&body);
        assert!(writer.get_write_buffer_size() > 0);
        drop(writer);
        let got = aio::StreamReader::new(theirs).read_to_end().await.unwrap();
        assert_eq!(got.len(), BIG);
        assert!(got == body, "the bytes arrive in order");
    });
}

#[test]
fn close_then_wait_closed_flushes_a_full_buffer_and_reports_ok() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (ours, theirs) = aio::net::UnixStream::pair().unwrap();
        let mut writer = aio::StreamWriter::new(ours);
        writer.write(&loop_tests::pattern(3, BIG));
        writer.close();
        let read = aio::spawn(async move { aio::StreamReader::new(theirs).read_to_end().await.unwrap().len() });
        writer.wait_closed().await.unwrap();
        assert!(writer.is_closing());
        assert_eq!(read.await.unwrap(), BIG);
    });
}

#[test]
fn a_full_socket_with_no_loop_running_is_a_reported_error_not_a_silent_loss() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let (writer, theirs) = ev.run_until_complete(async {
        let (ours, theirs) = aio::net::UnixStream::pair().unwrap();
        (aio::StreamWriter::new(ours), theirs)
    });
    // Outside the loop: the socket takes part, and nothing could send the rest.
    writer.write(&loop_tests::pattern(4, BIG));
    let err = ev.run_until_complete(writer.drain()).unwrap_err();
    assert!(err.to_string().contains("no event loop runs on this thread"), "{err}");
    drop((writer, theirs));
    ev.close();
}

#[test]
fn a_writer_still_armed_when_its_loop_closes_is_released_not_leaked() {
    let _watchdog = loop_tests::watchdog();
    let (ours, mut theirs) = StdUnixStream::pair().unwrap();
    theirs.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let ev = aio::EventLoop::new().unwrap();
    ev.run_until_complete(async move {
        let writer = aio::StreamWriter::new(aio::net::UnixStream::from_std(ours).unwrap());
        writer.write(&loop_tests::pattern(5, BIG));
        assert!(writer.get_write_buffer_size() > 0);
        // Dropped while the socket is full: armed, waiting for writability.
    });
    ev.close();
    // The next writer armed on this thread (on another loop) lets go of the
    // closed loop's writers: our socket closes, and the peer sees EOF.
    aio::run(async {
        let (ours, _theirs) = aio::net::UnixStream::pair().unwrap();
        let writer = aio::StreamWriter::new(ours);
        writer.write(&loop_tests::pattern(6, BIG));
        assert!(writer.get_write_buffer_size() > 0, "armed");
    });
    let mut got = Vec::new();
    let n = theirs.read_to_end(&mut got).expect("EOF, not a read timeout: the closed loop's writer leaked");
    assert!(n < BIG, "the closed loop could not send everything ({n} bytes)");
    assert_eq!(got, loop_tests::pattern(5, n), "what arrived is the start of the data, in order");
}
