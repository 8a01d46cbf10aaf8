//! veille: real-time social-media listening.
//!
//! The root package holds what is not a stage: the command line (`main.rs`), loading and
//! validating the configuration ([`config`]), the fixtures embedded for the demo
//! ([`fixtures`]) and the assembly of the stages into a running pipeline ([`pipeline`]).
//! The stages themselves are the crates `collector`, `nlp`, `index` and `dashboard`; see
//! `ARCHITECTURE.md`.

pub mod bench;
pub mod config;
pub mod dataset;
pub mod eval;
pub mod fixtures;
pub mod pipeline;
pub mod train;
pub mod users;
