//! Panics nobody else will see: the `ExceptionContext` a loop's
//! exception handler is given, and the default handler.

use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use crate::task::TaskId;

/// What the exception handler is told (asyncio's exception-handler
/// `context` dict).
#[derive(Debug, Clone)]
pub struct ExceptionContext {
    /// What went wrong, including the panic message.
    pub message: String,
    /// The task involved, if any.
    pub task_id: Option<TaskId>,
    /// Its name, if it has one.
    pub task_name: Option<String>,
    /// Where it was spawned.
    pub location: Option<&'static Location<'static>>,
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
        Ok(())
    }
}

/// A loop's handler for panics nobody else will see: panics in detached
/// tasks and in callbacks.
pub type ExceptionHandler = Rc<dyn Fn(&ExceptionContext)>;

/// The default exception handler: prints the context to stderr.
pub(crate) fn default_exception_handler(ctx: &ExceptionContext) {
    eprintln!("loop: {ctx}");
}
