//! `veille bench nats`: the roles over a `nats-server` started for the bench (collect,
//! analyse with 1 and 2 workers, index); the measuring itself is
//! [`crate::pipeline::nats::bench`], this module is its command line and its table.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::{self, Origin};
use crate::fixtures;
use crate::pipeline::nats;

#[derive(Debug, Args)]
pub struct NatsArgs {
    /// Configuration giving the NLP and rules (default: the built-in sample).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Raw posts to push through.
    #[arg(long, default_value_t = 20_000)]
    posts: usize,
    /// Analyse worker counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
}

/// Runs the bench and prints one line per worker count.
pub(super) fn run(args: &NatsArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => config::load_file(path)?,
        None => config::load_str(fixtures::SAMPLE_CONFIG, &Origin::Embedded)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    println!(
        "veille bench nats: {} raw posts, {cores} cores, nats-server started here",
        args.posts
    );
    println!("workers  collect/s  analyse/s  analysed  index/s  index/s (no rules)");
    let figures = runtime.block_on(nats::bench::run(&config, args.posts, &args.workers))?;
    for figures in figures {
        println!(
            "{:>7}  {:>9.0}  {:>9.0}  {:>8}  {:>7.0}  {:>18.0}",
            figures.workers,
            figures.collect_per_s,
            figures.analyse_per_s,
            figures.analysed,
            figures.index_per_s,
            figures.index_no_alerts_per_s
        );
    }
    Ok(())
}
