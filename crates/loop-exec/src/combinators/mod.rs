//! Futures made of futures: [`yield_now`](crate::yield_now)
//! (`yield_now.rs`), [`gather!`](crate::gather!) (`gather.rs`),
//! [`select!`](crate::select!) (`select.rs`),
//! [`wait`](crate::wait), [`as_completed`](crate::as_completed),
//! [`shield`](crate::shield), [`TaskGroup`](crate::TaskGroup), and the
//! `WokenSet` that lets them poll only the woken children (`woken.rs`).

pub(crate) mod as_completed;
pub(crate) mod gather;
mod select;
pub(crate) mod shield;
pub(crate) mod task_group;
pub(crate) mod wait;
pub(crate) mod woken;
pub(crate) mod yield_now;
