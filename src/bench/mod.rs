//! `veille bench ...`: measurements that print figures (STYLE.md §19: speed is measured in
//! benchmarks, never in timed tests). One subcommand per measured part.

mod all;
mod common;
mod corpus;
mod e2e;
mod generator;
mod index;
mod influence;
mod measure;
mod nats;
mod nlp;
mod peers;
mod population;

use clap::Subcommand;

pub use all::AllArgs;
pub use common::CommonArgs;
pub use e2e::E2eArgs;
pub use index::IndexArgs;
pub use influence::InfluenceArgs;
pub use nats::NatsArgs;
pub use nlp::NlpArgs;

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Mass connectors and mavens on a generated Zipf population: precision and recall
    /// against the exact sets, memory against the budget, cost per post.
    Influence(InfluenceArgs),
    /// The roles over NATS JetStream (a nats-server started here): collect, analyse with
    /// 1 and 2 workers, index; posts per second of each.
    Nats(NatsArgs),
    /// The embedded pipeline end to end (`veille run` fed by an X API load generator on
    /// loopback): sustained posts/s, post→alert latency on WebSockets, delay until
    /// searchable, memory, 1,000 clients, a burst; nothing lost.
    E2e(E2eArgs),
    /// Full analysis of real posts: posts per CPU-second of one core, against a
    /// scikit-learn TF-IDF + LinearSVC peer.
    Nlp(NlpArgs),
    /// Index ingest rate, search p50/p99, disk and memory at each size, against a SQLite
    /// FTS5 peer.
    Index(IndexArgs),
    /// Every part (nlp, index, and end to end when present), one report.
    All(AllArgs),
}

/// Runs one benchmark and prints its figures.
pub fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Influence(args) => influence::run(args),
        BenchCommand::Nats(args) => nats::run(args),
        BenchCommand::E2e(args) => e2e::run(args),
        BenchCommand::Nlp(args) => nlp::measure_all(args)?.print(args.common.json),
        BenchCommand::Index(args) => index::measure_all(args)?.print(args.common.json),
        BenchCommand::All(args) => all::run(args),
    }
}
