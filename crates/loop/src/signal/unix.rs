//! Unix signals: the process-wide handler, its listener slots, and
//! [`Signals`] (see the module docs in `mod.rs`).
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_core::Stream;
use loop_core::Async;
use loop_exec::WaitSite;
use loop_sync::WaitKind;

pub use libc::{SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

/// How many listeners may exist at once in the process.
const MAX_LISTENERS: usize = 64;

/// One listener's place, read by the signal handler.
struct Slot {
    /// Write end of the listener's socket pair (-1: free).
    fd: AtomicI32,
    /// Bit `n` set: the listener wants signal `n`.
    mask: AtomicU64,
}

/// The handler's view of all listeners: fixed, so the handler never
/// allocates or locks.
static SLOTS: [Slot; MAX_LISTENERS] =
    [const { Slot { fd: AtomicI32::new(-1), mask: AtomicU64::new(0) } }; MAX_LISTENERS];

/// A socket pair kept for a slot. Pairs are never closed: a slot's write
/// fd stays valid for the life of the process, so a handler that read it a
/// moment before the listener went away never writes into a recycled fd.
struct Pair {
    read: UnixStream,
    write: UnixStream,
}

/// Bookkeeping outside the handler.
struct Registry {
    /// Per slot: its pair when the slot is free (taken by the listener
    /// while in use).
    pairs: Vec<Option<Pair>>,
    /// Listeners per signal number.
    listeners: [usize; 65],
    /// Per signal number with listeners: the action that was installed
    /// before ours, put back when the last listener goes.
    previous: [Option<libc::sigaction>; 65],
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { pairs: Vec::new(), listeners: [0; 65], previous: [None; 65] });

/// This thread's `errno` (async-signal-safe: a thread-local address).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: no preconditions; returns this thread's errno.
    unsafe { libc::__errno_location() }
}

/// This thread's `errno` (async-signal-safe: a thread-local address).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: no preconditions; returns this thread's errno.
    unsafe { libc::__error() }
}

extern "C" fn handler(sig: libc::c_int) {
    // SAFETY: this thread's errno location, read before `write` can change it.
    let saved = unsafe { *errno_location() };
    if (1..64).contains(&sig) {
        let bit = 1u64 << sig;
        let byte = sig as u8;
        for slot in &SLOTS {
            if slot.mask.load(Ordering::Acquire) & bit != 0 {
                let fd = slot.fd.load(Ordering::Acquire);
                if fd >= 0 {
                    // SAFETY: `write` is async-signal-safe; `fd` is a socket
                    // that is never closed (see `Pair`); a full buffer just
                    // drops the byte (the listener is already woken).
                    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
                }
            }
        }
    }
    // SAFETY: as above; restores errno for the interrupted code.
    unsafe { *errno_location() = saved };
}

