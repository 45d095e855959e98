//! Regression tests of the defects found outside loopback's happy path
//! (issue 10): each failed on the code before its fix.

use r#loop as aio;
use r#loop::sync::{BoundedSemaphore, Queue, Semaphore};
use r#loop::{EventLoop, StreamError, StreamReader, StreamWriter};
use std::future::pending;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_io::AsyncRead;

/// A listening TCP socket with a backlog of one that nobody accepts from:
/// once its queue is full, further handshakes stall (the kernel drops the
/// SYNs and the client retransmits), as they would to a slow remote host.
fn unaccepting_listener() -> (socket2::Socket, SocketAddr) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).unwrap();
    sock.listen(1).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    (sock, addr)
}

/// Defect 1: a connect whose handshake is not instant used to fail with
/// ENOTCONN (or hand back an unconnected stream) at once.
#[test]
fn a_connect_whose_handshake_stalls_waits_for_it_instead_of_failing() {
    let _watchdog = loop_tests::watchdog();
    let (listener, addr) = unaccepting_listener();
    aio::run(async move {
        let mut connected = Vec::new();
        let mut stalled = None;
        for attempt in 0..500 {
            match aio::wait_for(aio::net::TcpStream::connect(addr), Duration::from_millis(200)).await {
                Ok(Ok(stream)) => {
                    stream.peer_addr().expect("a connected stream has a peer");
                    connected.push(stream);
                }
                Ok(Err(e)) => panic!("connect {attempt} failed while the handshake was pending: {e}"),
                Err(aio::TimeoutError { .. }) => {
                    stalled = Some(attempt);
                    break;
                }
            }
        }
        let stalled = stalled.expect("the listener's backlog filled up and a handshake stalled");
        assert!(stalled >= 1, "the first connect fits in the backlog");
        // Now the listener accepts: a stalled connect completes (after the
        // client's SYN retransmit, about a second).
        let backlog = connected.len();
        let acceptor = std::thread::spawn(move || {
            let mut accepted = Vec::new();
            listener.set_nonblocking(false).unwrap();
            for _ in 0..backlog + 1 {
                accepted.push(listener.accept().unwrap());
            }
            accepted.len()
        });
        let late = aio::wait_for(aio::net::TcpStream::connect(addr), Duration::from_secs(20))
            .await
            .expect("the connect completes once the listener accepts")
            .expect("and it succeeds");
        assert_eq!(late.peer_addr().unwrap(), addr);
        drop(late);
        assert!(aio::to_thread(move || acceptor.join().unwrap()).await.unwrap() >= 2);
    });
}

#[cfg(unix)]
/// Defect 1, Unix flavour: a full backlog is refused at once by the OS;
/// that must be an error, never an unconnected stream.
#[test]
fn a_unix_connect_to_a_full_backlog_is_an_error_not_an_unconnected_stream() {
    let _watchdog = loop_tests::watchdog();
    let dir = std::env::temp_dir().join(format!("loop-defects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("backlog.sock");
    let _ = std::fs::remove_file(&path);
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    sock.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    sock.listen(1).unwrap();
    aio::run(async {
        let mut refused = 0;
        let mut ok = Vec::new();
        for _ in 0..64 {
            match aio::net::UnixStream::connect(&path).await {
                Ok(s) => {
                    s.peer_addr().expect("a connected Unix stream has a peer");
                    ok.push(s);
                }
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
                    assert!(e.to_string().contains("backlog is full"), "the message says why: {e}");
                    refused += 1;
                }
            }
        }
        assert!(!ok.is_empty(), "the backlog holds at least one");
        assert!(refused > 0, "a full backlog refuses");
    });
    drop(sock);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Defect 2: a putter that hands its item straight to a waiting getter
/// frees the slot it was granted; the next putter must get it.
#[test]
fn a_bounded_queue_keeps_granting_slots_after_a_direct_hand_off() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let q = Rc::new(Queue::new(1));
        q.put_nowait(1).unwrap();
        let putters: Vec<_> = [2, 3]
            .into_iter()
            .map(|i| {
                let q = q.clone();
                aio::spawn(async move { q.put(i).await.unwrap() })
            })
            .collect();
        aio::yield_now().await;
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                aio::spawn(async move { q.get().await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for g in getters {
            got.push(g.await.unwrap());
        }
        assert_eq!(got, [1, 2]);
        for p in putters {
            aio::wait_for(p, Duration::from_secs(5))
                .await
                .expect("the second putter was granted the free slot")
                .unwrap();
        }
        assert_eq!(q.get_nowait(), Ok(3));
        q.put_nowait(4).expect("an empty queue takes an item");
    });
}

/// Defect 3: closing a writer over a child's stdin closes the pipe, so
/// `cat` sees EOF and exits.
#[test]
fn closing_a_stream_writer_over_child_stdin_gives_the_child_eof() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut child = aio::process::Command::new(env!("CARGO_BIN_EXE_child"))
            .arg("cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let writer = StreamWriter::new(child.stdin.take().unwrap());
        writer.write(b"to cat and back");
        writer.close();
        writer.wait_closed().await.unwrap();
        let mut out = StreamReader::new(child.stdout.take().unwrap());
        let text = aio::wait_for(out.read_to_end(), Duration::from_secs(10)).await.expect("cat saw EOF").unwrap();
        assert_eq!(text, b"to cat and back");
        assert!(child.wait().await.unwrap().success());
    });
}

