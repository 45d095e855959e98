//! The recipes of `docs/ecosystem.md`, as examples (`examples/`) and tests
//! (`tests/`) that `cargo xtask ci` runs against the PostgreSQL and Redis
//! servers it starts. Nothing to import: the crate exists for them.
