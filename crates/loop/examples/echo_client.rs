//! Sends a few lines to the echo server and prints the replies.
//!
//! `cargo run --example echo_client -- 127.0.0.1:7000`

use r#loop as aio;
use std::time::Duration;

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".into());
    let (mut reader, writer) = aio::open_connection(addr.as_str()).await?;
    for line in ["hello\n", "from the loop\n", "bye\n"] {
        writer.write(line.as_bytes());
        writer.drain().await?;
        let reply = aio::wait_for(reader.readline(), Duration::from_secs(5)).await??;
        print!("echo: {}", String::from_utf8_lossy(&reply));
    }
    writer.close();
    Ok(())
}
