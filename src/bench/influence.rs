//! `veille bench influence`: the influence tracker on a generated heavy-tailed population
//! ([`super::population`]), against the exact sets computed offline on the same stream.
//!
//! 1. **Tracker pass**: posts are generated in chunks (untimed) and fed to the tracker
//!    (timed: counting and set membership, [`InfluenceTracker::count`]) until the tracker
//!    has worked for `--seconds`; prints the cost per post, the cost of a badge's
//!    explanation text (built only for posts whose author holds one), the tracker's own
//!    memory accounting and the process's resident memory (`VmRSS` in
//!    `/proc/self/status`) against the budget.
//! 2. **Exact pass**: the same stream again, every author's decayed impressions and expert
//!    posts summed exactly in a hash map (as much memory as it takes), the exact smallest
//!    sets chosen the same way.
//! 3. **Report**: size of each set, precision and recall of the tracker's sets, the share of
//!    the total the tracker's set truly covers, and the share of active authors in each set
//!    next to Forrester's 6.3 % (connectors) and 13.8 % (mavens).

use std::time::{Duration, Instant};

use clap::Args;
use collector::SourceKind;
use nlp::influence::profile::{author_key, expertise_weight, reach_weight};
use nlp::influence::selection::{smallest_covering, sort_descending};
use nlp::influence::{InfluenceConfig, InfluenceKind, InfluenceTracker, Observation};
use rustc_hash::FxHashMap;

use super::population::{GeneratedPost, POSTS_PER_DAY, Population, START};

const BRAND: &str = "bench";
/// Posts generated between timed runs of the tracker.
const CHUNK: usize = 65_536;

#[derive(Debug, Args)]
pub struct InfluenceArgs {
    /// How long the tracker works (the stream is as long as it gets through).
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Distinct authors in the population.
    #[arg(long, default_value_t = 10_000_000)]
    authors: u64,
    /// Zipf exponent of the reach (followers by rank).
    #[arg(long, default_value_t = 1.1)]
    reach_exponent: f64,
    /// Zipf exponent of the activity (posts by rank).
    #[arg(long, default_value_t = 1.3)]
    activity_exponent: f64,
    /// Tracker memory budget, in MiB.
    #[arg(long, default_value_t = 256)]
    budget_mb: usize,
    /// Share each set must make.
    #[arg(long, default_value_t = 0.8)]
    share: f64,
    #[arg(long, default_value_t = 30)]
    window_days: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn observation(post: &GeneratedPost) -> Observation<'_> {
    Observation {
        source: SourceKind::X,
        author_id: post.author_id(),
        handle: None,
        name: None,
        profile_url: None,
        followers: Some(post.followers),
        engagement: post.engagement,
        trust_level: post.trust_level,
        forum_posts: post.forum_posts,
        blog_author: post.blog_author,
        text_chars: post.text_chars,
        answering: post.answering,
        at: post.at,
    }
}

/// Resident memory of this process, in bytes (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct TrackerRun {
    tracker: InfluenceTracker,
    posts: u64,
    busy: Duration,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
}

fn run_tracker(args: &InfluenceArgs, config: InfluenceConfig) -> anyhow::Result<TrackerRun> {
    let mut population = Population::new(
        args.authors,
        args.reach_exponent,
        args.activity_exponent,
        args.seed,
    )?;
    let mut chunk: Vec<GeneratedPost> = Vec::with_capacity(CHUNK);
    let rss_before = resident_bytes();
    let mut tracker = InfluenceTracker::new(config, [BRAND]);
    let budget = Duration::from_secs_f64(args.seconds.max(0.001));
    let mut busy = Duration::ZERO;
    let mut posts = 0u64;
    let mut badges = 0usize;
    while busy < budget {
        chunk.clear();
        chunk.extend((0..CHUNK).map(|_| population.next_post()));
        let started = Instant::now();
        for post in &chunk {
            badges += tracker.count(&observation(post), &[BRAND]);
        }
        busy += started.elapsed();
        posts += CHUNK as u64;
    }
    tracker.refresh();
    let rss_after = resident_bytes();
    println!("tracker pass: {posts} posts, {badges} badges held");
    // Explanations are built only for the posts whose author holds a badge: measured
    // apart, on one more chunk of the stream.
    chunk.clear();
    chunk.extend((0..CHUNK).map(|_| population.next_post()));
    let started = Instant::now();
    let mut explained = 0usize;
    for post in &chunk {
        explained += tracker.badges(&observation(post), &[BRAND]).len();
    }
    let explaining = started.elapsed();
    println!(
        "explanations: {:.0} ns per badge with its text ({explained} badges on {} posts)",
        explaining.as_nanos() as f64 / explained.max(1) as f64,
        chunk.len()
    );
    Ok(TrackerRun {
        tracker,
        posts,
        busy,
        rss_before,
        rss_after,
    })
}

/// Exact decayed totals per author key: (impressions, expert posts, last post time).
type Exact = FxHashMap<u64, (f64, f64, i64)>;

fn run_exact(args: &InfluenceArgs, posts: u64) -> anyhow::Result<(Exact, i64)> {
    let mut population = Population::new(
        args.authors,
        args.reach_exponent,
        args.activity_exponent,
        args.seed,
    )?;
    let window = f64::from(args.window_days.max(1)) * 86_400.0;
    let mut exact = Exact::default();
    let mut now = START;
    for _ in 0..posts {
        let post = population.next_post();
        let seen = observation(&post);
        // Whole days, as the tracker counts them.
        let day = post.at.div_euclid(86_400) * 86_400 - START.div_euclid(86_400) * 86_400;
        let unit = (day as f64 / window).exp();
        let entry = exact
            .entry(author_key(SourceKind::X, post.author_id()))
            .or_insert((0.0, 0.0, post.at));
        entry.0 += reach_weight(&seen) * unit;
        entry.1 += expertise_weight(&seen) * unit;
        entry.2 = entry.2.max(post.at);
        now = now.max(post.at);
    }
    Ok((exact, now))
}

