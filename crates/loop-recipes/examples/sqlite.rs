//! rusqlite (a blocking library) on `loop`'s blocking pool: each call is a
//! job, so the loop never waits on the disk.
//!
//! ```text
//! cargo run -p loop-recipes --example sqlite
//! ```

use r#loop as aio;
use rusqlite::Connection;
use std::sync::{Arc, Mutex};

/// A connection whose calls run on the loop's blocking pool.
#[derive(Clone)]
struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    async fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut Connection) -> R + Send + 'static) -> R {
        let conn = self.conn.clone();
        aio::unblock(move || f(&mut conn.lock().unwrap_or_else(|e| e.into_inner()))).await
    }
}

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conn = aio::unblock(Connection::open_in_memory).await?;
    let db = Db { conn: Arc::new(Mutex::new(conn)) };
    db.call(|c| c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('one'), ('two');")).await?;
    // Tasks share the connection; the mutex takes their calls in turn.
    let counts = aio::try_gather((0..3).map(|_| {
        let db = db.clone();
        async move { db.call(|c| c.query_row("SELECT count(*) FROM notes", [], |r| r.get::<_, i64>(0))).await }
    }))
    .await?;
    println!("counts: {counts:?}");
    assert_eq!(counts, [2, 2, 2]);
    Ok(())
}
