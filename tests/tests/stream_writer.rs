//! `StreamWriter` without a helper task: it writes directly, watches for
//! writability only while data is pending, still delivers what a dropped
//! writer buffered, and lets go of writers whose loop closed.
//!
//! Over a Unix socket pair on Unix; over a loopback TCP pair on Windows.

use r#loop as aio;
use std::io::Read;
use std::time::Duration;

/// More than a socket pair's buffers hold, so part of it waits (loopback
/// TCP buffers grow larger than a Unix pair's).
#[cfg(unix)]
const BIG: usize = 4 << 20;
#[cfg(not(unix))]
const BIG: usize = 32 << 20;

use loop_tests::{std_stream_pair as std_pair, stream_pair as pair, PairStream as Stream};

#[test]
fn writers_spawn_no_task_idle_or_busy() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let before = aio::all_tasks().len();
        let mut peers = Vec::new();
        let mut writers = Vec::new();
        for _ in 0..20 {
            let (ours, theirs) = pair();
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
        let (ours, theirs) = pair();
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
        let (ours, theirs) = pair();
        let writer = aio::StreamWriter::new(ours);
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
        let (ours, theirs) = pair();
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
    let (ours, mut theirs) = std_pair();
    theirs.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let ev = aio::EventLoop::new().unwrap();
    ev.run_until_complete(async move {
        let writer = aio::StreamWriter::new(Stream::from_std(ours).unwrap());
        writer.write(&loop_tests::pattern(5, BIG));
        assert!(writer.get_write_buffer_size() > 0);
        // Dropped while the socket is full: armed, waiting for writability.
    });
    ev.close();
    // The next writer armed on this thread (on another loop) lets go of the
    // closed loop's writers: our socket closes, and the peer sees EOF.
    aio::run(async {
        let (ours, _theirs) = pair();
        let writer = aio::StreamWriter::new(ours);
        writer.write(&loop_tests::pattern(6, BIG));
        assert!(writer.get_write_buffer_size() > 0, "armed");
    });
    let mut got = Vec::new();
    let n = theirs.read_to_end(&mut got).expect("EOF, not a read timeout: the closed loop's writer leaked");
    assert!(n < BIG, "the closed loop could not send everything ({n} bytes)");
    assert_eq!(got, loop_tests::pattern(5, n), "what arrived is the start of the data, in order");
}

#[test]
fn the_writer_is_a_futures_io_sink_with_backpressure_flush_and_close() {
    let _watchdog = loop_tests::watchdog();
    use futures_io::AsyncWrite;
    use std::pin::Pin;
    aio::run(async {
        let (ours, theirs) = pair();
        let mut writer = aio::StreamWriter::new(ours);
        writer.set_write_buffer_limits(64 * 1024, 16 * 1024);
        let read = aio::spawn(async move { aio::StreamReader::new(theirs).read_to_end().await.unwrap() });
        let body = loop_tests::pattern(7, BIG);
        let (mut sent, mut pendings) = (0, 0);
        while sent < body.len() {
            let chunk = &body[sent..(sent + 100_000).min(body.len())];
            let n = std::future::poll_fn(|cx| match Pin::new(&mut writer).poll_write(cx, chunk) {
                std::task::Poll::Pending => {
                    pendings += 1;
                    std::task::Poll::Pending
                }
                ready => ready,
            })
            .await
            .unwrap();
            assert_eq!(n, chunk.len(), "a write takes the whole chunk into the buffer");
            sent += n;
        }
        assert!(pendings > 0, "above the high-water mark poll_write waits (backpressure)");
        std::future::poll_fn(|cx| Pin::new(&mut writer).poll_flush(cx)).await.unwrap();
        assert_eq!(writer.get_write_buffer_size(), 0, "flushed: every byte handed to the OS");
        std::future::poll_fn(|cx| Pin::new(&mut writer).poll_close(cx)).await.unwrap();
        assert!(read.await.unwrap() == body, "every byte, in order, then EOF");
        let err = std::future::poll_fn(|cx| Pin::new(&mut writer).poll_write(cx, b"late")).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    });
}

/// Whether a type implements `AsyncWrite` (autoref specialization: the
/// inherent-looking method on `Probe<T>` wins when the bound holds).
macro_rules! is_async_write {
    ($t:ty) => {{
        struct Probe<T>(std::marker::PhantomData<T>);
        #[allow(dead_code)] // one of the two traits is unused at each call, by design
        trait Yes {
            fn write_probe(&self) -> bool {
                true
            }
        }
        impl<T: futures_io::AsyncWrite> Yes for Probe<T> {}
        #[allow(dead_code)]
        trait No {
            fn write_probe(&self) -> bool {
                false
            }
        }
        impl<T> No for &Probe<T> {}
        (&Probe::<$t>(std::marker::PhantomData)).write_probe()
    }};
}

#[test]
fn read_halves_do_not_write_and_write_halves_and_the_writer_do() {
    let _watchdog = loop_tests::watchdog();
    assert!(!is_async_write!(aio::net::OwnedReadHalf));
    #[cfg(unix)]
    assert!(!is_async_write!(aio::net::UnixReadHalf));
    assert!(is_async_write!(aio::net::OwnedWriteHalf));
    #[cfg(unix)]
    assert!(is_async_write!(aio::net::UnixWriteHalf));
    assert!(is_async_write!(aio::StreamWriter));
    assert!(is_async_write!(aio::net::TcpStream));
}
