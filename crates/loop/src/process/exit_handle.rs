//! Windows: a child's exit, awaited through its process handle.
//!
//! The process handle is signalled when the child exits.
//! `RegisterWaitForSingleObject` has the system's wait thread call us back
//! then; the callback sets a flag and wakes the waiting task. No thread of
//! ours blocks, and nothing polls. Dropping the watch unregisters the wait
//! (waiting for a callback in progress to finish) before its state is
//! freed.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle, OwnedHandle};
use std::process::{self as stdp, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Threading::{
    RegisterWaitForSingleObject, UnregisterWaitEx, INFINITE, WT_EXECUTEINWAITTHREAD, WT_EXECUTEONLYONCE,
};

/// What the callback and the waiting task share.
struct Exit {
    exited: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A registered wait on a child's process handle.
pub(super) struct ExitWatch {
    shared: Arc<Exit>,
    /// The handle `RegisterWaitForSingleObject` returned (unregistered on
    /// drop).
    wait: HANDLE,
    /// Our own copy of the process handle: it must stay open while the wait
    /// is registered, whatever happens to the `std::process::Child`.
    _process: OwnedHandle,
}

// SAFETY: `wait` is a registration handle, usable from any thread (only
// `UnregisterWaitEx` is called with it); the rest is `Send + Sync`.
unsafe impl Send for ExitWatch {}
// SAFETY: as above; `&ExitWatch` gives no access to `wait`.
unsafe impl Sync for ExitWatch {}

/// Runs on the system's wait thread when the process handle is signalled.
unsafe extern "system" fn exited(context: *mut c_void, _timed_out: bool) {
    // SAFETY: `context` is the `Arc<Exit>` that `ExitWatch::new` leaked for
    // the registration; it is reclaimed only after `UnregisterWaitEx` has
    // waited for this callback to return.
    let exit = unsafe { &*(context as *const Exit) };
    exit.exited.store(true, Ordering::Release);
    let waker = exit.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl ExitWatch {
    pub(super) fn new(child: &stdp::Child) -> io::Result<ExitWatch> {
        let process = child.as_handle().try_clone_to_owned()?;
        let shared = Arc::new(Exit { exited: AtomicBool::new(false), waker: Mutex::new(None) });
        let context = Arc::into_raw(shared.clone()) as *mut c_void;
        let mut wait: HANDLE = std::ptr::null_mut();
        // SAFETY: `process` is a valid process handle kept open while the
        // wait is registered; `exited` matches `WAITORTIMERCALLBACK`;
        // `context` stays valid until the wait is unregistered (see `Drop`).
        let ok = unsafe {
            RegisterWaitForSingleObject(
                &mut wait,
                process.as_raw_handle() as HANDLE,
                Some(exited),
                context,
                INFINITE,
                WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD,
            )
        };
        if ok == 0 {
            let e = io::Error::last_os_error();
            // SAFETY: the registration failed, so the callback never runs:
            // take back the reference leaked for it.
            drop(unsafe { Arc::from_raw(context as *const Exit) });
            return Err(io::Error::new(e.kind(), format!("could not watch the child's exit: {e}")));
        }
        Ok(ExitWatch { shared, wait, _process: process })
    }

    /// Waits until `child` has exited, then takes its status.
    pub(super) async fn wait(&self, child: &mut stdp::Child) -> io::Result<ExitStatus> {
        std::future::poll_fn(|cx| {
            if !self.shared.exited.load(Ordering::Acquire) {
                *self.shared.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
                // Look again: the callback may have run before the waker
                // was stored.
                if !self.shared.exited.load(Ordering::Acquire) {
                    return Poll::Pending;
                }
            }
            Poll::Ready(())
        })
        .await;
        match child.try_wait()? {
            Some(status) => Ok(status),
            None => Err(io::Error::other("the child's process handle was signalled, but it has no exit status")),
        }
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        // SAFETY: `wait` came from `RegisterWaitForSingleObject` and is
        // unregistered once. With `INVALID_HANDLE_VALUE` the call returns
        // only when no callback runs or will run.
        let unregistered = unsafe { UnregisterWaitEx(self.wait, INVALID_HANDLE_VALUE) } != 0;
        if unregistered {
            // SAFETY: no callback can use the reference leaked for it any
            // more (if unregistering failed, it stays leaked: safe).
            drop(unsafe { Arc::from_raw(Arc::as_ptr(&self.shared)) });
        }
    }
}
