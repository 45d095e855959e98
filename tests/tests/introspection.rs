//! Where tasks wait: every leaf future of `loop` (timers, sync primitives,
//! sockets, pipes, children, signals, task joins, blocking jobs) reports
//! the line of the user's `.await`, never a line inside `loop`, and
//! `all_tasks()` / `dump_tasks()` show it.

use r#loop as aio;
use r#loop::sync::WaitKind;
use r#loop::{TaskGroup, TaskId, WaitInfo};
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

/// Lets the loop run until task `id` reports a wait (bounded: a task that
/// never reports one fails the test).
async fn wait_of(id: TaskId) -> WaitInfo {
    for _ in 0..1000 {
        let info = aio::all_tasks().into_iter().find(|t| t.id == id).expect("the task is alive");
        if let Some(wait) = info.waiting {
            return wait;
        }
        aio::yield_now().await;
    }
    panic!("task {id} never reported a wait");
}

/// Asserts `wait` is of `kind`, written in this file at `line`.
fn assert_at(wait: &WaitInfo, kind: WaitKind, line: u32) {
    assert_eq!(wait.kind, kind, "{wait:?}");
    assert!(wait.location.file().ends_with("introspection.rs"), "reported inside loop: {wait:?}");
    assert_eq!(wait.location.line(), line, "{wait:?}");
}

#[test]
fn awaiting_a_task_reports_the_await_line() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let child = aio::spawn(std::future::pending::<()>());
        let line = line!() + 2;
        #[allow(clippy::redundant_async_block)] // the `.await` line is what is tested
        let parent = aio::spawn(async move { child.await });
        assert_at(&wait_of(parent.id()).await, WaitKind::TaskJoin, line);
        parent.cancel();
    });
}

#[test]
fn combinators_pass_the_callers_line_through() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let a = aio::spawn(std::future::pending::<()>());
        let line = line!() + 1;
        let t = aio::spawn(async move { aio::wait_for(a, Duration::from_secs(3600)).await });
        // The deadline is quiet: the wait shown is the join, at the user's line.
        assert_at(&wait_of(t.id()).await, WaitKind::TaskJoin, line);
        t.cancel();

        let line = line!() + 1;
        let g = aio::spawn(async move { aio::gather!(aio::spawn(std::future::pending::<()>())).await });
        assert_at(&wait_of(g.id()).await, WaitKind::TaskJoin, line);
        g.cancel();
    });
}

#[test]
fn group_joins_and_wait_report_the_callers_line() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let line = line!() + 5;
        let t = aio::spawn(async move {
            let group: TaskGroup<(), ()> = TaskGroup::new();
            group.spawn(async { std::future::pending().await }).unwrap();
            group.spawn(async { Ok(()) }).unwrap();
            group.join().await
        });
        assert_at(&wait_of(t.id()).await, WaitKind::TaskJoin, line);
        t.cancel();

        let line = line!() + 2;
        let w = aio::spawn(async move {
            aio::wait(
                vec![aio::spawn(std::future::pending::<()>())],
                aio::ReturnWhen::AllCompleted,
                Some(Duration::from_secs(60)),
            )
            .await
            .map(|_| ())
        });
        assert_at(&wait_of(w.id()).await, WaitKind::TaskJoin, line);
        w.cancel();
    });
}

#[test]
fn socket_reads_writes_and_accepts_report_the_await_line() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let line = line!() + 1;
        let acceptor = aio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        assert_at(&wait_of(acceptor.id()).await, WaitKind::Readable, line);

        let client = aio::net::TcpStream::connect(addr).await.unwrap();
        let server = acceptor.await.unwrap().unwrap();
        let line = line!() + 1;
        let reader = aio::spawn(async move { server.read(&mut [0u8; 16]).await });
        assert_at(&wait_of(reader.id()).await, WaitKind::Readable, line);
        reader.cancel();

        // Fill the send buffer (nobody reads the other side).
        let big = vec![7u8; 64 << 20];
        let line = line!() + 1;
        let writer = aio::spawn(async move { client.write_all(&big).await });
        assert_at(&wait_of(writer.id()).await, WaitKind::Writable, line);
        writer.cancel();
    });
}

