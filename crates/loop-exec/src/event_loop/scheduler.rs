//! The loop's side of the task seam: `Schedule` for `Arc<LoopShared>`,
//! which every task cell of a loop holds. A woken task goes to the local
//! run queue when its loop runs on the waking thread, and through the
//! injection queue (waking the loop) otherwise.

use std::sync::Arc;

use crate::event_loop::current::with_current;
use crate::event_loop::shared::{LoopShared, Remote};
use crate::task::raw::{Header, TaskRef};
use crate::task::Schedule;

/// The loop's scheduler: a task cell holds an `Arc<LoopShared>`.
impl Schedule for Arc<LoopShared> {
    /// The local run queue when this loop runs on the calling thread, the
    /// injection queue otherwise.
    fn schedule(&self, task: TaskRef) {
        let mut task = Some(task);
        with_current(|inner| {
            if Arc::ptr_eq(inner.shared(), self) {
                if let Some(task) = task.take() {
                    inner.push_local(task);
                }
            }
        });
        if let Some(task) = task {
            self.push_remote(Remote::Wake(task));
        }
    }

    fn other_loop_running_here(&self) -> bool {
        with_current(|inner| !Arc::ptr_eq(inner.shared(), self)).unwrap_or(false)
    }

    fn runs_here(&self) -> bool {
        with_current(|inner| Arc::ptr_eq(inner.shared(), self)).unwrap_or(false)
    }

    fn on_owner_thread(&self) -> bool {
        std::thread::current().id() == self.owner
    }

    fn unhandled_panic(&self, header: &Header, message: String) {
        let mut ctx =
            crate::event_loop::exception::ExceptionContext::new(format!("panic in a task nobody awaited: {message}"));
        ctx.task_id = Some(header.meta.id);
        ctx.task_name = header.meta.name().map(str::to_owned);
        ctx.location = Some(header.meta.location);
        if with_current(|inner| inner.report(&ctx)).is_none() {
            crate::event_loop::exception::call_handler(None, &ctx);
        }
    }
}
