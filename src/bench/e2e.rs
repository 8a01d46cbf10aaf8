//! `veille bench e2e`: the embedded pipeline end to end, as `veille run` assembles it, fed
//! by a load generator speaking the X API v2 filtered stream on loopback.
//!
//! 1. The generator ([`generator`]) serves posts built from real tweets ([`corpus`]) on a
//!    schedule: a warm-up, the **steady** rate (default 6,000 posts/s, the X firehose
//!    average), then **steps** of rising rates (each after a gap that lets a backlog drain;
//!    stepping stops at the first rate not sustained), then a **burst** (default 10 s at
//!    143,199 posts/s).
//! 2. The pipeline ([`process`]) is `veille run` in a child process on a temporary data
//!    directory, its X source pointed at the generator.
//! 3. Dashboard clients ([`clients`]) hold WebSockets on `/ws?team=care`: a probe timing
//!    each alert from the moment its post was written on the X socket, `--clients` in all,
//!    `--slow-clients` of them reading one message every `--slow-pause-ms`.
//! 4. The bench polls `/api/health` (posts received by the NLP stage, relevant, searchable),
//!    searches marker posts until they are found (`/api/search?q=zqmark<n>`; at most two
//!    markers a second, so that the probe's own searches stay a small, constant load
//!    whatever the rate), and samples the child's `RssAnon`/`RssFile`.
//! 5. At the end it waits until every relevant post is searchable, stops the pipeline
//!    (final commit), reopens the index and checks every post id is there exactly once.
//!
//! A step is **sustained** when the generator wrote its posts at ≥ 95 % of the rate (the
//! collector kept reading) and, when its writing ends, the posts written but not yet
//! through the NLP stage are fewer than half a second of that rate (no growing backlog; the
//! last phase is not judged after the drain that follows it). Loss is checked on
//! the whole run: posts received by the NLP stage = posts written, and posts in the index
//! = relevant posts, each id once.
//!
//! With `--json`, exactly one JSON object on standard output; progress on standard error.

mod clients;
mod corpus;
mod generator;
mod process;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use clients::{ClientStats, Pace};
use corpus::{Corpus, Shares};
use generator::{Generator, Phase};

/// Rates at which the bench steps up after the steady phase, by default.
const DEFAULT_STEPS: &str = "12000,25000,50000,75000,100000,150000";
/// How often health and memory are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How often a marker is searched for until found.
const MARKER_POLL: Duration = Duration::from_millis(20);
/// Markers written less than this after the last one searched for are not searched for:
/// the probe's searches (each polled every [`MARKER_POLL`] until found) then cost the
/// pipeline the same at 6,000 posts/s as in a burst.
const MARKER_GAP: Duration = Duration::from_millis(500);
/// A marker not found after this long counts as not found.
const MARKER_TIMEOUT: Duration = Duration::from_secs(60);
/// WebSocket clients opened at once.
const CONNECT_CONCURRENCY: usize = 32;

