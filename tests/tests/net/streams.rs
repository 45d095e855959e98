//! `StreamReader` and `StreamWriter` over TCP: `readuntil`, `readline`,
//! limits, `drain`'s back-pressure, timed-out reads, end of file, and the
//! futures-io traits.

use r#loop as aio;
use r#loop::net::{TcpListener, TcpStream};
use r#loop::{StreamError, StreamReader};
use std::rc::Rc;
use std::time::Duration;

use super::localhost;

#[test]
fn readuntil_limit_overrun_keeps_the_data() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (a, b) = loop_tests::stream_pair();
        let (ra, _wa) = a.into_split();
        let mut reader = StreamReader::with_limit(ra, 16);
        b.write(b"0123456789abcdefXYZ\nrest").await.unwrap();
        let err = reader.readuntil(b"\n").await.unwrap_err();
        let StreamError::LimitOverrun(e) = err else { panic!("expected LimitOverrun, got {err:?}") };
        assert!(e.consumed >= 16);
        // Nothing was lost: the bytes are still there to read.
        assert_eq!(reader.readexactly(20).await.unwrap(), b"0123456789abcdefXYZ\n");
        drop(b);
        let err = reader.readexactly(10).await.unwrap_err();
        let StreamError::IncompleteRead(e) = err else { panic!("expected IncompleteRead") };
        assert_eq!((e.partial, e.expected), (b"rest".to_vec(), Some(10)));
    });
}

/// Python 3.13's `readuntil` with a tuple of separators; the expected
/// values are what CPython 3.13 returns for the same bytes and limits.
#[test]
fn readuntil_any_takes_the_shortest_chunk_ending_in_any_separator() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut r = StreamReader::with_limit(&b"ab\r\ncd\nxyz--end\n"[..], 10);
        assert_eq!(r.readuntil_any(&[b"\n", b"\r\n"]).await.unwrap(), b"ab\r\n");
        assert_eq!(r.readuntil_any(&[b"\r\n", b"\n"]).await.unwrap(), b"cd\n");
        // Both end at the same byte: the shorter separator wins.
        assert_eq!(r.readuntil_any(&[b"--", b"-"]).await.unwrap(), b"xyz-");
        assert_eq!(r.readuntil_any(&[b"end\n", b"d\n"]).await.unwrap(), b"-end\n");
        // The limit counts the bytes before the separator that matched.
        let mut r = StreamReader::with_limit(&b"abcdefgh--"[..], 4);
        let err = r.readuntil_any(&[b"--", b"h-"]).await.unwrap_err();
        let StreamError::LimitOverrun(e) = err else { panic!("expected LimitOverrun, got {err:?}") };
        assert_eq!(e.consumed, 7);
        // At EOF without a match: everything read, as IncompleteRead.
        let mut r = StreamReader::new(&b"abc"[..]);
        let err = r.readuntil_any(&[b"x", b"yz"]).await.unwrap_err();
        let StreamError::IncompleteRead(e) = err else { panic!("expected IncompleteRead, got {err:?}") };
        assert_eq!((e.partial, e.expected), (b"abc".to_vec(), None));
    });
}

#[test]
#[should_panic(expected = "readuntil_any: every separator must be at least one byte")]
fn readuntil_any_refuses_an_empty_separator() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut r = StreamReader::new(&b"abc"[..]);
        let _ = r.readuntil_any(&[b"c", b""]).await;
    });
}

#[test]
fn readline_returns_the_partial_line_at_eof() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (a, b) = loop_tests::stream_pair();
        let mut reader = StreamReader::new(a.into_split().0);
        b.write(b"one\ntwo").await.unwrap();
        drop(b);
        assert_eq!(reader.readline().await.unwrap(), b"one\n");
        assert_eq!(reader.readline().await.unwrap(), b"two");
        assert_eq!(reader.readline().await.unwrap(), b"");
        assert!(reader.at_eof());
    });
}

#[test]
fn a_slow_reader_makes_drain_wait_and_bounds_the_buffer() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_, writer) = aio::open_connection(addr).await.unwrap();
        let (peer, _) = listener.accept().await.unwrap();
        writer.set_write_buffer_limits(64 * 1024, 16 * 1024);
        let chunk = vec![7u8; 8 * 1024];
        let mut max_buffered = 0;
        let mut waited = 0;
        // Nobody reads: the kernel buffers fill, then ours; drain must stop us.
        let stalled = aio::wait_for(
            async {
                loop {
                    writer.write(&chunk);
                    max_buffered = max_buffered.max(writer.get_write_buffer_size());
                    let before = writer.get_write_buffer_size();
                    writer.drain().await.unwrap();
                    if before > 64 * 1024 {
                        waited += 1;
                    }
                }
            },
            Duration::from_millis(300),
        )
        .await;
        assert!(stalled.is_err(), "the writer had to stop");
        assert!(max_buffered > 64 * 1024, "the buffer did reach the high-water mark");
        assert!(max_buffered <= 64 * 1024 + chunk.len(), "never above high water + one write: {max_buffered}");
        // Now the reader catches up and drain returns.
        let reader = aio::spawn(async move {
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0;
            while let Ok(n) = peer.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        writer.drain().await.unwrap();
        assert!(writer.get_write_buffer_size() <= 16 * 1024);
        writer.close();
        assert!(reader.await.unwrap() > 0);
        let _ = waited;
    });
}

#[test]
fn a_timed_out_read_from_a_silent_peer_leaves_the_connection_usable() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = Rc::new(TcpStream::connect(addr).await.unwrap());
        let (peer, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 8];
        let timed_out = aio::wait_for(client.read(&mut buf), Duration::from_millis(20)).await;
        assert!(timed_out.is_err(), "the silent peer sent nothing");
        peer.write_all(b"late").await.unwrap();
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"late");
    });
}

#[test]
fn an_eof_that_arrives_with_the_last_data_is_not_lost() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        for _ in 0..50 {
            let listener = TcpListener::bind(localhost()).await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (peer, _) = listener.accept().await.unwrap();
            // Data and FIN both arrive before the reader looks: one edge.
            peer.write_all(b"last words").await.unwrap();
            drop(peer);
            let mut buf = [0u8; 4096];
            let n = client.read(&mut buf).await.unwrap(); // a short read
            assert_eq!(&buf[..n], b"last words");
            let eof = aio::wait_for(client.read(&mut buf), Duration::from_secs(5)).await;
            assert_eq!(eof.expect("EOF must not be lost after a short read").unwrap(), 0);
        }
    });
}

#[test]
fn stream_reader_is_an_async_buf_read_for_the_ecosystem() {
    let _watchdog = loop_tests::watchdog();
    use futures_io::{AsyncBufRead, AsyncRead};
    use std::pin::Pin;
    aio::run(async {
        let (a, b) = loop_tests::stream_pair();
        let mut reader = StreamReader::new(a.into_split().0);
        b.write(b"line one\nrest").await.unwrap();
        drop(b);
        // Fill, look, consume part: the asyncio methods see the rest.
        let head =
            std::future::poll_fn(|cx| Pin::new(&mut reader).poll_fill_buf(cx).map(|r| r.map(|buf| buf.to_vec())))
                .await
                .unwrap();
        assert!(head.starts_with(b"line one\n"));
        Pin::new(&mut reader).consume(5);
        assert_eq!(reader.readline().await.unwrap(), b"one\n");
        let mut buf = [0u8; 16];
        let n = std::future::poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"rest");
        assert!(reader.read_to_end().await.unwrap().is_empty());
    });
}
