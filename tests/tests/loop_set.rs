//! `LoopSet`: a loop per core behind one handle.

use r#loop as aio;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

fn set(loops: usize) -> aio::LoopSet {
    aio::LoopSet::builder().loops(loops).build().expect("start a LoopSet")
}

fn index() -> usize {
    aio::get_running_loop().index().expect("a task of a LoopSet runs on a loop with an index")
}

#[test]
fn spawn_across_loops_from_8_threads_x_10000_tasks_all_complete() {
    let _watchdog = loop_tests::watchdog();
    let set = Arc::new(set(2));
    let ran = Arc::new(AtomicUsize::new(0));
    let per_loop: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8usize)
        .map(|t| {
            let (set, ran, per_loop, start) = (set.clone(), ran.clone(), per_loop.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let tasks: Vec<_> = (0..10_000usize)
                    .map(|i| {
                        let (ran, per_loop) = (ran.clone(), per_loop.clone());
                        set.spawn(async move {
                            aio::yield_now().await;
                            ran.fetch_add(1, Ordering::Relaxed);
                            per_loop[index()].fetch_add(1, Ordering::Relaxed);
                            t * 10_000 + i
                        })
                        .unwrap()
                    })
                    .collect();
                tasks.into_iter().enumerate().all(|(i, task)| task.wait() == Ok(t * 10_000 + i))
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap(), "every task returned its own value");
    }
    assert_eq!(ran.load(Ordering::Relaxed), 80_000);
    let counts: Vec<usize> = per_loop.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    assert_eq!(counts.iter().sum::<usize>(), 80_000);
    assert!(counts.iter().all(|&n| n > 0), "both loops ran spawned tasks: {counts:?}");
    Arc::into_inner(set).unwrap().shutdown().unwrap();
}

#[test]
fn a_not_send_future_is_built_on_each_loop() {
    let _watchdog = loop_tests::watchdog();
    let set = set(3);
    let tasks = set
        .on_each(|i| async move {
            // Rc and a local Task handle: neither is Send.
            let shared = Rc::new(std::cell::Cell::new(i * 10));
            let inner = aio::spawn({
                let shared = shared.clone();
                async move { shared.set(shared.get() + 1) }
            });
            inner.await.unwrap();
            (index(), shared.get())
        })
        .unwrap();
    let got: Vec<_> = tasks.into_iter().map(|t| t.wait().unwrap()).collect();
    assert_eq!(got, vec![(0, 1), (1, 11), (2, 21)]);
    let one = set
        .handle(2)
        .spawn_fn(|| async {
            let here = Rc::new(index()); // held across an await: a !Send future
            aio::yield_now().await;
            *here
        })
        .unwrap();
    assert_eq!(one.wait(), Ok(2));
    assert_eq!(set.block_on_fn(|| async { *Rc::new(7) + 1 }), 8);
    set.shutdown().unwrap();
}

#[test]
fn index_and_placement_on_the_least_loaded_loop() {
    let _watchdog = loop_tests::watchdog();
    let set = set(2);
    assert_eq!(set.len(), 2);
    assert_eq!(set.spawn_on(1, async { index() }).unwrap().wait(), Ok(1));
    // Loop 0 holds 100 waiting tasks: new work goes to loop 1.
    let gate = Arc::new(aio::sync::Event::new());
    let parked: Vec<_> = (0..100)
        .map(|_| {
            let gate = gate.clone();
            set.spawn_on(0, async move { gate.wait().await }).unwrap()
        })
        .collect();
    for _ in 0..20 {
        assert_eq!(set.spawn(async { index() }).unwrap().wait(), Ok(1), "loop 0 is the loaded one");
    }
    gate.set();
    for t in parked {
        t.wait().unwrap();
    }
    set.shutdown().unwrap();
}

#[test]
fn bursts_from_two_threads_spread_evenly_while_the_loops_are_busy() {
    let _watchdog = loop_tests::watchdog();
    let set = Arc::new(set(2));
    // Both loops stuck in a task, so neither publishes its load: placement
    // sees only the spawns on their way (each thread's own, and the
    // others' in batches).
    let (started_tx, started) = mpsc::channel();
    let mut release = Vec::new();
    let blockers: Vec<_> = (0..2)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<()>();
            release.push(tx);
            let started_tx = started_tx.clone();
            set.spawn_on(i, async move {
                started_tx.send(()).unwrap();
                let _ = rx.recv();
            })
            .unwrap()
        })
        .collect();
    started.recv().unwrap();
    started.recv().unwrap();
    let burst = |set: &aio::LoopSet| -> Vec<_> { (0..64).map(|_| set.spawn(async { index() }).unwrap()).collect() };
    let mine = burst(&set);
    let theirs = std::thread::spawn({
        let set = set.clone();
        move || burst(&set)
    })
    .join()
    .unwrap();
    drop(release);
    for b in blockers {
        b.wait().unwrap();
    }
    let mut per_loop = [0usize; 2];
    for t in mine.into_iter().chain(theirs) {
        per_loop[t.wait().unwrap()] += 1;
    }
    assert!(per_loop.iter().all(|&n| (62..=66).contains(&n)), "128 spawns over two equal loops: {per_loop:?}");
}

