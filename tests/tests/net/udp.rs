//! UDP over 127.0.0.1.

use r#loop as aio;
use r#loop::net::UdpSocket;

use super::localhost;

#[test]
fn udp_round_trip() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let a = UdpSocket::bind(localhost()).await.unwrap();
        let b = UdpSocket::bind(localhost()).await.unwrap();
        a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
        b.connect(from).unwrap();
        b.send(b"pong").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
    });
}
