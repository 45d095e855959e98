//! Unix-only descriptors: pipes through `Async`, Unix stream and datagram
//! sockets, and a Unix server's socket file.

use r#loop as aio;
use r#loop::net::Async;
use r#loop::net::UnixDatagram;
use std::io::{Read, Write};

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

/// Python 3.13's `start_unix_server(cleanup_socket=True)`: closing the
/// server removes its socket file, unless the path was replaced meanwhile;
/// `cleanup_socket(false)` keeps it.
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