#[test]
fn block_on_runs_the_main_future_and_resumes_its_panic() {
    let _watchdog = loop_tests::watchdog();
    let set = set(2);
    let n = set.block_on(async {
        aio::sleep(Duration::from_millis(1)).await;
        41 + 1
    });
    assert_eq!(n, 42);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        set.block_on(async { panic!("main failed") });
    }));
    let message = caught.unwrap_err();
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("main failed"), "{message}");
    set.shutdown().unwrap();
}

/// `block_on` inside a running loop would block that loop silently (the
/// main future's loop may even be this one): a panic that says so, as a
/// nested `run` does, and the set goes on working.
#[test]
fn block_on_inside_a_running_loop_panics_instead_of_blocking_it() {
    let _watchdog = loop_tests::watchdog();
    let set = std::sync::Arc::new(set(2));
    let inner = set.clone();
    let message = aio::run(async move {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.block_on(async { 1 })));
        let err = caught.expect_err("block_on inside a loop must panic");
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    });
    assert!(message.contains("LoopSet::block_on called while an event loop is running"), "{message}");
    assert_eq!(set.block_on(async { 2 }), 2, "the set still works from outside");
    let Ok(set) = std::sync::Arc::try_unwrap(set) else { panic!("the test holds the only handle") };
    set.shutdown().unwrap();
}

#[test]
fn a_panicking_task_is_contained_to_itself() {
    let _watchdog = loop_tests::watchdog();
    let set = set(2);
    let failed = set.spawn_on(0, async { panic!("task on loop 0") }).unwrap();
    assert!(matches!(failed.wait(), Err(aio::TaskError::Panicked(m)) if m.contains("task on loop 0")));
    // Unawaited too: the handle dropped, the panic goes to loop 0's handler.
    drop(set.spawn_on(0, async { panic!("nobody awaits this") }).unwrap());
    // Both loops go on.
    assert_eq!(set.spawn_on(0, async { index() }).unwrap().wait(), Ok(0));
    assert_eq!(set.spawn_on(1, async { index() }).unwrap().wait(), Ok(1));
    set.shutdown().expect("no loop panicked: task panics stay in their task");
}

// Counts threads and fds in Linux's /proc.
#[cfg(target_os = "linux")]
#[test]
fn shutdown_with_tasks_pending_on_every_loop_leaves_no_thread_fd_or_task() {
    let _watchdog = loop_tests::watchdog();
    let (threads0, fds0) = (loop_tests::threads(), loop_tests::open_fds());
    let set = set(4);
    assert!(loop_tests::threads() >= threads0 + 4);
    let dropped = Arc::new(AtomicUsize::new(0));
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut handles = Vec::new();
    for i in 0..4 {
        for _ in 0..25 {
            let (guard, ready) = (CountDrop(dropped.clone()), ready_tx.clone());
            handles.push(
                set.handle(i)
                    .spawn_fn(move || async move {
                        // A socket and a timer on each loop, and a task that
                        // never ends.
                        let _guard = guard;
                        let listener = aio::net::TcpListener::bind_addr("127.0.0.1:0".parse().unwrap()).unwrap();
                        ready.send(()).unwrap();
                        let _ = aio::wait_for(listener.accept(), Duration::from_secs(3600)).await;
                    })
                    .unwrap(),
            );
        }
    }
    for _ in 0..100 {
        ready_rx.recv().unwrap();
    }
    assert!(set.all_tasks().iter().all(|(_, tasks)| tasks.len() == 25), "25 live tasks on each loop");
    set.shutdown().expect("every loop stops in time");
    assert_eq!(dropped.load(Ordering::SeqCst), 100, "every pending task was dropped");
    for h in handles {
        assert!(h.is_done());
        assert_eq!(h.wait(), Err(aio::TaskError::Cancelled));
    }
    assert_eq!(loop_tests::open_fds(), fds0, "no listener, epoll or eventfd left open");
    // Linux removes a joined thread from /proc a moment after the join.
    let mut spins = 0;
    while loop_tests::threads() > threads0 && spins < 100_000 {
        std::thread::yield_now();
        spins += 1;
    }
    assert_eq!(loop_tests::threads(), threads0, "every loop thread was joined");
}