#[test]
fn stream_reader_reports_the_callers_line_not_its_own() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (a, b) = loop_tests::stream_pair();
        let (r, _w) = a.into_split();
        let mut reader = aio::StreamReader::new(r);
        let line = line!() + 1;
        let t = aio::spawn(async move { reader.readline().await.map(|_| ()) });
        assert_at(&wait_of(t.id()).await, WaitKind::Readable, line);
        t.cancel();
        drop(b);
    });
}

#[test]
fn a_wait_that_goes_on_across_polls_keeps_its_start_time() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().paused_clock().build().unwrap();
    ev.run_until_complete(async {
        let (ours, theirs) = loop_tests::std_stream_pair();
        let mut theirs = theirs;
        let (r, _w) = loop_tests::PairStream::from_std(ours).unwrap().into_split();
        let mut reader = aio::StreamReader::new(r);
        let t = aio::spawn(async move { reader.readline().await.map(|l| l.len()) });
        let first = wait_of(t.id()).await;
        aio::sleep(Duration::from_secs(2)).await;
        // Half a line: the reader is polled again and goes on waiting.
        let polls = aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap().polls;
        theirs.write_all(b"half").unwrap();
        for _ in 0..1000 {
            if aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap().polls > polls {
                break;
            }
            aio::sleep(Duration::from_millis(1)).await;
        }
        let info = aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap();
        assert!(info.polls > polls, "the partial line woke the reader");
        let again = info.waiting.unwrap();
        assert_eq!(again.location, first.location);
        assert!(again.waited >= Duration::from_secs(2), "the wait restarted: {again:?}");
        theirs.write_all(b" line\n").unwrap();
        assert_eq!(t.await.unwrap().unwrap(), 10);
    });
}

#[test]
fn condition_wait_reports_the_callers_line() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let state = Rc::new((aio::sync::Lock::new(), aio::sync::Condition::new()));
        let s = state.clone();
        let line = line!() + 1;
        let t = aio::spawn(async move { drop(s.1.wait(s.0.acquire().await).await) });
        assert_at(&wait_of(t.id()).await, WaitKind::Condition, line);
        // Notified, but the lock is held: still `Condition::wait`, same line.
        let held = state.0.acquire().await;
        state.1.notify_all();
        aio::yield_now().await;
        assert_at(&wait_of(t.id()).await, WaitKind::Condition, line);
        drop(held);
        t.await.unwrap();
    });
}

#[cfg(unix)]
#[test]
fn children_signals_and_blocking_jobs_report_the_callers_line() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut child = aio::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let line = line!() + 1;
        let t = aio::spawn(async move { child.wait().await.map(|_| ()) });
        assert_at(&wait_of(t.id()).await, WaitKind::ChildExit, line);
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our child.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        t.await.unwrap().unwrap();

        let mut signals = aio::signal::Signals::new([libc::SIGUSR2]).unwrap();
        let line = line!() + 1;
        let s = aio::spawn(async move { signals.recv().await.map(|_| ()) });
        assert_at(&wait_of(s.id()).await, WaitKind::Signal, line);
        s.cancel();

        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let line = line!() + 1;
        let job = aio::spawn_blocking(move || rx.recv().is_ok());
        assert_at(&wait_of(job.id()).await, WaitKind::Blocking, line);
        tx.send(()).unwrap();
        assert_eq!(job.await, Ok(true));
    });
}

#[test]
fn dump_tasks_names_the_new_kinds() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let (a, _b) = loop_tests::stream_pair();
        let t = aio::TaskBuilder::new().name("reader").spawn(async move { a.read(&mut [0u8; 4]).await });
        wait_of(t.id()).await;
        let dump = aio::dump_tasks();
        assert!(dump.contains("`reader` spawned at"), "{dump}");
        let expected = format!("waiting on a read (socket/pipe) at {}:", file!());
        assert!(dump.contains(&expected), "{dump}");
        t.cancel();
    });
}

