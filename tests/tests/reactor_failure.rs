//! A reactor that can no longer wait stops the loop with a clear panic
//! instead of spinning. (Its own test binary: it breaks the process's only
//! epoll descriptor, which would break loops of other tests.)

#![cfg(target_os = "linux")]

use r#loop as aio;
use std::time::Duration;

/// The descriptors of the process that are epoll instances.
fn epoll_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            (target.to_string_lossy() == "anon_inode:[eventpoll]")
                .then(|| e.file_name().to_string_lossy().parse().ok())?
        })
        .collect()
}

#[test]
fn a_failing_wait_panics_with_a_message_instead_of_spinning() {
    let _watchdog = loop_tests::watchdog();
    let ev = aio::EventLoop::new().unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ev.run_until_complete(async {
            let fds = epoll_fds();
            assert_eq!(fds.len(), 1, "this test binary runs one loop: {fds:?}");
            // Put /dev/null where the loop's epoll instance was (closing it
            // outright would make its owner's drop close a dead descriptor,
            // which std aborts on).
            let null = std::fs::File::open("/dev/null").unwrap();
            // SAFETY: dup2 on two open descriptors; the loop's epoll fd is
            // replaced on purpose and used by nothing else in this process.
            assert_eq!(unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fds[0]) }, fds[0]);
            aio::sleep(Duration::from_millis(10)).await;
        })
    }));
    let message = *outcome.expect_err("the loop must not go on without its reactor").downcast::<String>().unwrap();
    assert!(message.contains("reactor failed to wait for events"), "{message}");
    assert!(message.contains("behind its back"), "{message}");
}
