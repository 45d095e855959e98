//! `BuildOnLoop`: a future made on the loop that runs it, from a `Send`
//! closure made elsewhere (`LoopHandle::spawn_fn`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

pin_project! {
    /// Holds the closure until the first poll, which happens on the loop's
    /// thread; from then on, the future it built. So a `!Send` future (an
    /// `Rc`, a loop socket's task-local state) starts on another thread's
    /// request: the closure crosses threads, the future never does.
    ///
    /// A task spawned from another thread may be moved and dropped off its
    /// loop only before its first poll (`TaskRef`'s `Send` argument in
    /// raw.rs); then this holds only the `Send` closure.
    #[project = Stage]
    pub(crate) enum BuildOnLoop<B, F> {
        /// Not polled yet (`None` only for the moment of building).
        Closure { build: Option<B> },
        /// Built on the loop's thread.
        Future { #[pin] future: F },
    }
}

impl<B, F> BuildOnLoop<B, F> {
    pub(crate) fn new(build: B) -> BuildOnLoop<B, F> {
        BuildOnLoop::Closure { build: Some(build) }
    }
}

impl<B, F> Future for BuildOnLoop<B, F>
where
    B: FnOnce() -> F,
    F: Future,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let Stage::Closure { build } = self.as_mut().project() {
            let build = build.take().expect("BuildOnLoop: the closure is taken once, at the first poll");
            self.set(BuildOnLoop::Future { future: build() });
        }
        match self.project() {
            Stage::Future { future } => future.poll(cx),
            Stage::Closure { .. } => unreachable!("built just above"),
        }
    }
}
