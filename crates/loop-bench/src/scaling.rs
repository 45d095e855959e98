//! Scaling: TCP echo (50 and 500 connections) and the hyper hello-world,
//! served by 1 and 2 `loop` loops (a `LoopSet`, connections handed out by
//! `serve_least_connections`) and by tokio's multi-thread runtime with 1
//! and 2 workers. The load generator shares this machine, so the table
//! reports work per second of *server* CPU next to the wall-clock rate.
//!
//! Echo load: one client thread (a tokio `current_thread` runtime, the same
//! for every server) keeps every connection busy with 64-byte round trips;
//! the server's CPU time is the process's minus that thread's. HTTP load:
//! `wrk -t1 -c64` in its own process; the server's CPU time is this
//! process's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use r#loop as aio;

/// A server under test: `loop` or tokio, with `threads` threads.
#[derive(Clone, Copy)]
struct Server {
    tokio: bool,
    threads: usize,
}

impl Server {
    fn name(self) -> String {
        if self.tokio {
            format!("tokio multi-thread({})", self.threads)
        } else {
            format!("loop LoopSet({})", self.threads)
        }
    }
}

/// A running server; dropping it stops it (the fields are kept for that).
enum Running {
    Loop { _set: aio::LoopSet, _served: aio::net::LeastConnections },
    Tokio { _rt: tokio::runtime::Runtime },
}

/// What the server does with a connection.
#[derive(Clone, Copy)]
enum Service {
    Echo,
    Hello,
}

/// `--serve-scaling loop|tokio THREADS`: only the scaling table's hyper
/// server, on `THREADS` threads (for `perf stat` while wrk drives it);
/// prints the address, serves until killed.
pub fn serve_only(runtime: &str, threads: usize) -> ! {
    assert!(matches!(runtime, "loop" | "tokio"), "--serve-scaling: the runtime is loop or tokio, not {runtime}");
    let server = Server { tokio: runtime == "tokio", threads };
    let (_running, addr) = start(server, Service::Hello);
    println!("{addr}");
    loop {
        std::thread::park();
    }
}

fn start(server: Server, service: Service) -> (Running, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    if server.tokio {
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(server.threads).enable_all().build().unwrap();
        rt.spawn(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                match service {
                    Service::Echo => drop(tokio::spawn(tokio_echo(stream))),
                    Service::Hello => drop(tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper::service::service_fn(crate::http::hello),
                    ))),
                }
            }
        });
        (Running::Tokio { _rt: rt }, addr)
    } else {
        let set = aio::LoopSet::builder().loops(server.threads).build().unwrap();
        let served = aio::net::serve_least_connections(&set, listener, move |stream, _| async move {
            let _ = stream.set_nodelay(true);
            match service {
                Service::Echo => {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
                Service::Hello => {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(aio::hyper::Io::new(stream), hyper::service::service_fn(crate::http::hello))
                        .await;
                }
            }
        })
        .unwrap();
        (Running::Loop { _set: set, _served: served }, addr)
    }
}