/// Spins (burns CPU on this thread) for `d`, as a poll that does real work.
fn spin(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn debug_mode_times_every_poll() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::builder().debug(true).slow_callback_duration(Duration::from_secs(10)).build().unwrap();
    ev.run_until_complete(async {
        let t = aio::spawn(async {
            for _ in 0..3 {
                spin(Duration::from_millis(5));
                aio::yield_now().await;
            }
            std::future::pending::<()>().await
        });
        let wall = std::time::Instant::now();
        while aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap().polls < 4 {
            aio::yield_now().await;
        }
        let info = aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap();
        assert!(info.busy >= Duration::from_millis(15), "{info}");
        assert!(info.busy <= wall.elapsed(), "{info}");
        assert!(aio::dump_tasks().contains(", busy "));
        t.cancel();
    });
}

/// One run of `polls` polls of ~5 us, one per loop turn: the ratio of the
/// estimated busy time to the time really spent.
fn busy_estimate_ratio(polls: u32) -> f64 {
    aio::run(async move {
        let truth = Rc::new(std::cell::Cell::new(Duration::ZERO));
        let done = Rc::new(aio::sync::Event::new());
        let (t2, d2) = (truth.clone(), done.clone());
        let t = aio::spawn(async move {
            for _ in 0..polls {
                let start = std::time::Instant::now();
                spin(Duration::from_micros(5));
                t2.set(t2.get() + start.elapsed());
                aio::yield_now().await;
            }
            d2.set();
            std::future::pending::<()>().await
        });
        done.wait().await;
        let busy = aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap().busy;
        t.cancel();
        busy.as_secs_f64() / truth.get().as_secs_f64()
    })
}

#[test]
fn busy_time_outside_debug_mode_is_a_fair_estimate() {
    let _watchdog = loop_tests::watchdog();
    // Five runs of 30,720 polls: about 30 turns of each are timed, each
    // counting 1,024 times, so one run lands within ~20% of the truth. A
    // timed poll that the OS preempts (a loaded 2-core machine) inflates its
    // run many times over, so the median of the five is judged, with bounds
    // several standard deviations wide: no wall-clock threshold.
    let mut ratios: Vec<f64> = (0..5).map(|_| busy_estimate_ratio(30_720)).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[2];
    assert!((0.5..2.0).contains(&median), "median estimate/truth {median:.2} (runs: {ratios:.2?})");
}

#[test]
fn intervals_and_timeout_scopes_report_the_callers_line() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let line = line!() + 4;
        let t = aio::spawn(async {
            let mut every = aio::interval(Duration::from_secs(3600));
            every.tick().await; // the first tick is immediate
            every.tick().await;
        });
        assert_at(&wait_of(t.id()).await, WaitKind::Sleep, line);
        t.cancel();

        // A scope's deadline is quiet: the wait shown is the one inside it.
        let lock = Rc::new(aio::sync::Lock::new());
        let held = lock.acquire().await;
        let l = lock.clone();
        let scope = aio::TimeoutScope::after(Duration::from_secs(60));
        let line = line!() + 1;
        let s = aio::spawn(async move { scope.run(l.acquire()).await.map(drop) });
        assert_at(&wait_of(s.id()).await, WaitKind::Lock, line);
        s.cancel();
        drop(held);
    });
}

#[test]
fn a_join_through_a_std_forwarding_impl_is_not_reported_inside_std() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut child = aio::spawn(std::future::pending::<()>());
        // `&mut Task` is polled through core's `impl Future for &mut F`,
        // which does not pass the caller on: rather nothing than a line in core.
        #[allow(clippy::redundant_async_block)] // the task must own `child`
        let t = aio::spawn(async move { (&mut child).await });
        while aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap().polls == 0 {
            aio::yield_now().await;
        }
        let info = aio::all_tasks().into_iter().find(|x| x.id == t.id()).unwrap();
        assert!(info.waiting.is_none(), "{info}");
        t.cancel();
    });
}
