//! Collector protocol tests: each source against a local server on 127.0.0.1:0 that speaks
//! its protocol (sources.md §8.6). One integration binary (STYLE.md §17); shared helpers are
//! in `util.rs`.

// The mock servers are test code too: a panic there fails the test, as in a `#[test]`.
#![allow(clippy::unwrap_used)]

mod bluesky;
mod discourse;
mod feed;
mod mastodon;
mod reddit;
mod util;
mod x;