async fn tokio_echo(mut s: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap_or(0);
        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// CPU time on a CPU-time clock: the process's (all threads), the
/// calling thread's, or another thread's (`pthread_getcpuclockid`).
pub(crate) fn cpu(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; `clock` is a CPU-time
    // clock (an invalid id only makes the call fail, leaving `ts` zero).
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Drives `conns` echo connections for `for_how_long`; returns (round trips
/// per wall second, round trips per server CPU second).
fn echo_load(addr: SocketAddr, conns: usize, for_how_long: Duration) -> (f64, f64) {
    let done = Arc::new(AtomicBool::new(false));
    let trips = Arc::new(AtomicU64::new(0));
    let (d, t) = (done.clone(), trips.clone());
    let client = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut streams = Vec::new();
            for _ in 0..conns {
                let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                streams.push(s);
            }
            // Measure from here: every connection is open.
            let (wall0, proc0, me0) =
                (Instant::now(), cpu(libc::CLOCK_PROCESS_CPUTIME_ID), cpu(libc::CLOCK_THREAD_CPUTIME_ID));
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|mut s| {
                    let (d, t) = (d.clone(), t.clone());
                    tokio::task::spawn_local(async move {
                        let msg = [1u8; 64];
                        let mut buf = [0u8; 64];
                        while !d.load(Ordering::Relaxed) {
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                            t.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            tokio::time::sleep(for_how_long).await;
            d.store(true, Ordering::Relaxed);
            let n = t.load(Ordering::Relaxed);
            let (wall, server_cpu) = (
                wall0.elapsed(),
                (cpu(libc::CLOCK_PROCESS_CPUTIME_ID) - proc0).saturating_sub(cpu(libc::CLOCK_THREAD_CPUTIME_ID) - me0),
            );
            for task in tasks {
                let _ = task.await;
            }
            (n as f64 / wall.as_secs_f64(), n as f64 / server_cpu.as_secs_f64().max(1e-9))
        })
    });
    client.join().unwrap()
}

/// One wrk run against `addr`: (requests per wall second, requests per
/// server CPU second).
fn http_load(addr: SocketAddr, seconds: u32) -> Option<(f64, f64)> {
    let cpu0 = cpu(libc::CLOCK_PROCESS_CPUTIME_ID);
    let out = std::process::Command::new("wrk")
        .args(["-t1", "-c64", &format!("-d{seconds}s"), &format!("http://{addr}/")])
        .output()
        .ok()?;
    let server_cpu = cpu(libc::CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    let text = String::from_utf8_lossy(&out.stdout);
    let total: f64 = text.lines().find(|l| l.contains("requests in"))?.split_whitespace().next()?.parse().ok()?;
    let rps: f64 = text.lines().find(|l| l.starts_with("Requests/sec:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((rps, total / server_cpu.as_secs_f64().max(1e-9)))
}

/// Drives a server at an address: (per wall second, per server CPU second).
type Load = dyn Fn(SocketAddr) -> Option<(f64, f64)>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The scaling table (Markdown), printed as it goes. `seconds`: length of
/// each run; `reps`: alternating repetitions (medians reported).
pub fn scaling_table(reps: usize, seconds: f64, with_http: bool) -> String {
    let servers = [
        Server { tokio: false, threads: 1 },
        Server { tokio: true, threads: 1 },
        Server { tokio: false, threads: 2 },
        Server { tokio: true, threads: 2 },
    ];
    // `LOOP_BENCH_SERVER=loop2` (or tokio1, ...): one server only, e.g.
    // to count its syscalls with strace.
    let only = std::env::var("LOOP_BENCH_SERVER").ok();
    let servers: Vec<Server> = servers
        .into_iter()
        .filter(|s| {
            only.as_deref().is_none_or(|o| o == format!("{}{}", if s.tokio { "tokio" } else { "loop" }, s.threads))
        })
        .collect();
    let mut s = String::from(
        "\nScaling: servers on 1 and 2 threads (loop: a `LoopSet`, connections handed out by \
         `net::serve_least_connections`; tokio: the multi-thread runtime with 1 or 2 workers, `tokio::spawn` per \
         connection). The load generator runs on the same 2 cores (echo: one tokio `current_thread` client thread \
         in-process; HTTP: `wrk -t1 -c64`), so the columns to compare are per second of *server* CPU \
         (process CPU time minus the client thread's); medians of alternating runs:\n\n\
         | workload | server | per wall second | per server CPU second | loop vs tokio (same threads, per CPU s) |\n\
         | --- | --- | ---: | ---: | ---: |\n",
    );
    let mut workloads: Vec<(&str, Box<Load>, Service)> = vec![
        (
            "echo 50 conns, round trips",
            Box::new(move |a| Some(echo_load(a, 50, Duration::from_secs_f64(seconds)))),
            Service::Echo,
        ),
        (
            "echo 500 conns, round trips",
            Box::new(move |a| Some(echo_load(a, 500, Duration::from_secs_f64(seconds)))),
            Service::Echo,
        ),
    ];
    let wrk_present = std::process::Command::new("wrk").arg("--version").output().is_ok();
    if with_http && wrk_present {
        let secs = seconds.ceil().max(1.0) as u32;
        workloads.push(("hyper hello, requests", Box::new(move |a| http_load(a, secs)), Service::Hello));
    }
    for (title, load, service) in &workloads {
        let running: Vec<(Running, SocketAddr)> = servers.iter().map(|&srv| start(srv, *service)).collect();
        let mut samples: Vec<Vec<(f64, f64)>> = vec![Vec::new(); servers.len()];
        for _ in 0..reps {
            for (i, (_, addr)) in running.iter().enumerate() {
                if let Some(r) = load(*addr) {
                    samples[i].push(r);
                }
            }
        }
        let per_rep = samples.clone();
        let rows: Vec<(f64, f64)> = samples
            .into_iter()
            .map(|v| (median(v.iter().map(|x| x.0).collect()), median(v.iter().map(|x| x.1).collect())))
            .collect();
        for (i, srv) in servers.iter().enumerate() {
            // Per repetition, loop's CPU-second rate over tokio's with as
            // many threads (the next server): median [min-max].
            let vs = match per_rep.get(i + 1) {
                Some(tokio_reps) if !srv.tokio => {
                    let mut r: Vec<f64> = per_rep[i].iter().zip(tokio_reps).map(|(l, t)| l.1 / t.1).collect();
                    r.sort_by(f64::total_cmp);
                    match r.len() {
                        0 => String::new(),
                        n => format!("{:.2}x [{:.2}-{:.2}]", r[n / 2], r[0], r[n - 1]),
                    }
                }
                _ => String::new(),
            };
            println!(
                "scaling {title:<30} {:<24} {:>10.0}/s wall {:>10.0}/CPU-s {vs}",
                srv.name(),
                rows[i].0,
                rows[i].1
            );
            s.push_str(&format!("| {title} | {} | {:.0} | {:.0} | {vs} |\n", srv.name(), rows[i].0, rows[i].1));
        }
        // Stops the servers.
        drop(running);
    }
    if with_http && !wrk_present {
        s.push_str("\n(HTTP rows skipped: `wrk` is not installed.)\n");
    }
    s.push_str(SCALING_NOTE);
    s
}

/// What the scaling rows mean, and what would limit many cores.
const SCALING_NOTE: &str = "
Scaling note. Each loop of a `LoopSet` owns its reactor (epoll fd), timer wheel, run queue, task
registry and blocking pool; a task, once placed, is polled only by its loop. Shared state, and when
it is touched:
- nothing on a loop's own path: a local spawn, poll, wake, timer or socket event touches only that
  loop's memory (plus the process-wide task-id counter once per 1,024 spawns);
- a spawn from another thread: the target loop's injection queue (a lock-free segment queue, one
  per loop, so contended only by threads spawning onto that same loop), the target's `Arc` count
  (each task holds one) and its load counter; placement reads the load counters of 2 loops
  (\"power of two choices\" beyond 4 loops), not all of them;
- a cross-loop wake (a task of loop A woken from loop B): A's injection queue and, if A sleeps,
  one eventfd write (wakes while A is awake cost no syscall);
- the least-connections acceptor: one loop accepts for all, and each hand-off costs a
  deregister + register (two `epoll_ctl`); with `SO_REUSEPORT` instead, no loop is shared at all;
- the allocator: a task spawned from thread X and freed on loop Y is a cross-thread free (glibc
  returns it to X's arena under that arena's lock);
- cache lines of task cells: a thread spawning onto several loops allocates their tasks' cells one
  after the other, so neighbours that different loops poll can share a line (or a 128-byte pair,
  which the adjacent-line prefetcher moves together). Measured: two loops running 100 yielding
  tasks each, 26-29 ns per yield spawned from outside against 20-21 spawned on each loop; a
  128-byte gap after each such cell fixes that (16-24) but made bursts of remote spawns 25%
  slower, so it is not in. On many cores this is the one piece of sharing on a poll path; a
  per-(thread, target loop) slab of aligned slots would remove it.
None of the rest is global, so nothing in the design serializes 16 or 64 loops; the limits there
are the kernel's (one accept queue per listener without `SO_REUSEPORT`) and the allocator's.

On this 2-core machine the load generator needs one of the two cores, so two server threads
compete with it: two loops that each sleep and wake on their own events cost more context
switches per round trip than one loop. Measured with `perf stat` over the same echo runs (about
1.8M round trips): 293k context switches for two loops against 165k for tokio's two workers (and
23k against 9k with one thread each), with the same syscalls per round trip (sendto, recvfrom;
epoll waits 834k against ~730k). tokio's two workers share one I/O driver, and its second worker
is woken about 10k times in a run: here it mostly runs as one thread, which on two shared cores is
the cheaper shape. Per server CPU second, one loop is level with or ahead of tokio's one worker
at 50 connections (1.02-1.08x) and behind it at 500 (0.82-0.96x over tables and single runs),
with the same syscalls per round trip (one recvfrom, one sendto; counted per thread with `perf
stat --per-thread`) except epoll waits, 0.22 against 0.16. User space is not the gap: the server
thread runs 1,130 instructions per round trip against tokio's 2,080 (callgrind, 500 connections).
It is kernel time; loop's more frequent, smaller epoll batches are the likely part. Two loops are level with tokio's two workers, not ahead. Showing the
per-core gain needs more cores than the load generator uses.

The remote-busy row (a plain thread spawns 10k tasks while each loop runs a yielding task, then
awaits every handle) has three busy threads on 2 cores. `loop`'s spawn is faster than its loops run
the tasks (90 against tokio's 230 ns per spawn), so the spawning thread reaches a task that is not
done yet and sleeps; with both cores running a loop that never idled, waking it took 0.5-3.2 ms,
once per run (the median wait per handle is under 1 us), and the row read 0.4-0.8x. A loop now
gives its core to the OS (`sched_yield`) after 4,096 turns without parking (`LoopStats::os_yields`):
the row went to 1.5-1.75x tokio, and yield_many stopped having runs at 0.5-0.65x.
";
