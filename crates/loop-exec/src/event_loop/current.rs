//! Which loop runs on this thread: the thread-local pointer behind
//! `with_current`, and the `Enter` guard that installs it (with the wait
//! observers and the reactor) while a loop runs or closes.

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;

use loop_core::observe::{IoWait, IoWaitObserver};

use crate::event_loop::core::LoopCore;

thread_local! {
    /// The loop running on this thread, or null. A non-null pointer comes
    /// from `Rc::into_raw` in the `Enter` guard that set it; that guard owns
    /// the strong count the pointer stands for and lives (on this thread's
    /// stack) for as long as the pointer is installed.
    static CURRENT_LOOP: Cell<*const LoopCore> = const { Cell::new(std::ptr::null()) };
}

/// The running loop's pointer, or null.
fn current_ptr() -> *const LoopCore {
    // `try_with` fails only while TLS is being torn down: no loop runs then.
    CURRENT_LOOP.try_with(Cell::get).unwrap_or(std::ptr::null())
}

/// Calls `f` with the loop running on this thread; `None` when there is none.
pub(crate) fn with_current<R>(f: impl FnOnce(&LoopCore) -> R) -> Option<R> {
    let ptr = current_ptr();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: a non-null CURRENT_LOOP is kept alive by its `Enter` guard, which
    // outlives all code run on this thread meanwhile (see `CURRENT_LOOP`); the
    // reference is shared, and the loop's mutable state is in `Cell`/`RefCell`.
    Some(f(unsafe { &*ptr }))
}

/// An owning handle to the loop running on this thread.
pub(crate) fn current_rc() -> Option<Rc<LoopCore>> {
    let ptr = current_ptr();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer came from `Rc::into_raw` and its strong count is
    // held by the live `Enter` guard (see `CURRENT_LOOP`), so adding a count and
    // rebuilding an `Rc` from it is sound.
    unsafe {
        Rc::increment_strong_count(ptr);
        Some(Rc::from_raw(ptr))
    }
}

/// Whether some loop is running on this thread.
pub(crate) fn is_running_here() -> bool {
    with_current(|_| ()).is_some()
}

/// The panic for loop-bound calls made with no loop running.
#[track_caller]
pub(crate) fn no_running_loop(what: &str) -> ! {
    panic!(
        "{what} called outside a running event loop: call it from a task or from the future \
         given to `loop::run` / `EventLoop::run_until_complete`"
    )
}

/// Marks a loop as the running one on this thread for as long as it lives.
pub(crate) struct Enter {
    /// The wait observer installed before (restored on drop).
    previous_observer: Option<loop_sync::WaitObserver>,
    /// The I/O wait observer installed before (restored on drop).
    previous_io_observer: Option<IoWaitObserver>,
    /// `loop_sync`'s task slot installed before (restored on drop).
    previous_task_slot: *const loop_sync::TaskSlot,
    /// What `CURRENT_LOOP` held before (restored on drop).
    previous: *const LoopCore,
    /// Our strong count on the loop, as installed in `CURRENT_LOOP`.
    this: *const LoopCore,
    /// The name resolver installed before (restored on drop).
    previous_resolver: Option<loop_core::addrs::Resolver>,
    /// I/O objects created meanwhile register with this loop's reactor.
    _reactor: loop_core::EnterGuard,
}

impl Enter {
    pub(crate) fn new(inner: &Rc<LoopCore>) -> Enter {
        let reactor = inner.enter_reactor();
        inner.enter_coop();
        let this = Rc::into_raw(inner.clone());
        let previous = CURRENT_LOOP.with(|current| current.replace(this));
        let observer = if inner.config().introspection { Some(record_wait as loop_sync::WaitObserver) } else { None };
        let previous_observer = loop_sync::set_wait_observer(observer);
        let io_observer = if inner.config().introspection { Some(record_io_wait as IoWaitObserver) } else { None };
        let previous_io_observer = loop_core::observe::set_io_wait_observer(io_observer);
        let previous_resolver = loop_core::addrs::set_resolver(Some(crate::event_loop::blocking::resolve_on_pool));
        let slot = if inner.config().introspection { inner.task_slot() } else { std::ptr::null() };
        // SAFETY: the slot is a field of the loop `this` keeps alive (an Rc
        // count) until `drop` puts the previous slot back; both on this
        // thread, which is the only one that touches the loop.
        let previous_task_slot = unsafe { loop_sync::set_task_slot(slot) };
        Enter {
            previous_observer,
            previous_io_observer,
            previous_task_slot,
            previous,
            this,
            previous_resolver,
            _reactor: reactor,
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let _ = CURRENT_LOOP.try_with(|current| current.set(self.previous));
        // SAFETY: `this` is alive: our strong count is released below.
        unsafe { &*self.this }.leave_coop();
        // Off the loop, futures polled on this thread (by another executor,
        // or `futures::executor::block_on` after `run`) are never held back
        // by what the last task poll left of its budget.
        loop_coop::reset(None);
        loop_sync::set_wait_observer(self.previous_observer);
        loop_core::observe::set_io_wait_observer(self.previous_io_observer);
        loop_core::addrs::set_resolver(self.previous_resolver);
        // SAFETY: the previous slot was valid when it was replaced, and its
        // owner (an outer `Enter`, or none) is still alive: `Enter`s drop in
        // the reverse order of their making.
        unsafe { loop_sync::set_task_slot(self.previous_task_slot) };
        // SAFETY: `this` came from `Rc::into_raw` in `new` and is released
        // exactly once, here, after it was uninstalled.
        drop(unsafe { Rc::from_raw(self.this) });
    }
}

/// The wait observer: records on the current task what it now waits on.
fn record_wait(kind: loop_sync::WaitKind, location: &'static Location<'static>, target: loop_sync::WaitTarget) {
    with_current(|inner| inner.record_wait(kind, location, target));
}

/// The I/O wait observer: records on the current task the socket or pipe
/// direction it now waits for.
fn record_io_wait(wait: IoWait, location: &'static Location<'static>, fd: u64) {
    let kind = match wait {
        IoWait::Readable => loop_sync::WaitKind::Readable,
        IoWait::Writable => loop_sync::WaitKind::Writable,
    };
    with_current(|inner| inner.record_wait(kind, location, loop_sync::WaitTarget { resource: fd, detail: 0 }));
}
