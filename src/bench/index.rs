//! `veille bench index`: the project's real index writer ([`PostWriter`], committing
//! every second as the pipeline does) fed with generated posts ([`super::generator`]) as
//! fast as it takes them, up to each size of `--posts` in turn (one index that grows);
//! at each size the writer is closed (merges finished) and reopened, then term, phrase and
//! faceted searches go through [`SearchIndex::search`] (count, first page of 20, facet
//! counts: what the dashboard asks) and their p50/p99 latencies are taken. Reports the
//! index's bytes on disk, peak `RssAnon` (the process's own memory) and `RssFile` (mostly
//! the index's mmapped files) apart.
//!
//! Disk is checked first (`df`): a size that would not fit in the free space minus
//! `--margin-gb` (at the bytes per post measured so far, 1.5x for merges) is lowered to
//! what fits, and the report says so. The index directory is deleted at the end.
//!
//! Peer in the same run: SQLite FTS5 (`bench/peers/sqlite_fts5_peer.py`) on the same
//! posts, exported to a temporary file after veille's index is deleted, at the same sizes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use index::{CommitTrigger, PostWriter, SearchIndex, SearchQuery};
use nlp::{Analyzer, SentimentLabel};
use serde_json::json;

use super::common::{CommonArgs, Report, progress};
use super::generator::{self, Generator};
use super::measure::{self, Latency, PeakMemory, mib};
use super::peers;

#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Index sizes to measure at, in posts, comma-separated, increasing (one growing index).
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    pub posts: Vec<u64>,
    /// Timed searches per query kind at each size.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// Directory under which the temporary index is made (default: the system's temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Disk left free: sizes are lowered so the index leaves this many GB.
    #[arg(long, default_value_t = 15.0)]
    pub margin_gb: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Use only the first N real texts as bodies (all of them by default; for short runs).
    #[arg(long)]
    pub base_texts: Option<usize>,
}

impl IndexArgs {
    pub(crate) fn with(common: CommonArgs) -> IndexArgs {
        IndexArgs {
            common,
            posts: vec![1_000_000, 10_000_000],
            queries: 300,
            dir: None,
            margin_gb: 15.0,
            seed: 42,
            base_texts: None,
        }
    }
}

/// Posts generated and added between two looks at the clock.
const CHUNK: u64 = 1024;
/// Bytes per post assumed before any was measured (generous).
const FIRST_GUESS_BYTES_PER_POST: f64 = 2000.0;
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// The queries of each kind, cycled.
const TERMS: [&str; 10] = [
    "love", "tomorrow", "game", "service", "merci", "happy", "night", "flight", "work", "music",
];
const PHRASES: [&str; 8] = [
    "\"going to\"",
    "\"last night\"",
    "\"can't wait\"",
    "\"see you\"",
    "\"je suis\"",
    "\"thank you\"",
    "\"this weekend\"",
    "\"customer service\"",
];

/// Faceted queries: no text, filters on brand plus sentiment, language or source.
/// brand, sentiment, language, source.
type FacetedQuery = (
    &'static str,
    Option<SentimentLabel>,
    Option<&'static str>,
    Option<&'static str>,
);

