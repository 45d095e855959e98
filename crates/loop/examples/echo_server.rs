//! An echo server on asyncio-style streams; Ctrl-C stops it cleanly.
//!
//! `cargo run --example echo_server -- 127.0.0.1:7000`, then
//! `cargo run --example echo_client -- 127.0.0.1:7000`.

use r#loop as aio;

#[aio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".into());
    let server = aio::start_server(
        |mut reader, writer| async move {
            let peer = writer.peer_addr().map_or_else(|| "a client".to_string(), |a| a.to_string());
            while let Ok(line) = reader.readline().await {
                if line.is_empty() {
                    break; // EOF
                }
                writer.write(&line);
                if writer.drain().await.is_err() {
                    break;
                }
            }
            println!("{peer} disconnected");
        },
        addr.as_str(),
    )
    .await?;
    println!("echo server on {} (Ctrl-C stops it)", server.local_addr().unwrap());
    aio::signal::ctrl_c().await?;
    println!("stopping: no new connections; waiting for the open ones to finish");
    server.close();
    server.wait_closed().await;
    Ok(())
}
