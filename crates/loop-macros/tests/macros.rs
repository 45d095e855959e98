//! `#[loop::main]` and `#[loop::test]` as users write them, and their
//! compile errors (trybuild, `tests/ui/`).

use r#loop as aio;
use std::time::Duration;

#[aio::test]
async fn a_test_runs_on_a_loop() {
    let _watchdog = Watchdog::start();
    let task = aio::spawn(async { 40 + 2 });
    assert_eq!(task.await, Ok(42));
}

#[aio::test(paused)]
async fn paused_makes_an_hour_pass_at_once() {
    let _watchdog = Watchdog::start();
    let lp = aio::get_running_loop();
    let start = lp.time();
    aio::sleep(Duration::from_secs(3600)).await;
    assert_eq!(lp.time() - start, Duration::from_secs(3600));
    assert!(lp.is_clock_paused(), "the loop has a paused clock");
}

#[aio::test(debug)]
async fn debug_turns_debug_mode_on() {
    let _watchdog = Watchdog::start();
    assert!(aio::get_running_loop().debug());
}

/// The order in which three yielding tasks first run, under `seed`.
async fn order() -> Vec<u32> {
    let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let log = log.clone();
            aio::spawn(async move { log.borrow_mut().push(i) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let out = log.borrow().clone();
    out
}

#[aio::test(seed = 3, paused)]
async fn a_seed_permutes_the_turns_tasks() {
    let _watchdog = Watchdog::start();
    assert_ne!(order().await, (0..8).collect::<Vec<_>>(), "seed 3 permutes 8 tasks");
}

#[aio::test]
async fn a_test_may_return_a_result() -> std::io::Result<()> {
    let _watchdog = Watchdog::start();
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    let a = aio::net::TcpStream::connect(listener.local_addr()?).await?;
    let (b, _) = listener.accept().await?;
    a.write_all(b"x").await?;
    let mut buf = [0u8; 1];
    b.read(&mut buf).await?;
    Ok(())
}

// trybuild runs cargo, which a Windows test binary under Wine cannot; the
// macros expand the same on every OS, so Linux covers it.
#[cfg_attr(windows, ignore = "trybuild runs cargo (not there under Wine); covered on Linux")]
#[test]
fn misuse_is_a_compile_error_pointing_at_it() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

/// Fails the test (aborting the process with a message) if it runs longer
/// than a minute: no test may hang.
struct Watchdog(std::sync::mpsc::Sender<()>);

impl Watchdog {
    fn start() -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(60)) {
                eprintln!("watchdog: a macro test ran for over a minute: it hangs");
                std::process::abort();
            }
        });
        Watchdog(tx)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}