/// Defect 5: a duration too long to add to an `Instant` means "never", it
/// does not panic inside std.
#[test]
fn huge_durations_mean_never_and_do_not_panic() {
    let _watchdog = loop_tests::watchdog();
    let ev = EventLoop::builder().paused_clock().build().unwrap();
    let t0 = ev.time();
    ev.run_until_complete(async {
        let never = aio::wait_for(aio::sleep(Duration::MAX), Duration::from_millis(10)).await;
        assert!(never.is_err(), "sleep(Duration::MAX) is still asleep after 10 ms");
        assert_eq!(aio::wait_for(async { 5 }, Duration::MAX).await, Ok(5));
        assert_eq!(aio::wait_for(aio::sleep(Duration::from_secs(3600)), Duration::MAX).await, Ok(()));
        assert_eq!(aio::TimeoutScope::after(Duration::MAX).run(async { 7 }).await, Ok(7));
        let lp = aio::get_running_loop();
        let fired = Rc::new(std::cell::Cell::new(false));
        let f = fired.clone();
        let handle = lp.call_later(Duration::MAX, move || f.set(true));
        let mut every = aio::interval(Duration::MAX);
        every.tick().await;
        let second = aio::wait_for(every.tick(), Duration::from_secs(86_400)).await;
        assert!(second.is_err(), "the second tick of interval(MAX) never comes");
        assert!(!fired.get());
        handle.cancel();
    });
    // The paused clock moved only for the finite waits: it did not jump to
    // a "never" deadline.
    let moved = ev.time() - t0;
    assert_eq!(moved, Duration::from_millis(10) + Duration::from_secs(3600) + Duration::from_secs(86_400));
    // Past the timer wheel's two-year span, a "never" sleep still does not
    // fire: three years on, it is asleep.
    let three_years = Duration::from_secs(3 * 365 * 86_400);
    let t1 = ev.time();
    let r = ev.run_until_complete(aio::wait_for(aio::sleep(Duration::MAX), three_years));
    assert!(r.is_err());
    assert_eq!(ev.time() - t1, three_years);
}

/// An in-memory stream that hands out at most `chunk` bytes per read and
/// counts how many bytes of buffer it was offered in all.
struct Chunked {
    left: usize,
    chunk: usize,
    offered: u128,
    next: u8,
}

impl AsyncRead for Chunked {
    fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.offered += buf.len() as u128;
        let n = buf.len().min(self.chunk).min(self.left);
        for b in &mut buf[..n] {
            *b = self.next;
            self.next = self.next.wrapping_add(1);
        }
        self.left -= n;
        Poll::Ready(Ok(n))
    }
}

