//! Windows: Ctrl+C and Ctrl+Break through a console control handler.
#![allow(unsafe_code)]

use std::io;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use windows_sys::core::BOOL;
use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_C_EVENT};

/// What the handler and the waiting `ctrl_c()` futures share.
struct Console {
    /// Whether `SetConsoleCtrlHandler` has installed our handler (once per
    /// process; it stays installed and declines while nobody listens).
    installed: bool,
    /// How many Ctrl+C / Ctrl+Break events have arrived while someone
    /// listened. A waiter is done once this moves past what it saw.
    events: u64,
    /// `ctrl_c()` futures alive and registered: the handler claims the
    /// event (the process goes on) only when there is one.
    listeners: usize,
    /// Their wakers (one per waiting future, by slot).
    wakers: slab::Slab<Option<Waker>>,
}

static CONSOLE: Mutex<Console> =
    Mutex::new(Console { installed: false, events: 0, listeners: 0, wakers: slab::Slab::new() });

fn console() -> std::sync::MutexGuard<'static, Console> {
    CONSOLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The console control handler. Windows runs it on a thread of its own.
unsafe extern "system" fn handler(event: u32) -> BOOL {
    BOOL::from(__console_event(event))
}

/// The handler's work: for Ctrl+C or Ctrl+Break with a listener, wakes every
/// waiting `ctrl_c()` and returns true (handled: the process goes on).
/// Otherwise false (Windows' default: the process ends). Public, hidden, so
/// tests can deliver an event where no console can raise one.
#[doc(hidden)]
pub fn __console_event(event: u32) -> bool {
    if event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT {
        return false;
    }
    let wakers: Vec<Waker> = {
        let mut console = console();
        if console.listeners == 0 {
            return false;
        }
        console.events += 1;
        console.wakers.iter_mut().filter_map(|(_, w)| w.take()).collect()
    };
    wakers.into_iter().for_each(Waker::wake);
    true
}

/// One `ctrl_c()` wait, registered as a listener while it lives.
struct NextCtrlC {
    /// The event count when it began.
    seen: u64,
    /// Its slot in `Console::wakers`.
    slot: usize,
}

/// Waits for the next Ctrl+C or Ctrl+Break (see the module docs).
pub(super) async fn next_ctrl_c() -> io::Result<()> {
    let wait = NextCtrlC::register()?;
    std::future::poll_fn(|cx| wait.poll_event(cx)).await;
    Ok(())
}

impl NextCtrlC {
    /// Installs the handler (the first time) and counts a listener.
    fn register() -> io::Result<NextCtrlC> {
        let mut console = console();
        if !console.installed {
            // SAFETY: `handler` is a valid `extern "system"` function that
            // lives as long as the process; it only locks a mutex and wakes.
            if unsafe { SetConsoleCtrlHandler(Some(handler), 1) } == 0 {
                return Err(io::Error::other(format!(
                    "ctrl_c: SetConsoleCtrlHandler failed: {}",
                    io::Error::last_os_error()
                )));
            }
            console.installed = true;
        }
        console.listeners += 1;
        let slot = console.wakers.insert(None);
        Ok(NextCtrlC { seen: console.events, slot })
    }

    /// Ready once an event came after `register`.
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut console = console();
        if console.events != self.seen {
            return Poll::Ready(());
        }
        console.wakers[self.slot] = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for NextCtrlC {
    fn drop(&mut self) {
        let mut console = console();
        console.listeners -= 1;
        console.wakers.remove(self.slot);
    }
}
