//! Assembles the embedded pipeline: collectors → NLP → influence → (alert engine, index
//! writer) → dashboard, joined by bounded tokio channels in one process.
//!
//! ```text
//!  sources ──batches──► nlp ──analysed──► influence ──analysed batches──► index writer
//!  (one task each)  (cap 16)  batches     (badges)   (20,000 posts)   (commits + checkpoints)
//!                             (cap 16)      │   └──leaderboards (watch)──► dashboard
//!                                           └──analysed posts──► alert engine ──broadcast──► WebSockets
//!                                               (cap 1024)                     (cap 4096)
//! ```
//!
//! This is the only module that knows how the stages are joined. Channel capacities are
//! the constants below. Every channel but the live broadcast blocks when full, so a slow
//! index slows the collectors down (they resume from their cursor); the broadcast drops a
//! slow WebSocket client's oldest messages and tells it how many. The influence tracker
//! is stateful and runs once, in one task, between the NLP stage and the stages that use
//! its badges; its leaderboards go to the dashboard on a `watch` channel (latest only).
//!
//! Shutdown ([`RunningPipeline::shutdown`]): the stop token halts the collectors; their
//! senders drop, the NLP stage drains and exits, the influence stage snapshots its state
//! after an index commit, the index writer sees its input close and makes a final commit,
//! and only then does the dashboard stop. [`RunningPipeline::abort`] kills every task at
//! once without a final commit, as a crash would: the index then holds what the last
//! commit held, and the sources resume from the checkpoints in that commit.

mod background;
mod collectors;
mod health;
mod index_task;
mod influence_task;
pub mod nats;
mod progress;
mod sources;
mod stalls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dashboard::alerts::notify::Notifier;
use dashboard::alerts::service::{self, AlertHandle, AlertService, AlertStats};
use dashboard::alerts::{AlertEngine, AlertLog, SpikeDetector};
use dashboard::auth::Auth;
use dashboard::live::{LiveEvent, SharedEvent};
use dashboard::state::AppState;
use dashboard::webhooks::{self, RetryPolicy, WebhookStatus};
use index::{PostWriter, SearchIndex, Store};
use nlp::{Analyzer, Outcome};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use background::BackgroundThread;
pub use health::PipelineStats;
use index_task::{AnalysedBatch, IndexMessage};
use progress::Collected;

/// Batches from all collectors to the NLP stage.
const COLLECTED_CAPACITY: usize = 16;
/// Analysed batches from the NLP stage to the influence tracker.
const INFLUENCE_INPUT_CAPACITY: usize = 16;
/// Analysed batches (with badges) from the influence tracker to the index writer, and the
/// posts they may hold in all: enough for the writer's commits (a few hundred ms each) not
/// to hold up the influence stage, and with it the alerts, at 6,000 posts/s and more.
const ANALYSED_CAPACITY: usize = 1024;
pub(crate) const INDEX_QUEUE_POSTS: usize = 20_000;
/// Analysed posts (with badges) from the influence tracker to the alert engine.
const ALERT_INPUT_CAPACITY: usize = 1024;
/// Live events (posts, alerts) to every WebSocket client; a client further behind than
/// this loses its oldest events and is told how many.
const LIVE_CAPACITY: usize = 4096;
/// The alert task closes spike windows, sends digests and checks SLAs this often.
const ALERT_TICK: Duration = Duration::from_secs(1);
/// How long shutdown waits for webhook deliveries in flight.
const WEBHOOK_DRAIN: Duration = Duration::from_secs(5);
/// The index commits at least this often while posts arrive.
const COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// ... or as soon as this many operations are pending.
const COMMIT_DOC_LIMIT: usize = 10_000;
/// Retention is enforced this often.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// File of the influence snapshots, in the data directory ([`load_tracker`]).
const INFLUENCE_STORE: &str = "influence.redb";
/// The influence tracker is saved at least this often (after an index commit; less often
/// when a snapshot is slow), and at shutdown.
const INFLUENCE_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(10);
/// Leaderboards are published to the dashboard at most this often.
const LEADERBOARD_INTERVAL: Duration = Duration::from_millis(500);

/// A pipeline whose tasks are running.
pub struct RunningPipeline {
    /// The address the dashboard listens on (useful with port 0).
    pub address: SocketAddr,
    pub stats: Arc<PipelineStats>,
    stop_sources: CancellationToken,
    /// Stops the alert task once its posts have ended (it serves lifecycle commands until).
    stop_alerts: CancellationToken,
    stop_server: CancellationToken,
    source_tasks: Vec<JoinHandle<()>>,
    stall_task: JoinHandle<()>,
    nlp_task: JoinHandle<()>,
    influence_task: JoinHandle<()>,
    alert_task: JoinHandle<()>,
    index_task: JoinHandle<()>,
    server_task: JoinHandle<()>,
    /// Ends once the alert task has dropped its notification sender.
    webhook_task: Option<JoinHandle<()>>,
}