/// The exact smallest set of a kind, as sorted author keys.
fn exact_set(exact: &Exact, kind: InfluenceKind, share: f64) -> (Vec<u64>, f64) {
    let mut entries: Vec<(f64, u64)> = exact
        .iter()
        .map(|(key, (reach, expertise, _))| match kind {
            InfluenceKind::Connector => (*reach, *key),
            InfluenceKind::Maven => (*expertise, *key),
        })
        .collect();
    sort_descending(&mut entries);
    let scores: Vec<f64> = entries.iter().map(|(score, _)| *score).collect();
    let total: f64 = scores.iter().sum();
    let selection = smallest_covering(&scores, total, share);
    let mut keys: Vec<u64> = entries[..selection.members]
        .iter()
        .map(|(_, key)| *key)
        .collect();
    keys.sort_unstable();
    (keys, total)
}

pub(super) fn run(args: &InfluenceArgs) -> anyhow::Result<()> {
    let config = InfluenceConfig {
        share: args.share,
        window_days: args.window_days,
        memory_budget: args.budget_mb * 1024 * 1024,
    };
    println!(
        "veille bench influence: {} authors, reach Zipf {}, activity Zipf {}, {} s of tracker \
         work, budget {} MiB, share {}, window {} days, seed {}",
        args.authors,
        args.reach_exponent,
        args.activity_exponent,
        args.seconds,
        args.budget_mb,
        args.share,
        args.window_days,
        args.seed
    );
    let run = run_tracker(args, config)?;
    let days = run.posts as f64 / POSTS_PER_DAY as f64;
    let accounted = run.tracker.memory_bytes() as u64;
    println!(
        "stream: {} posts over {days:.1} simulated days; tracker capacity {} counters per set",
        run.posts,
        run.tracker.capacity()
    );
    println!(
        "cost: {:.0} ns per post ({:.2} M posts/s)",
        run.busy.as_nanos() as f64 / run.posts as f64,
        run.posts as f64 / run.busy.as_secs_f64() / 1e6
    );
    println!(
        "memory: tracker accounts {:.1} MiB of the {} MiB budget ({})",
        mib(accounted),
        args.budget_mb,
        if accounted <= config.memory_budget as u64 {
            "within"
        } else {
            "OVER"
        }
    );
    if let (Some(before), Some(after)) = (run.rss_before, run.rss_after) {
        println!(
            "memory: process RSS {:.1} MiB before the tracker, {:.1} MiB after (+{:.1} MiB)",
            mib(before),
            mib(after),
            mib(after.saturating_sub(before))
        );
    }

    let started = Instant::now();
    let snapshot = run.tracker.snapshot()?;
    let encoded = started.elapsed();
    let started = Instant::now();
    InfluenceTracker::restore(config, [BRAND], &snapshot)?;
    println!(
        "snapshot: {:.1} MiB, encoded in {:.1} ms, restored in {:.1} ms",
        mib(snapshot.len() as u64),
        encoded.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );

    let (exact, now) = run_exact(args, run.posts)?;
    let window_start = now - i64::from(args.window_days) * 86_400;
    let active = exact
        .values()
        .filter(|(_, _, last)| *last > window_start)
        .count();
    println!(
        "exact pass: {} distinct authors, {active} active in the last {} days",
        exact.len(),
        args.window_days
    );
    let boards = run.tracker.leaderboards();
    let estimated_active = boards
        .brands
        .first()
        .map_or(0, |board| board.active_authors);
    println!("tracker's estimate of active authors: {estimated_active}");
    println!();
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10}",
        "set",
        "exact",
        "tracker",
        "precision",
        "recall",
        "covers",
        "share exact",
        "share est.",
        "Forrester"
    );
    for kind in InfluenceKind::ALL {
        let (wanted, total) = exact_set(&exact, kind, args.share);
        let found = run.tracker.members(BRAND, kind);
        let common = found
            .iter()
            .filter(|key| wanted.binary_search(key).is_ok())
            .count();
        let covered: f64 = found
            .iter()
            .filter_map(|key| exact.get(key))
            .map(|(reach, expertise, _)| match kind {
                InfluenceKind::Connector => *reach,
                InfluenceKind::Maven => *expertise,
            })
            .sum();
        let precision = common as f64 / found.len().max(1) as f64;
        let recall = common as f64 / wanted.len().max(1) as f64;
        let estimated_share = boards
            .brands
            .first()
            .map_or(0.0, |board| board.board(kind).share_of_authors);
        let forrester = match kind {
            InfluenceKind::Connector => "6.3%",
            InfluenceKind::Maven => "13.8%",
        };
        println!(
            "{:<10} {:>9} {:>9} {:>8.1}% {:>8.1}% {:>8.1}% {:>10.2}% {:>10.2}% {:>10}",
            kind.as_str(),
            wanted.len(),
            found.len(),
            100.0 * precision,
            100.0 * recall,
            100.0 * covered / total.max(f64::MIN_POSITIVE),
            100.0 * wanted.len() as f64 / active.max(1) as f64,
            100.0 * estimated_share,
            forrester
        );
    }
    println!();
    println!(
        "covers: share of the exact total the tracker's set makes (target {}%); share: set \
         size over authors active in the window",
        100.0 * args.share
    );
    Ok(())
}
