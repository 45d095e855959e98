//! Time on the loop: [`sleep`](crate::sleep) (`sleep.rs`), the one
//! timeout future behind [`wait_for`](crate::wait_for) and
//! [`timeout_at`](crate::timeout_at) (`timeout.rs`),
//! [`TimeoutScope`](crate::TimeoutScope) (`scope.rs`) and
//! [`interval`](crate::interval) (`interval.rs`). The wheel they wait in is
//! the loop's `event_loop/time_driver.rs`.

pub(crate) mod interval;
pub(crate) mod scope;
pub(crate) mod sleep;
pub(crate) mod timeout;
