//! sqlx, which needs tokio's runtime (its pool spawns tokio tasks and uses
//! tokio's timers), through `loop::compat::tokio`. For PostgreSQL,
//! tokio-postgres runs natively instead (`--example postgres`).
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo run -p loop-recipes --example sqlx
//! ```
//! (`cargo xtask ci` runs it against the PostgreSQL server it starts.)

use r#loop as aio;

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        // The key=value form `cargo xtask ci` gives, as a URL.
        Err(_) => std::env::var("LOOP_TEST_POSTGRES").map(|kv| {
            let get =
                |k: &str| kv.split(' ').find_map(|p| p.strip_prefix(&format!("{k}="))).unwrap_or_default().to_owned();
            format!("postgres://{}@{}:{}/{}", get("user"), get("host"), get("port"), get("dbname"))
        })?,
    };
    // Everything sqlx makes is made inside the compat future.
    let (answer,): (i32,) = aio::compat::tokio(async move {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await?;
        let row = sqlx::query_as("SELECT $1::INT4 + 1").bind(41i32).fetch_one(&pool).await?;
        pool.close().await;
        Ok::<_, sqlx::Error>(row)
    })
    .await?;
    println!("answer: {answer}");
    assert_eq!(answer, 42);
    Ok(())
}