#[derive(Debug, Args)]
pub struct E2eArgs {
    /// Steady rate, in posts per second.
    #[arg(long, default_value_t = 6_000.0)]
    rate: f64,
    /// Length of the steady phase, in seconds.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Warm-up at the steady rate before measuring, in seconds.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Rates of the steps after the steady phase, comma-separated ("" for none).
    #[arg(long, default_value = DEFAULT_STEPS)]
    steps: String,
    /// Length of each step, in seconds.
    #[arg(long, default_value_t = 6.0)]
    step_seconds: f64,
    /// Pause before each step and before the burst, in seconds.
    #[arg(long, default_value_t = 4.0)]
    gap: f64,
    /// Burst rate, in posts per second.
    #[arg(long, default_value_t = 143_199.0)]
    burst_rate: f64,
    /// Burst length, in seconds (0: no burst).
    #[arg(long, default_value_t = 10.0)]
    burst_seconds: f64,
    /// WebSocket clients in all (the probe included; at least 1).
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// How many of the clients read slowly.
    #[arg(long, default_value_t = 0)]
    slow_clients: usize,
    /// A slow client reads one message this often, in milliseconds.
    #[arg(long, default_value_t = 100)]
    slow_pause_ms: u64,
    /// Share of posts (percent) built to raise an alert (negative text + `@lumio outage`).
    #[arg(long, default_value_t = 5)]
    alert_percent: u64,
    /// Share of posts (percent) without the brand (dropped as not relevant).
    #[arg(long, default_value_t = 10)]
    off_topic_percent: u64,
    /// One post in this many is a marker; at most two markers a second are searched for
    /// (searchable delay).
    #[arg(long, default_value_t = 3_000)]
    marker_every: u64,
    /// Distinct authors.
    #[arg(long, default_value_t = 100_000)]
    authors: u64,
    /// How long to wait, after the last post, for every relevant post to be searchable.
    #[arg(long, default_value_t = 180.0)]
    drain_timeout: f64,
    /// Folder of TweetEval sentiment (`train_reconstructed_text.txt` and labels).
    #[arg(long, default_value = "../shared/data/tweeteval-sentiment")]
    data: PathBuf,
    /// Print one JSON object on standard output (progress stays on standard error).
    #[arg(long)]
    json: bool,
    /// Also write every alert the probe timed to this CSV file (`post,sent_s,latency_ms`:
    /// the post's number, when it was written after the start, how long its alert took),
    /// to see when the slow ones happened.
    #[arg(long)]
    latency_log: Option<PathBuf>,
}

/// What a stretch of the schedule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Warmup,
    Steady,
    Gap,
    Step,
    Burst,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Warmup => "warmup",
            Stage::Steady => "steady",
            Stage::Gap => "gap",
            Stage::Step => "step",
            Stage::Burst => "burst",
        }
    }
}

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0))
}

fn schedule(args: &E2eArgs) -> anyhow::Result<Vec<(Stage, Phase)>> {
    let mut phases = Vec::new();
    if args.warmup > 0.0 {
        phases.push((
            Stage::Warmup,
            Phase {
                rate: args.rate,
                duration: seconds(args.warmup),
            },
        ));
    }
    phases.push((
        Stage::Steady,
        Phase {
            rate: args.rate,
            duration: seconds(args.seconds),
        },
    ));
    let gap = Phase {
        rate: 0.0,
        duration: seconds(args.gap),
    };
    for step in args
        .steps
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let rate: f64 = step
            .parse()
            .with_context(|| format!("--steps: `{step}` is not a rate"))?;
        phases.push((Stage::Gap, gap));
        phases.push((
            Stage::Step,
            Phase {
                rate,
                duration: seconds(args.step_seconds),
            },
        ));
    }
    if args.burst_seconds > 0.0 {
        phases.push((Stage::Gap, gap));
        phases.push((
            Stage::Burst,
            Phase {
                rate: args.burst_rate,
                duration: seconds(args.burst_seconds),
            },
        ));
    }
    if phases
        .iter()
        .any(|(_, phase)| phase.rate.is_nan() || phase.rate < 0.0)
    {
        bail!("rates must be positive");
    }
    Ok(phases)
}

/// Runs the benchmark and prints its figures.
pub(super) fn run(args: &E2eArgs) -> anyhow::Result<()> {
    let report = measure_on_runtime(args)?;
    if args.json {
        println!("{report}");
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

/// The whole e2e measurement with its default schedule on the TweetEval texts of `data`
/// (the shared data folder), as one part of `veille bench all`.
pub(super) fn measure_all(data: &std::path::Path) -> anyhow::Result<super::common::Report> {
    /// Parses the e2e options alone, to get their defaults.
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        e2e: E2eArgs,
    }
    let mut args = <Defaults as clap::Parser>::try_parse_from(["e2e"])
        .context("the e2e defaults do not parse")?
        .e2e;
    args.data = data.join("tweeteval-sentiment");
    let json = measure_on_runtime(&args)?;
    Ok(super::common::Report {
        table: table(&json),
        json,
    })
}

/// Runs [`measure`] on a runtime of its own (the benchmark is called from sync code).
fn measure_on_runtime(args: &E2eArgs) -> anyhow::Result<Value> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(measure(args))
}

macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("bench e2e: {}", format!($($arg)*)) };
}

/// One sample of the pipeline's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at: Duration,
    written: u64,
    nlp_received: u64,
    relevant: u64,
    searchable: u64,
    rss_anon: u64,
    rss_file: u64,
    cpu: f64,
}

/// When each phase started: (stage, phase, first sequence number, start instant).
type Started = Vec<(Stage, Phase, u64, Instant)>;

async fn health(client: &reqwest::Client, base: &str) -> anyhow::Result<Value> {
    let response = client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .context("GET /api/health")?;
    if !response.status().is_success() {
        bail!("GET /api/health: {}", response.status());
    }
    response.json().await.context("GET /api/health: not JSON")
}

fn counter(health: &Value, pointer: &str) -> u64 {
    health.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

async fn measure(args: &E2eArgs) -> anyhow::Result<Value> {
    if args.clients == 0 {
        bail!("--clients must be at least 1 (the probe)");
    }
    if args.slow_clients >= args.clients {
        bail!("--slow-clients must leave the probe: at most --clients - 1");
    }
    let phases = schedule(args)?;
    let shares = Shares {
        alert_percent: args.alert_percent,
        off_topic_percent: args.off_topic_percent,
        marker_every: args.marker_every,
        authors: args.authors,
    };
    let corpus = Corpus::load(
        &args.data.join("train_reconstructed_text.txt"),
        &args.data.join("train_reconstructed_labels.txt"),
        shares,
    )
    .with_context(|| {
        format!(
            "the bench needs TweetEval sentiment in {} (see --data)",
            args.data.display()
        )
    })?;
    progress!(
        "{} texts loaded from {}",
        corpus.texts(),
        args.data.display()
    );
    let total_posts: u64 = phases.iter().map(|(_, phase)| phase.posts()).sum();
    let epoch = Instant::now();
    let x_token = dashboard::auth::generate_password()?;
    let (generator, chunks) = Generator::new(x_token.clone(), corpus, total_posts + 16, epoch);

    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let x_address = listener.local_addr()?;
    let server = tokio::spawn(generator::serve(
        Arc::clone(&generator),
        listener,
        stop.clone(),
    ));

    let dir = tempfile::Builder::new()
        .prefix("veille-bench-e2e-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let (config_path, tokens) = process::prepare(dir.path(), x_address)?;
    let pipeline = process::Pipeline::start(&config_path, &x_token)?;
    let pid = pipeline.pid();
    let base = format!("http://{}", pipeline.address);
    progress!("pipeline `veille run` pid {pid} on {base}; X API on {x_address}");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", tokens.manager).parse()?,
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .context("cannot build the HTTP client")?;
    health(&http, &base).await?;
    let idle_memory = process::memory(pid).unwrap_or_default();

    // Clients: the probe, then fast ones, then slow ones.
    let client_stats = Arc::new(ClientStats::default());
    let stop_clients = CancellationToken::new();
    let paces: Vec<Pace> = (0..args.clients)
        .map(|n| match n {
            0 => Pace::Probe,
            n if n > args.clients - 1 - args.slow_clients => {
                Pace::Slow(Duration::from_millis(args.slow_pause_ms))
            }
            _ => Pace::Fast,
        })
        .collect();
    let connecting = Instant::now();
    let results: Vec<anyhow::Result<tokio::task::JoinHandle<()>>> =
        futures::stream::iter(paces.into_iter().map(|pace| {
            clients::connect(
                pipeline.address,
                &tokens.care,
                "care",
                pace,
                Arc::clone(&generator),
                Arc::clone(&client_stats),
                stop_clients.clone(),
            )
        }))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let mut client_tasks = Vec::new();
    for result in results {
        match result {
            Ok(task) => client_tasks.push(task),
            Err(error) => {
                client_stats.failed.fetch_add(1, Ordering::Relaxed);
                progress!("client failed to connect: {error:#}");
            }
        }
    }
    progress!(
        "{} WebSocket clients connected in {:.1} s ({} slow)",
        client_tasks.len(),
        connecting.elapsed().as_secs_f64(),
        args.slow_clients
    );
    let memory_with_clients = process::memory(pid).unwrap_or_default();

    // The schedule.
    let skip_steps = Arc::new(AtomicBool::new(false));
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let pacer = tokio::spawn(generator::pace(
        Arc::clone(&generator),
        chunks,
        phases
            .iter()
            .map(|(stage, phase)| (*phase, *stage == Stage::Step))
            .collect(),
        started_tx,
        Arc::clone(&skip_steps),
    ));

    let stop_markers = CancellationToken::new();
    // Markers: searched for from the moment they are written until they are found.
    let markers = tokio::spawn(search_markers(
        Arc::clone(&generator),
        http.clone(),
        base.clone(),
        total_posts,
        stop_markers.clone(),
    ));

    // Sampling until every post is written and every relevant one searchable.
    let mut started: Started = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    let mut evaluated = 0usize;
    let mut drained_at = None;
    let mut last_progress = Instant::now();
    let mut sampler = tokio::time::interval(SAMPLE_EVERY);
    let mut finished_at: Option<Instant> = None;
    loop {
        sampler.tick().await;
        while let Ok((index, first, at)) = started_rx.try_recv() {
            let (stage, phase) = phases[index];
            started.push((stage, phase, first, at));
        }
        let report = match health(&http, &base).await {
            Ok(report) => report,
            Err(error) => {
                progress!("health unavailable: {error:#}");
                continue;
            }
        };
        let (rss_anon, rss_file) = process::memory(pid).unwrap_or_default();
        let sample = Sample {
            at: epoch.elapsed(),
            written: generator.written(),
            nlp_received: counter(&report, "/stages/nlp/received"),
            relevant: counter(&report, "/stages/nlp/relevant"),
            searchable: counter(&report, "/stages/index/searchable"),
            rss_anon,
            rss_file,
            cpu: process::cpu_seconds(pid).unwrap_or(0.0),
        };
        samples.push(sample);
        // A step that ended unsustained stops the stepping (the burst still runs). A step is
        // judged once its last post is written: posts the collector has not read yet are
        // queued, not written, and would make a lagging step look kept up.
        while evaluated + 1 < started.len() {
            let (stage, phase, first, at) = started[evaluated];
            let (_, _, next_first, next_at) = started[evaluated + 1];
            let all_written =
                next_first <= first || last_write(&generator, first, next_first).is_some();
            if stage == Stage::Step && !all_written {
                break;
            }
            if stage == Stage::Step
                && !phase_figures(
                    stage, phase, first, next_first, at, next_at, &generator, &samples, epoch,
                )["sustained"]
                    .as_bool()
                    .unwrap_or(false)
            {
                skip_steps.store(true, Ordering::Release);
            }
            evaluated += 1;
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let stage = started.last().map_or("start", |(stage, ..)| stage.name());
            progress!(
                "{stage}: due {} / written {} / nlp {} / relevant {} / searchable {} / RssAnon {} MiB",
                generator.scheduled(),
                sample.written,
                sample.nlp_received,
                sample.relevant,
                sample.searchable,
                sample.rss_anon >> 20
            );
        }
        if generator.finished() {
            let finished = *finished_at.get_or_insert_with(Instant::now);
            let deadline = finished + seconds(args.drain_timeout);
            if sample.nlp_received >= sample.written
                && sample.searchable >= sample.relevant
                && sample.relevant > 0
            {
                drained_at = Some(Instant::now());
                break;
            }
            if Instant::now() > deadline {
                progress!("not drained after {} s", args.drain_timeout);
                break;
            }
        }
    }
    let end = Instant::now();
    let written_total = generator.written();
    stop_clients.cancel();
    for task in client_tasks {
        let _ = task.await;
    }
    let final_health = health(&http, &base).await.unwrap_or(Value::Null);
    let (marker_delays, markers_searched) = {
        // Give markers written last a moment to be found, then stop searching.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop_markers.cancel();
        markers.await.unwrap_or_default()
    };
    let shutdown = tokio::task::spawn_blocking(move || pipeline.stop())
        .await
        .context("the stopping task failed")?;
    let shutdown_seconds = match shutdown {
        Ok(took) => Some(took.as_secs_f64()),
        Err(error) => {
            progress!("pipeline did not stop cleanly: {error:#}");
            None
        }
    };
    // The generator goes last, so the collector never sees its stream end.
    pacer.abort();
    let _ = pacer.await;
    stop.cancel();
    let _ = server.await;

    // Exactly once: every id in the index, after the final commit.
    let index_dir = dir.path().join("data").join("index");
    let ids = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let (_writer, search) = index::PostWriter::open(&index_dir)?;
        Ok(search.ids()?)
    })
    .await
    .context("the index check failed")??;
    let distinct: HashSet<&String> = ids.iter().collect();
    let duplicates = ids.len() - distinct.len();

    // Figures.
    let mut phase_reports = Vec::new();
    for (n, (stage, phase, first, at)) in started.iter().enumerate() {
        let (next_first, next_at) = started
            .get(n + 1)
            .map_or((written_total, end), |(_, _, first, at)| (*first, *at));
        if *stage == Stage::Gap {
            continue;
        }
        let mut figures = phase_figures(
            *stage, *phase, *first, next_first, *at, next_at, &generator, &samples, epoch,
        );
        let seq_range = *first..next_first;
        let latencies: Vec<u64> = client_stats
            .latencies
            .lock()
            .map(|all| {
                all.iter()
                    .filter(|(seq, _)| seq_range.contains(seq))
                    .map(|(_, micros)| *micros)
                    .collect()
            })
            .unwrap_or_default();
        figures["alert_latency_ms"] = distribution(latencies);
        let searchable: Vec<u64> = marker_delays
            .iter()
            .filter(|(seq, _)| seq_range.contains(seq))
            .map(|(_, micros)| *micros)
            .collect();
        figures["searchable_delay_ms"] = distribution(searchable);
        phase_reports.push(figures);
    }
    let max_sustained = phase_reports
        .iter()
        .filter(|phase| phase["sustained"].as_bool() == Some(true) && phase["stage"] != "burst")
        .filter_map(|phase| phase["rate"].as_f64())
        .fold(0.0_f64, f64::max);
    let peak = |field: fn(&Sample) -> u64| samples.iter().map(field).max().unwrap_or(0);
    let relevant = counter(&final_health, "/stages/nlp/relevant");
    let nlp_received = counter(&final_health, "/stages/nlp/received");
    let all_latencies: Vec<u64> = client_stats
        .latencies
        .lock()
        .map(|all| all.iter().map(|(_, micros)| *micros).collect())
        .unwrap_or_default();
    if let Some(path) = &args.latency_log {
        write_latency_log(path, &client_stats, &generator)?;
    }
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let report = json!({
        "bench": "e2e",
        "machine": machine(),
        "settings": {
            "rate": args.rate,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "steps": args.steps,
            "step_seconds": args.step_seconds,
            "burst_rate": args.burst_rate,
            "burst_seconds": args.burst_seconds,
            "clients": args.clients,
            "slow_clients": args.slow_clients,
            "slow_pause_ms": args.slow_pause_ms,
            "alert_percent": args.alert_percent,
            "off_topic_percent": args.off_topic_percent,
            "marker_every": args.marker_every,
            "authors": args.authors,
            "texts": generator.corpus().texts(),
        },
        "phases": phase_reports,
        "max_sustained_rate": max_sustained,
        "alert_latency_ms": distribution(all_latencies),
        "searchable_delay_ms": distribution(marker_delays.iter().map(|(_, micros)| *micros).collect()),
        "markers_searched": markers_searched,
        "markers_not_found": markers_searched.saturating_sub(marker_delays.len() as u64),
        "posts": {
            "written": written_total,
            "nlp_received": nlp_received,
            "relevant": relevant,
            "indexed_ids": ids.len(),
            "distinct_ids": distinct.len(),
            "duplicates": duplicates,
            "not_through_nlp_at_end": written_total.saturating_sub(nlp_received),
            "relevant_not_indexed": relevant.saturating_sub(distinct.len() as u64),
            "all_indexed_once": nlp_received == written_total && distinct.len() as u64 == relevant && duplicates == 0,
            "stream_connections": generator.connections(),
            "drain_seconds_after_last_post": drained_at
                .zip(finished_at)
                .map(|(drained, finished)| drained.saturating_duration_since(finished).as_secs_f64()),
        },
        "alerts": final_health.pointer("/stages/alerts").cloned().unwrap_or(Value::Null),
        "memory": {
            "rss_anon_idle_bytes": idle_memory.0,
            "rss_anon_with_clients_bytes": memory_with_clients.0,
            "rss_anon_peak_bytes": peak(|s| s.rss_anon),
            "rss_file_peak_bytes": peak(|s| s.rss_file),
        },
        "pipeline_cpu_seconds": samples.last().map_or(0.0, |s| s.cpu),
        "clients": {
            "connected": load(&client_stats.connected),
            "failed": load(&client_stats.failed),
            "messages": load(&client_stats.messages),
            "alerts_received": load(&client_stats.alerts),
            "lagged_notices": load(&client_stats.lagged_notices),
            "lagged_missed": load(&client_stats.lagged_missed),
            "slow_messages": load(&client_stats.slow_messages),
            "slow_lagged_notices": load(&client_stats.slow_lagged_notices),
            "closed_by_server": load(&client_stats.closed_by_server),
            "server_live": final_health.get("live").cloned().unwrap_or(Value::Null),
        },
        "shutdown_seconds": shutdown_seconds,
    });
    Ok(report)
}

