//! A small service that hangs, to look at with `loop-inspect`:
//!
//! ```sh
//! cargo run --example stuck_service &
//! cargo run -p loop-inspect -- ps $!        # every task, what it waits on, where
//! cargo run -p loop-inspect -- pstree $!    # who waits for whom: a deadlock
//! ```
//!
//! Two workers take the same two locks in opposite orders and deadlock;
//! the others wait on a queue nobody fills and on a connection that sends
//! nothing. It runs until killed.

use r#loop as aio;
use std::rc::Rc;
use std::time::Duration;

#[aio::main]
async fn main() {
    println!("pid {}", std::process::id());
    let accounts = Rc::new(aio::sync::Lock::new());
    let ledger = Rc::new(aio::sync::Lock::new());

    let (a, l) = (accounts.clone(), ledger.clone());
    let transfer = aio::TaskBuilder::new().name("transfer").spawn(async move {
        let _accounts = a.acquire().await;
        aio::sleep(Duration::from_millis(10)).await;
        let _ledger = l.acquire().await;
    });
    let (a, l) = (accounts.clone(), ledger.clone());
    let audit = aio::TaskBuilder::new().name("audit").spawn(async move {
        let _ledger = l.acquire().await;
        aio::sleep(Duration::from_millis(10)).await;
        let _accounts = a.acquire().await;
    });

    let jobs = Rc::new(aio::sync::Queue::<String>::new(100));
    for i in 0..2 {
        let jobs = jobs.clone();
        aio::TaskBuilder::new()
            .name(format!("worker-{i}"))
            .spawn(async move {
                while let Ok(job) = jobs.get().await {
                    println!("{job}");
                }
            })
            .detach();
    }

    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = aio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (conn, _) = listener.accept().await.unwrap();
    aio::TaskBuilder::new()
        .name("conn")
        .spawn(async move {
            let mut conn = conn;
            let mut buf = [0u8; 512];
            let _ = std::future::poll_fn(|cx| {
                futures_io::AsyncRead::poll_read(std::pin::Pin::new(&mut conn), cx, &mut buf)
            })
            .await;
        })
        .detach();

    let _ = aio::gather!(transfer, audit).await;
}