/// Installs our handler for `sig`; returns the action it replaces.
fn install(sig: i32) -> io::Result<libc::sigaction> {
    // SAFETY: a zeroed `sigaction` is a valid starting value; we fill the
    // handler, an empty mask and flags before passing it to the kernel.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `sa_mask` is a valid, owned signal set.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: as above; `old` is a valid out-parameter.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid signal number (checked by the caller), action and
    // out-parameter.
    if unsafe { libc::sigaction(sig, &action, &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

/// Puts back the action `install` replaced.
fn restore(sig: i32, previous: &libc::sigaction) -> io::Result<()> {
    // SAFETY: `previous` is an action the kernel gave us for this signal.
    if unsafe { libc::sigaction(sig, previous, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A stream of the signals it was created for.
///
/// ```no_run
/// use r#loop::signal::{Signals, SIGHUP, SIGTERM};
///
/// r#loop::run(async {
///     let mut signals = Signals::new([SIGTERM, SIGHUP])?;
///     while let Ok(sig) = signals.recv().await {
///         if sig == SIGTERM {
///             break; // shut down
///         }
///     }
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Signals {
    io: Option<Async<UnixStream>>,
    write: Option<UnixStream>,
    slot: usize,
    signals: Vec<i32>,
    pending: VecDeque<i32>,
}

impl Signals {
    /// Starts listening for `signals`.
    ///
    /// Errors: `InvalidInput` for a number that is not a catchable signal
    /// (`SIGKILL`, `SIGSTOP`, and the fault signals `SIGSEGV`, `SIGBUS`,
    /// `SIGILL`, `SIGFPE` are refused); `Other` when no loop is running or
    /// more than 64 listeners exist.
    pub fn new(signals: impl IntoIterator<Item = i32>) -> io::Result<Signals> {
        let signals: Vec<i32> = signals.into_iter().collect();
        for &sig in &signals {
            let forbidden = [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];
            if !(1..64).contains(&sig) || forbidden.contains(&sig) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("signal {sig} cannot be listened for"),
                ));
            }
        }
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match reg.pairs.iter().position(Option::is_some) {
            Some(slot) => slot,
            None if reg.pairs.len() < MAX_LISTENERS => {
                let (read, write) = UnixStream::pair()?;
                write.set_nonblocking(true)?;
                SLOTS[reg.pairs.len()].fd.store(write.as_raw_fd(), Ordering::Release);
                reg.pairs.push(Some(Pair { read, write }));
                reg.pairs.len() - 1
            }
            None => return Err(io::Error::other("too many signal listeners (at most 64 at once)")),
        };
        let Pair { read, write } = reg.pairs[slot].take().expect("a free slot has its pair");
        // Forget bytes a previous listener left behind.
        read.set_nonblocking(true)?;
        let mut junk = [0u8; 256];
        while matches!((&read).read(&mut junk), Ok(n) if n > 0) {}
        let io = match Async::new(read.try_clone()?) {
            Ok(io) => io,
            Err(e) => {
                reg.pairs[slot] = Some(Pair { read, write });
                return Err(e);
            }
        };
        drop(read);
        let mut mask = 0u64;
        for &sig in &signals {
            mask |= 1 << sig;
        }
        SLOTS[slot].mask.store(mask, Ordering::Release);
        for &sig in &signals {
            reg.listeners[sig as usize] += 1;
            if reg.listeners[sig as usize] == 1 {
                reg.previous[sig as usize] = Some(install(sig)?);
            }
        }
        Ok(Signals { io: Some(io), write: Some(write), slot, signals, pending: VecDeque::new() })
    }

    /// Waits for the next signal and returns its number.
    #[track_caller]
    pub fn recv(&mut self) -> impl Future<Output = io::Result<i32>> + use<'_> {
        WaitSite::new(Some(WaitKind::Signal), async move { std::future::poll_fn(|cx| self.poll_recv(cx)).await })
    }

    /// Polls for the next signal.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<i32>> {
        loop {
            if let Some(sig) = self.pending.pop_front() {
                return Poll::Ready(Ok(sig));
            }
            let io = self.io.as_ref().expect("listener alive");
            let mut buf = [0u8; 64];
            let n = match io.poll_readable(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.and_then(|()| io.get_ref().read(&mut buf)),
            };
            match n {
                Ok(n) => self.pending.extend(buf[..n].iter().map(|&b| b as i32).filter(|s| self.signals.contains(s))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Nothing after all: wait for the next write.
                    return match io.poll_read_with_clear(cx) {
                        Poll::Ready(()) => continue,
                        Poll::Pending => Poll::Pending,
                    };
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl Stream for Signals {
    type Item = io::Result<i32>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        SLOTS[self.slot].mask.store(0, Ordering::Release);
        let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        for &sig in &self.signals {
            reg.listeners[sig as usize] -= 1;
            if reg.listeners[sig as usize] == 0 {
                if let Some(previous) = reg.previous[sig as usize].take() {
                    let _ = restore(sig, &previous);
                }
            }
        }
        if let (Some(io), Some(write)) = (self.io.take(), self.write.take()) {
            let read = io.into_inner();
            reg.pairs[self.slot] = Some(Pair { read, write });
        }
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals").field("signals", &self.signals).finish()
    }
}

/// Waits for the next `SIGINT` (what [`ctrl_c`](super::ctrl_c) does on Unix).
pub(super) async fn next_sigint() -> io::Result<()> {
    Signals::new([libc::SIGINT])?.recv().await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handler's own work, called directly (no `sigaction`, so it runs
    /// under Miri too): it writes the signal's number to every slot that
    /// asked for it, skips the others, and leaves errno as it was.
    #[test]
    fn the_handler_writes_the_signal_to_the_slots_that_asked_and_keeps_errno() {
        let (read_a, write_a) = UnixStream::pair().unwrap();
        let (read_b, write_b) = UnixStream::pair().unwrap();
        // The last two slots: a test process has no real listeners there.
        let (a, b) = (MAX_LISTENERS - 1, MAX_LISTENERS - 2);
        SLOTS[a].fd.store(write_a.as_raw_fd(), Ordering::Release);
        SLOTS[a].mask.store(1 << libc::SIGUSR1, Ordering::Release);
        SLOTS[b].fd.store(write_b.as_raw_fd(), Ordering::Release);
        SLOTS[b].mask.store(1 << libc::SIGUSR2, Ordering::Release);
        // SAFETY: this thread's errno location, written and read on it.
        unsafe { *errno_location() = libc::EINTR };
        handler(libc::SIGUSR1);
        handler(libc::SIGUSR2);
        handler(0); // out of range: ignored
                    // SAFETY: as above.
        assert_eq!(unsafe { *errno_location() }, libc::EINTR, "errno restored");
        for slot in [a, b] {
            SLOTS[slot].mask.store(0, Ordering::Release);
            SLOTS[slot].fd.store(-1, Ordering::Release);
        }
        // Read as files (read(2), which Miri's socket pairs support).
        let read_one = |s: &UnixStream| {
            let mut byte = [0u8; 2];
            let mut f = std::fs::File::from(std::os::fd::OwnedFd::from(s.try_clone().unwrap()));
            let n = f.read(&mut byte).unwrap();
            (n, byte[0] as i32)
        };
        assert_eq!(read_one(&read_a), (1, libc::SIGUSR1));
        assert_eq!(read_one(&read_b), (1, libc::SIGUSR2));
        drop((write_a, write_b));
    }
}
