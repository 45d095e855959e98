//! A request/response loop against a real PostgreSQL (`LOOP_TEST_POSTGRES`,
//! started by `cargo xtask bench`): 1,000 sequential queries, each waiting
//! for the last, on one connection. Natively on loop (tokio-postgres over
//! a loop socket, `tokio-io`), through `loop::compat::tokio` (the library
//! on a tokio runtime the loop's thread drives), and on tokio's
//! current-thread runtime. Optionally under load: busy threads that keep
//! every core's run queue full (the case where a cross-thread hop waits
//! for a time slice).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use r#loop as aio;
use tokio_postgres::{Config, NoTls};

const QUERIES: usize = 1_000;

#[derive(Clone, Copy, Debug)]
enum Way {
    Native,
    /// Native, on a thread that ran a compat future first: its loop parks
    /// in tokio's driver from then on (what that costs).
    NativeAfterCompat,
    Compat,
    Tokio,
}

const WAYS: [Way; 4] = [Way::Native, Way::NativeAfterCompat, Way::Compat, Way::Tokio];

fn addr(config: &Config) -> String {
    let tokio_postgres::config::Host::Tcp(host) = &config.get_hosts()[0] else { panic!("a TCP host") };
    format!("{host}:{}", config.get_ports()[0])
}

/// µs per query, on a fresh thread (a thread that ran a compat future keeps
/// tokio's runtime, so the ways must not share one).
fn run(way: Way, url: &str) -> f64 {
    std::thread::scope(|s| s.spawn(|| run_here(way, url)).join().expect("a pg round panicked"))
}

fn run_here(way: Way, url: &str) -> f64 {
    let config = Config::from_str(url).unwrap();
    match way {
        Way::NativeAfterCompat => {
            aio::run(aio::compat::tokio(async { tokio::task::yield_now().await }));
            run_here(Way::Native, url)
        }
        Way::Native => aio::run(async move {
            let stream = aio::net::TcpStream::connect(addr(&config).as_str()).await.unwrap();
            let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
            aio::spawn(connection).detach();
            let start = Instant::now();
            for i in 0..QUERIES as i32 {
                let row = client.query_one("SELECT $1::INT4", &[&i]).await.unwrap();
                assert_eq!(row.get::<_, i32>(0), i);
            }
            start.elapsed().as_secs_f64() * 1e6 / QUERIES as f64
        }),
        Way::Compat => aio::run(aio::compat::tokio(async move {
            let (client, connection) = config.connect(NoTls).await.unwrap();
            tokio::spawn(connection);
            let start = Instant::now();
            for i in 0..QUERIES as i32 {
                let row = client.query_one("SELECT $1::INT4", &[&i]).await.unwrap();
                assert_eq!(row.get::<_, i32>(0), i);
            }
            start.elapsed().as_secs_f64() * 1e6 / QUERIES as f64
        })),
        Way::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let (client, connection) = config.connect(NoTls).await.unwrap();
                tokio::spawn(connection);
                let start = Instant::now();
                for i in 0..QUERIES as i32 {
                    let row = client.query_one("SELECT $1::INT4", &[&i]).await.unwrap();
                    assert_eq!(row.get::<_, i32>(0), i);
                }
                start.elapsed().as_secs_f64() * 1e6 / QUERIES as f64
            })
        }
    }
}

/// Busy threads until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn new(n: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The table: per load (none, and 2 busy threads), the median µs per
/// query of each way over `reps` rounds (ways in rotating order), and
/// compat's and native's ratios to tokio per round, median [min-max].
pub fn table(reps: usize) -> String {
    let Ok(url) = std::env::var("LOOP_TEST_POSTGRES") else {
        let msg =
            "\nPostgreSQL round trips: skipped (LOOP_TEST_POSTGRES is not set; `cargo xtask bench` starts a server).\n";
        print!("{msg}");
        return msg.to_string();
    };
    let reps = reps.max(1);
    let mut md = format!(
        "\nPostgreSQL request/response: {QUERIES} sequential `SELECT $1` on one connection, µs per query, median of {reps} rounds; ratio = ours / tokio's time per round, median [min-max] (below 1 is faster than tokio):\n\n\
         | load | native on loop | native after compat | compat on loop | tokio | native / tokio | native after compat / tokio | compat / tokio |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for busy in [0usize, 2] {
        let _load = (busy > 0).then(|| Load::new(busy));
        for way in WAYS {
            let _ = run(way, &url);
        }
        let mut rounds: Vec<[f64; 4]> = Vec::new();
        for rep in 0..reps {
            let mut round = [0.0; 4];
            for k in 0..4 {
                let i = (rep + k) % 4;
                round[i] = run(WAYS[i], &url);
            }
            rounds.push(round);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let col = |i: usize| median(rounds.iter().map(|r| r[i]).collect()).0;
        let ratio = |i: usize| median(rounds.iter().map(|r| r[i] / r[3]).collect());
        let ((n, nlo, nhi), (a, alo, ahi), (c, clo, chi)) = (ratio(0), ratio(1), ratio(2));
        let load = if busy == 0 { "idle machine".to_string() } else { format!("{busy} busy threads") };
        let row = format!(
            "| {load} | {:.1} | {:.1} | {:.1} | {:.1} | {n:.2} [{nlo:.2}-{nhi:.2}] | {a:.2} [{alo:.2}-{ahi:.2}] | {c:.2} [{clo:.2}-{chi:.2}] |\n",
            col(0),
            col(1),
            col(2),
            col(3)
        );
        print!("{row}");
        md.push_str(&row);
    }
    md
}
