//! Where tasks wait: a hook an executor can install to learn, whenever one
//! of this crate's futures (or its own leaf futures) returns `Pending`, what
//! the current task waits on and where in the source that wait was written.
//!
//! The `loop` executor installs it while it runs, and `all_tasks()` /
//! `dump_tasks()` show the answer ("waiting on Semaphore::acquire at
//! src/scrape.rs:88 for 1.3 s"). Without an observer, noting a wait costs
//! one thread-local read.

use std::cell::Cell;
use std::panic::Location;

/// What a task is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitKind {
    /// A timer (`sleep`, `wait_for`'s deadline, `interval`).
    Sleep,
    /// Another task's result.
    TaskJoin,
    /// `Lock::acquire`.
    Lock,
    /// `Mutex::lock`.
    Mutex,
    /// `Semaphore::acquire`.
    Semaphore,
    /// `Event::wait`.
    Event,
    /// `Barrier::wait`.
    Barrier,
    /// `Queue::get`.
    QueueGet,
    /// `Queue::put`.
    QueuePut,
    /// `Queue::join`.
    QueueJoin,
    /// A one-shot result cell.
    ResultCell,
    /// A socket, pipe or other descriptor, for data to read (or a
    /// connection to accept).
    Readable,
    /// A socket, pipe or other descriptor, for room to write (or a connect
    /// to finish).
    Writable,
    /// `Condition::wait` (waiting for a notification, then for the lock).
    Condition,
    /// A child process's exit.
    ChildExit,
    /// A signal.
    Signal,
    /// A blocking job on a thread pool (`spawn_blocking`).
    Blocking,
    /// Nothing: a helper task idle until it is given work (e.g. a stream
    /// writer's flusher with nothing to send).
    Idle,
}

/// Every kind, in code order (code = index + 1; 0 means none).
const KINDS: [WaitKind; 18] = [
    WaitKind::Sleep,
    WaitKind::TaskJoin,
    WaitKind::Lock,
    WaitKind::Mutex,
    WaitKind::Semaphore,
    WaitKind::Event,
    WaitKind::Barrier,
    WaitKind::QueueGet,
    WaitKind::QueuePut,
    WaitKind::QueueJoin,
    WaitKind::ResultCell,
    WaitKind::Readable,
    WaitKind::Writable,
    WaitKind::Condition,
    WaitKind::ChildExit,
    WaitKind::Signal,
    WaitKind::Blocking,
    WaitKind::Idle,
];

impl WaitKind {
    /// A one-byte code (never 0), for executors that pack it.
    pub fn code(self) -> u8 {
        KINDS.iter().position(|k| *k == self).map_or(0, |i| i as u8 + 1)
    }

    /// The kind with this [`code`](WaitKind::code); `None` for 0 or unknown.
    pub fn from_code(code: u8) -> Option<WaitKind> {
        KINDS.get((code as usize).checked_sub(1)?).copied()
    }

    /// A short human name ("Semaphore::acquire").
    pub fn describe(self) -> &'static str {
        match self {
            WaitKind::Sleep => "sleep",
            WaitKind::TaskJoin => "a task's result",
            WaitKind::Lock => "Lock::acquire",
            WaitKind::Mutex => "Mutex::lock",
            WaitKind::Semaphore => "Semaphore::acquire",
            WaitKind::Event => "Event::wait",
            WaitKind::Barrier => "Barrier::wait",
            WaitKind::QueueGet => "Queue::get",
            WaitKind::QueuePut => "Queue::put",
            WaitKind::QueueJoin => "Queue::join",
            WaitKind::ResultCell => "a result cell",
            WaitKind::Readable => "a read (socket/pipe)",
            WaitKind::Writable => "a write (socket/pipe)",
            WaitKind::Condition => "Condition::wait",
            WaitKind::ChildExit => "a child process's exit",
            WaitKind::Signal => "a signal",
            WaitKind::Blocking => "a blocking job (spawn_blocking)",
            WaitKind::Idle => "work (idle helper)",
        }
    }
}

