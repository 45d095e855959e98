//! `gather!`, `gather` and `try_gather`, and `MaybeDone`, the slot that
//! keeps a finished future's output until all are done.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::combinators::woken::WokenSet;

pin_project! {
    /// A future and, once it finished, its output (used by `gather!`).
    #[doc(hidden)]
    #[project = MaybeDoneProj]
    #[project_replace = MaybeDoneReplace]
    pub enum MaybeDone<F: Future> {
        /// Still running.
        Pending { #[pin] future: F },
        /// Finished; the output waits to be taken.
        Done { output: F::Output },
        /// The output was taken.
        Taken,
    }
}

impl<F: Future> MaybeDone<F> {
    /// Wraps a future.
    pub fn new(future: F) -> Self {
        MaybeDone::Pending { future }
    }

    /// Polls the future if still pending; true once it is done.
    /// `#[track_caller]`, so a `Task` inside reports the `gather!` line.
    #[track_caller]
    pub fn poll_done(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        match self.as_mut().project() {
            MaybeDoneProj::Pending { future } => match future.poll(cx) {
                Poll::Ready(output) => {
                    self.set(MaybeDone::Done { output });
                    true
                }
                Poll::Pending => false,
            },
            _ => true,
        }
    }

    /// Takes the output.
    ///
    /// # Panics
    /// When the future is not done or its output was taken already.
    pub fn take_output(self: Pin<&mut Self>) -> F::Output {
        match self.project_replace(MaybeDone::Taken) {
            MaybeDoneReplace::Done { output } => output,
            _ => panic!("gather!: output taken before the future finished"),
        }
    }
}

/// Awaits several futures of any types concurrently and returns their
/// outputs as a tuple, in argument order (asyncio's `gather(a, b, c)`).
///
/// Futures that return `Result` are each returned as they are: that is
/// asyncio's `return_exceptions=True`.
///
/// ```
/// use r#loop as aio;
/// use r#loop::{gather, sleep};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let (a, b) = ev.run_until_complete(async {
///     gather!(
///         async { sleep(Duration::from_secs(2)).await; "slow" },
///         async { sleep(Duration::from_secs(1)).await; 1 },
///     )
///     .await
/// });
/// assert_eq!((a, b), ("slow", 1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[macro_export]
macro_rules! gather {
    ($($future:expr),+ $(,)?) => {
        $crate::__gather!(@munch [] [
            __g0 __g1 __g2 __g3 __g4 __g5 __g6 __g7 __g8 __g9 __g10 __g11
            __g12 __g13 __g14 __g15 __g16 __g17 __g18 __g19 __g20 __g21 __g22 __g23
        ] $($future,)+)
    };
}

/// Implementation detail of `gather!`: gives each future its own binding.
#[doc(hidden)]
#[macro_export]
macro_rules! __gather {
    (@munch [$($id:ident = $done:expr;)*] [$next:ident $($ids:ident)*] $future:expr, $($rest:expr,)*) => {
        $crate::__gather!(@munch [$($id = $done;)* $next = $future;] [$($ids)*] $($rest,)*)
    };
    (@munch [$($id:ident = $future:expr;)*] [$($ids:ident)*]) => {
        async {
            $( let mut $id = ::core::pin::pin!($crate::__private::MaybeDone::new($future)); )*
            ::core::future::poll_fn(|cx| {
                let mut all_done = true;
                $( all_done &= $id.as_mut().poll_done(cx); )*
                if all_done {
                    ::core::task::Poll::Ready(($( $id.as_mut().take_output(), )*))
                } else {
                    ::core::task::Poll::Pending
                }
            })
            .await
        }
    };
    (@munch [$($id:ident = $future:expr;)*] [] $($rest:expr,)+) => {
        ::core::compile_error!("gather! takes at most 24 futures; use gather(iter) for more")
    };
}

/// Awaits every future of `futures` concurrently; the outputs come back in
/// input order (asyncio's `gather(*aws)`).
///
/// Each future gets its own waker, so a wake-up polls only the futures that
/// were woken: gathering ten thousand futures costs no more per completion
/// than gathering ten.
///
/// ```
/// use r#loop as aio;
/// let squares = aio::run(aio::gather((1..=4).map(|i| async move { i * i })));
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
pub fn gather<I>(futures: I) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let outputs = futures.iter().map(|_| None).collect();
    Gather { remaining: futures.len(), woken: WokenSet::new(futures.len()), futures, outputs }
}

/// The future returned by [`gather()`].
#[must_use = "futures do nothing unless awaited"]
pub struct Gather<F: Future> {
    futures: Vec<Option<Pin<Box<F>>>>,
    outputs: Vec<Option<F::Output>>,
    remaining: usize,
    /// Which futures to poll next.
    woken: WokenSet,
}

impl<F: Future> Unpin for Gather<F> {}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = &mut *self;
        for (i, waker) in this.woken.drain(cx.waker()) {
            let Some(future) = this.futures[i].as_mut() else { continue };
            if let Poll::Ready(v) = future.as_mut().poll(&mut Context::from_waker(waker)) {
                this.outputs[i] = Some(v);
                this.futures[i] = None;
                this.remaining -= 1;
            }
        }
        if this.remaining == 0 {
            let outputs = std::mem::take(&mut this.outputs);
            Poll::Ready(outputs.into_iter().map(|o| o.expect("gather: every output is set")).collect())
        } else {
            Poll::Pending
        }
    }
}

/// Awaits futures returning `Result` concurrently; the first `Err` wins:
/// the other futures are dropped (cancelled) and the error returned.
/// Otherwise all the values, in input order.
///
/// ```
/// use r#loop as aio;
/// let r: Result<Vec<i32>, String> = aio::run(aio::try_gather([
///     Box::pin(async { Ok(1) }) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
///     Box::pin(async { Err("no".to_string()) }),
///     Box::pin(std::future::pending()),
/// ]));
/// assert_eq!(r, Err("no".to_string()));
/// ```
pub fn try_gather<I, T, E>(futures: I) -> TryGather<I::Item, T>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    let futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let outputs = futures.iter().map(|_| None).collect();
    TryGather { remaining: futures.len(), woken: WokenSet::new(futures.len()), futures, outputs }
}

/// The future returned by [`try_gather`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryGather<F, T> {
    futures: Vec<Option<Pin<Box<F>>>>,
    outputs: Vec<Option<T>>,
    remaining: usize,
    /// Which futures to poll next.
    woken: WokenSet,
}

impl<F, T> Unpin for TryGather<F, T> {}

impl<F, T, E> Future for TryGather<F, T>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    #[track_caller]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        for (i, waker) in this.woken.drain(cx.waker()) {
            let Some(future) = this.futures.get_mut(i).and_then(Option::as_mut) else { continue };
            match future.as_mut().poll(&mut Context::from_waker(waker)) {
                Poll::Pending => {}
                Poll::Ready(Ok(v)) => {
                    this.outputs[i] = Some(v);
                    this.futures[i] = None;
                    this.remaining -= 1;
                }
                Poll::Ready(Err(e)) => {
                    this.futures.clear();
                    return Poll::Ready(Err(e));
                }
            }
        }
        if this.remaining == 0 {
            let outputs = std::mem::take(&mut this.outputs);
            Poll::Ready(Ok(outputs.into_iter().map(|o| o.expect("try_gather: every output is set")).collect()))
        } else {
            Poll::Pending
        }
    }
}
