//! Time on the loop: [`sleep`](crate::sleep), [`wait_for`](crate::wait_for),
//! [`interval`](crate::interval) (`sleep.rs`) and
//! [`TimeoutScope`](crate::TimeoutScope) (`scope.rs`). The wheel they
//! wait in is the loop's `event_loop/time_driver.rs`.

pub(crate) mod scope;
pub(crate) mod sleep;
