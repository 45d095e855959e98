//! One loop per core: [`LoopSet`](crate::LoopSet) (`set.rs`) and
//! [`LoopSetHandle`](crate::LoopSetHandle) (`handle.rs`).

pub(crate) mod handle;
pub(crate) mod set;
