//! The cooperative budget against the failure that motivated it: out of
//! file descriptors, a user's `loop { let _ = listener.accept().await; }`
//! gets `EMFILE` at once, every time. Without the budget that task never
//! returned to the loop: timers never fired and `run` never returned
//! (tokio kept serving, thanks to its coop budget). A test binary of its
//! own: it lowers the process's descriptor limit.

#![cfg(unix)]

use r#loop as aio;
use std::cell::Cell;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

/// Fills the descriptor table up to a lowered soft limit; gives the
/// descriptors and the limit back when dropped.
struct Exhausted {
    fillers: Vec<OwnedFd>,
    limit: rustix::process::Rlimit,
}

impl Exhausted {
    fn now() -> Exhausted {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        // Lower the soft limit to a little above what is open now, then
        // fill the rest: a few dozen descriptors, not the whole table.
        let highest = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok()).max().unwrap_or(64))
            .unwrap_or(256);
        let lowered = rustix::process::Rlimit { current: Some(highest + 16), maximum: limit.maximum };
        rustix::process::setrlimit(rustix::process::Resource::Nofile, lowered).expect("lower RLIMIT_NOFILE");
        let mut fillers = Vec::new();
        let null = std::fs::File::open("/dev/null").expect("/dev/null");
        loop {
            match null.try_clone() {
                Ok(fd) => fillers.push(OwnedFd::from(fd)),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "filling the table stopped on {e}");
                    break;
                }
            }
        }
        fillers.push(OwnedFd::from(null));
        Exhausted { fillers, limit }
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        self.fillers.clear();
        let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, self.limit);
    }
}

#[test]
fn an_accept_loop_failing_at_once_every_time_does_not_freeze_the_loop() {
    let _watchdog = loop_tests::watchdog();
    let errors = Rc::new(Cell::new(0u64));
    let first_error = Rc::new(Cell::new(None));
    let ev = aio::EventLoop::new().unwrap();
    let (fired, budget_yields) = ev.run_until_complete({
        let (errors, first_error) = (errors.clone(), first_error.clone());
        async move {
            let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            // A connection waits in the backlog: accept is ready, and fails.
            let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let exhausted = Exhausted::now();
            let spinner = aio::spawn(async move {
                loop {
                    if let Err(e) = listener.accept().await {
                        if first_error.get().is_none() {
                            first_error.set(e.raw_os_error());
                        }
                        errors.set(errors.get() + 1);
                    }
                }
            });
            // A timer must still fire, and this future be polled again.
            let fired = Rc::new(Cell::new(false));
            let f = fired.clone();
            aio::get_running_loop().call_later(Duration::from_millis(5), move || f.set(true));
            aio::sleep(Duration::from_millis(20)).await;
            spinner.cancel();
            drop(exhausted);
            (fired.get(), aio::get_running_loop().stats().budget_yields)
        }
    });
    assert_eq!(first_error.get(), Some(libc::EMFILE), "accept failed for want of descriptors");
    assert!(errors.get() > 1_000, "the loop spun on failing accepts ({} of them)", errors.get());
    assert!(fired, "the timer fired while the accept loop spun");
    assert!(budget_yields > 0, "the budget made the spinning task yield");
}