fn faceted() -> Vec<FacetedQuery> {
    vec![
        ("Ondix", Some(SentimentLabel::Negative), None, None),
        ("Lumio", None, Some("fr"), None),
        ("Telvia", Some(SentimentLabel::Positive), Some("en"), None),
        ("Nexaro", None, None, Some("bluesky")),
        ("Brightel", Some(SentimentLabel::Neutral), None, Some("x")),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Term,
    Phrase,
    Faceted,
}

const KINDS: [Kind; 3] = [Kind::Term, Kind::Phrase, Kind::Faceted];

fn queries(kind: Kind) -> Vec<SearchQuery> {
    match kind {
        Kind::Term => TERMS
            .iter()
            .map(|term| SearchQuery {
                text: Some((*term).to_owned()),
                ..SearchQuery::default()
            })
            .collect(),
        Kind::Phrase => PHRASES
            .iter()
            .map(|phrase| SearchQuery {
                text: Some((*phrase).to_owned()),
                ..SearchQuery::default()
            })
            .collect(),
        Kind::Faceted => faceted()
            .into_iter()
            .map(|(brand, sentiment, language, source)| SearchQuery {
                brand: Some(brand.to_owned()),
                sentiment,
                language: language.map(str::to_owned),
                source: source.and_then(|name| {
                    collector::SourceKind::ALL
                        .into_iter()
                        .find(|kind| kind.as_str() == name)
                }),
                ..SearchQuery::default()
            })
            .collect(),
    }
}

/// The same queries for the SQLite peer.
fn peer_queries() -> serde_json::Value {
    let mut list = Vec::new();
    for term in TERMS {
        list.push(json!({ "kind": "term", "match": term }));
    }
    for phrase in PHRASES {
        list.push(json!({ "kind": "phrase", "match": phrase }));
    }
    for (brand, sentiment, language, source) in faceted() {
        list.push(json!({ "kind": "faceted", "filters": {
            "brand": brand,
            "sentiment": sentiment.map(SentimentLabel::as_str),
            "language": language,
            "source": source,
        }}));
    }
    serde_json::Value::Array(list)
}

/// Figures at one size.
#[derive(Debug, serde::Serialize)]
struct Stage {
    posts: u64,
    /// The size asked, when it was lowered to fit the disk.
    asked: Option<u64>,
    /// This stage's ingest (from the previous size to this one).
    ingest_posts: u64,
    ingest_wall_seconds: f64,
    generation_seconds: f64,
    ingest_cpu_seconds: f64,
    posts_per_second: f64,
    /// `None` when the run was too short for the 10 ms CPU clock (under 0.2 CPU-s).
    posts_per_cpu_second: Option<f64>,
    commits: u64,
    merge_wait_seconds: f64,
    disk_bytes: u64,
    bytes_per_post: f64,
    latency: std::collections::BTreeMap<&'static str, Latency>,
    mean_total_hits: std::collections::BTreeMap<&'static str, f64>,
    peak_rss_anon_bytes: u64,
    peak_rss_file_bytes: u64,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Term => "term",
        Kind::Phrase => "phrase",
        Kind::Faceted => "faceted",
    }
}

fn search_latencies(
    search: &SearchIndex,
    kind: Kind,
    count: usize,
    peak: &mut PeakMemory,
) -> anyhow::Result<(Latency, f64)> {
    let list = queries(kind);
    // Warm-up: every query once (first touch of the mmapped files).
    for query in &list {
        search.search(query)?;
    }
    let mut samples = Vec::with_capacity(count);
    let mut totals = 0usize;
    for position in 0..count {
        let query = &list[position % list.len()];
        let started = Instant::now();
        let results = search.search(query)?;
        samples.push(started.elapsed());
        totals += results.total;
        if position % 64 == 0 {
            peak.sample();
        }
    }
    peak.sample();
    Ok((
        measure::latency(&mut samples),
        totals as f64 / count.max(1) as f64,
    ))
}

