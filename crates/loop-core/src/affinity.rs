//! `pin_to_core`: keeping a thread on one CPU (thread-per-core runtimes).

use std::io;

/// Pins the calling thread to CPU `core` (0-based, as the OS numbers
/// them), so the scheduler never moves it: what a loop-per-core runtime
/// does to keep each loop's caches warm.
///
/// Linux, Android (`sched_setaffinity`) and Windows (the thread's affinity
/// mask, CPUs 0 to 63 of its processor group); elsewhere it returns an
/// [`Unsupported`](io::ErrorKind::Unsupported) error (the thread keeps
/// running unpinned). A `core` the process may not use (outside its CPU set,
/// e.g. under `taskset`) is an `InvalidInput` error.
///
/// ```
/// use r#loop as aio;
/// // Pin a helper thread to the first CPU this process may use.
/// std::thread::spawn(|| {
///     match aio::pin_to_core(0) {
///         Ok(()) => {}
///         Err(e) => eprintln!("not pinned: {e}"), // e.g. not Linux, or CPU 0 outside our set
///     }
/// }).join().unwrap();
/// ```
pub fn pin_to_core(core: usize) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::thread::{sched_setaffinity, CpuSet};
        if core >= CpuSet::MAX_CPU {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pin_to_core({core}): the highest CPU number is {}", CpuSet::MAX_CPU - 1),
            ));
        }
        let mut set = CpuSet::new();
        set.set(core);
        sched_setaffinity(None, &set).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pin_to_core({core}): {e} (is that CPU in this process's set? see `taskset -p`)"),
            )
        })
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{GetCurrentThread, SetThreadAffinityMask};
        if core >= usize::BITS as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "pin_to_core({core}): a thread's affinity mask covers CPUs 0 to {} (its processor group)",
                    usize::BITS - 1
                ),
            ));
        }
        // SAFETY: `GetCurrentThread` returns a pseudo-handle that is always
        // valid for the calling thread; the call only changes its mask.
        let previous = unsafe { SetThreadAffinityMask(GetCurrentThread(), 1usize << core) };
        if previous == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "pin_to_core({core}): {} (is that CPU in this process's affinity mask?)",
                    io::Error::last_os_error()
                ),
            ));
        }
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
    {
        Err(io::Error::new(io::ErrorKind::Unsupported, format!("pin_to_core({core}): not supported on this OS")))
    }
}

/// The CPUs this process may run on, by OS number (its affinity mask on
/// Linux and Android; elsewhere `0..available_parallelism`).
pub fn available_cores() -> Vec<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::thread::{sched_getaffinity, CpuSet};
        if let Ok(set) = sched_getaffinity(None) {
            let cores: Vec<usize> = (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect();
            if !cores.is_empty() {
                return cores;
            }
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}
