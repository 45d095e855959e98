//! Servers closing: `close_clients` gives every handler end of file and
//! `wait_closed` returns, on TCP and Unix servers.

use r#loop as aio;

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
