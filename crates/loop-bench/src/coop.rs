//! Yielding tasks against timers and I/O: ten tasks loop on `yield_now`
//! (never idle) while a timer sleeps 1 ms at a time and a client thread
//! pings an echo server on the same single-threaded runtime. How late the
//! timer wakes and how long a ping takes show whether busy tasks starve
//! the rest (issue 26's cooperative-budget goal: lateness p99 at or under
//! tokio's).

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use r#loop as aio;

use crate::workloads::{Runtime, RUNTIMES};

/// Busy tasks beside the measured ones.
const YIELDERS: usize = 10;
/// Timer sleeps and pings measured per run.
const SAMPLES: usize = 300;

/// Reads one measure out of a run's percentiles.
type Measure = fn(&Lateness) -> f64;

/// One run's percentiles, in microseconds.
#[derive(Clone, Copy, Default)]
struct Lateness {
    timer_p99: f64,
    timer_max: f64,
    ping_p99: f64,
    ping_max: f64,
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[(v.len() * 99 / 100).min(v.len() - 1)], v[v.len() - 1])
}

/// The pinging client: `SAMPLES` one-byte round trips, in microseconds.
fn pinger(addr: SocketAddr) -> std::thread::JoinHandle<Vec<f64>> {
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        let mut rtts = Vec::with_capacity(SAMPLES);
        let mut b = [0u8; 1];
        for _ in 0..SAMPLES {
            let t = Instant::now();
            s.write_all(&[1]).unwrap();
            s.read_exact(&mut b).unwrap();
            rtts.push(t.elapsed().as_secs_f64() * 1e6);
            // Spread the pings over the timer's run.
            std::thread::sleep(Duration::from_micros(500));
        }
        rtts
    })
}

fn finish(lates: Vec<f64>, rtts: Vec<f64>) -> Lateness {
    let (timer_p99, timer_max) = percentiles(lates);
    let (ping_p99, ping_max) = percentiles(rtts);
    Lateness { timer_p99, timer_max, ping_p99, ping_max }
}

fn run(rt: Runtime) -> Lateness {
    match rt {
        Runtime::Loop => aio::run(async {
            let stop = Rc::new(Cell::new(false));
            for _ in 0..YIELDERS {
                let stop = stop.clone();
                aio::spawn(async move {
                    while !stop.get() {
                        aio::yield_now().await;
                    }
                })
                .detach();
            }
            let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = pinger(listener.local_addr().unwrap());
            let (conn, _) = listener.accept().await.unwrap();
            conn.set_nodelay(true).unwrap();
            let server = aio::spawn(async move {
                let mut b = [0u8; 1];
                while conn.read(&mut b).await.unwrap_or(0) == 1 {
                    conn.write_all(&b).await.unwrap();
                }
            });
            let mut lates = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let due = Instant::now() + Duration::from_millis(1);
                aio::sleep_until(due).await;
                lates.push(due.elapsed().as_secs_f64() * 1e6);
            }
            let rtts = aio::unblock(move || client.join().unwrap()).await;
            stop.set(true);
            server.await.unwrap();
            finish(lates, rtts)
        }),
        Runtime::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async {
                let stop = Rc::new(Cell::new(false));
                for _ in 0..YIELDERS {
                    let stop = stop.clone();
                    tokio::task::spawn_local(async move {
                        while !stop.get() {
                            tokio::task::yield_now().await;
                        }
                    });
                }
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let client = pinger(listener.local_addr().unwrap());
                let (mut conn, _) = listener.accept().await.unwrap();
                conn.set_nodelay(true).unwrap();
                let server = tokio::task::spawn_local(async move {
                    let mut b = [0u8; 1];
                    while conn.read(&mut b).await.unwrap_or(0) == 1 {
                        conn.write_all(&b).await.unwrap();
                    }
                });
                let mut lates = Vec::with_capacity(SAMPLES);
                for _ in 0..SAMPLES {
                    let due = Instant::now() + Duration::from_millis(1);
                    tokio::time::sleep_until(due.into()).await;
                    lates.push(due.elapsed().as_secs_f64() * 1e6);
                }
                let rtts = tokio::task::spawn_blocking(move || client.join().unwrap()).await.unwrap();
                stop.set(true);
                server.await.unwrap();
                finish(lates, rtts)
            })
        }
        Runtime::Smol => {
            let ex = Rc::new(smol::LocalExecutor::new());
            let e = ex.clone();
            smol::block_on(ex.run(async move {
                let stop = Rc::new(Cell::new(false));
                for _ in 0..YIELDERS {
                    let stop = stop.clone();
                    e.spawn(async move {
                        while !stop.get() {
                            smol::future::yield_now().await;
                        }
                    })
                    .detach();
                }
                use smol::io::{AsyncReadExt, AsyncWriteExt};
                let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let client = pinger(listener.local_addr().unwrap());
                let (mut conn, _) = listener.accept().await.unwrap();
                conn.set_nodelay(true).unwrap();
                let server = e.spawn(async move {
                    let mut b = [0u8; 1];
                    while conn.read(&mut b).await.unwrap_or(0) == 1 {
                        conn.write_all(&b).await.unwrap();
                    }
                });
                let mut lates = Vec::with_capacity(SAMPLES);
                for _ in 0..SAMPLES {
                    let due = Instant::now() + Duration::from_millis(1);
                    smol::Timer::at(due).await;
                    lates.push(due.elapsed().as_secs_f64() * 1e6);
                }
                let rtts = smol::unblock(move || client.join().unwrap()).await;
                stop.set(true);
                server.await;
                finish(lates, rtts)
            }))
        }
    }
}

/// The table: each runtime's median (over `reps` rounds, runtimes in
/// rotating order) of timer lateness and ping round trip, p99 and max,
/// and our p99s against tokio's per round, as a median with its spread.
pub fn table(reps: usize) -> String {
    let reps = reps.max(1);
    for rt in RUNTIMES {
        let _ = run(*rt);
    }
    let mut rounds: Vec<[Lateness; 3]> = Vec::new();
    for rep in 0..reps {
        let mut round = [Lateness::default(); 3];
        for k in 0..RUNTIMES.len() {
            let i = (rep + k) % RUNTIMES.len();
            round[i] = run(RUNTIMES[i]);
        }
        rounds.push(round);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let mut md = format!(
        "\nBusy tasks against timers and I/O ({YIELDERS} tasks looping on yield_now on one thread, beside a 1 ms timer and a client thread's 1-byte pings, {SAMPLES} of each per run; µs, median of {reps} rounds; \"vs tokio\" = tokio's p99 / ours per round, median [min-max]):\n\n\
         | measure | loop | tokio | smol | vs tokio |\n| --- | ---: | ---: | ---: | ---: |\n"
    );
    let rows: [(&str, Measure); 4] = [
        ("timer lateness p99", |l| l.timer_p99),
        ("timer lateness max", |l| l.timer_max),
        ("ping round trip p99", |l| l.ping_p99),
        ("ping round trip max", |l| l.ping_max),
    ];
    for (name, get) in rows {
        let col = |i: usize| median(rounds.iter().map(|r| get(&r[i])).collect()).0;
        let (v, lo, hi) = median(rounds.iter().map(|r| get(&r[1]) / get(&r[0])).collect());
        let row = format!("| {name} | {:.0} | {:.0} | {:.0} | {v:.2}x [{lo:.2}-{hi:.2}] |\n", col(0), col(1), col(2));
        print!("{row}");
        md.push_str(&row);
    }
    md
}