/// Opens the data directory, builds every stage and starts them. Returns once the
/// dashboard is listening.
pub async fn start(config: &Config, listen: SocketAddr) -> anyhow::Result<RunningPipeline> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let index_dir = config.index_dir.clone();
    let (writer, search, writer_thread) = open_writer(index_dir).await?;
    let store_path = data_dir.join("state.redb");
    let store = Store::open(&store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;

    let analyzer = Arc::new(Analyzer::new(&config.nlp).context("cannot build the NLP stage")?);
    let alert_log = Arc::new(AlertLog::open(store.clone()).context("cannot read the alert log")?);
    let (live, _) = broadcast::channel::<SharedEvent>(LIVE_CAPACITY);
    let AlertParts {
        service: alert_service,
        stats: alert_stats,
        webhooks: webhook_status,
        webhook_task,
    } = alert_parts(config, Arc::clone(&alert_log), live.clone());
    let (alert_actions, alert_commands) = AlertHandle::channel();
    let (tracker, influence_checkpoints, influence_store) = load_tracker(config, &store).await?;
    let (leaderboards_tx, leaderboards_rx) =
        tokio::sync::watch::channel(Arc::new(tracker.leaderboards()));

    let stats = Arc::new(PipelineStats::default());
    let stop_sources = CancellationToken::new();
    let stop_server = CancellationToken::new();

    let (collected_tx, collected_rx) = mpsc::channel(COLLECTED_CAPACITY);
    let (influence_tx, influence_rx) = mpsc::channel(INFLUENCE_INPUT_CAPACITY);
    let (analysed_tx, analysed_rx) = mpsc::channel::<IndexMessage>(ANALYSED_CAPACITY);
    let (alert_tx, alert_rx) = mpsc::channel(ALERT_INPUT_CAPACITY);

    // The influence snapshot matches an earlier commit than the last one, or the same: the
    // sources resume from its checkpoints, so the tracker counts every post exactly once
    // (the index stores re-delivered posts once, the alert engine alerts once).
    let checkpoints =
        influence_checkpoints.unwrap_or_else(|| writer.committed_checkpoints().clone());
    let source_tasks = sources::spawn_all(
        &config.sources,
        &config.nlp.brands,
        &checkpoints,
        collected_tx,
        &stop_sources,
        &stats,
    )?;
    let stall_task = tokio::spawn(stalls::watch(
        Arc::clone(&stats),
        config.teams.clone(),
        Arc::clone(&alert_log),
        live.clone(),
        stalls::CHECK_EVERY,
        stop_sources.clone(),
    ));
    let nlp_task = tokio::spawn(run_nlp(
        analyzer,
        collected_rx,
        influence_tx,
        Some(live.clone()),
        Arc::clone(&stats),
    ));
    let influence_task = tokio::spawn(influence_task::run(
        tracker,
        influence_store,
        influence_rx,
        influence_task::Outputs {
            alerts: alert_tx,
            index: analysed_tx,
            index_queue: influence_task::IndexQueue::new(INDEX_QUEUE_POSTS),
            leaderboards: leaderboards_tx,
        },
        influence_settings(),
        Arc::clone(&stats),
    ));
    let stop_alerts = CancellationToken::new();
    let alert_task = tokio::spawn(service::run(
        alert_service,
        alert_rx,
        alert_commands,
        ALERT_TICK,
        stop_alerts.clone(),
    ));
    let index_task = tokio::spawn(index_task::run(
        writer,
        writer_thread,
        analysed_rx,
        index_settings(config),
        Arc::clone(&stats),
    ));

    let axes = dashboard_axes(config);
    let health_stats = Arc::clone(&stats);
    let health_search = search.clone();
    let health_alerts = Arc::clone(&alert_stats);
    let state = AppState {
        search,
        live,
        alerts: alert_log,
        teams: Arc::new(config.teams.clone()),
        axes: Arc::new(axes),
        health: Arc::new(move || {
            let mut report = health_stats.snapshot(&health_search);
            report["alerts"] = health_alerts.snapshot();
            report
        }),
        auth: Arc::new(Auth::new(store.clone(), config.secure_cookies)),
        alert_actions,
        alert_stats,
        webhooks: webhook_status,
        influencers: leaderboards_rx,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let server_stop = stop_server.clone();
    let server_task = tokio::spawn(async move {
        if let Err(error) = dashboard::serve(listener, state, server_stop).await {
            tracing::error!(error = %error, "dashboard server stopped");
        }
    });

    Ok(RunningPipeline {
        address,
        stats,
        stop_sources,
        stop_alerts,
        stop_server,
        source_tasks,
        stall_task,
        nlp_task,
        influence_task,
        alert_task,
        index_task,
        server_task,
        webhook_task,
    })
}

/// The alert task's state, its counters and its webhook side, built from the config.
pub(crate) struct AlertParts {
    pub(crate) service: AlertService,
    pub(crate) stats: Arc<AlertStats>,
    pub(crate) webhooks: Arc<WebhookStatus>,
    /// Delivers the webhooks; ends once the service has dropped its notification sender.
    pub(crate) webhook_task: Option<JoinHandle<()>>,
}

/// Builds the alert task's state (engine with SLAs, spikes, notifications and webhooks) as
/// every pipeline runs it, embedded or as the NATS index node. Spawns the webhook task.
pub(crate) fn alert_parts(
    config: &Config,
    alert_log: Arc<AlertLog>,
    live: broadcast::Sender<SharedEvent>,
) -> AlertParts {
    let engine =
        AlertEngine::new(config.rules.clone(), config.teams.clone()).with_sla(config.sla.clone());
    // The service seeds the engine from the log: posts re-delivered after a restart do not
    // raise the alerts they already raised, and noise control decides as before.
    let alert_stats = Arc::new(AlertStats::default());
    let mut alert_service = AlertService::new(engine, alert_log, live, Arc::clone(&alert_stats));
    if let Some(spikes) = &config.spikes {
        alert_service = alert_service.with_spikes(SpikeDetector::new(spikes.clone()));
    }
    let webhook_status = Arc::new(WebhookStatus::default());
    let mut webhook_task = None;
    if !config.webhooks.is_empty() {
        let (notifications, receiver) = mpsc::channel(webhooks::QUEUE);
        alert_service =
            alert_service.with_notifications(Notifier::new(config.notify.clone()), notifications);
        webhook_task = Some(tokio::spawn(webhooks::run(
            config.webhooks.clone(),
            RetryPolicy::default(),
            receiver,
            Arc::clone(&webhook_status),
        )));
    }
    AlertParts {
        service: alert_service,
        stats: alert_stats,
        webhooks: webhook_status,
        webhook_task,
    }
}

impl RunningPipeline {
    /// Stops cleanly: collectors first, then every stage drains, the index makes a final
    /// commit, and the dashboard stops last.
    pub async fn shutdown(self) {
        self.stop_sources.cancel();
        for task in self.source_tasks {
            let _ = task.await;
        }
        let _ = self.stall_task.await;
        let _ = self.nlp_task.await;
        let _ = self.influence_task.await;
        self.stop_alerts.cancel();
        let _ = self.alert_task.await;
        if let Some(webhook_task) = self.webhook_task {
            // Deliveries in flight get a moment; retries still pending are given up.
            if tokio::time::timeout(WEBHOOK_DRAIN, webhook_task)
                .await
                .is_err()
            {
                tracing::warn!("webhook deliveries still retrying at shutdown were given up");
            }
        }
        let _ = self.index_task.await;
        self.stop_server.cancel();
        let _ = self.server_task.await;
    }

    /// Kills every task at once, without a final commit, as a crash would.
    pub async fn abort(self) {
        let tasks = self
            .source_tasks
            .into_iter()
            .chain([
                self.nlp_task,
                self.influence_task,
                self.alert_task,
                self.stall_task,
                self.index_task,
                self.server_task,
            ])
            .chain(self.webhook_task);
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }

    /// Whether every source has finished (a replay that does not loop) and the index has
    /// committed everything it received.
    pub fn is_drained(&self) -> bool {
        self.source_tasks.iter().all(JoinHandle::is_finished)
            && self.nlp_task.is_finished()
            && self.influence_task.is_finished()
            && self.index_task.is_finished()
    }
}

/// The influence tracker (empty when none was saved), the checkpoints saved with it, and the
/// store its snapshots go to, read on a blocking thread.
///
/// Snapshots have a store file of their own (`influence.redb`): writing ~10 MB and syncing
/// it in `state.redb` held that store's one write lock, which the alert log waits for, and
/// alerts stalled behind every snapshot. A data directory from before keeps its last
/// snapshot in `state.redb` (`legacy`): it is read from there until the first new one.
pub(crate) async fn load_tracker(
    config: &Config,
    legacy: &Store,
) -> anyhow::Result<(
    nlp::influence::InfluenceTracker,
    Option<std::collections::BTreeMap<String, collector::Checkpoint>>,
    Store,
)> {
    let path = config.data_dir.join(INFLUENCE_STORE);
    let store =
        Store::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?;
    let brand_names: Vec<String> = config.nlp.brands.iter().map(|b| b.name.clone()).collect();
    let legacy = legacy.clone();
    let influence_config = config.influence;
    let read_from = store.clone();
    let (tracker, checkpoints) = tokio::task::spawn_blocking(move || {
        influence_task::load(&[&read_from, &legacy], influence_config, &brand_names)
    })
    .await
    .context("the influence loading task failed")?;
    Ok((tracker, checkpoints, store))
}

/// Opens the index writer on a new [`BackgroundThread`], where every later writer call runs
/// too: indexing, merging and deletes yield the cores to the alert path ([`background`]).
pub(crate) async fn open_writer(
    index_dir: PathBuf,
) -> anyhow::Result<(PostWriter, SearchIndex, BackgroundThread)> {
    let thread = BackgroundThread::start("veille-index")
        .context("cannot start the index writer's thread")?;
    let (writer, search) = thread
        .run({
            let index_dir = index_dir.clone();
            move || PostWriter::open(&index_dir)
        })
        .await
        .context("the index writer's thread panicked while opening the index")?
        .with_context(|| format!("cannot open the index in {}", index_dir.display()))?;
    Ok((writer, search, thread))
}

/// The configured axes and their categories, as the dashboard lists them.
pub(crate) fn dashboard_axes(config: &Config) -> Vec<(String, Vec<String>)> {
    config
        .nlp
        .axes
        .iter()
        .map(|axis| {
            let categories = axis.categories.iter().map(|category| category.name.clone());
            (axis.name.clone(), categories.collect())
        })
        .collect()
}

/// How often the influence stage snapshots and publishes, embedded or over NATS.
pub(crate) fn influence_settings() -> influence_task::Settings {
    influence_task::Settings {
        min_snapshot_interval: INFLUENCE_SNAPSHOT_INTERVAL,
        publish_interval: LEADERBOARD_INTERVAL,
    }
}

/// When the index writer commits and enforces retention, embedded or over NATS.
pub(crate) fn index_settings(config: &Config) -> index_task::Settings {
    index_task::Settings {
        commit_interval: COMMIT_INTERVAL,
        commit_doc_limit: COMMIT_DOC_LIMIT,
        retention_interval: RETENTION_INTERVAL,
        retention_days: config.retention_days,
    }
}

/// The NLP stage: analyses each post of each batch (batches in parallel, one per core,
/// order kept), and hands the relevant ones on, with the batch's deletions and progress, to
/// the next stage (embedded: the influence stage, which passes them to the alert engine and
/// the index; over NATS: the analysed stream); deletions also go, as `deleted` events, to
/// the dashboards' live feeds when they are in this process (over NATS the index node
/// publishes them).
async fn run_nlp<B: Into<Collected> + Send + 'static>(
    analyzer: Arc<Analyzer>,
    mut input: mpsc::Receiver<B>,
    to_next: mpsc::Sender<AnalysedBatch>,
    live: Option<broadcast::Sender<SharedEvent>>,
    stats: Arc<PipelineStats>,
) {
    use futures::StreamExt;
    // Batches are analysed on up to `workers` blocking threads at once and handed on in
    // the order they came (`buffered` keeps it), so checkpoints stay behind their posts.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let batches = futures::stream::poll_fn(move |context| input.poll_recv(context));
    let mut analysed_batches = batches
        .map(|batch| {
            let worker_analyzer = Arc::clone(&analyzer);
            let worker_stats = Arc::clone(&stats);
            tokio::task::spawn_blocking(move || {
                analyse_batch(&worker_analyzer, batch.into(), &worker_stats)
            })
        })
        .buffered(workers);
    while let Some(analysed) = analysed_batches.next().await {
        let analysed = match analysed {
            Ok(analysed) => analysed,
            Err(error) => {
                tracing::error!(error = %error, "nlp worker failed; stopping the nlp stage");
                return;
            }
        };
        // Dashboards drop deleted posts from their live feed (nobody watching is fine).
        if let Some(live) = &live {
            for id in &analysed.deletions {
                let _ = live.send(LiveEvent::Deleted { id: id.to_string() }.into());
            }
        }
        if to_next.send(analysed).await.is_err() {
            tracing::error!("the next stage stopped; stopping the nlp stage");
            return;
        }
    }
}

fn analyse_batch(analyzer: &Analyzer, batch: Collected, stats: &PipelineStats) -> AnalysedBatch {
    let mut posts = Vec::with_capacity(batch.posts.len());
    let mut deletions = Vec::new();
    for post in batch.posts {
        PipelineStats::bump(&stats.nlp_received);
        if post.change == collector::Change::Delete {
            deletions.push(post.id);
            continue;
        }
        match analyzer.analyse(post) {
            Outcome::Relevant(analysed) => {
                PipelineStats::bump(&stats.nlp_relevant);
                posts.push(Arc::from(analysed));
            }
            Outcome::Dropped(reason) => stats.count_drop(reason),
        }
    }
    AnalysedBatch {
        posts,
        deletions,
        progress: batch.progress,
        queued: None,
    }
}
