//! The blocking pool's threads and jobs (`pool.rs`): a leaf that knows no
//! loop; the `Executor` trait a pool of the user's implements, and where a
//! loop sends its jobs (`executor.rs`). The loop's side, [`spawn_blocking`](crate::spawn_blocking) and
//! the name resolver it installs, is `event_loop/blocking.rs`.

pub(crate) mod executor;
pub(crate) mod pool;
