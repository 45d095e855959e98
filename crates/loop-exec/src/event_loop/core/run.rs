//! Running one unit of work: a task's poll (with its budget, its
//! introspection and its completion) or a `call_soon` callback.

use std::task::Context;
use std::time::Instant;

use super::LoopCore;
use crate::event_loop::callback_cell::CallbackCell;
use crate::event_loop::exception::{ExceptionContext, PanicPayload};
use crate::event_loop::introspection::slow_poll;
use crate::event_loop::stats::bump;
use crate::task::panics;
use crate::task::raw::TaskRef;
use crate::task::state::RunAction;

impl LoopCore {
    pub(super) fn run_call(&self, cell: &CallbackCell) {
        let Some(f) = cell.take() else { return };
        bump(&self.counters.callbacks, 1);
        let inspected = self.config.inspect;
        if inspected {
            self.shared.beacon.enter_callback();
        }
        let start = self.config.debug.then(Instant::now);
        if let Err(payload) = panics::catch_payload(f) {
            let message = panics::message(&*payload);
            let mut ctx = ExceptionContext::new(format!("panic in a callback: {message}"));
            ctx.payload = Some(PanicPayload::new(payload));
            self.report(&ctx);
        }
        if inspected {
            self.shared.beacon.leave();
        }
        if let Some(start) = start {
            let took = start.elapsed();
            if took >= self.config.slow_callback {
                eprintln!(
                    "loop: a callback took {took:.3?} (slow_callback_duration is {:.3?})",
                    self.config.slow_callback
                );
            }
        }
    }

    pub(super) fn run_task(&self, task: TaskRef) {
        let header = task.header();
        match header.state.transition_to_running() {
            RunAction::Skip => return,
            RunAction::Cancel => {
                let previous = self.introspection.set_current(Some(task.as_ptr()));
                self.publish_poll(header);
                task.cancel_now();
                self.introspection.set_current(previous);
                self.complete(task);
                return;
            }
            RunAction::Poll => {}
        }
        bump(&self.counters.polls, 1);
        // Leaf futures report what the task waits on during the poll (see
        // `TaskMeta::record_wait`); the last report counts.
        if self.introspection.enabled() {
            header.meta.start_poll();
        }
        let previous = self.introspection.set_current(Some(task.as_ptr()));
        self.publish_poll(header);
        let waker = task.borrowed_waker();
        let mut cx = Context::from_waker(&waker);
        let start = (self.introspection.turn_weight() > 0).then(Instant::now);
        loop_coop::reset(self.config.coop_budget);
        let done = task.poll(&mut cx);
        if let Some(start) = start {
            let took = start.elapsed();
            self.introspection.add_busy(header, took);
            if self.config.debug && took >= self.config.slow_callback {
                self.report(&slow_poll(header, took, self.config.slow_callback));
            }
        }
        if done && header.state.load().is_cancel_requested() && task.panic_message().is_none() {
            // Cancelled during its last poll, and it returned without
            // another await point: it ends cancelled, its value dropped
            // (asyncio's `test_cancel_at_end`). A panic stays a panic.
            task.cancel_now();
        }
        self.introspection.set_current(previous);
        if done {
            self.complete(task);
        }
    }

    /// Tells the beacon which task is polled now (an inspected loop only).
    #[inline(always)]
    pub(super) fn publish_poll(&self, header: &crate::task::raw::Header) {
        if self.config.inspect {
            self.shared.beacon.enter(header.meta.id.as_u64(), header.meta.location);
        }
    }

    /// The task's future is gone: complete it, releasing the run queue's
    /// reference (`task`) and the registry's.
    pub(super) fn complete(&self, task: TaskRef) {
        let registry_ref = self.tasks.remove(task.as_ptr());
        task.complete(registry_ref);
    }
}
