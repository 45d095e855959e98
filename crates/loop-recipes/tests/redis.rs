//! redis natively on `loop` (feature `tokio-io`; no tokio runtime): a
//! `MultiplexedConnection` over a `loop` TcpStream, its driver a `loop`
//! task, against the real redis-server `cargo xtask ci` starts
//! (`LOOP_TEST_REDIS`). redis's own timeouts are off (they would need
//! tokio's timer); `aio::wait_for` bounds a call instead.

use r#loop as aio;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, PushKind, RedisConnectionInfo};
use std::time::Duration;

/// Connects over a `loop` TcpStream and runs the connection's driver as a
/// task (the recipe of docs/ecosystem.md).
async fn connect(addr: &str, info: RedisConnectionInfo, config: AsyncConnectionConfig) -> MultiplexedConnection {
    let stream = aio::net::TcpStream::connect(addr).await.expect("connect to redis");
    let config = config.set_response_timeout(None).set_connection_timeout(None);
    let (conn, driver) = MultiplexedConnection::new_with_config(&info, stream, config).await.expect("redis handshake");
    aio::spawn(driver).detach();
    conn
}

#[test]
fn get_set_and_pipelines() {
    let _watchdog = loop_tests::watchdog();
    let Some(addr) = loop_tests::service("LOOP_TEST_REDIS") else { return };
    aio::run(async move {
        let mut conn = connect(&addr, RedisConnectionInfo::default(), AsyncConnectionConfig::new()).await;
        let _: () = conn.set("loop:greeting", "hello").await.unwrap();
        let got: String = conn.get("loop:greeting").await.unwrap();
        assert_eq!(got, "hello");

        // 100 INCRs at once over clones of one multiplexed connection.
        let _: () = conn.del("loop:counter").await.unwrap();
        let counts = aio::try_gather((0..100).map(|_| {
            let mut conn = conn.clone();
            async move { conn.incr::<_, _, i64>("loop:counter", 1).await }
        }))
        .await
        .unwrap();
        assert_eq!(counts.iter().max(), Some(&100));
        let total: i64 = conn.get("loop:counter").await.unwrap();
        assert_eq!(total, 100);

        // An atomic pipeline.
        let (a, b): (i64, String) = redis::pipe()
            .atomic()
            .incr("loop:counter", 5)
            .set("loop:greeting", "bye")
            .ignore()
            .get("loop:greeting")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!((a, b.as_str()), (105, "bye"));
    });
}

/// Pub/sub on a RESP3 connection: the messages come as pushes, handed to a
/// tokio `mpsc` channel (tokio's sync types need no runtime).
#[test]
fn publish_and_subscribe() {
    let _watchdog = loop_tests::watchdog();
    let Some(addr) = loop_tests::service("LOOP_TEST_REDIS") else { return };
    aio::run(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let info = RedisConnectionInfo::default().set_protocol(redis::ProtocolVersion::RESP3);
        let mut subscriber = connect(&addr, info, AsyncConnectionConfig::new().set_push_sender(tx)).await;
        subscriber.subscribe("loop:news").await.unwrap();
        let mut publisher = connect(&addr, RedisConnectionInfo::default(), AsyncConnectionConfig::new()).await;
        let receivers: i64 = publisher.publish("loop:news", "extra, extra").await.unwrap();
        assert_eq!(receivers, 1);
        let message = loop {
            let push = aio::wait_for(rx.recv(), Duration::from_secs(10)).await.unwrap().expect("a push");
            if push.kind == PushKind::Message {
                break push;
            }
        };
        let payload: String = redis::from_redis_value(message.data[1].clone()).unwrap();
        assert_eq!(payload, "extra, extra");
    });
}

/// The server drops a connection (`CLIENT KILL`): its next command fails
/// with an error, not a hang, and a new connection works.
#[test]
fn a_dropped_connection_is_an_error_then_a_reconnect_works() {
    let _watchdog = loop_tests::watchdog();
    let Some(addr) = loop_tests::service("LOOP_TEST_REDIS") else { return };
    aio::run(async move {
        let mut victim = connect(&addr, RedisConnectionInfo::default(), AsyncConnectionConfig::new()).await;
        let id: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut victim).await.unwrap();
        let mut admin = connect(&addr, RedisConnectionInfo::default(), AsyncConnectionConfig::new()).await;
        let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async(&mut admin).await.unwrap();
        assert_eq!(killed, 1);
        let after = aio::wait_for(victim.get::<_, Option<String>>("loop:greeting"), Duration::from_secs(10)).await;
        let err = after.expect("an answer, not a hang").expect_err("the connection is gone");
        assert!(err.is_connection_dropped() || err.is_io_error() || err.is_unrecoverable_error(), "{err:?}");
        let mut fresh = connect(&addr, RedisConnectionInfo::default(), AsyncConnectionConfig::new()).await;
        let pong: String = redis::cmd("PING").query_async(&mut fresh).await.unwrap();
        assert_eq!(pong, "PONG");
    });
}