/// Defect 6: `readexactly(n)` asked for all n bytes on every read (and
/// zero-filled that much), quadratic in n; `usize::MAX` panicked.
#[test]
fn readexactly_reads_incrementally_and_takes_any_length() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        const TOTAL: usize = 16 << 20;
        let mut reader = StreamReader::new(Chunked { left: TOTAL, chunk: 64 << 10, offered: 0, next: 0 });
        let data = reader.readexactly(TOTAL).await.unwrap();
        assert_eq!(data.len(), TOTAL);
        assert!(data.iter().enumerate().all(|(i, &b)| b == i as u8), "every byte in order");
        let offered = reader.get_ref().offered;
        assert!(offered <= 8 * TOTAL as u128, "buffer offered to reads: {offered} bytes for {TOTAL} (quadratic?)");

        let mut short = StreamReader::new(Chunked { left: 10, chunk: 4, offered: 0, next: 0 });
        match short.readexactly(usize::MAX).await {
            Err(StreamError::IncompleteRead(e)) => {
                assert_eq!(e.partial.len(), 10);
                assert_eq!(e.expected, Some(usize::MAX));
            }
            other => panic!("expected IncompleteRead, got {other:?}"),
        }
        let mut wide = StreamReader::with_limit(Chunked { left: 10, chunk: 4, offered: 0, next: 0 }, usize::MAX);
        assert!(matches!(wide.readuntil(b"\xff\xfe").await, Err(StreamError::IncompleteRead(_))));
        let mut huge = StreamReader::new(Chunked { left: 10, chunk: 4, offered: 0, next: 0 });
        assert_eq!(huge.read(usize::MAX).await.unwrap().len(), 4);
    });
}

/// Defect 7: awaiting a task of another loop on the same thread hung; it
/// is misuse, reported with the task and where it was spawned.
#[test]
fn awaiting_a_task_of_another_loop_panics_with_a_message() {
    let _watchdog = loop_tests::watchdog();
    let first = EventLoop::new().unwrap();
    let second = EventLoop::new().unwrap();
    let task = aio::TaskBuilder::new().name("belongs-to-first").spawn_on(first.loop_ref(), pending::<()>());
    let err = catch_unwind(AssertUnwindSafe(|| second.run_until_complete(task))).expect_err("a panic, not a hang");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("belongs-to-first") && msg.contains("another event loop"), "message: {msg}");
}

#[cfg(unix)]
/// Defect 8: a write after `close()` was dropped silently and `drain` /
/// `wait_closed` said `Ok`.
#[test]
fn a_write_after_close_is_an_error_the_caller_sees() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (ours, theirs) = aio::net::UnixStream::pair().unwrap();
        let writer = StreamWriter::new(ours);
        writer.write(b"before");
        writer.close();
        writer.write(b"after");
        let e = writer.drain().await.expect_err("drain reports the write after close");
        assert!(e.to_string().contains("after close"), "{e}");
        assert!(writer.wait_closed().await.is_err());
        let got = StreamReader::new(theirs).read_to_end().await.unwrap();
        assert_eq!(got, b"before", "what was written before close is still sent");
    });
}

/// Defect 9: `acquire_many(n)` with more permits than the semaphore can
/// ever hold waited forever.
#[test]
fn acquire_many_beyond_what_can_ever_be_held_panics_with_a_message() {
    let _watchdog = loop_tests::watchdog();
    let bounded = BoundedSemaphore::new(2);
    let err = catch_unwind(AssertUnwindSafe(|| drop(bounded.acquire_many(3)))).expect_err("refused");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("acquire_many(3)") && msg.contains("at most 2"), "message: {msg}");
    let plain = Semaphore::new(1);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(plain.acquire_many(usize::MAX)))).is_err());
    // Within what the semaphore can hold, it waits for releases (documented).
    aio::run(async {
        let sem = Rc::new(Semaphore::new(2));
        let s = sem.clone();
        let waiter = aio::spawn(async move { s.acquire_many(5).await.count() });
        aio::yield_now().await;
        assert!(!waiter.is_done());
        sem.release(3);
        assert_eq!(waiter.await.unwrap(), 5);
    });
}

/// Found by the soak run: every `StreamReader` used to keep a 64 KiB
/// buffer (10,000 idle connections: 500 MiB). Reads now start small and
/// grow only while they fill what they are offered.
#[test]
fn a_reader_of_small_messages_reads_small_and_a_bulk_reader_grows() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut small = StreamReader::new(Chunked { left: 100 * 300, chunk: 100, offered: 0, next: 0 });
        for _ in 0..300 {
            assert_eq!(small.read(64 * 1024).await.unwrap().len(), 100);
        }
        let offered = small.get_ref().offered;
        assert!(offered <= 300 * 16 * 1024, "small messages got reads of {} bytes on average", offered / 300);
        let mut bulk = StreamReader::new(Chunked { left: 8 << 20, chunk: usize::MAX, offered: 0, next: 0 });
        let mut reads = 0;
        while !bulk.read(1 << 20).await.unwrap().is_empty() {
            reads += 1;
        }
        // Up to 64 KiB (the limit) per read once grown, not 8 KiB (1,024).
        assert!(reads <= 140, "8 MiB took {reads} reads: the read size did not grow");
    });
}