/// What exactly a wait is on, for tools that draw who waits for whom
/// (`loop-inspect pstree`): which resource, and one number about it taken
/// when the wait began. Its meaning depends on the [`WaitKind`]:
///
/// | kind | `resource` | `detail` |
/// |---|---|---|
/// | `TaskJoin` | the awaited task's id | 0 |
/// | `Lock`, `Mutex` | the lock's address | the token of the task holding it ([`current_task_token`]; 0: unknown) |
/// | `Semaphore` | its address | permits free when the wait began |
/// | `Queue*` | the queue's address | its length when the wait began |
/// | `Event`, `Barrier`, `Condition` | its address | 0 |
/// | `Readable`, `Writable` | the fd (socket on Windows) | 0 |
/// | `ChildExit` | the child's pid | 0 |
///
/// An address only names the resource (two waits on the same lock carry
/// the same one); nobody reads through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WaitTarget {
    /// Which resource (see the table); 0: not known.
    pub resource: u64,
    /// One fact about it (see the table).
    pub detail: u64,
}

impl WaitTarget {
    /// No target known.
    pub const NONE: WaitTarget = WaitTarget { resource: 0, detail: 0 };

    /// The target naming the object at `address`, with `detail`.
    pub fn at<T: ?Sized>(address: *const T, detail: u64) -> WaitTarget {
        WaitTarget { resource: address.cast::<()>() as usize as u64, detail }
    }
}

/// The observer's signature.
pub type WaitObserver = fn(WaitKind, &'static Location<'static>, WaitTarget);

/// Where an executor keeps the task it is polling: a cell holding a
/// pointer to the task (`None` between polls). See [`set_task_slot`].
pub type TaskSlot = Cell<Option<std::ptr::NonNull<()>>>;

thread_local! {
    static WAIT_OBSERVER: Cell<Option<WaitObserver>> = const { Cell::new(None) };
    /// The running executor's [`TaskSlot`] (null: none), read by a `Lock`
    /// that records its holder: one thread-local load and one load, cheap
    /// enough for every uncontended acquire.
    static TASK_SLOT: Cell<*const TaskSlot> = const { Cell::new(std::ptr::null()) };
}

/// Installs (or with `None` removes) this thread's wait observer; returns
/// the previous one.
pub fn set_wait_observer(observer: Option<WaitObserver>) -> Option<WaitObserver> {
    WAIT_OBSERVER.with(|o| o.replace(observer))
}

/// Tells the observer (if any) that the current task now waits on `kind`,
/// written at `location`. Leaf futures call this when returning `Pending`.
pub fn note_wait(kind: WaitKind, location: &'static Location<'static>) {
    note_wait_on(kind, location, WaitTarget::NONE);
}

/// [`note_wait`] naming what exactly is waited on.
pub fn note_wait_on(kind: WaitKind, location: &'static Location<'static>, target: WaitTarget) {
    if let Ok(Some(f)) = WAIT_OBSERVER.try_with(Cell::get) {
        f(kind, location, target);
    }
}

/// Installs (or with null removes) this thread's [`TaskSlot`]: where the
/// executor keeps the task it polls. [`Lock`](crate::Lock) and
/// [`Mutex`](crate::Mutex) record the task found there as their holder
/// ([`current_task_token`]). Returns the previous slot. The `loop`
/// executor installs its own while it runs.
///
/// # Safety
/// `slot` must be null or point to a `TaskSlot` that stays alive, and is
/// only touched on this thread, until this function is called again on
/// this thread to replace it.
pub unsafe fn set_task_slot(slot: *const TaskSlot) -> *const TaskSlot {
    TASK_SLOT.with(|s| s.replace(slot))
}

/// The task being polled on this thread, as an opaque token: its address
/// in the executor's slot (0: none, or no executor said). Never
/// dereferenced: a tool matches it against the tasks' addresses.
#[inline]
pub fn current_task_token() -> u64 {
    let slot = TASK_SLOT.try_with(Cell::get).unwrap_or(std::ptr::null());
    if slot.is_null() {
        return 0;
    }
    // SAFETY: a non-null slot was installed by `set_task_slot`, whose
    // contract keeps it alive and on this thread until it is replaced.
    let task = unsafe { &*slot }.get();
    task.map_or(0, |p| p.as_ptr().addr() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_and_comes_back_from_it() {
        for (i, kind) in KINDS.iter().enumerate() {
            assert_eq!(kind.code() as usize, i + 1);
            assert_eq!(WaitKind::from_code(kind.code()), Some(*kind));
            assert!(!kind.describe().is_empty());
        }
        assert_eq!(WaitKind::from_code(0), None);
        assert_eq!(WaitKind::from_code(KINDS.len() as u8 + 1), None);
    }
}
