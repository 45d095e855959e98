//! Structured concurrency, waiting combinators and seeing into the loop,
//! one file per concept.

mod at_scale;
mod groups;
mod seeing;
mod timeout_scopes;
mod waiting;