/// Runs the index benchmark and returns its figures.
pub(crate) fn measure_all(args: &IndexArgs) -> anyhow::Result<Report> {
    let mut sizes = args.posts.clone();
    sizes.retain(|size| *size > 0);
    sizes.sort_unstable();
    sizes.dedup();
    anyhow::ensure!(!sizes.is_empty(), "--posts needs at least one size above 0");
    let data = super::corpus::data_dir(&args.common.data)?;
    let config = crate::config::load_file(&args.common.config)
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let analyzer = Analyzer::new(&config.nlp).context("building the analyser")?;
    let generator = Generator::new(&data, &analyzer, args.seed, args.base_texts)?;
    drop(analyzer);
    progress!(
        "index: {} base texts analysed; sizes {sizes:?}",
        generator.base_count()
    );

    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let workdir = tempfile::Builder::new()
        .prefix("veille-bench-index-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let free_at_start = measure::free_disk_bytes(workdir.path())?;
    let margin = (args.margin_gb * 1e9) as u64;
    progress!(
        "index: {:.1} GB free at {}, keeping {:.1} GB free",
        free_at_start as f64 / 1e9,
        parent.display(),
        args.margin_gb
    );
    let index_dir = workdir.path().join("index");
    let outcome = run_stages(args, &generator, &sizes, &index_dir, free_at_start, margin);
    // Delete the index whatever happened.
    let _ = std::fs::remove_dir_all(&index_dir);
    let (stages, capped_note) = outcome?;

    let reached: Vec<u64> = stages.iter().map(|stage| stage.posts).collect();
    let peer = if args.common.no_peers {
        peers::PeerRun::Skipped("--no-peers".to_owned())
    } else {
        run_peer(args, &generator, &reached, workdir.path())?
    };
    drop(workdir);
    Ok(report(args, &stages, capped_note, &peer, free_at_start))
}

type Stages = (Vec<Stage>, Option<String>);

fn run_stages(
    args: &IndexArgs,
    generator: &Generator,
    sizes: &[u64],
    index_dir: &Path,
    free_at_start: u64,
    margin: u64,
) -> anyhow::Result<Stages> {
    let mut stages = Vec::new();
    let mut capped_note = None;
    let mut count = 0u64;
    let mut bytes_per_post = FIRST_GUESS_BYTES_PER_POST;
    let mut peak = PeakMemory::default();
    for &asked in sizes {
        let room = free_at_start.saturating_sub(margin) as f64;
        let fits = ((room / (bytes_per_post * 1.5)) as u64) / 100_000 * 100_000;
        let target = asked.min(fits.max(count));
        if target <= count {
            capped_note = Some(format!(
                "{asked} posts do not fit in {:.1} GB free minus {:.1} GB margin at {bytes_per_post:.0} bytes/post",
                free_at_start as f64 / 1e9,
                margin as f64 / 1e9
            ));
            break;
        }
        if target < asked {
            capped_note = Some(format!(
                "{asked} posts asked; {target} is the largest that fits in {:.1} GB free \
                 minus {:.1} GB margin at {bytes_per_post:.0} bytes/post (x1.5 for merges)",
                free_at_start as f64 / 1e9,
                margin as f64 / 1e9
            ));
        }
        let (mut writer, _) = PostWriter::open(index_dir)?;
        let started = Instant::now();
        let cpu_before = measure::process_cpu_seconds().unwrap_or(0.0);
        let mut generation = Duration::ZERO;
        let mut last_commit = Instant::now();
        let mut commits = 0u64;
        let first = count;
        let mut chunk = Vec::with_capacity(CHUNK as usize);
        let mut next_report = count + 1_000_000;
        while count < target {
            let generating = Instant::now();
            chunk.clear();
            let end = (count + CHUNK).min(target);
            chunk.extend((count..end).map(|index| generator.post(index)));
            generation += generating.elapsed();
            for post in &chunk {
                writer.add(post)?;
                if last_commit.elapsed() >= COMMIT_EVERY {
                    writer.commit(CommitTrigger::Timeout)?;
                    commits += 1;
                    last_commit = Instant::now();
                    peak.sample();
                }
            }
            count = end;
            if count >= next_report {
                progress!(
                    "index: {count} posts, {:.0} posts/s",
                    (count - first) as f64 / started.elapsed().as_secs_f64()
                );
                next_report += 1_000_000;
            }
        }
        writer.commit(CommitTrigger::InputClosed)?;
        commits += 1;
        peak.sample();
        let wall = started.elapsed().as_secs_f64();
        let cpu = measure::process_cpu_seconds().unwrap_or(0.0) - cpu_before;
        let merging = Instant::now();
        writer.close()?;
        let merge_wait = merging.elapsed().as_secs_f64();
        let disk = measure::dir_bytes(index_dir);
        bytes_per_post = disk as f64 / count as f64;
        progress!(
            "index: {count} posts in {wall:.1} s, {:.0} MiB on disk; searching",
            mib(disk)
        );

        let (writer, search) = PostWriter::open(index_dir)?;
        let mut latency = std::collections::BTreeMap::new();
        let mut totals = std::collections::BTreeMap::new();
        for kind in KINDS {
            let (measured, mean_total) = search_latencies(&search, kind, args.queries, &mut peak)?;
            progress!(
                "index: {count} posts, {} p50 {:.2} ms p99 {:.2} ms",
                kind_name(kind),
                measured.p50_ms,
                measured.p99_ms
            );
            latency.insert(kind_name(kind), measured);
            totals.insert(kind_name(kind), mean_total);
        }
        writer.close()?;
        let ingested = count - first;
        let generation_seconds = generation.as_secs_f64();
        stages.push(Stage {
            posts: count,
            asked: (target < asked).then_some(asked),
            ingest_posts: ingested,
            ingest_wall_seconds: wall,
            generation_seconds,
            ingest_cpu_seconds: cpu,
            posts_per_second: ingested as f64 / wall.max(1e-9),
            posts_per_cpu_second: (cpu - generation_seconds >= 0.2)
                .then(|| ingested as f64 / (cpu - generation_seconds)),
            commits,
            merge_wait_seconds: merge_wait,
            disk_bytes: disk,
            bytes_per_post,
            latency,
            mean_total_hits: totals,
            peak_rss_anon_bytes: peak.rss_anon,
            peak_rss_file_bytes: peak.rss_file,
        });
        if target < asked {
            break;
        }
    }
    Ok((stages, capped_note))
}

/// Exports the same posts, runs the SQLite FTS5 peer at the same sizes, removes the export.
fn run_peer(
    args: &IndexArgs,
    generator: &Generator,
    sizes: &[u64],
    workdir: &Path,
) -> anyhow::Result<peers::PeerRun> {
    let Some(&largest) = sizes.last() else {
        return Ok(peers::PeerRun::Skipped("no size was measured".to_owned()));
    };
    let export = workdir.join("posts.tsv");
    let queries_path = workdir.join("queries.json");
    progress!("index: exporting {largest} posts for the SQLite FTS5 peer");
    {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&export)
                .with_context(|| format!("creating {}", export.display()))?,
        );
        for index in 0..largest {
            writeln!(out, "{}", generator::export_line(&generator.post(index))?)?;
        }
        out.flush()?;
    }
    std::fs::write(&queries_path, serde_json::to_vec(&peer_queries())?)?;
    let sizes_arg: Vec<String> = sizes.iter().map(u64::to_string).collect();
    let run = peers::run(
        &args.common.peers_dir,
        "sqlite_fts5_peer.py",
        &["sqlite3"],
        &[
            "--posts".into(),
            export.display().to_string(),
            "--sizes".into(),
            sizes_arg.join(","),
            "--queries".into(),
            queries_path.display().to_string(),
            "--count".into(),
            args.queries.to_string(),
            "--db".into(),
            workdir.join("peer.sqlite").display().to_string(),
        ],
    );
    let _ = std::fs::remove_file(&export);
    let _ = std::fs::remove_file(workdir.join("peer.sqlite"));
    Ok(run)
}

