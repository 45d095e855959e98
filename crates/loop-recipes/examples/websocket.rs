//! WebSockets with async-tungstenite natively on `loop`: it takes any
//! futures-io stream, and `loop`'s sockets are ones. An echo server and a
//! client on one loop.
//!
//! ```text
//! cargo run -p loop-recipes --example websocket
//! ```

use async_tungstenite::tungstenite::Message;
use futures_util::StreamExt;
use r#loop as aio;

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    aio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            aio::spawn(async move {
                let Ok(mut ws) = async_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() || message.is_binary() {
                        let _ = ws.send(message).await;
                    }
                }
            })
            .detach();
        }
    })
    .detach();

    let stream = aio::net::TcpStream::connect(addr).await?;
    let (mut ws, _) = async_tungstenite::client_async(format!("ws://{addr}/"), stream).await?;
    ws.send(Message::text("hello over a websocket")).await?;
    let echo = ws.next().await.ok_or("the server closed")??;
    println!("echo: {echo}");
    assert_eq!(echo, Message::text("hello over a websocket"));
    ws.close(None).await?;
    Ok(())
}
