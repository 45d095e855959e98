//! sqlx on `loop` through `compat::tokio`, the documented way for a
//! library that needs tokio's runtime (sqlx's pool spawns tokio tasks and
//! uses tokio's timers). Against the real PostgreSQL `cargo xtask ci`
//! starts (`LOOP_TEST_POSTGRES`).

use r#loop as aio;
use std::str::FromStr;

#[test]
fn sqlx_runs_through_compat() {
    let _watchdog = loop_tests::watchdog();
    let Some(url) = loop_tests::service("LOOP_TEST_POSTGRES") else { return };
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else { panic!("a TCP host") };
    let url = format!(
        "postgres://{}@{host}:{}/{}",
        config.get_user().unwrap(),
        config.get_ports()[0],
        config.get_dbname().unwrap()
    );
    aio::run(async move {
        // Everything sqlx makes (the pool, its connections) is made inside
        // the compat future.
        let (one, sum) = aio::compat::tokio(async move {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&url).await?;
            let one: (i32,) = sqlx::query_as("SELECT $1::INT4").bind(1i32).fetch_one(&pool).await?;
            let mut sum = 0i64;
            for i in 0..50i64 {
                let (n,): (i64,) = sqlx::query_as("SELECT $1::INT8 * 2").bind(i).fetch_one(&pool).await?;
                sum += n;
            }
            pool.close().await;
            Ok::<_, sqlx::Error>((one.0, sum))
        })
        .await
        .unwrap();
        assert_eq!(one, 1);
        assert_eq!(sum, (0..50).map(|i| i * 2).sum::<i64>());
        // The loop went on meanwhile: its timers still work.
        aio::sleep(std::time::Duration::from_millis(1)).await;
    });
}
