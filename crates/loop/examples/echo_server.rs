//! An echo server on asyncio-style streams.
//!
//! `cargo run --example echo_server -- 127.0.0.1:7000`, then
//! `cargo run --example echo_client -- 127.0.0.1:7000`.

use r#loop as aio;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".into());
    aio::run(async move {
        let server = aio::start_server(
            |mut reader, writer| async move {
                let peer = writer.peer_addr();
                while let Ok(line) = reader.readline().await {
                    if line.is_empty() {
                        break; // EOF
                    }
                    writer.write(&line);
                    if writer.drain().await.is_err() {
                        break;
                    }
                }
                println!("{peer:?} disconnected");
            },
            addr.as_str(),
        )
        .await?;
        println!("echo server on {}", server.local_addr().unwrap());
        server.serve_forever().await;
        Ok(())
    })
}
