//! Catching panics: the one place the executor turns a panic into a
//! message (a task's poll, a destructor, a callback, a blocking job, a
//! thread-safe task, a task group's child).

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `f`, turning a panic into its message. The closure is treated as
/// unwind-safe: every caller leaves the state it touched defined (a task
/// ends `Panicked`, a callback is reported and forgotten).
#[inline(always)]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_payload(f).map_err(|payload| message(&*payload))
}

/// Runs `f`, keeping a panic's payload (to re-raise it elsewhere: a
/// blocking job's panic is resumed inside the task awaiting it, whose poll
/// then catches it with [`catch`]).
#[inline(always)]
pub(crate) fn catch_payload<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    panic::catch_unwind(AssertUnwindSafe(f))
}

/// The text of a panic payload (`&str` or `String`), or a placeholder;
/// with [`TOKIO_HINT`] after it when it is tokio's "no runtime" panic.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    };
    if is_tokio_context_panic(&text) {
        format!("{text}\n{TOKIO_HINT}")
    } else {
        text
    }
}

/// What a `loop` user is told after tokio's "there is no reactor running,
/// must be called from the context of a Tokio 1.x runtime".
pub const TOKIO_HINT: &str = "hint (loop): a tokio-only call ran on a loop thread, where no tokio runtime is. Use the \
     library natively over loop's sockets (feature `tokio-io`), or wrap the code that makes tokio objects in \
     `loop::compat::tokio(...)` (feature `tokio-compat`); docs/ecosystem.md has a recipe per library.";

/// Whether `message` is one of tokio's panics for a call made outside its
/// runtime.
pub fn is_tokio_context_panic(message: &str) -> bool {
    message.contains("Tokio 1.x runtime") || message.contains("there is no reactor running")
}

/// Makes every panic that is tokio's "no runtime" one print [`TOKIO_HINT`]
/// after the usual message, from whatever thread (the previous panic hook
/// still runs first). `#[loop::main]` installs it; calling it again does
/// nothing.
///
/// ```
/// use r#loop as aio;
/// aio::install_tokio_panic_hint();
/// ```
pub fn install_tokio_panic_hint() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            previous(info);
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if text.is_some_and(is_tokio_context_panic) {
                eprintln!("{TOKIO_HINT}");
            }
        }));
    });
}

pin_project_lite::pin_project! {
    /// Polls a future, turning a panic into `Err(message)`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> CatchUnwind<F> {
        CatchUnwind { future }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch(|| future.poll(cx)) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(message) => Poll::Ready(Err(message)),
        }
    }
}
