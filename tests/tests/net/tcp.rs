//! TCP on real sockets over 127.0.0.1: many connections, bulk data, half
//! close, resets, refused connections, name resolution, sockets used from
//! another loop's thread, listeners closing their fd.

use loop_tests::echo_server;
use r#loop as aio;
#[cfg(unix)]
use r#loop::net::UnixDatagram;
use r#loop::net::{Async, TcpListener, TcpStream, UdpSocket};
use r#loop::{StreamError, StreamReader};
use std::io;
use std::time::Duration;

use super::localhost;

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
