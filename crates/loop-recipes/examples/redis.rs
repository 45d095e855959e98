//! redis natively on `loop`: a `MultiplexedConnection` over a `loop`
//! TcpStream (feature `tokio-io`), its driver a `loop` task. redis's own
//! timeouts use tokio's timer, so they are off; bound calls with
//! `aio::wait_for`.
//!
//! ```text
//! REDIS_ADDR=127.0.0.1:6379 cargo run -p loop-recipes --example redis
//! ```
//! (`cargo xtask ci` runs it against the redis-server it starts.)

use r#loop as aio;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, RedisConnectionInfo};
use std::time::Duration;

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("REDIS_ADDR")
        .or_else(|_| std::env::var("LOOP_TEST_REDIS"))
        .unwrap_or_else(|_| "127.0.0.1:6379".into());
    let stream = aio::net::TcpStream::connect(addr.as_str()).await?;
    let config = AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(None);
    let (mut conn, driver) =
        MultiplexedConnection::new_with_config(&RedisConnectionInfo::default(), stream, config).await?;
    aio::spawn(driver).detach();

    let _: () = conn.set("recipe:hello", "world").await?;
    let value: String = aio::wait_for(conn.get("recipe:hello"), Duration::from_secs(5)).await??;
    println!("recipe:hello = {value}");
    assert_eq!(value, "world");
    Ok(())
}