/// When the last of the posts `first..next_first` was written; `None` before that, or if
/// the range is empty.
fn last_write(generator: &Generator, first: u64, next_first: u64) -> Option<Instant> {
    next_first
        .checked_sub(1)
        .filter(|last| *last >= first)
        .and_then(|last| generator.sent_at(last))
}

/// The figures of one phase from the samples in it. Rates, cores and the backlog come from
/// the samples taken while the phase wrote (up to its last write, or its planned end if
/// later, plus one sample period); memory peaks from every sample until the next phase
/// (for the last phase: the drain too).
#[allow(clippy::too_many_arguments)]
fn phase_figures(
    stage: Stage,
    phase: Phase,
    first: u64,
    next_first: u64,
    at: Instant,
    next_at: Instant,
    generator: &Generator,
    samples: &[Sample],
    epoch: Instant,
) -> Value {
    let posts = next_first - first;
    // Written rate: the phase's posts over the time from its start to its last write.
    let last_write = last_write(generator, first, next_first);
    let from = at.saturating_duration_since(epoch);
    let to = next_at.saturating_duration_since(epoch);
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= from && s.at <= to)
        .collect();
    // The last phase runs on to the end of the drain: its rates stop with its writing.
    let planned_end = at + phase.duration;
    let written_until = last_write.map_or(planned_end, |last| last.max(planned_end));
    let writing_to = next_at
        .min(written_until + SAMPLE_EVERY)
        .saturating_duration_since(epoch);
    let writing: Vec<&Sample> = inside
        .iter()
        .copied()
        .filter(|s| s.at <= writing_to)
        .collect();
    let write_seconds = last_write
        .map(|last| last.saturating_duration_since(at).as_secs_f64())
        .unwrap_or(0.0)
        .max(phase.duration.as_secs_f64());
    let write_rate = if write_seconds > 0.0 {
        posts as f64 / write_seconds
    } else {
        0.0
    };
    let (pipeline_rate, backlog_end) = match (writing.first(), writing.last()) {
        (Some(a), Some(b)) if b.at > a.at => (
            (b.nlp_received - a.nlp_received.min(b.nlp_received)) as f64
                / (b.at - a.at).as_secs_f64(),
            b.written.saturating_sub(b.nlp_received),
        ),
        _ => (0.0, 0),
    };
    let cpu = match (writing.first(), writing.last()) {
        (Some(a), Some(b)) if b.at > a.at => (b.cpu - a.cpu) / (b.at - a.at).as_secs_f64(),
        _ => 0.0,
    };
    let sustained =
        write_rate >= 0.95 * phase.rate && (backlog_end as f64) <= (phase.rate * 0.5).max(1_000.0);
    json!({
        "stage": stage.name(),
        "rate": phase.rate,
        "seconds": phase.duration.as_secs_f64(),
        "posts": posts,
        "write_rate": write_rate.round(),
        "pipeline_rate": pipeline_rate.round(),
        "backlog_at_end": backlog_end,
        "sustained": sustained,
        "pipeline_cpu_cores": (cpu * 100.0).round() / 100.0,
        "rss_anon_peak_bytes": inside.iter().map(|s| s.rss_anon).max().unwrap_or(0),
        "rss_file_peak_bytes": inside.iter().map(|s| s.rss_file).max().unwrap_or(0),
    })
}

