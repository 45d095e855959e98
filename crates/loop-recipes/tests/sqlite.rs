//! rusqlite (blocking) on `loop`'s blocking pool: each call is a job
//! (`aio::unblock`), so the loop never waits on the disk. One connection
//! behind a mutex, shared by concurrent tasks; a transaction of 1,000
//! inserts; a failing statement is an error, a panicking job the awaiting
//! task's error, and the connection stays usable after both.

use r#loop as aio;
use rusqlite::{params, Connection};
use std::sync::{Arc, Mutex};

/// A SQLite connection that runs its work on the loop's blocking pool
/// (the recipe of docs/ecosystem.md).
#[derive(Clone)]
struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    async fn open(path: std::path::PathBuf) -> rusqlite::Result<Db> {
        let conn = aio::unblock(move || Connection::open(path)).await?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` with the connection on a pool thread.
    async fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut Connection) -> R + Send + 'static) -> R {
        let conn = self.conn.clone();
        aio::unblock(move || f(&mut conn.lock().unwrap_or_else(|e| e.into_inner()))).await
    }
}

#[test]
fn sqlite_on_the_blocking_pool() {
    let _watchdog = loop_tests::watchdog();
    let dir = std::env::temp_dir().join(format!("loop-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("test.db");
    aio::run(async move {
        let db = Db::open(path).await.unwrap();
        db.call(|c| c.execute_batch("CREATE TABLE t (n INTEGER NOT NULL)")).await.unwrap();
        db.call(|c| {
            let tx = c.transaction()?;
            for n in 0..1000 {
                tx.execute("INSERT INTO t VALUES (?1)", params![n])?;
            }
            tx.commit()
        })
        .await
        .unwrap();
        // Ten tasks query at once; the mutex takes them in turn on the pool.
        let sums = aio::gather((0..10i64).map(|k| {
            let db = db.clone();
            aio::spawn(async move {
                db.call(move |c| {
                    c.query_row("SELECT sum(n) FROM t WHERE n % 10 = ?1", params![k], |r| r.get::<_, i64>(0))
                })
                .await
            })
        }))
        .await;
        let total: i64 = sums.into_iter().map(|s| s.unwrap().unwrap()).sum();
        assert_eq!(total, (0..1000).sum::<i64>());
        // A failing statement is an error value.
        let err = db.call(|c| c.execute("INSERT INTO t VALUES (NULL)", [])).await.unwrap_err();
        assert!(err.to_string().contains("NOT NULL"), "{err}");
        // A panicking job fails its task; the connection stays usable.
        let db2 = db.clone();
        let panicked = aio::spawn(async move { db2.call(|_| -> () { panic!("job boom") }).await }).await;
        assert_eq!(panicked, Err(aio::TaskError::Panicked("job boom".into())));
        let count = db.call(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))).await.unwrap();
        assert_eq!(count, 1000);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
