//! The reactor of the `loop` runtime.
//!
//! An event loop parks its thread in a [`Reactor`] when it has nothing to run,
//! with a timeout set by its next timer; any thread can interrupt the wait
//! through a [`Notifier`]. I/O objects ([`Async<T>`] and the sockets) register
//! with the reactor of the loop running on their thread.
//!
//! # Map
//!
//! | module | holds |
//! |---|---|
//! | `sys/` | the `Driver` trait and its backends: `epoll.rs` (Linux, Miri), `polling.rs` (kqueue, IOCP on Windows, and the rest); the io_uring plan |
//! | `reactor.rs` | [`Reactor`] (park with a timeout) and [`Notifier`] (wake it from any thread) |
//! | `reactor_core.rs` | what the reactor shares with notifiers and sources: the driver, the parked flag |
//! | `park.rs` | the announce / look / wait handshake between the two (loom-checked) |
//! | `readiness.rs` | one direction's readiness word and wakers, polled from any thread (loom-checked) |
//! | `arm.rs` | one-shot drivers (Windows): re-arming a source for the directions tasks wait on (loom-checked) |
//! | `source.rs` | `Source`: one registered fd, its cached readiness and a waker per direction; the `SourceTable` of them |
//! | `async_io.rs` | [`Async<T>`]: `read_with` / `write_with` over any fd, retried on `WouldBlock` |
//! | `net/` | sockets on `Async`: `tcp.rs`, `udp.rs`, `uds.rs` (Unix domain); shared read/write helpers in `mod.rs` |
//! | `foreign.rs` | [`ForeignDriver`]: another loop's driver (tokio's, for `loop::compat`) turned inside this reactor's park (Linux) |
//! | `observe.rs` | the hook that tells the executor what a task waits on |
//!
//! **How an event travels.** A task calls `Async::read_with`; the read
//! returns `WouldBlock`, so the `Source` clears its cached readiness and
//! stores the task's waker. The loop runs out of work and calls
//! [`Reactor::park`], which waits in the driver (`epoll_wait`). The kernel
//! reports the fd under the source's key; `source.rs` marks that direction
//! ready and wakes the stored waker; the executor queues the task, which
//! retries the read and gets the bytes.
//!
//! ```
//! use loop_core::Reactor;
//! use std::time::Duration;
//!
//! let mut reactor = Reactor::new()?;
//! let notifier = reactor.notifier();
//! let t = std::thread::spawn(move || notifier.notify());
//! // Blocks until the other thread notifies (the timeout is only a bound).
//! reactor.park(Some(Duration::from_secs(10)), || true)?;
//! t.join().unwrap();
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod affinity;
mod arm;
mod async_io;
#[cfg(target_os = "linux")]
mod foreign;
mod net;
pub mod observe;
mod park;
mod reactor;
mod reactor_core;
mod readiness;
mod source;
mod sys;
#[cfg(feature = "tokio-io")]
pub mod tokio_io;

pub use affinity::{available_cores, pin_to_core};
pub use async_io::{Async, Ready};
#[cfg(target_os = "linux")]
pub use foreign::{set_foreign_driver, wake_foreign_park, ForeignDriver};
pub use net::addrs;
pub use net::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ShutdownHandle, Target, TcpListener, TcpStream, ToAddrs, UdpSocket,
};
#[cfg(unix)]
pub use net::{UnixDatagram, UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf};
pub use reactor::{Notifier, Reactor};

/// The park/notify handshake and the readiness protocol, for the loom
/// models in `src/loom.rs`.
#[doc(hidden)]
pub mod __model {
    pub use crate::arm::{rearm_with, ArmedBits, ARM_READ, ARM_WRITE};
    pub use crate::park::{notify_with, park_with, ParkFlag};
    pub use crate::readiness::{
        clear_ready_with, poll_ready_with, set_ready_with, StateWord, WakerList, CLOSED, READY, TICK,
    };
}
pub use source::EnterGuard;

/// Drives `future` with only `reactor` (no executor): for this crate's
/// examples and tests.
#[doc(hidden)]
pub fn __block_on_reactor<F: std::future::Future>(reactor: &mut Reactor, future: F) -> F::Output {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Flag(AtomicBool, Notifier);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
            self.1.notify();
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(true), reactor.notifier()));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if flag.0.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
        reactor.park(None, || !flag.0.load(Ordering::SeqCst)).expect("reactor park failed");
    }
}
