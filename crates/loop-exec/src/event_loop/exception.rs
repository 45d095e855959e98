//! Errors nobody else will see: the `ExceptionContext` a loop's exception
//! handler is given, the panic payload it may carry, and the default
//! handler.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;

use loop_sync::__locks::BlockingMutex;

use crate::task::TaskId;

/// What the exception handler is told (asyncio's exception-handler
/// `context` dict). The loop fills in what it knows; code of yours that
/// reports through [`LoopRef::call_exception_handler`](crate::LoopRef::call_exception_handler)
/// starts from [`ExceptionContext::new`] and sets the fields it has.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let ev = aio::get_running_loop();
///     let mut ctx = aio::ExceptionContext::new("lost a connection to the cache");
///     ctx.task_name = Some("cache-refresher".into());
///     // No handler set: the default one prints it to stderr.
///     ev.call_exception_handler(&ctx);
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExceptionContext {
    /// What went wrong, including the panic message.
    pub message: String,
    /// The task involved, if any.
    pub task_id: Option<TaskId>,
    /// Its name, if it has one.
    pub task_name: Option<String>,
    /// Where it was spawned.
    pub location: Option<&'static Location<'static>>,
    /// The panic itself, where the loop still holds it: a callback's
    /// panic (asyncio's `exception` key). A task's panic was turned into
    /// its message when the task ended (it is what
    /// [`TaskError::Panicked`](crate::TaskError::Panicked) carries), so a
    /// task's context has `None` here.
    pub payload: Option<PanicPayload>,
    /// The context whose handling failed: set when the handler itself
    /// panicked and the default handler reports that (asyncio's
    /// `context` key of "Unhandled error in exception handler").
    pub cause: Option<Box<ExceptionContext>>,
}

impl ExceptionContext {
    /// A context with `message` and nothing else known.
    pub fn new(message: impl Into<String>) -> ExceptionContext {
        ExceptionContext {
            message: message.into(),
            task_id: None,
            task_name: None,
            location: None,
            payload: None,
            cause: None,
        }
    }
}

impl fmt::Display for ExceptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = self.task_id {
            write!(f, " (task {id}")?;
            if let Some(name) = &self.task_name {
                write!(f, " `{name}`")?;
            }
            if let Some(loc) = self.location {
                write!(f, ", spawned at {}:{}", loc.file(), loc.line())?;
            }
            f.write_str(")")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, "; while handling: {cause}")?;
        }
        Ok(())
    }
}

/// A panic's payload, shared by the clones of the context that carries
/// it. `take` gives the payload to one caller (to downcast it, or to
/// `std::panic::resume_unwind` it); [`message`](PanicPayload::message)
/// reads its text while it is there.
#[derive(Clone)]
pub struct PanicPayload {
    payload: Arc<BlockingMutex<Option<Box<dyn Any + Send>>>>,
}

impl PanicPayload {
    pub(crate) fn new(payload: Box<dyn Any + Send>) -> PanicPayload {
        PanicPayload { payload: Arc::new(BlockingMutex::new(Some(payload))) }
    }

    /// The payload, the first time; `None` once a clone took it.
    pub fn take(&self) -> Option<Box<dyn Any + Send>> {
        self.payload.lock().take()
    }

    /// The panic's text (a `&str` or `String` payload), a placeholder for
    /// another type, `None` once the payload was taken.
    pub fn message(&self) -> Option<String> {
        self.payload.lock().as_deref().map(crate::task::panics::message)
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PanicPayload").field(&self.message()).finish()
    }
}

/// A loop's handler for errors nobody else will see: panics in detached
/// tasks and in callbacks, slow polls in debug mode, and what code reports
/// through [`LoopRef::call_exception_handler`](crate::LoopRef::call_exception_handler).
pub type ExceptionHandler = Rc<dyn Fn(&ExceptionContext)>;

/// The default exception handler (asyncio's
/// `loop.default_exception_handler`): prints the context to stderr. A
/// handler of yours can call it for what it does not handle itself.
///
/// ```
/// use r#loop as aio;
///
/// aio::run(async {
///     let ev = aio::get_running_loop();
///     ev.set_exception_handler(|ctx| {
///         if !ctx.message.contains("expected") {
///             aio::default_exception_handler(ctx);
///         }
///     });
///     ev.call_exception_handler(&aio::ExceptionContext::new("an expected hiccup"));
/// });
/// ```
pub fn default_exception_handler(ctx: &ExceptionContext) {
    eprintln!("loop: {ctx}");
}

/// Calls `handler` (the default one when `None`) with `ctx`. A handler
/// that panics does not take the loop down: the default handler reports
/// "unhandled error in exception handler" with the panic and `ctx`, as
/// asyncio's `call_exception_handler` does.
pub(crate) fn call_handler(handler: Option<&ExceptionHandler>, ctx: &ExceptionContext) {
    let outcome = crate::task::panics::catch_payload(|| match handler {
        Some(handler) => handler(ctx),
        None => default_exception_handler(ctx),
    });
    if let Err(payload) = outcome {
        let broken = handler_failed(payload, ctx);
        // The default handler only prints; should printing itself fail
        // (stderr closed), there is nobody left to tell.
        let _ = crate::task::panics::catch_payload(|| default_exception_handler(&broken));
    }
}

/// The report of a handler that panicked with `payload` on `ctx`.
fn handler_failed(payload: Box<dyn Any + Send>, ctx: &ExceptionContext) -> ExceptionContext {
    let message = crate::task::panics::message(&*payload);
    ExceptionContext {
        message: format!("unhandled error in exception handler: {message}"),
        payload: Some(PanicPayload::new(payload)),
        cause: Some(Box::new(ctx.clone())),
        ..ExceptionContext::new(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_handler_is_reported_with_the_context_it_failed_on() {
        let mut ctx = ExceptionContext::new("panic in a callback: zero");
        ctx.task_name = Some("ignored without an id".into());
        let broken = handler_failed(Box::new("spam"), &ctx);
        assert_eq!(
            broken.to_string(),
            "unhandled error in exception handler: spam; while handling: panic in a callback: zero"
        );
        assert_eq!(broken.payload.as_ref().and_then(PanicPayload::message).as_deref(), Some("spam"));
    }
}
