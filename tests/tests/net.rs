//! Networking on real sockets over 127.0.0.1.

use loop_tests::echo_server;
use r#loop as aio;
#[cfg(unix)]
use r#loop::net::UnixDatagram;
use r#loop::net::{Async, TcpListener, TcpStream, UdpSocket};
use r#loop::{StreamError, StreamReader};
use std::io;
#[cfg(unix)]
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn a_thousand_concurrent_connections_echo_every_byte() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let server = echo_server().await;
        let addr = server.local_addr().unwrap();
        let clients: Vec<_> = (0..1000u32)
            .map(|i| {
                aio::spawn(async move {
                    let (mut reader, writer) = aio::open_connection(addr).await?;
                    let msg: Vec<u8> = (0..512).map(|j| (i as usize * 31 + j) as u8).collect();
                    writer.write(&msg);
                    writer.drain().await?;
                    let back = reader.readexactly(msg.len()).await?;
                    assert_eq!(back, msg, "client {i} got its own bytes back");
                    Ok::<_, StreamError>(())
                })
            })
            .collect();
        for (i, c) in clients.into_iter().enumerate() {
            c.await.unwrap().unwrap_or_else(|e| panic!("client {i}: {e}"));
        }
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn sixty_four_mib_through_one_connection_with_a_checksum() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        const TOTAL: usize = 64 << 20;
        let receiver = aio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut reader = StreamReader::new(stream.into_split().0);
            let (mut n, mut sum) = (0usize, 0u64);
            loop {
                let chunk = reader.read(256 * 1024).await.unwrap();
                if chunk.is_empty() {
                    break;
                }
                for &b in &chunk {
                    sum = sum.wrapping_mul(31).wrapping_add(b as u64);
                }
                n += chunk.len();
            }
            (n, sum)
        });
        let (_, writer) = aio::open_connection(addr).await.unwrap();
        let mut expected = 0u64;
        let block: Vec<u8> = (0..1 << 20).map(|i: usize| (i * 7 % 251) as u8).collect();
        for _ in 0..64 {
            for &b in &block {
                expected = expected.wrapping_mul(31).wrapping_add(b as u64);
            }
            writer.write(&block);
            writer.drain().await.unwrap();
        }
        writer.write_eof();
        let (n, sum) = receiver.await.unwrap();
        assert_eq!(n, TOTAL);
        assert_eq!(sum, expected);
    });
}

#[test]
fn write_eof_is_a_half_close_the_peer_sees_as_eof() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let server = aio::start_server(
            |mut reader, writer| async move {
                let all = reader.read_to_end().await.unwrap(); // returns at the client's EOF
                writer.write(format!("got {} bytes", all.len()).as_bytes());
                writer.close();
            },
            localhost(),
        )
        .await
        .unwrap();
        let (mut reader, writer) = aio::open_connection(server.local_addr().unwrap()).await.unwrap();
        writer.write(b"hello");
        writer.write_eof();
        // Our read side still works after our half-close.
        assert_eq!(reader.read_to_end().await.unwrap(), b"got 5 bytes");
        assert!(reader.at_eof());
    });
}

// Wine's `recv` after a reset reports EOF, not WSAECONNRESET (a Wine
// difference; the drain half is covered by the proxy's reset tests).
#[cfg_attr(windows, ignore = "Wine reports EOF, not WSAECONNRESET, on a read after RST")]
#[test]
fn a_reset_peer_is_an_error_on_read_and_on_drain() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut reader, writer) = aio::open_connection(addr).await.unwrap();
        let (peer, _) = listener.accept().await.unwrap();
        // Linger 0: closing sends RST instead of FIN.
        socket2::SockRef::from(&peer).set_linger(Some(Duration::ZERO)).unwrap();
        drop(peer);
        let read = reader.read(100).await;
        assert!(matches!(&read, Err(e) if e.kind() == io::ErrorKind::ConnectionReset), "read after RST: {read:?}");
        let mut drained = Ok(());
        for _ in 0..100 {
            writer.write(&[0u8; 4096]);
            drained = writer.drain().await;
            if drained.is_err() {
                break;
            }
            aio::yield_now().await;
        }
        let e = drained.expect_err("drain reports the reset");
        assert!(matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe), "drain error: {e:?}");
    });
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // bound, then closed
        let err = TcpStream::connect(port).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

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

#[cfg(unix)]
#[test]
fn a_dropped_listener_closes_its_fd() {
    let _watchdog = loop_tests::watchdog();
    use std::os::fd::AsRawFd;
    aio::run(async {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let fd = listener.as_raw_fd();
        let path = format!("/proc/self/fd/{fd}");
        let before = std::fs::read_link(&path).unwrap();
        assert!(before.to_string_lossy().starts_with("socket:"));
        drop(listener);
        // Gone, or reused by another test for something else.
        assert_ne!(std::fs::read_link(&path).ok(), Some(before));
    });
}

