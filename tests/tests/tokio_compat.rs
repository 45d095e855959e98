//! A tokio-only library (reqwest) called from inside `loop::run` through
//! `loop::compat::tokio`, against a local server.

use r#loop as aio;
use std::future::Future;
use std::time::Duration;

/// A one-page HTTP/1.1 server on the loop.
async fn hello_server() -> aio::Server {
    aio::start_server(
        |mut reader, writer| async move {
            while let Ok(line) = reader.readline().await {
                if line == b"\r\n" || line.is_empty() {
                    break;
                }
            }
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello, loop");
            writer.close();
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap()
}

#[test]
fn reqwest_runs_inside_loop_run_through_the_compat_wrapper() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let server = hello_server().await;
        let url = format!("http://{}/", server.local_addr().unwrap());
        // Ten concurrent requests, each a tokio-only future on a loop task.
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let url = url.clone();
                aio::spawn(aio::compat::tokio(async move {
                    let response = reqwest::get(&url).await?;
                    assert_eq!(response.status(), 200);
                    response.text().await
                }))
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "hello, loop");
        }
        // tokio's own timer works too, bounded by loop's wait_for.
        // (Made inside the wrapper: a tokio timer needs the context when it
        // is created, not only when polled.)
        let sleep = aio::compat::tokio(async { tokio::time::sleep(Duration::from_millis(5)).await });
        let slept = aio::wait_for(sleep, Duration::from_secs(5));
        assert!(slept.await.is_ok(), "tokio's timer fired through the compat reactor");
        server.close();
        server.wait_closed().await;
    });
}

/// A tokio-only call made on a loop without compat panics with tokio's
/// "no reactor running"; the task's error carries loop's hint on what to
/// do (docs/ecosystem.md, compat::tokio, the tokio-io feature).
#[test]
fn a_tokio_only_call_without_compat_fails_with_a_hint() {
    let _watchdog = loop_tests::watchdog();
    let err = aio::run(async {
        aio::spawn(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        })
        .await
        .unwrap_err()
    });
    let aio::TaskError::Panicked(message) = err else { panic!("expected a panic, got {err:?}") };
    assert!(message.contains("Tokio 1.x runtime"), "{message}");
    assert!(message.ends_with(aio::TOKIO_HINT), "{message}");
    assert!(message.contains("loop::compat::tokio") && message.contains("docs/ecosystem.md"));
}

/// Outside a task (in `main`, as `#[loop::main]` runs it), the panic hook
/// that `install_tokio_panic_hint` adds prints the hint after tokio's
/// message.
#[test]
fn the_panic_hook_prints_the_hint_after_tokios_message() {
    let _watchdog = loop_tests::watchdog();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_child")).arg("tokio-without-compat").output().unwrap();
    assert!(!out.status.success(), "tokio panicked");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tokio_at = stderr.find("Tokio 1.x runtime").unwrap_or_else(|| panic!("tokio's message: {stderr}"));
    let hint_at = stderr.find(aio::TOKIO_HINT).unwrap_or_else(|| panic!("the hint: {stderr}"));
    assert!(tokio_at < hint_at, "the hint comes after tokio's message: {stderr}");
}

/// On Linux the loop's thread drives tokio itself: a tokio task spawned in
/// a compat future runs on the loop's thread, and tokio sockets work there.
#[cfg(target_os = "linux")]
#[test]
fn compat_tasks_and_sockets_run_on_the_loop_thread() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let loop_thread = std::thread::current().id();
        let ran_on = aio::compat::tokio(async { tokio::spawn(async { std::thread::current().id() }).await.unwrap() });
        assert_eq!(ran_on.await, loop_thread, "tokio's task ran on the loop's thread");
        // A tokio listener and client in one compat future: both sides are
        // tokio sockets, driven by the loop's park.
        let echoed = aio::compat::tokio(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 5];
                socket.read_exact(&mut buf).await.unwrap();
                socket.write_all(&buf).await.unwrap();
            });
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut buf = vec![0; 5];
            client.read_exact(&mut buf).await.unwrap();
            server.await.unwrap();
            buf
        });
        assert_eq!(echoed.await, b"hello");
    });
}