fn peer_stage(peer: &peers::PeerRun, posts: u64) -> Option<&serde_json::Value> {
    peer.figures()?
        .get("stages")?
        .as_array()?
        .iter()
        .find(|stage| stage.get("posts").and_then(serde_json::Value::as_u64) == Some(posts))
}

fn report(
    args: &IndexArgs,
    stages: &[Stage],
    capped_note: Option<String>,
    peer: &peers::PeerRun,
    free_at_start: u64,
) -> Report {
    let mut table = String::new();
    table.push_str(&format!(
        "Index: PostWriter (2 indexing threads, commit every second), generated posts from \
         real texts; {} timed searches per kind and size (count + page of 20 + facets)\n",
        args.queries
    ));
    table.push_str(&format!(
        "{:>10} {:>10} {:>11} {:>9} {:>9} {:>15} {:>15} {:>15} {:>10} {:>10}\n",
        "posts",
        "posts/s",
        "posts/CPU-s",
        "disk MiB",
        "B/post",
        "term p50/p99",
        "phrase p50/p99",
        "faceted p50/p99",
        "RssAnon",
        "RssFile"
    ));
    let cell = |latency: Option<&Latency>| {
        latency.map_or_else(
            || "-".to_owned(),
            |l| format!("{:.1}/{:.1} ms", l.p50_ms, l.p99_ms),
        )
    };
    let mut ratios = Vec::new();
    for stage in stages {
        table.push_str(&format!(
            "{:>10} {:>10.0} {:>11.0} {:>9.0} {:>9.0} {:>15} {:>15} {:>15} {:>6.0} MiB {:>6.0} MiB\n",
            stage.posts,
            stage.posts_per_second,
            stage.posts_per_cpu_second.unwrap_or(0.0),
            mib(stage.disk_bytes),
            stage.bytes_per_post,
            cell(stage.latency.get("term")),
            cell(stage.latency.get("phrase")),
            cell(stage.latency.get("faceted")),
            mib(stage.peak_rss_anon_bytes),
            mib(stage.peak_rss_file_bytes),
        ));
        if let Some(theirs) = peer_stage(peer, stage.posts) {
            let number = |path: &[&str]| {
                let mut value = theirs;
                for key in path {
                    value = value.get(key)?;
                }
                value.as_f64()
            };
            let their_rate = number(&["posts_per_second"]);
            let their_cpu_rate = number(&["posts_per_cpu_second"]);
            let their_bytes = number(&["db_bytes"]);
            let lat = |kind: &str| {
                Some(Latency {
                    p50_ms: number(&["latency", kind, "p50_ms"])?,
                    p99_ms: number(&["latency", kind, "p99_ms"])?,
                    queries: 0,
                })
            };
            table.push_str(&format!(
                "{:>10} {:>10.0} {:>11.0} {:>9.0} {:>9.0} {:>15} {:>15} {:>15}   (SQLite FTS5 peer)\n",
                stage.posts,
                their_rate.unwrap_or(0.0),
                their_cpu_rate.unwrap_or(0.0),
                their_bytes.map_or(0.0, |b| b / 1048576.0),
                their_bytes.map_or(0.0, |b| b / stage.posts as f64),
                cell(lat("term").as_ref()),
                cell(lat("phrase").as_ref()),
                cell(lat("faceted").as_ref()),
            ));
            let p99 = |kind: &str| {
                // Lower latency is better: the ratio is theirs / ours (how many times faster).
                let ours = stage.latency.get(kind).map(|l| l.p99_ms)?;
                peers::ratio(lat(kind)?.p99_ms, Some(ours))
            };
            let row = json!({
                "posts": stage.posts,
                "ingest_veille_over_sqlite": peers::ratio(stage.posts_per_second, their_rate),
                "ingest_per_cpu_veille_over_sqlite":
                    stage.posts_per_cpu_second.and_then(|ours| peers::ratio(ours, their_cpu_rate)),
                "p99_sqlite_over_veille_term": p99("term"),
                "p99_sqlite_over_veille_phrase": p99("phrase"),
                "p99_sqlite_over_veille_faceted": p99("faceted"),
            });
            table.push_str(&format!(
                "{:>10} ratios: ingest veille/SQLite {} (per CPU-s {}); p99 SQLite/veille term {} phrase {} faceted {}\n",
                "",
                peers::show_ratio(peers::ratio(stage.posts_per_second, their_rate)),
                peers::show_ratio(
                    stage
                        .posts_per_cpu_second
                        .and_then(|ours| peers::ratio(ours, their_cpu_rate))
                ),
                peers::show_ratio(p99("term")),
                peers::show_ratio(p99("phrase")),
                peers::show_ratio(p99("faceted")),
            ));
            ratios.push(row);
        }
    }
    if let Some(note) = &capped_note {
        table.push_str(&format!("disk: {note}\n"));
    }
    if let peers::PeerRun::Skipped(reason) = peer {
        table.push_str(&format!("peer skipped: {reason}\n"));
    }
    table.push_str("the index directory was deleted\n");
    let json = json!({
        "part": "index",
        "free_disk_bytes_at_start": free_at_start,
        "margin_gb": args.margin_gb,
        "capped": capped_note,
        "queries_per_kind": args.queries,
        "queries": {
            "term": TERMS,
            "phrase": PHRASES,
            "faceted": peer_queries()
                .as_array()
                .map(|all| all.iter().filter(|q| q["kind"] == "faceted").cloned().collect::<Vec<_>>()),
        },
        "stages": stages,
        "peer": peer.to_json(),
        "ratios": ratios,
        "index_deleted": true,
    });
    Report { json, table }
}
