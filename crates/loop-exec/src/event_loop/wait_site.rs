//! `WaitSite`: report a composite future's waits at its caller's line.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use loop_sync::{WaitKind, WaitTarget};
use pin_project_lite::pin_project;

pin_project! {
    /// A future whose waits are reported at one place: the line that
    /// created it.
    ///
    /// `loop`'s leaf futures (sleeps, locks, sockets, task joins) tell the
    /// loop where their task waits, and `all_tasks()` / `dump_tasks()` show
    /// it. A function that awaits several of them inside its own body would
    /// show lines of *its* source; wrapped in a `WaitSite` created in a
    /// `#[track_caller]` function, its waits show at its caller's line.
    /// With a `kind` it also says what is waited for; with `None` it keeps
    /// the kind the inner futures reported.
    ///
    /// ```
    /// use r#loop as aio;
    /// use r#loop::{sleep, spawn, all_tasks, yield_now, WaitSite};
    /// use r#loop::sync::WaitKind;
    /// use std::future::Future;
    /// use std::time::Duration;
    ///
    /// #[track_caller]
    /// fn fetch() -> impl Future<Output = ()> {
    ///     WaitSite::new(None, async {
    ///         sleep(Duration::from_secs(1)).await; // not reported here...
    ///         sleep(Duration::from_secs(1)).await;
    ///     })
    /// }
    ///
    /// aio::run(async {
    ///     let line = line!() + 1;
    ///     let task = spawn(async { fetch().await }); // ...but here
    ///     yield_now().await;
    ///     let wait = all_tasks().into_iter().find(|t| t.id == task.id()).unwrap().waiting.unwrap();
    ///     assert_eq!((wait.kind, wait.location.line()), (WaitKind::Sleep, line));
    ///     task.cancel();
    /// });
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct WaitSite<F> {
        #[pin]
        future: F,
        kind: Option<WaitKind>,
        target: Option<WaitTarget>,
        location: &'static Location<'static>,
    }
}

impl<F: Future> WaitSite<F> {
    /// Wraps `future`; its waits are reported at the caller's location (as
    /// `kind`, or with `None` as the inner futures' kind).
    #[track_caller]
    pub fn new(kind: Option<WaitKind>, future: F) -> WaitSite<F> {
        WaitSite { future, kind, target: None, location: Location::caller() }
    }

    /// As [`new`](WaitSite::new), and the wait is on `target` (what
    /// exactly is waited for: a child's pid, a resource; see
    /// [`WaitTarget`]) rather than on what the inner futures said.
    #[track_caller]
    pub fn with_target(kind: Option<WaitKind>, target: WaitTarget, future: F) -> WaitSite<F> {
        WaitSite { future, kind, target: Some(target), location: Location::caller() }
    }
}

impl<F> WaitSite<F> {
    /// Wraps `future`, its waits reported at `location` (a location taken
    /// earlier, e.g. by a `#[track_caller]` constructor that spawns tasks
    /// later).
    pub fn at(kind: Option<WaitKind>, location: &'static Location<'static>, future: F) -> WaitSite<F> {
        WaitSite { future, kind, target: None, location }
    }

    /// What a `WaitSite` does after its future returned `Pending`, for code
    /// that is not a future (an I/O adapter's `poll_read`): the running task
    /// is reported waiting at `location` (on `kind`, or with `None` on what
    /// the inner leaf reported). Outside a task, or without introspection, it
    /// does nothing.
    pub fn report(kind: Option<WaitKind>, location: &'static Location<'static>) {
        crate::event_loop::current::with_current(|inner| inner.record_wait_site(kind, None, location));
    }
}

impl<F: Future> Future for WaitSite<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let polled = this.future.poll(cx);
        if polled.is_pending() {
            let (kind, target, location) = (*this.kind, *this.target, *this.location);
            crate::event_loop::current::with_current(|inner| inner.record_wait_site(kind, target, location));
        }
        polled
    }
}