#[test]
fn shutdown_reports_a_loop_that_does_not_stop_in_time() {
    let _watchdog = loop_tests::watchdog();
    let set = aio::LoopSet::builder().loops(2).shutdown_timeout(Duration::from_millis(100)).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (blocked_tx, blocked_rx) = mpsc::channel::<()>();
    // Misuse: a task that blocks its loop's thread.
    drop(
        set.spawn_on(1, async move {
            blocked_tx.send(()).unwrap();
            let _ = release_rx.recv();
        })
        .unwrap(),
    );
    blocked_rx.recv().unwrap();
    let err = set.shutdown().unwrap_err();
    assert_eq!(err.stuck, vec![1]);
    assert!(err.blocking.is_empty(), "a task, not a blocking job");
    assert!(err.panicked.is_empty());
    assert!(err.to_string().contains("loop(s) [1] did not stop"), "{err}");
    release_tx.send(()).unwrap();
}

#[test]
fn dump_tasks_covers_every_loop_grouped_by_loop() {
    let _watchdog = loop_tests::watchdog();
    let set = set(2);
    let started: Vec<_> = set
        .on_each(|i| async move {
            aio::TaskBuilder::new().name(format!("worker-{i}")).spawn(std::future::pending::<()>()).detach();
        })
        .unwrap();
    for s in started {
        s.wait().unwrap();
    }
    let dump = set.dump_tasks();
    let (first, second) = dump.split_once("loop 1:").expect("a section per loop");
    assert!(first.starts_with("loop 0: 1 task(s) alive") && first.contains("`worker-0`"), "{dump}");
    assert!(second.contains("`worker-1`") && !second.contains("worker-0"), "{dump}");
    set.shutdown().unwrap();
}

/// Opens `n` connections to `addr` and keeps them open until every one was
/// seen by a handler (`seen` receives one loop index per connection).
fn hold_connections(addr: SocketAddr, n: usize, seen: &mpsc::Receiver<usize>, loops: usize) -> Vec<usize> {
    let clients: Vec<std::net::TcpStream> = (0..n)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"x").unwrap();
            c
        })
        .collect();
    let mut per_loop = vec![0; loops];
    for _ in 0..n {
        per_loop[seen.recv().unwrap()] += 1;
    }
    for mut c in clients {
        // The handler echoes once we close: proves the stream worked on its
        // new loop.
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut echo = Vec::new();
        c.read_to_end(&mut echo).unwrap();
        assert_eq!(echo, b"x");
    }
    per_loop
}

/// A connection's handler: reads the first byte, says which loop it runs
/// on, waits for the client's EOF, echoes the byte and closes.
async fn echo_first_byte(mut reader: aio::StreamReader, writer: aio::StreamWriter, seen: mpsc::Sender<usize>) {
    let first = reader.readexactly(1).await.unwrap();
    seen.send(index()).unwrap();
    assert!(reader.read_to_end().await.unwrap().is_empty());
    writer.write(&first);
    writer.close();
    let _ = writer.wait_closed().await;
}

/// Raises the open-file limit (1,000 connections are 2,000 fds here; on
/// Windows there is no such limit to raise).
fn raise_nofile() {
    #[cfg(unix)]
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    #[cfg(unix)]
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: lim.maximum, maximum: lim.maximum },
    );
}

#[test]
fn least_connections_spreads_1000_connections_within_one_of_even() {
    let _watchdog = loop_tests::watchdog();
    raise_nofile();
    let set = set(2);
    let (seen_tx, seen) = mpsc::channel();
    let seen_tx = std::sync::Mutex::new(seen_tx);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = aio::net::serve_least_connections(&set, listener, move |stream, _| {
        let seen = seen_tx.lock().unwrap().clone();
        let (reader, writer) = aio::tcp_streams(stream);
        echo_first_byte(reader, writer, seen)
    })
    .unwrap();
    let per_loop = hold_connections(server.local_addr(), 1000, &seen, 2);
    assert_eq!(per_loop.iter().sum::<usize>(), 1000);
    assert!(per_loop[0].abs_diff(per_loop[1]) <= 1, "least-connections keeps loops even: {per_loop:?}");
    assert_eq!(server.accepted(), 1000);
    let acceptor = server.stop();
    assert!(matches!(acceptor.wait(), Err(aio::TaskError::Cancelled)));
    set.shutdown().unwrap();
}

