//! async-tungstenite natively on `loop`: it works over any futures-io
//! stream, and `loop`'s sockets are futures-io streams (no feature, no
//! tokio). A server and a client on one loop; text, binary, close, and
//! the same through the fault-injecting proxy (small segments, latency).

use async_tungstenite::tungstenite::Message;
use futures_util::StreamExt;
use loop_tests::proxy::{Faults, Proxy};
use r#loop as aio;

/// An echo server: every text or binary message comes back.
async fn echo_server(listener: aio::net::TcpListener) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        aio::spawn(async move {
            let mut ws = async_tungstenite::accept_async(stream).await.unwrap();
            while let Some(message) = ws.next().await {
                match message.unwrap() {
                    m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await.unwrap(),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        })
        .detach();
    }
}

async fn round_trips(addr: std::net::SocketAddr, big: usize) {
    let stream = aio::net::TcpStream::connect(addr).await.unwrap();
    let (mut ws, response) = async_tungstenite::client_async(format!("ws://{addr}/echo"), stream).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    let payload: Vec<u8> = (0..big).map(|i| i as u8).collect();
    ws.send(Message::binary(payload.clone())).await.unwrap();
    // Control frames may come between; then the echo.
    let echoed = loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => break b,
            Message::Pong(_) | Message::Ping(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(&echoed[..], &payload[..]);
    ws.close(None).await.unwrap();
}

#[test]
fn a_websocket_echo_on_one_loop() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(echo_server(listener));
        round_trips(addr, 1 << 20).await;
        server.cancel();
    });
}

/// 64-byte segments and 1 ms each way. (Not 1-byte segments: tungstenite
/// refuses a handshake that arrives in more than 64 packets averaging
/// under 128 bytes, as a denial-of-service attempt: `AttackAttempt`.)
#[test]
fn a_websocket_echo_through_small_segments_and_latency() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(echo_server(listener));
        let faults = Faults {
            segment: Some(64),
            latency_up: std::time::Duration::from_millis(1),
            latency_down: std::time::Duration::from_millis(1),
            ..Faults::default()
        };
        let proxy = Proxy::tcp(addr, faults);
        round_trips(proxy.addr(), 64 * 1024).await;
        assert!(proxy.stats().bytes_down.load(std::sync::atomic::Ordering::Relaxed) > 64 * 1024);
        server.cancel();
    });
}
