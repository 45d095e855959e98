//! Examples of `loop` with other ecosystems' heavy libraries, in a crate
//! of their own: the facade's examples then build only what they use (see
//! the README's first command). `cargo run -p loop-peers --example axum_app`.