#[cfg(unix)]
#[test]
fn async_over_a_pipe() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (r, mut w) = std::io::pipe().unwrap();
        let r = Async::new(r).unwrap();
        let writer = aio::spawn_blocking(move || {
            w.write_all(b"through the pipe").unwrap();
        });
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 16 {
            let n = r.read_with(|mut p| p.read(&mut buf)).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got, b"through the pipe");
    });
}

#[test]
fn udp_round_trip() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let a = UdpSocket::bind(localhost()).await.unwrap();
        let b = UdpSocket::bind(localhost()).await.unwrap();
        a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
        b.connect(from).unwrap();
        b.send(b"pong").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
    });
}

#[cfg(unix)]
#[test]
fn unix_stream_server_and_datagrams() {
    let _watchdog = loop_tests::watchdog();
    let dir = std::env::temp_dir().join(format!("loop-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let p = path.clone();
    aio::run(async move {
        let server = aio::start_unix_server(
            |mut reader, writer| async move {
                let line = reader.readline().await.unwrap();
                writer.write(&line.to_ascii_uppercase());
                writer.close();
            },
            &p,
        )
        .await
        .unwrap();
        let (mut reader, writer) = aio::open_unix_connection(&p).await.unwrap();
        writer.write(b"shout\n");
        assert_eq!(reader.readline().await.unwrap(), b"SHOUT\n");
        server.close();
        server.wait_closed().await;

        let (x, y) = UnixDatagram::pair().unwrap();
        x.send(b"dgram").await.unwrap();
        let mut buf = [0u8; 8];
        let n = y.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"dgram");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn unix_streams_write_all_and_wait_for_readiness_like_tcp_streams() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (a, b) = aio::net::UnixStream::pair().unwrap();
        assert!(a.peer_addr().unwrap().is_unnamed() && b.local_addr().unwrap().is_unnamed());
        a.writable().await.unwrap();
        // More than a socket buffer: write_all has to wait for the reader.
        let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
        let writer = aio::spawn(async move {
            a.write_all(&data).await.unwrap();
            a.shutdown(std::net::Shutdown::Write).unwrap();
            data
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            b.readable().await.unwrap();
            let n = b.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == writer.await.unwrap(), "the bytes arrive whole and in order");
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

#[test]
fn bind_and_connect_take_host_port_strings_and_resolve_names_off_the_loop() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // A name ("localhost", from the hosts file: no network needed),
        // looked up by the loop's resolver on the blocking pool.
        let listener = TcpListener::bind("localhost:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listener.local_addr().unwrap().ip().is_loopback());
        let accept = aio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        let client = TcpStream::connect(format!("localhost:{port}")).await.unwrap();
        let server = accept.await.unwrap().unwrap();
        client.write_all(b"named").await.unwrap();
        let mut buf = [0u8; 5];
        let mut got = 0;
        while got < 5 {
            got += server.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"named");
        // An (ip, port) pair and a numeric string need no lookup.
        let l2 = TcpListener::bind(("127.0.0.1".parse::<std::net::IpAddr>().unwrap(), 0)).await.unwrap();
        let addr = l2.local_addr().unwrap();
        let accept = aio::spawn(async move { l2.accept().await.map(drop) });
        TcpStream::connect(addr.to_string()).await.unwrap();
        accept.await.unwrap().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(udp.local_addr().unwrap().ip().to_string(), "127.0.0.1");
        // A refused connection on every address is the last address's error.
        let closed = TcpListener::bind_addr(localhost()).unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let err = TcpStream::connect(dead).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn sockets_are_send_and_sync_and_work_from_another_loops_thread() {
    let _watchdog = loop_tests::watchdog();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TcpStream>();
    send_sync::<TcpListener>();
    send_sync::<UdpSocket>();
    send_sync::<aio::net::OwnedReadHalf>();
    send_sync::<aio::net::OwnedWriteHalf>();
    #[cfg(unix)]
    {
        send_sync::<aio::net::UnixStream>();
        send_sync::<aio::net::UnixListener>();
        send_sync::<aio::net::UnixReadHalf>();
        send_sync::<aio::net::UnixWriteHalf>();
        send_sync::<UnixDatagram>();
    }
    send_sync::<Async<std::net::TcpStream>>();

    // A second loop on its own thread.
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let ev = aio::EventLoop::new().unwrap();
        handle_tx.send(ev.handle()).unwrap();
        ev.run_until_complete(async move {
            aio::spawn_blocking(move || stop_rx.recv().ok()).await.unwrap();
        });
        ev.close();
    });
    let handle = handle_rx.recv().unwrap();
    aio::run(async move {
        let listener = TcpListener::bind(localhost()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        // The client, registered here, is driven by a task of the other loop
        // (its wake-ups cross threads); this loop keeps running meanwhile.
        let there = handle
            .spawn_threadsafe(async move {
                client.write_all(b"from another thread").await.unwrap();
                let mut buf = [0u8; 4];
                let mut got = 0;
                while got < 4 {
                    got += client.read(&mut buf[got..]).await.unwrap();
                }
                (client, buf)
            })
            .unwrap();
        let mut buf = [0u8; 19];
        let mut got = 0;
        while got < buf.len() {
            got += server.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"from another thread");
        server.write_all(b"back").await.unwrap();
        let (client, reply) = there.await.unwrap();
        assert_eq!(&reply, b"back");
        // Moved back to this loop's reactor, it works without the other.
        let client = client.reregister().unwrap();
        stop_tx.send(()).unwrap();
        client.write_all(b"!").await.unwrap();
        let mut one = [0u8; 1];
        assert_eq!(server.read(&mut one).await.unwrap(), 1);
        assert_eq!(&one, b"!");
    });
    other.join().unwrap();
}

/// Python 3.13's `start_unix_server(cleanup_socket=True)`: closing the
/// server removes its socket file, unless the path was replaced meanwhile;
/// `cleanup_socket(false)` keeps it.
#[cfg(unix)]
#[test]
fn a_unix_server_removes_its_socket_file_when_closed_unless_replaced_or_kept() {
    let _watchdog = loop_tests::watchdog();
    let dir = std::env::temp_dir().join(format!("loop-unix-cleanup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    aio::run(async {
        let path = dir.join("removed.sock");
        let server = aio::start_unix_server(loop_tests::echo_lines, &path).await.unwrap();
        assert!(path.exists());
        server.close();
        server.wait_closed().await;
        assert!(!path.exists(), "closing removed the socket file");

        let path = dir.join("kept.sock");
        let server = aio::start_unix_server(loop_tests::echo_lines, &path).await.unwrap();
        server.cleanup_socket(false);
        server.close();
        server.wait_closed().await;
        assert!(path.exists(), "cleanup_socket(false) keeps the file");

        let path = dir.join("replaced.sock");
        let server = aio::start_unix_server(loop_tests::echo_lines, &path).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"someone else's").unwrap();
        drop(server); // dropping stops it too
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's", "a replaced path is left alone");
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// CPython `test_server.test_close_clients` (3.13): a handler waiting in
/// `read()` sees EOF once `close()` and `close_clients()` ran, finishes,
/// and `wait_closed()` returns. The client still gets what the handler
/// wrote after the EOF, then EOF itself. Several clients, each of which
/// sent a line the handler read before waiting.
#[test]
fn close_clients_gives_every_handler_eof_and_wait_closed_returns() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let lines_read = std::rc::Rc::new(std::cell::Cell::new(0));
        let counter = lines_read.clone();
        let server = aio::start_server(
            move |mut reader, writer| {
                let counter = counter.clone();
                async move {
                    let line = reader.readline().await.unwrap();
                    counter.set(counter.get() + 1);
                    let rest = reader.read_to_end().await.unwrap();
                    writer.write(format!("{} then {} bytes\n", line.len(), rest.len()).as_bytes());
                }
            },
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let mut clients = Vec::new();
        for i in 0..3 {
            let (reader, writer) = aio::open_connection(addr).await.unwrap();
            let mut line = vec![b'x'; i * 1000];
            line.push(b'\n');
            writer.write(&line);
            writer.drain().await.unwrap();
            clients.push((reader, writer));
        }
        while lines_read.get() < 3 {
            aio::yield_now().await;
        }
        let closed = aio::spawn(async move {
            server.close();
            server.close_clients();
            server.wait_closed().await;
            server.active_clients()
        });
        assert_eq!(closed.await, Ok(0), "every handler finished");
        for (i, (mut reader, _writer)) in clients.into_iter().enumerate() {
            let answer = String::from_utf8(reader.readline().await.unwrap()).unwrap();
            assert_eq!(answer, format!("{} then 0 bytes\n", i * 1000 + 1));
            assert!(reader.read_to_end().await.unwrap().is_empty(), "then the connection closed");
        }
    });
}

/// Without `close_clients`, `wait_closed` waits for handlers that read
/// (asyncio: `close()` alone leaves them), so close_clients is what ends
/// them; a Unix server the same.
#[cfg(unix)]
#[test]
fn close_clients_ends_a_unix_servers_readers_too() {
    let _watchdog = loop_tests::watchdog();
    let dir = std::env::temp_dir().join(format!("loop-close-clients-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    aio::run(async {
        let server = aio::start_unix_server(
            |mut reader, writer| async move {
                let first = reader.readexactly(3).await.unwrap();
                let rest = reader.read_to_end().await.unwrap();
                writer.write(format!("read {} then {} bytes\n", first.len(), rest.len()).as_bytes());
            },
            &path,
        )
        .await
        .unwrap();
        let (mut reader, writer) = aio::open_unix_connection(&path).await.unwrap();
        writer.write(b"abc");
        writer.drain().await.unwrap();
        while server.active_clients() == 0 {
            aio::yield_now().await;
        }
        server.close();
        // Still one handler, waiting for EOF.
        for _ in 0..3 {
            aio::yield_now().await;
        }
        assert_eq!(server.active_clients(), 1, "close() alone leaves the handler reading");
        server.close_clients();
        server.wait_closed().await;
        assert_eq!(reader.readline().await.unwrap(), b"read 3 then 0 bytes\n");
        drop(writer);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
