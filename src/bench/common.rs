//! Options every `veille bench` part shares (data, peers, output format) and how a part
//! hands back its figures: one JSON value, and the table printed without `--json`.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Print exactly one JSON object on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Do not run the peers (scikit-learn, SQLite FTS5): veille's own figures only.
    #[arg(long)]
    pub no_peers: bool,
    /// The real data sets (tweeteval-sentiment/, umsab-french-tweet-sentiment/,
    /// twitter-us-airline-sentiment/).
    #[arg(long, default_value_os_t = default_data_dir())]
    pub data: PathBuf,
    /// The configuration whose brands and axes the analysis uses.
    #[arg(long, default_value_os_t = default_config())]
    pub config: PathBuf,
    /// Where the peer scripts are.
    #[arg(long, default_value_os_t = super::peers::default_dir())]
    pub peers_dir: PathBuf,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

fn default_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/veille.toml")
}

/// The figures of one part.
pub(crate) struct Report {
    pub(crate) json: serde_json::Value,
    pub(crate) table: String,
}

impl Report {
    /// Prints the table, or the JSON object with `--json`.
    pub(crate) fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string(&self.json)?);
        } else {
            print!("{}", self.table);
        }
        Ok(())
    }
}

/// The fixed instant generated posts count from (their dates are spread after it).
pub(crate) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Progress on stderr (stdout is the table or the JSON object).
macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("[bench] {}", format_args!($($arg)*)) };
}
pub(crate) use progress;