/// Count, p50, p99 and max of microsecond values, in milliseconds.
fn distribution(mut micros: Vec<u64>) -> Value {
    if micros.is_empty() {
        return json!({"count": 0, "p50": null, "p99": null, "max": null});
    }
    micros.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
        micros[rank - 1] as f64 / 1000.0
    };
    json!({
        "count": micros.len(),
        "p50": at(0.50),
        "p99": at(0.99),
        "max": at(1.0),
    })
}

/// Searches markers from the moment each is written until found, skipping those written
/// within [`MARKER_GAP`] of the last one searched for: the delays found (seq,
/// microseconds) and the number of markers searched for.
async fn search_markers(
    generator: Arc<Generator>,
    http: reqwest::Client,
    base: String,
    total: u64,
    stop: CancellationToken,
) -> (Vec<(u64, u64)>, u64) {
    let every = generator.corpus().shares().marker_every;
    let (found_tx, mut found_rx) = mpsc::unbounded_channel();
    let mut searched = 0u64;
    let mut last_searched: Option<Instant> = None;
    let mut seq = every - 1;
    while seq < total {
        let sent = loop {
            if let Some(sent) = generator.sent_at(seq) {
                break sent;
            }
            tokio::select! {
                () = stop.cancelled() => {
                    drop(found_tx);
                    return (collect_found(&mut found_rx).await, searched);
                }
                () = tokio::time::sleep(Duration::from_millis(2)) => {}
            }
        };
        if last_searched.is_some_and(|last| sent.saturating_duration_since(last) < MARKER_GAP) {
            seq += every;
            continue;
        }
        last_searched = Some(sent);
        searched += 1;
        let url = format!("{base}/api/search?q={}&limit=0", Corpus::marker_word(seq));
        let http = http.clone();
        let found = found_tx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while sent.elapsed() < MARKER_TIMEOUT && !stop.is_cancelled() {
                let total = match http.get(&url).send().await {
                    Ok(response) => response
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|body| body["total"].as_u64())
                        .unwrap_or(0),
                    Err(_) => 0,
                };
                if total >= 1 {
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let _ = found.send((seq, micros));
                    return;
                }
                tokio::time::sleep(MARKER_POLL).await;
            }
        });
        seq += every;
    }
    drop(found_tx);
    stop.cancelled().await;
    (collect_found(&mut found_rx).await, searched)
}

