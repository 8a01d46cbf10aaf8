//! `veille bench all`: every part in one run, one report (one JSON object with `--json`:
//! a key per part). The end-to-end part runs with its default schedule unless `--no-e2e`.

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
    /// Skip the end-to-end part (it runs `veille run` for several minutes).
    #[arg(long)]
    pub no_e2e: bool,
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
    let e2e = if args.no_e2e {
        None
    } else {
        progress!("all: e2e");
        Some(super::e2e::measure_all(&args.common.data)?)
    };
    if args.common.json {
        let e2e_json = e2e.as_ref().map_or_else(
            || json!({ "skipped": "--no-e2e" }),
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
            None => println!("\nEnd to end: skipped (--no-e2e)"),
        }
    }
    Ok(())
}
