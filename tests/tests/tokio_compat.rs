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
