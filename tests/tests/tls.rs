//! TLS on real sockets with certificates made at test time: the handshake,
//! 16 MiB each way at once, and every failure a typed error, never a hang.

use r#loop as aio;
use r#loop::tls::{rustls, TlsError};
use std::sync::Arc;

/// A CA, and a server config for `names` signed by it.
struct Pki {
    roots: rustls::RootCertStore,
    server: Arc<rustls::ServerConfig>,
}

fn pki(names: &[&str]) -> Pki {
    pki_from("loop test CA", names)
}

/// `pki` with a CA named `ca_name`.
fn pki_from(ca_name: &str, names: &[&str]) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let server = aio::tls::server_config(vec![leaf.der().clone(), ca.der().clone()], key).unwrap();
    Pki { roots, server }
}

/// An echo server over TLS; returns the server.
async fn tls_echo(config: Arc<rustls::ServerConfig>) -> aio::Server {
    aio::tls::start_server(loop_tests::echo_lines, "127.0.0.1:0", config).await.unwrap()
}

#[test]
fn a_handshake_with_sni_then_lines_echo_over_tls() {
    let _watchdog = loop_tests::watchdog();
    let pki = pki(&["localhost"]);
    aio::run(async move {
        let server = tls_echo(pki.server.clone()).await;
        let addr = server.local_addr().unwrap();
        let config = aio::tls::client_config_with_roots(pki.roots.clone());
        let (mut reader, writer) = aio::tls::open_connection(addr, "localhost", config).await.unwrap();
        for line in [&b"hello\n"[..], b"over tls\n"] {
            writer.write(line);
            assert_eq!(reader.readline().await.unwrap(), line);
        }
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn sixteen_mib_each_way_at_the_same_time() {
    let _watchdog = loop_tests::watchdog();
    const N: usize = 16 << 20;
    let pki = pki(&["localhost"]);
    aio::run(async move {
        let server = aio::tls::start_server(
            |mut reader, writer| async move {
                // Send ours while reading theirs.
                let send = aio::spawn(async move {
                    writer.write(&loop_tests::pattern(2, N));
                    writer.close();
                    writer.wait_closed().await.unwrap();
                });
                let got = reader.readexactly(N).await.unwrap();
                assert!(got == loop_tests::pattern(1, N), "the server got the client's bytes in order");
                send.await.unwrap();
            },
            "127.0.0.1:0",
            pki.server.clone(),
        )
        .await
        .unwrap();
        let config = aio::tls::client_config_with_roots(pki.roots.clone());
        let (mut reader, writer) =
            aio::tls::open_connection(server.local_addr().unwrap(), "localhost", config).await.unwrap();
        let send = aio::spawn(async move {
            writer.write(&loop_tests::pattern(1, N));
            writer.drain().await.unwrap();
            writer
        });
        let got = reader.readexactly(N).await.unwrap();
        assert!(got == loop_tests::pattern(2, N), "the client got the server's bytes in order");
        let writer = send.await.unwrap();
        writer.close();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn an_unknown_issuer_is_a_typed_error() {
    let _watchdog = loop_tests::watchdog();
    let pki = pki(&["localhost"]);
    aio::run(async move {
        let server = tls_echo(pki.server.clone()).await;
        // Trusting another CA only.
        let other = pki_from("another CA", &["localhost"]);
        let config = aio::tls::client_config_with_roots(other.roots);
        let err = aio::tls::connect(server.local_addr().unwrap(), "localhost", config).await.unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::Handshake(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
            ),
            "{err:?}"
        );
        // The server survives its failed handshake.
        let good = aio::tls::client_config_with_roots(pki.roots.clone());
        assert!(aio::tls::connect(server.local_addr().unwrap(), "localhost", good).await.is_ok());
        server.close();
    });
}

#[test]
fn a_hostname_mismatch_is_a_typed_error() {
    let _watchdog = loop_tests::watchdog();
    let pki = pki(&["localhost"]);
    aio::run(async move {
        let server = tls_echo(pki.server.clone()).await;
        let config = aio::tls::client_config_with_roots(pki.roots.clone());
        let err = aio::tls::connect(server.local_addr().unwrap(), "example.com", config).await.unwrap_err();
        match &err {
            TlsError::Handshake(rustls::Error::InvalidCertificate(c)) => {
                assert!(format!("{c:?}").contains("NotValidForName"), "{c:?}")
            }
            other => panic!("expected a name mismatch, got {other:?}"),
        }
        let err = aio::tls::connect(server.local_addr().unwrap(), "not a name!", aio::tls::client_config())
            .await
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidServerName(_)), "{err:?}");
        server.close();
    });
}

#[test]
fn a_peer_closing_mid_handshake_is_closed_not_a_hang() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        // Reads the ClientHello, then hangs up.
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rude = aio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 16];
            let _ = s.read(&mut buf).await;
        });
        let err = aio::tls::connect(addr, "localhost", aio::tls::client_config()).await.unwrap_err();
        assert!(matches!(err, TlsError::Closed), "{err:?}");
        rude.await.unwrap();
    });
}