/// Binds a listener to one port on every loop of `set` (`SO_REUSEPORT`)
/// and runs `serve` with it there; returns once every loop listens (so the
/// kernel can hand the first connection to any of them). Unix only.
#[cfg(unix)]
fn listen_on_every_loop<S, Fut>(set: &aio::LoopSet, serve: S) -> (SocketAddr, Vec<aio::ThreadsafeTask<()>>)
where
    S: Fn(aio::net::TcpListener) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (bound_tx, bound) = mpsc::channel();
    let bound_tx = std::sync::Mutex::new(bound_tx);
    let serve = Arc::new(serve);
    let servers = set
        .on_each(move |_| {
            let (bound, serve) = (bound_tx.lock().unwrap().clone(), serve.clone());
            async move {
                let listener = aio::net::TcpListener::bind_reuseport(addr).unwrap();
                bound.send(()).unwrap();
                serve(listener).await
            }
        })
        .unwrap();
    for _ in 0..set.len() {
        bound.recv().unwrap();
    }
    (addr, servers)
}

#[cfg(unix)]
#[test]
fn reuseport_spreads_1000_connections_over_every_loop() {
    let _watchdog = loop_tests::watchdog();
    raise_nofile();
    let set = set(2);
    let (seen_tx, seen) = mpsc::channel::<usize>();
    let seen_tx = std::sync::Mutex::new(seen_tx);
    let (addr, servers) = listen_on_every_loop(&set, move |listener| {
        let seen = seen_tx.lock().unwrap().clone();
        let server =
            aio::start_server_on(move |reader, writer| echo_first_byte(reader, writer, seen.clone()), listener);
        async move { server.serve_forever().await }
    });
    let per_loop = hold_connections(addr, 1000, &seen, 2);
    assert_eq!(per_loop.iter().sum::<usize>(), 1000);
    assert!(per_loop.iter().all(|&n| n > 0), "the kernel gave every loop connections: {per_loop:?}");
    drop(servers);
    set.shutdown().unwrap();
}

/// hyper's answer: the index of the loop that served the request.
async fn which_loop(
    _req: aio::hyper::hyper::Request<aio::hyper::hyper::body::Incoming>,
) -> Result<
    aio::hyper::hyper::Response<aio::hyper::http_body_util::Full<aio::hyper::hyper::body::Bytes>>,
    std::convert::Infallible,
> {
    Ok(aio::hyper::hyper::Response::new(aio::hyper::http_body_util::Full::new(index().to_string().into())))
}

/// Opens `n` keep-alive connections one after the other, sends one GET on
/// each and reads its answer before opening the next, keeping every one
/// open; returns how many each loop served. (So connection k is accepted
/// while the k before it are open: the least-connections count sees them.)
fn get_on_held_connections(addr: SocketAddr, n: usize, loops: usize) -> Vec<usize> {
    let mut per_loop = vec![0; loops];
    let mut held = Vec::new();
    for _ in 0..n {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        // The body is one digit, after the header block.
        let body_at = loop {
            let got = c.read(&mut buf).unwrap();
            assert!(got > 0, "the server closed a keep-alive connection: {:?}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..got]);
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                if answer.len() > end + 4 {
                    break end + 4;
                }
            }
        };
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        let loop_index: usize = text[body_at..].parse().unwrap_or_else(|_| panic!("a loop index as the body: {text}"));
        per_loop[loop_index] += 1;
        held.push(c);
    }
    per_loop
}

#[test]
fn hyper_serves_on_every_loop_in_both_accept_modes() {
    let _watchdog = loop_tests::watchdog();
    let set = set(2);
    // One acceptor, each connection handed to the loop with the fewest.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = aio::net::serve_least_connections(&set, listener, |stream, _| async move {
        let _ = aio::hyper::serve_connection(stream, aio::hyper::hyper::service::service_fn(which_loop)).await;
    })
    .unwrap();
    let per_loop = get_on_held_connections(server.local_addr(), 100, 2);
    assert_eq!(per_loop, [50, 50], "least-connections alternates while every connection stays open");
    drop(server.stop());

    // A listener per loop on one port (SO_REUSEPORT), each with `hyper::serve`.
    #[cfg(unix)]
    {
        let (addr, servers) = listen_on_every_loop(&set, |listener| async move {
            let service = aio::hyper::hyper::service::service_fn(which_loop);
            let _ = aio::hyper::serve(listener, service, std::future::pending()).await;
        });
        let per_loop = get_on_held_connections(addr, 200, 2);
        assert_eq!(per_loop.iter().sum::<usize>(), 200);
        assert!(per_loop.iter().all(|&n| n > 0), "the kernel gave every loop connections: {per_loop:?}");
        drop(servers);
    }
    // Windows has no SO_REUSEPORT: a clear error that names the alternative.
    #[cfg(windows)]
    {
        let err = set
            .spawn_on(0, async { aio::net::TcpListener::bind_reuseport(([127, 0, 0, 1], 0).into()).map(drop) })
            .unwrap()
            .wait()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("serve_least_connections"), "{err}");
    }
    set.shutdown().unwrap();
}
