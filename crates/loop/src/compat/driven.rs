//! A current-thread tokio runtime per loop thread, turned by the loop itself
//! (Linux): installed as the thread's [`loop_core::ForeignDriver`] by the
//! first compat future polled there, so that from then on the reactor
//! blocks in tokio's driver, which also watches the reactor's epoll fd.
//! For the thread's life: a tokio object may outlive its compat future
//! (a pooled connection, a response body) and still wait on tokio's
//! driver. The cost, once compat was used on a thread, is one more
//! `epoll_wait` per park.
//!
//! How a wake-up travels: the library's socket becomes readable; tokio's
//! driver, blocked in the loop's park, wakes the loop task that awaits it
//! (a push on the local run queue, same thread); the executor's push calls
//! `loop_core::wake_foreign_park`, which ends the park. No thread is
//! involved but the loop's, and it holds for any waker a tokio object
//! keeps, in a compat future or not (a response body read after its
//! compat future ended).

use std::cell::{Cell, OnceCell, RefCell};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::runtime::{Builder, Handle, Runtime};

/// The park's side of [`ForeignDriver::wake`](loop_core::ForeignDriver::wake).
struct Wake {
    /// Set by `wake`: the park in progress returns so the loop runs what
    /// was queued.
    woke: Cell<bool>,
    /// The waker of the park in progress (tokio's `block_on`'s), if any.
    park: RefCell<Option<Waker>>,
}

thread_local! {
    /// This thread's runtime handle, made (and the driver installed) on the
    /// first compat poll under a running loop. `None` when tokio's runtime
    /// could not be built: compat then runs apart.
    static HERE: OnceCell<Option<Handle>> = const { OnceCell::new() };
}

/// This loop thread's tokio runtime, installed as its foreign driver on
/// first use; `None` when no loop runs here.
pub(super) fn here() -> Option<Handle> {
    crate::try_get_running_loop()?;
    HERE.with(|here| here.get_or_init(install).clone())
}

/// Builds this thread's runtime and installs it as the thread's foreign
/// driver.
fn install() -> Option<Handle> {
    let runtime = Builder::new_current_thread().enable_all().build().ok()?;
    let handle = runtime.handle().clone();
    let wake = Wake { woke: Cell::new(false), park: RefCell::new(None) };
    loop_core::set_foreign_driver(Rc::new(TokioDriver { runtime, wake, poller: RefCell::new(None) }));
    Some(handle)
}

/// tokio's runtime as this thread's foreign driver.
struct TokioDriver {
    runtime: Runtime,
    wake: Wake,
    /// The reactor's epoll fd (a duplicate, so that its number is ours
    /// until we drop it) registered with tokio, and that reactor's id.
    poller: RefCell<Option<(u64, AsyncFd<OwnedFd>)>>,
}

impl TokioDriver {
    /// Registers `poller` with tokio unless it already is. Runs inside the
    /// runtime (`AsyncFd` needs its context).
    ///
    /// The facade's one `unsafe` block: tokio made registering an fd
    /// `unsafe` (its I/O-safety contract), and nothing else waits on an
    /// epoll fd inside tokio's driver.
    #[allow(unsafe_code)]
    fn watch(&self, poller: BorrowedFd<'_>, id: u64) -> bool {
        let mut slot = self.poller.borrow_mut();
        if slot.as_ref().is_some_and(|(known, _)| *known == id) {
            return true;
        }
        // Drop the old registration first (its fd is our duplicate).
        *slot = None;
        let Ok(fd) = poller.try_clone_to_owned() else { return false };
        // SAFETY: `fd` is an `OwnedFd` that the `AsyncFd` owns: it stays
        // open, on the same epoll instance, and `as_raw_fd` keeps returning
        // it until the `AsyncFd` drops (tokio's contract for `register`).
        match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
            Ok(fd) => {
                *slot = Some((id, fd));
                true
            }
            Err(_) => false,
        }
    }
}

impl loop_core::ForeignDriver for TokioDriver {
    fn wake(&self) {
        self.wake.woke.set(true);
        if let Some(waker) = self.wake.park.borrow_mut().take() {
            waker.wake();
        }
    }

    fn turn(&self) {
        // One pass of tokio's scheduler: its ready tasks, then its driver
        // polled with a zero timeout (how `yield_now` is woken).
        self.runtime.block_on(tokio::task::yield_now());
    }

    fn park(&self, poller: BorrowedFd<'_>, poller_id: u64, timeout: Option<Duration>) -> bool {
        self.runtime.block_on(async {
            if !self.watch(poller, poller_id) {
                // The epoll fd could not be registered (out of fds): wait
                // in short slices rather than miss the loop's events.
                let slice = Duration::from_millis(1);
                tokio::time::sleep(timeout.map_or(slice, |t| t.min(slice))).await;
                return true;
            }
            // Out of the cell for the wait (no borrow across an await);
            // back in when it ends.
            let Some((id, fd)) = self.poller.borrow_mut().take() else { return true };
            // A wake-up from before this park had its task queued, and the
            // loop does not park with a task queued: start afresh.
            self.wake.woke.set(false);
            let wait = std::future::poll_fn(|cx| {
                if self.wake.woke.replace(false) {
                    return Poll::Ready(false);
                }
                let mut park = self.wake.park.borrow_mut();
                if !park.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *park = Some(cx.waker().clone());
                }
                drop(park);
                match fd.poll_read_ready(cx) {
                    Poll::Ready(Ok(mut ready)) => {
                        // The reactor collects every event right after
                        // this returns (see `ForeignDriver::park`).
                        ready.clear_ready();
                        Poll::Ready(true)
                    }
                    Poll::Ready(Err(_)) => Poll::Ready(true),
                    Poll::Pending => Poll::Pending,
                }
            });
            let woken_by_poller = match timeout {
                Some(t) => tokio::time::timeout(t, wait).await.unwrap_or(true),
                None => wait.await,
            };
            self.wake.park.borrow_mut().take();
            *self.poller.borrow_mut() = Some((id, fd));
            woken_by_poller
        })
    }
}