/// A tokio task outlives the compat future that spawned it, and the two
/// runtimes hand a token back and forth 100 times: the loop's own sockets,
/// timers and cross-thread wakes keep working while its park runs inside
/// tokio's driver, and a loop task woken by tokio's work ends that park.
#[cfg(target_os = "linux")]
#[test]
fn loop_and_tokio_hand_work_back_and_forth_on_one_thread() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (to_tokio, mut from_loop) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let to_loop = aio::sync::Queue::<u32>::new(0);
        let back = to_loop.clone();
        // The compat future ends at once; its tokio task lives on.
        aio::compat::tokio(async move {
            tokio::spawn(async move {
                while let Some(n) = from_loop.recv().await {
                    back.put(n + 1).await.unwrap();
                }
            });
        })
        .await;
        let mut n = 0;
        for _ in 0..100 {
            to_tokio.send(n).unwrap();
            n = to_loop.get().await.unwrap();
        }
        assert_eq!(n, 100);
        // The loop's own timer, socket and a wake from another thread.
        aio::sleep(Duration::from_millis(2)).await;
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = aio::spawn(async move { listener.accept().await.map(|_| ()) });
        let _client = aio::net::TcpStream::connect(addr).await.unwrap();
        accept.await.unwrap().unwrap();
        assert_eq!(aio::to_thread(|| 7).await.unwrap(), 7);
    });
}

/// A tokio socket returned by a compat future is read after that future
/// ended, outside any compat wrapper: the loop thread keeps driving tokio.
#[cfg(target_os = "linux")]
#[test]
fn a_tokio_socket_outlives_its_compat_future() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        use tokio::io::AsyncReadExt;
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut socket = aio::compat::tokio(async move { tokio::net::TcpStream::connect(addr).await.unwrap() }).await;
        let (server, _) = listener.accept().await.unwrap();
        let reader = aio::spawn(async move {
            let mut buf = [0u8; 4];
            socket.read_exact(&mut buf).await.map(|_| buf)
        });
        // The reader is parked on tokio's readiness before the bytes exist.
        aio::sleep(Duration::ZERO).await;
        server.write_all(b"late").await.unwrap();
        assert_eq!(&reader.await.unwrap().unwrap(), b"late");
    });
}

/// Three loops, one after another on one thread: each reactor's epoll fd
/// is new (the OS may give an old number again), and tokio's driver is
/// pointed at the right one each time.
#[cfg(target_os = "linux")]
#[test]
fn compat_across_successive_loops_on_one_thread() {
    let _watchdog = loop_tests::watchdog();
    for round in 0..3u64 {
        let got = aio::run(async move {
            let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // A loop socket accepted while the loop parks inside tokio.
            let accept = aio::spawn(async move { listener.accept().await.map(|_| ()) });
            aio::compat::tokio(async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                tokio::net::TcpStream::connect(addr).await.unwrap();
            })
            .await;
            accept.await.unwrap().unwrap();
            aio::sleep(Duration::from_millis(1)).await;
            round
        });
        assert_eq!(got, round);
    }
}

/// Polled where no loop runs (a plain thread with a hand-made executor),
/// a compat future runs on the process-wide tokio thread instead.
#[test]
fn compat_polled_off_a_loop_runs_on_tokios_own_thread() {
    let _watchdog = loop_tests::watchdog();
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let here = std::thread::current().id();
    let mut fut = std::pin::pin!(aio::compat::tokio(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::spawn(async { std::thread::current().id() }).await.unwrap()
    }));
    let ran_on = loop {
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(id) => break id,
            std::task::Poll::Pending => std::thread::park(),
        }
    };
    assert_ne!(ran_on, here, "the tokio task ran on tokio's thread");
}