#[test]
fn a_plaintext_peer_on_a_tls_port_is_a_handshake_error_both_ways() {
    let _watchdog = loop_tests::watchdog();
    let pki = pki(&["localhost"]);
    aio::run(async move {
        // A plaintext server answering the ClientHello with HTTP.
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let http = aio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        });
        let err = aio::tls::connect(addr, "localhost", aio::tls::client_config()).await.unwrap_err();
        assert!(matches!(err, TlsError::Handshake(_)), "{err:?}");
        http.await.unwrap();
        // A plaintext client on the TLS server: its connection is closed,
        // the handler never runs, and the server goes on.
        let server = tls_echo(pki.server.clone()).await;
        let (mut reader, writer) = aio::open_connection(server.local_addr().unwrap()).await.unwrap();
        writer.write(b"GET / HTTP/1.1\r\n\r\n");
        let rest = reader.read_to_end().await.unwrap_or_default();
        assert!(!rest.windows(3).any(|w| w == b"GET"), "the plaintext was never echoed");
        let config = aio::tls::client_config_with_roots(pki.roots.clone());
        let (mut reader, writer) =
            aio::tls::open_connection(server.local_addr().unwrap(), "localhost", config).await.unwrap();
        writer.write(b"still serving\n");
        assert_eq!(reader.readline().await.unwrap(), b"still serving\n");
        server.close();
    });
}

#[test]
fn a_silent_peer_times_the_handshake_out() {
    let _watchdog = loop_tests::watchdog();
    // The paused clock jumps the 60 s when nothing else can happen.
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    ev.run_until_complete(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = aio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        let err = aio::tls::connect(addr, "localhost", aio::tls::client_config()).await.unwrap_err();
        assert!(matches!(err, TlsError::HandshakeTimeout(_)), "{err:?}");
        drop(silent.await.unwrap());
    });
    ev.close();
}

#[test]
fn tls_survives_one_byte_segments_latency_and_a_reset_is_an_error() {
    let _watchdog = loop_tests::watchdog();
    use loop_tests::proxy::{Faults, Proxy};
    use std::time::Duration;
    let pki = pki(&["localhost"]);
    aio::run(async move {
        let server = tls_echo(pki.server.clone()).await;
        let config = aio::tls::client_config_with_roots(pki.roots.clone());
        // Every TLS record cut into 1-byte segments, with latency both ways.
        let proxy = Proxy::tcp(
            server.local_addr().unwrap(),
            Faults {
                latency_up: Duration::from_millis(1),
                latency_down: Duration::from_millis(2),
                segment: Some(1),
                ..Faults::default()
            },
        );
        let (mut reader, writer) = aio::tls::open_connection(proxy.addr(), "localhost", config.clone()).await.unwrap();
        let line =
            [&loop_tests::pattern(3, 2000).iter().map(|b| b'a' + b % 26).collect::<Vec<u8>>()[..], b"\n"].concat();
        writer.write(&line);
        assert_eq!(reader.readline().await.unwrap(), line);
        // A reset in the middle of the stream: an error, not a hang or bad data.
        let resetting =
            Proxy::tcp(server.local_addr().unwrap(), Faults { reset_after: Some(3000), ..Faults::default() });
        let (mut reader, writer) = aio::tls::open_connection(resetting.addr(), "localhost", config).await.unwrap();
        writer.write(&[b'x'; 60_000]);
        writer.write(b"\n");
        match reader.readexactly(60_001).await {
            Err(aio::StreamError::IncompleteRead(_) | aio::StreamError::Io(_)) => {}
            other => panic!("a reset connection must fail the read, got {:?}", other.map(|b| b.len())),
        }
        assert_eq!(resetting.stats().resets.load(std::sync::atomic::Ordering::SeqCst), 1, "the proxy did reset");
        server.close();
    });
}
