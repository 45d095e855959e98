//! `Event`: a flag tasks can wait on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use crate::paths::{hit, Path};
use crate::shim::{AtomicBool, BlockingMutex};

use std::panic::Location;

use crate::observe::{note_wait_on, WaitKind, WaitTarget};
use crate::waiters::{WaiterList, WakeList};

/// A flag that tasks wait to see set (asyncio's `Event`).
///
/// `set` releases every current waiter — including one that has not been
/// polled since, even if `clear` runs first: it was released, so it
/// completes. Later `wait`s complete at once while the flag stays set.
///
/// ```
/// use r#loop as aio;
/// # aio::run(async {
/// let ev = aio::sync::Event::new();
/// assert!(!ev.is_set());
/// ev.set();
/// ev.wait().await; // set: returns at once
/// ev.clear();
/// assert!(!ev.is_set());
/// # });
/// ```
pub struct Event {
    /// The flag, readable without the lock.
    flag: AtomicBool,
    waiters: BlockingMutex<WaiterList<()>>,
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    /// A cleared event.
    pub fn new() -> Event {
        Event { flag: AtomicBool::new(false), waiters: BlockingMutex::new(WaiterList::default()) }
    }

    /// Sets the flag and releases every waiter.
    pub fn set(&self) {
        let mut wakes = WakeList::default();
        {
            let mut waiters = self.waiters.lock();
            self.flag.store(true, Ordering::Release);
            for key in waiters.keys() {
                wakes.push(waiters.unlink(key));
            }
        }
        wakes.wake_all();
    }

    /// Clears the flag; later `wait`s block until the next `set`.
    pub fn clear(&self) {
        let _waiters = self.waiters.lock();
        self.flag.store(false, Ordering::Release);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Waits until the flag is set.
    #[track_caller]
    pub fn wait(&self) -> EventWait<'_> {
        EventWait { event: self, key: None, location: Location::caller() }
    }

    /// Number of tasks waiting.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().len()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("set", &self.is_set()).finish()
    }
}

/// The future returned by [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<usize>,
    location: &'static Location<'static>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop_coop::budgeted(cx, |cx| {
            if self.key.is_none() && self.event.is_set() {
                return Poll::Ready(());
            }
            let mut waiters = self.event.waiters.lock();
            match self.key {
                None => {
                    if self.event.flag.load(Ordering::Acquire) {
                        return Poll::Ready(());
                    }
                    hit(Path::EventWaited);
                    self.key = Some(waiters.push_back((), cx.waker().clone()));
                    note_wait_on(WaitKind::Event, self.location, WaitTarget::at(self.event, 0));
                    Poll::Pending
                }
                Some(key) => {
                    if waiters.is_linked(key) {
                        waiters.set_waker(key, cx.waker());
                        note_wait_on(WaitKind::Event, self.location, WaitTarget::at(self.event, 0));
                        Poll::Pending
                    } else {
                        waiters.remove(key);
                        self.key = None;
                        Poll::Ready(())
                    }
                }
            }
        })
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            hit(Path::EventCancelledWaiter);
            self.event.waiters.lock().remove(key);
        }
    }
}
