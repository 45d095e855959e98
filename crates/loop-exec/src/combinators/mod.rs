//! Futures made of futures: [`yield_now`](crate::yield_now),
//! [`gather!`](crate::gather!), `select!` (`gather.rs`),
//! [`wait`](crate::wait), [`as_completed`](crate::as_completed),
//! [`shield`](crate::shield), [`TaskGroup`](crate::TaskGroup), and the
//! `WokenSet` that lets them poll only the woken children (`woken.rs`).

pub(crate) mod as_completed;
pub(crate) mod gather;
pub(crate) mod shield;
pub(crate) mod task_group;
pub(crate) mod wait;
pub(crate) mod woken;
