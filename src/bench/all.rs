//! `veille bench all`: every part in one run, one report (one JSON object with `--json`:
//! a key per part).

use clap::Args;
use serde_json::json;

use super::common::{CommonArgs, progress};
use super::index::IndexArgs;
use super::nlp::NlpArgs;

#[derive(Debug, Clone, Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Posts in the NLP stream (default: every test text).
    #[arg(long)]
    pub nlp_posts: Option<usize>,
    /// Index sizes, comma-separated (default 1000000,10000000).
    #[arg(long, value_delimiter = ',')]
    pub index_posts: Vec<u64>,
}

pub(crate) fn run(args: &AllArgs) -> anyhow::Result<()> {
    let mut nlp_args = NlpArgs::with(args.common.clone());
    nlp_args.posts = args.nlp_posts;
    let mut index_args = IndexArgs::with(args.common.clone());
    if !args.index_posts.is_empty() {
        index_args.posts = args.index_posts.clone();
    }
    progress!("all: nlp");
    let nlp = super::nlp::measure_all(&nlp_args)?;
    progress!("all: index");
    let index = super::index::measure_all(&index_args)?;
    // ---- End-to-end hook -------------------------------------------------------------
    // The e2e part (load generator, WebSocket clients, latency, memory) lives in another
    // branch: when merged, run it here and put its report under "e2e" below and in the
    // printed tables, e.g. `let e2e = super::e2e::measure_all(&E2eArgs::with(...))?;`.
    let e2e: Option<super::common::Report> = None;
    // -----------------------------------------------------------------------------------
    if args.common.json {
        let e2e_json = e2e.as_ref().map_or_else(
            || json!({ "skipped": "the e2e part is not in this build" }),
            |report| report.json.clone(),
        );
        println!(
            "{}",
            serde_json::to_string(&json!({
                "nlp": nlp.json,
                "index": index.json,
                "e2e": e2e_json,
            }))?
        );
    } else {
        print!("{}\n{}", nlp.table, index.table);
        match &e2e {
            Some(report) => print!("\n{}", report.table),
            None => println!("\nEnd to end: not in this build"),
        }
    }
    Ok(())
}
