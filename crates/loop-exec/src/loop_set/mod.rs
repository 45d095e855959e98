//! One loop per core: [`LoopSet`](crate::LoopSet) (`set.rs`),
//! [`LoopSetHandle`](crate::LoopSetHandle) (`handle.rs`) and where a spawn
//! from outside goes (`placement.rs`).

pub(crate) mod handle;
mod placement;
pub(crate) mod set;
