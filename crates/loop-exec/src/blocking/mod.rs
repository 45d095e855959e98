//! The blocking pool's threads and jobs (`pool.rs`): a leaf that knows no
//! loop. The loop's side, [`spawn_blocking`](crate::spawn_blocking) and
//! the name resolver it installs, is `event_loop/blocking.rs`.

pub(crate) mod pool;
