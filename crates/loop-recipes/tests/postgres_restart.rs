//! A PostgreSQL server that restarts in the middle of a query: the query
//! fails with a clear error, the connection task ends, and a new
//! connection works. A test binary of its own: the restart would break
//! the other PostgreSQL tests' connections.

use r#loop as aio;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::{Config, NoTls};

#[test]
fn a_server_restart_mid_query_is_an_error_then_a_reconnect_works() {
    let _watchdog = loop_tests::watchdog();
    let Some(url) = loop_tests::service("LOOP_TEST_POSTGRES") else { return };
    let Some(restart) = loop_tests::service("LOOP_TEST_POSTGRES_RESTART") else { return };
    let config = Config::from_str(&url).unwrap();
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else { panic!("a TCP host") };
    let addr = format!("{host}:{}", config.get_ports()[0]);
    aio::run(async move {
        let stream = aio::net::TcpStream::connect(addr.as_str()).await.unwrap();
        let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
        let connection = aio::spawn(connection);
        let query = aio::spawn(async move { client.query("SELECT pg_sleep(30)", &[]).await.map(|_| ()) });
        // The query is running once the server lists it.
        let (probe_client, probe) = {
            let stream = aio::net::TcpStream::connect(addr.as_str()).await.unwrap();
            config.connect_raw(stream, NoTls).await.unwrap()
        };
        let probe = aio::spawn(probe);
        loop {
            let n: i64 = probe_client
                .query_one("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'", &[])
                .await
                .unwrap()
                .get(0);
            if n == 1 {
                break;
            }
            aio::sleep(Duration::from_millis(10)).await;
        }
        let restarted = aio::to_thread(move || std::process::Command::new("sh").args(["-c", &restart]).status());
        let error = query.await.unwrap().expect_err("the restart ends the query");
        // The server says why (FATAL 57P01: "terminating connection due to
        // administrator command"), or the connection is reported closed.
        let shutdown = error.code() == Some(&tokio_postgres::error::SqlState::ADMIN_SHUTDOWN);
        assert!(shutdown || error.is_closed(), "{error:?}");
        // The connection task ends (it does not hang on the dead socket).
        let _ended = connection.await.unwrap();
        drop(probe_client);
        let _ = probe.await;
        assert!(restarted.await.unwrap().unwrap().success(), "pg_ctl restart");
        // A new connection works.
        let stream = aio::net::TcpStream::connect(addr.as_str()).await.unwrap();
        let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
        let _connection = aio::spawn(connection);
        assert_eq!(client.query_one("SELECT 7", &[]).await.unwrap().get::<_, i32>(0), 7);
    });
}
