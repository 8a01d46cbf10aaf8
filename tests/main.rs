//! End-to-end tests that cross crates: the whole pipeline on the fixtures, and the command
//! line. One integration binary (STYLE.md §17); shared helpers are in `util.rs`.

mod cli;
mod influence;
mod live_sources;
mod nats;
mod nlp_eval;
mod pipeline;
mod util;
