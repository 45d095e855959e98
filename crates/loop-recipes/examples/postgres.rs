//! tokio-postgres natively on `loop`: no tokio runtime, no compat thread.
//! The sockets implement tokio's I/O traits (feature `tokio-io`), so
//! `Config::connect_raw` takes a `loop` TcpStream, and the connection's
//! future runs as a `loop` task.
//!
//! ```text
//! DATABASE_URL="host=127.0.0.1 user=postgres" cargo run -p loop-recipes --example postgres
//! ```
//! (`cargo xtask ci` runs it against the PostgreSQL server it starts.)

use r#loop as aio;
use std::str::FromStr;
use tokio_postgres::{Config, NoTls};

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .or_else(|_| std::env::var("LOOP_TEST_POSTGRES"))
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".into());
    let config = Config::from_str(&url)?;
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else { return Err("a TCP host".into()) };
    let stream = aio::net::TcpStream::connect((host.as_str(), config.get_ports()[0])).await?;
    let (client, connection) = config.connect_raw(stream, NoTls).await?;
    aio::spawn(connection).detach(); // drives the socket; ends when `client` is dropped

    // Queries on one connection run concurrently (pipelined).
    let squares = aio::try_gather((1..=5i32).map(|i| {
        let client = &client;
        async move { client.query_one("SELECT $1::INT4 * $1", &[&i]).await.map(|r| r.get::<_, i32>(0)) }
    }))
    .await?;
    println!("squares: {squares:?}");
    assert_eq!(squares, [1, 4, 9, 16, 25]);
    Ok(())
}
