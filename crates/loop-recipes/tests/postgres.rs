//! tokio-postgres natively on `loop` (feature `tokio-io`: the sockets
//! implement tokio's I/O traits; no tokio runtime), against the real
//! PostgreSQL server `cargo xtask ci` starts (`LOOP_TEST_POSTGRES`).

use r#loop as aio;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// The server's address and the configuration to log in with.
fn config() -> Option<(Config, String)> {
    let url = loop_tests::service("LOOP_TEST_POSTGRES")?;
    let config = Config::from_str(&url).expect("LOOP_TEST_POSTGRES parses");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        other => panic!("a TCP host, not {other:?}"),
    };
    let addr = format!("{host}:{}", config.get_ports()[0]);
    Some((config, addr))
}

/// Connects over a `loop` TcpStream and runs the connection as a task
/// (the recipe of docs/ecosystem.md).
async fn connect(config: &Config, addr: &str) -> (Client, aio::Task<Result<(), tokio_postgres::Error>>) {
    let stream = aio::net::TcpStream::connect(addr).await.expect("connect to PostgreSQL");
    let (client, connection) = config.connect_raw(stream, NoTls).await.expect("log in");
    (client, aio::spawn(connection))
}

#[test]
fn queries_prepared_statements_and_transactions() {
    let _watchdog = loop_tests::watchdog();
    let Some((config, addr)) = config() else { return };
    aio::run(async move {
        let (mut client, connection) = connect(&config, &addr).await;
        let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 2);

        // 100 queries at once on one connection (tokio-postgres pipelines
        // them), gathered.
        let doubled = aio::try_gather((0..100i32).map(|i| {
            let client = &client;
            async move { client.query_one("SELECT $1::INT4 * 2", &[&i]).await.map(|r| r.get::<_, i32>(0)) }
        }))
        .await
        .unwrap();
        assert_eq!(doubled, (0..100).map(|i| i * 2).collect::<Vec<_>>());

        // A prepared statement, run with several parameters.
        let statement = client.prepare("SELECT $1::TEXT || '!'").await.unwrap();
        for word in ["a", "bb", "ccc"] {
            let row = client.query_one(&statement, &[&word]).await.unwrap();
            assert_eq!(row.get::<_, String>(0), format!("{word}!"));
        }

        // A transaction: rolled back, then committed.
        client.batch_execute("CREATE TEMP TABLE t (n INT4)").await.unwrap();
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        tx.rollback().await.unwrap();
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
        tx.commit().await.unwrap();
        let rows: Vec<i32> = client.query("SELECT n FROM t", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(rows, [2]);

        drop(client);
        connection.await.unwrap().unwrap();
    });
}

/// A 10 MiB value each way: the socket's reads and writes run many times
/// (and the cooperative budget makes the connection task yield between).
#[test]
fn a_ten_mebibyte_row_each_way() {
    let _watchdog = loop_tests::watchdog();
    let Some((config, addr)) = config() else { return };
    aio::run(async move {
        let (client, _connection) = connect(&config, &addr).await;
        let big = "x".repeat(10 << 20);
        let row = client.query_one("SELECT length($1::TEXT), repeat('y', 10485760)", &[&big]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 10 << 20);
        let back: String = row.get(1);
        assert_eq!(back.len(), 10 << 20);
        assert!(back.bytes().all(|b| b == b'y'));
    });
}

/// A query abandoned by `wait_for` leaves the connection usable; the
/// server-side cancel (over a second `loop` socket) ends the abandoned
/// query at once instead of after its 30 s.
#[test]
fn a_query_cancelled_by_wait_for_leaves_the_connection_usable() {
    let _watchdog = loop_tests::watchdog();
    let Some((config, addr)) = config() else { return };
    aio::run(async move {
        let (client, _connection) = connect(&config, &addr).await;
        let slow = aio::wait_for(client.query("SELECT pg_sleep(30)", &[]), Duration::from_millis(100)).await;
        assert!(slow.is_err(), "timed out");
        let cancel = aio::net::TcpStream::connect(addr.as_str()).await.unwrap();
        client.cancel_token().cancel_query_raw(cancel, NoTls).await.unwrap();
        let started = std::time::Instant::now();
        let row = client.query_one("SELECT 'still here'", &[]).await.unwrap();
        assert_eq!(row.get::<_, &str>(0), "still here");
        // Far below the abandoned query's 30 s: the cancel reached it.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "waited {:?} behind the cancelled query",
            started.elapsed()
        );
    });
}
