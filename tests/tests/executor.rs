//! Executors of the user's: `run_in_executor_with`, `set_default_executor`,
//! `shutdown_default_executor`, and the shutdown `close()` (so `run`) does
//! at the end (asyncio's `run_in_executor(executor, f)`,
//! `set_default_executor`, `shutdown_default_executor`).

use r#loop as aio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// An executor that runs each job on a named thread of its own and counts
/// the jobs and its shutdowns (with the timeout it was given).
#[derive(Clone, Default)]
struct Counting {
    jobs: Arc<AtomicUsize>,
    shutdowns: Arc<Mutex<Vec<Duration>>>,
    /// What `shutdown` answers: did the jobs finish in time?
    late: bool,
}

impl aio::Executor for Counting {
    fn execute(&self, job: aio::BlockingFn) {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        std::thread::Builder::new().name("counting-executor".into()).spawn(job).unwrap();
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        self.shutdowns.lock().unwrap().push(timeout);
        !self.late
    }
}

#[test]
fn run_in_executor_with_runs_on_the_given_executor() {
    let _watchdog = loop_tests::watchdog();
    let executor = Counting::default();
    let ex = executor.clone();
    aio::run(async move {
        let ev = aio::get_running_loop();
        let name = ev.run_in_executor_with(&ex, || std::thread::current().name().map(str::to_owned)).await;
        assert_eq!(name.unwrap().as_deref(), Some("counting-executor"));
        // A panic comes back as the task's error, as from the pool.
        let err = ev.run_in_executor_with(&ex, || -> u8 { panic!("job boom") }).await.unwrap_err();
        assert_eq!(err, aio::TaskError::Panicked("job boom".into()));
        // The default executor is untouched.
        assert_eq!(
            aio::to_thread(|| std::thread::current().name().map(str::to_owned)).await.unwrap().as_deref(),
            Some("loop-blocking")
        );
    });
    assert_eq!(executor.jobs.load(Ordering::SeqCst), 2);
    assert!(executor.shutdowns.lock().unwrap().is_empty(), "not the default: run does not shut it down");
}

/// An executor that drops a job unrun fails the awaiting task with a
/// message that says so: never a hang.
#[test]
fn a_job_dropped_by_its_executor_fails_its_task() {
    let _watchdog = loop_tests::watchdog();
    let dropping = |job: aio::BlockingFn| drop(job);
    aio::run(async move {
        let err = aio::get_running_loop().run_in_executor_with(&dropping, || 1).await.unwrap_err();
        let aio::TaskError::Panicked(message) = err else { panic!("expected a panic, got {err:?}") };
        assert!(message.contains("dropped unrun"), "{message}");
    });
}

/// After `set_default_executor`, every blocking job of the loop goes to
/// it: `to_thread`, `spawn_blocking`, `unblock`, `run_in_executor`,
/// `loop::fs`. `close()` (here through `run`) shuts it down with the
/// loop's shutdown timeout, as asyncio's `run` calls
/// `shutdown_default_executor`.
#[test]
fn the_default_executor_takes_every_blocking_job_and_is_shut_down_at_close() {
    let _watchdog = loop_tests::watchdog();
    let executor = Counting::default();
    let ex = executor.clone();
    let ev = aio::EventLoop::builder().shutdown_timeout(Duration::from_secs(3)).build().unwrap();
    ev.run_until_complete(async move {
        let ev = aio::get_running_loop();
        // The loop's pool starts, then is replaced: its job still delivers.
        assert_eq!(aio::to_thread(|| 1).await, Ok(1));
        ev.set_default_executor(ex);
        assert_eq!(aio::to_thread(|| 2).await, Ok(2));
        assert_eq!(aio::spawn_blocking(|| 3).await, Ok(3));
        assert_eq!(aio::unblock(|| 4).await, 4);
        assert_eq!(ev.run_in_executor(|| 5).await, Ok(5));
        let here = std::env::current_exe().unwrap();
        assert!(aio::fs::metadata(&here).await.unwrap().len() > 0);
    });
    assert_eq!(executor.jobs.load(Ordering::SeqCst), 5);
    assert!(executor.shutdowns.lock().unwrap().is_empty());
    ev.close();
    assert_eq!(*executor.shutdowns.lock().unwrap(), [Duration::from_secs(3)]);
    // Closing twice does not shut it down twice.
    ev.close();
    assert_eq!(executor.shutdowns.lock().unwrap().len(), 1);
}

/// asyncio's `shutdown_default_executor`: it waits for the running job,
/// and jobs submitted later have nowhere to run (asyncio raises
/// `RuntimeError('Executor shutdown has been called')`; here the job's
/// awaiter fails saying so).
#[test]
fn shutdown_default_executor_waits_for_running_jobs_then_refuses_new_ones() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let ev = aio::get_running_loop();
        let (release, gate) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let job = aio::spawn_blocking(move || {
            started.send(()).unwrap();
            gate.recv().unwrap();
            "finished"
        });
        aio::unblock(move || running.recv().unwrap()).await;
        let shutdown = aio::spawn(ev.shutdown_default_executor(Duration::from_secs(30)));
        aio::yield_now().await;
        assert!(!shutdown.is_done(), "it waits for the running job");
        release.send(()).unwrap();
        assert_eq!(shutdown.await, Ok(Ok(())));
        assert_eq!(job.await, Ok("finished"));
        let late = aio::to_thread(|| 1).await.unwrap_err();
        let aio::TaskError::Panicked(message) = late else { panic!("expected a panic, got {late:?}") };
        assert!(message.contains("shutdown_default_executor"), "{message}");
        // Shutting down again has nothing to wait for.
        assert_eq!(ev.shutdown_default_executor(Duration::from_secs(1)).await, Ok(()));
    });
}

/// CPython `test_base_events.test_shutdown_default_executor_timeout`: an
/// executor that does not finish within the timeout is reported (asyncio
/// warns "The executor did not finishing joining its threads"; here the
/// future resolves to `TimeoutError`).
#[test]
fn shutdown_default_executor_reports_an_executor_that_did_not_finish() {
    let _watchdog = loop_tests::watchdog();
    let executor = Counting { late: true, ..Counting::default() };
    let ex = executor.clone();
    aio::run(async move {
        let ev = aio::get_running_loop();
        ev.set_default_executor(ex);
        let outcome = ev.shutdown_default_executor(Duration::from_millis(10)).await;
        assert!(outcome.is_err(), "{outcome:?}");
    });
    assert_eq!(*executor.shutdowns.lock().unwrap(), [Duration::from_millis(10)], "run does not shut it down twice");
}

/// The loop's own pool past the timeout: a job still blocked when the
/// timeout passes makes the shutdown report `TimeoutError`; the job's
/// thread is left to finish alone.
#[test]
fn shutdown_default_executor_of_the_pool_times_out_on_a_stuck_job() {
    let _watchdog = loop_tests::watchdog();
    let (release, gate) = mpsc::channel::<()>();
    aio::run(async move {
        let ev = aio::get_running_loop();
        let (started, running) = mpsc::channel::<()>();
        let job = aio::spawn_blocking(move || {
            started.send(()).unwrap();
            let _ = gate.recv();
        });
        aio::unblock(move || running.recv().unwrap()).await;
        let outcome = ev.shutdown_default_executor(Duration::from_millis(20)).await;
        assert!(outcome.is_err(), "the job was still running: {outcome:?}");
        job.cancel();
    });
    let _ = release.send(());
}
