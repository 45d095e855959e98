//! A tokio-only library (reqwest) called from inside `loop::run` through
//! `loop::compat::tokio`, against a local server.

use r#loop as aio;
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