async fn collect_found(found: &mut mpsc::UnboundedReceiver<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut delays = Vec::new();
    while let Ok(delay) = found.try_recv() {
        delays.push(delay);
    }
    delays
}

/// Cores, memory and CPU model of this machine.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kilobytes| kilobytes * 1024);
    json!({"cores": cores, "cpu": cpu, "memory_bytes": memory})
}

fn mib(bytes: &Value) -> String {
    bytes.as_u64().map_or("?".to_owned(), |bytes| {
        format!("{:.0} MiB", bytes as f64 / 1_048_576.0)
    })
}

fn table(report: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let machine = &report["machine"];
    let _ = writeln!(
        out,
        "veille bench e2e ({} cores, {})",
        machine["cores"],
        machine["cpu"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        out,
        "{:<8} {:>8} {:>9} {:>9} {:>8} {:>5} {:>6} {:>22} {:>22} {:>9}",
        "phase",
        "rate",
        "written/s",
        "nlp/s",
        "backlog",
        "ok",
        "cores",
        "alert ms p50/p99/max",
        "searchable ms p50/p99",
        "RssAnon"
    );
    for phase in report["phases"].as_array().into_iter().flatten() {
        let latency = &phase["alert_latency_ms"];
        let searchable = &phase["searchable_delay_ms"];
        let _ = writeln!(
            out,
            "{:<8} {:>8} {:>9} {:>9} {:>8} {:>5} {:>6} {:>22} {:>22} {:>9}",
            phase["stage"].as_str().unwrap_or("?"),
            phase["rate"],
            phase["write_rate"],
            phase["pipeline_rate"],
            phase["backlog_at_end"],
            if phase["sustained"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            phase["pipeline_cpu_cores"],
            format!("{}/{}/{}", latency["p50"], latency["p99"], latency["max"]),
            format!("{}/{}", searchable["p50"], searchable["p99"]),
            mib(&phase["rss_anon_peak_bytes"]),
        );
    }
    let _ = writeln!(
        out,
        "max sustained rate: {} posts/s",
        report["max_sustained_rate"]
    );
    let _ = writeln!(out, "posts: {}", report["posts"]);
    let _ = writeln!(out, "alerts: {}", report["alerts"]);
    let _ = writeln!(
        out,
        "memory: RssAnon peak {}, RssFile peak {}",
        mib(&report["memory"]["rss_anon_peak_bytes"]),
        mib(&report["memory"]["rss_file_peak_bytes"])
    );
    let _ = writeln!(out, "clients: {}", report["clients"]);
    let _ = writeln!(out, "shutdown: {} s", report["shutdown_seconds"]);
    out
}

/// Writes `post,sent_s,latency_ms` for every alert the probe timed, in post order.
fn write_latency_log(
    path: &std::path::Path,
    stats: &ClientStats,
    generator: &Generator,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut timed = stats
        .latencies
        .lock()
        .map(|all| all.clone())
        .unwrap_or_default();
    timed.sort_unstable();
    let start = generator.sent_at(0);
    let mut csv = String::from("post,sent_s,latency_ms\n");
    for (seq, micros) in timed {
        let sent = match (start, generator.sent_at(seq)) {
            (Some(start), Some(sent)) => sent.saturating_duration_since(start).as_secs_f64(),
            _ => f64::NAN,
        };
        let _ = writeln!(csv, "{seq},{sent:.4},{:.3}", micros as f64 / 1000.0);
    }
    std::fs::write(path, csv).with_context(|| format!("cannot write {}", path.display()))
}
