//! Signals delivered into the loop. One file (one process) of its own:
//! signal dispositions are process-wide.
#![cfg(unix)]

use futures_core::Stream;
use r#loop as aio;
use r#loop::signal::{Signals, SIGUSR1, SIGUSR2};
use std::pin::Pin;

fn raise(sig: i32) {
    let me = rustix::process::getpid();
    rustix::process::kill_process(me, rustix::process::Signal::from_named_raw(sig).unwrap()).unwrap();
}

#[test]
fn a_signal_to_ourselves_reaches_every_listener_and_then_the_default_returns() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let mut a = Signals::new([SIGUSR1]).unwrap();
        let mut b = Signals::new([SIGUSR1, SIGUSR2]).unwrap();
        raise(SIGUSR1);
        assert_eq!(a.recv().await.unwrap(), SIGUSR1);
        assert_eq!(b.recv().await.unwrap(), SIGUSR1);
        raise(SIGUSR2);
        assert_eq!(b.recv().await.unwrap(), SIGUSR2, "a does not get SIGUSR2, b does");
        // As a Stream too.
        raise(SIGUSR1);
        let next = std::future::poll_fn(|cx| Pin::new(&mut a).poll_next(cx)).await;
        assert_eq!(next.unwrap().unwrap(), SIGUSR1);
        assert_eq!(b.recv().await.unwrap(), SIGUSR1);
        drop(a);
        drop(b);
    });
    // Both listeners gone: the default disposition is back.
    // SAFETY: an all-zero `sigaction` is a valid value to be overwritten.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reading the current action into a valid struct.
    assert_eq!(unsafe { libc::sigaction(SIGUSR1, std::ptr::null(), &mut old) }, 0);
    assert_eq!(old.sa_sigaction, libc::SIG_DFL);
}

#[test]
fn uncatchable_signals_are_refused() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let err = Signals::new([libc::SIGKILL]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(Signals::new([0]).is_err());
    });
}
