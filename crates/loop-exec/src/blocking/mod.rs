//! The blocking pool: [`spawn_blocking`](crate::spawn_blocking) /
//! [`to_thread`](crate::to_thread) (`spawn.rs`) and the pool's threads
//! (`pool.rs`).

pub(crate) mod pool;
pub(crate) mod spawn;
