//! Helpers shared by the behaviour tests of the `loop` public API.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::RefCell;
use std::rc::Rc;

/// A log that tasks append to, to check the order things ran in.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// Appends an entry.
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// Number of open file descriptors of this process (Linux `/proc`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Number of threads of this process (Linux `/proc`).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

/// Sets a flag when dropped: proves a future's destructors ran.
pub struct DropFlag(pub Rc<std::cell::Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Runs `n` concurrent `sh -c "exit i"` children on a fresh loop and
/// returns their exit codes, in spawn order.
pub fn concurrent_exit_codes(n: i32) -> Vec<Option<i32>> {
    r#loop::run(async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                r#loop::spawn(async move {
                    r#loop::process::Command::new("sh").args(["-c", &format!("exit {i}")]).status().await
                })
            })
            .collect();
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.expect("the child's task").expect("the child ran").code());
        }
        codes
    })
}
