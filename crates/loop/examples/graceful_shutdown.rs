//! A server that shuts down gracefully on SIGTERM (or Ctrl-C): it stops
//! accepting, gives the open connections up to 5 s to finish, cancels
//! whatever is left, and exits 0.
//!
//! `cargo run --example graceful_shutdown`, then `kill -TERM <pid>` (on
//! Windows, which has no SIGTERM: Ctrl+C in its console).

use r#loop as aio;
#[cfg(unix)]
use r#loop::signal::{Signals, SIGINT, SIGTERM};
use std::time::Duration;

#[aio::main]
async fn main() -> std::io::Result<()> {
    #[cfg(unix)]
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    let server = aio::start_server(
        |mut reader, writer| async move {
            // A slow protocol: one line in, one line out, a second apart.
            while let Ok(line) = reader.readline().await {
                if line.is_empty() {
                    break;
                }
                aio::sleep(Duration::from_secs(1)).await;
                writer.write(&line);
                if writer.drain().await.is_err() {
                    break;
                }
            }
        },
        "127.0.0.1:0",
    )
    .await?;
    println!("pid {} serving on {}", std::process::id(), server.local_addr().unwrap());
    #[cfg(unix)]
    let sig = signals.recv().await?;
    #[cfg(not(unix))]
    let sig = aio::signal::ctrl_c().await.map(|()| "Ctrl+C")?;
    println!("signal {sig}: no new connections; waiting for {} open ones", server.active_clients());
    server.close();
    if aio::wait_for(server.wait_closed(), Duration::from_secs(5)).await.is_err() {
        println!("connections still open after 5 s: cancelling them");
        server.abort_clients();
        server.wait_closed().await;
    }
    println!("clean exit");
    Ok(())
}
