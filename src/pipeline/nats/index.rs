//! The index role (`veille index`): the one stateful node. It owns the index writer, the
//! influence tracker and the alert task (`dashboard::alerts::service`) with its log, joined
//! exactly as in the embedded pipeline; it reads the analysed stream through the durable
//! consumer `index`, answers lifecycle requests on `veille.actions`, and publishes what
//! dashboards show.
//!
//! ```text
//!  pull `index` ──► decode ──► influence_task (badges) ──► alert service ──► live broadcast
//!                                 │      │                        ──► publish_live ──► NATS
//!                                 │      └──► index_task::run (commits) ──► acker (acks after commit)
//!                                 └── leaderboards (watch) ──► influence::publish ──► NATS
//!  requests on `veille.actions` ──► actions::answer ──► alert service (reply: the alert)
//! ```
//!
//! Promises: an analysed message is acknowledged only after the index commit holding it;
//! alerts and lifecycle updates are published to the live stream and each publication
//! acknowledged (retried until it is; `Nats-Msg-Id` makes a retry harmless); live posts go
//! to core NATS, best effort. Exactly one index node runs per index (tantivy locks it).
//!
//! The influence tracker is saved after an index commit it asks for, as embedded. Over NATS
//! the stream position is the `index` consumer's acknowledgements, not the saved
//! checkpoints, so a node killed (not stopped) between two snapshots (at least one per
//! second) restarts with counts that miss the posts acknowledged after the last one (about a
//! second of the stream, against a window of days; docs/SCALING.md).

use std::sync::Arc;

use anyhow::Context;
use async_nats::jetstream::{self, Message};
use collector::PostId;
use dashboard::alerts::AlertLog;
use dashboard::alerts::service::{self, AlertHandle};
use dashboard::live::{LiveEvent, SharedEvent};
use index::Store;
use nlp::AnalysedPost;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::pull::{self, PendingAck};
use super::{
    ANALYSED_DELETE, ANALYSED_STREAM, FEED_POST, INDEX_CONSUMER, LIVE_ALERT, LIVE_UPDATE, Outgoing,
    RoleHandle, actions, influence, publish_acknowledged,
};
use crate::config::Config;
use crate::pipeline::index_task::{self, AnalysedBatch, IndexMessage};
use crate::pipeline::influence_task;
use crate::pipeline::progress::Progress;
use crate::pipeline::{
    ALERT_INPUT_CAPACITY, ALERT_TICK, ANALYSED_CAPACITY, INFLUENCE_INPUT_CAPACITY, LIVE_CAPACITY,
    PipelineStats, alert_parts, index_settings, influence_settings,
};

/// Pulled batches waiting to be decoded.
const PULLED_CAPACITY: usize = 4;

pub(crate) async fn start(
    config: &Config,
    js: jetstream::Context,
    store: Store,
) -> anyhow::Result<RoleHandle> {
    let index_dir = config.index_dir.clone();
    let (writer, _search, writer_thread) = crate::pipeline::open_writer(index_dir).await?;
    let alert_log = Arc::new(AlertLog::open(store.clone()).context("cannot read the alert log")?);
    // The sources are not here: the checkpoints saved with the tracker are not needed (the
    // `index` consumer's acknowledgements say where the stream resumes).
    let (tracker, _checkpoints, influence_store) =
        crate::pipeline::load_tracker(config, &store).await?;
    let (leaderboards_tx, leaderboards_rx) = watch::channel(Arc::new(tracker.leaderboards()));

    let stats = Arc::new(PipelineStats::default());
    let stop = CancellationToken::new();
    let (live, live_rx) = broadcast::channel::<SharedEvent>(LIVE_CAPACITY);
    let alerts = alert_parts(config, alert_log, live.clone());
    let (alert_actions, alert_commands) = AlertHandle::channel();
    let (pulled_tx, pulled_rx) = mpsc::channel(PULLED_CAPACITY);
    let (influence_tx, influence_rx) = mpsc::channel(INFLUENCE_INPUT_CAPACITY);
    let (analysed_tx, analysed_rx) = mpsc::channel::<IndexMessage>(ANALYSED_CAPACITY);
    let (alert_tx, alert_rx) = mpsc::channel(ALERT_INPUT_CAPACITY);
    let (acks_tx, acker) = pull::spawn_acker();

    let mut handle = RoleHandle::new("index", stop.clone());
    handle.push(tokio::spawn(pull::run(
        js.clone(),
        ANALYSED_STREAM,
        INDEX_CONSUMER,
        stop.clone(),
        pulled_tx,
    )));
    handle.push(tokio::spawn(decode(
        pulled_rx,
        influence_tx,
        acks_tx,
        live.clone(),
    )));
    handle.push(tokio::spawn(influence_task::run(
        tracker,
        influence_store,
        influence_rx,
        influence_task::Outputs {
            alerts: alert_tx,
            index: analysed_tx,
            index_queue: influence_task::IndexQueue::new(crate::pipeline::INDEX_QUEUE_POSTS),
            leaderboards: leaderboards_tx,
        },
        influence_settings(),
        Arc::clone(&stats),
    )));
    handle.push(tokio::spawn(influence::publish(
        js.clone(),
        leaderboards_rx,
        stop.clone(),
    )));
    handle.push(tokio::spawn(actions::answer(
        js.client(),
        alert_actions,
        stop.clone(),
    )));
    // Stops when the role stops (its posts end with the pull loop) or when the answering
    // task above drops the last handle.
    handle.push(tokio::spawn(service::run(
        alerts.service,
        alert_rx,
        alert_commands,
        ALERT_TICK,
        stop.clone(),
    )));
    if let Some(webhook_task) = alerts.webhook_task {
        handle.push(webhook_task);
    }
    handle.push(tokio::spawn(index_task::run(
        writer,
        writer_thread,
        analysed_rx,
        index_settings(config),
        stats,
    )));
    handle.push(acker);
    // Last: it ends when every live sender above has ended.
    handle.push(tokio::spawn(publish_live(js, live_rx, stop)));
    Ok(handle)
}

/// Decodes each pulled batch and hands it to the influence stage (which sets the badges,
/// then passes the posts to the alert engine and the batch to the index writer, as in the
/// embedded pipeline); deletions also go to the dashboards' live feeds as `deleted`
/// events; the messages wait for the commit.
async fn decode(
    mut pulled: mpsc::Receiver<Vec<Message>>,
    to_influence: mpsc::Sender<AnalysedBatch>,
    to_acker: mpsc::Sender<PendingAck>,
    live: broadcast::Sender<SharedEvent>,
) {
    while let Some(messages) = pulled.recv().await {
        let mut posts = Vec::with_capacity(messages.len());
        let mut deletions = Vec::new();
        let mut kept = Vec::with_capacity(messages.len());
        for message in messages {
            if message.subject.as_str() == ANALYSED_DELETE {
                match serde_json::from_slice::<PostId>(&message.payload) {
                    Ok(id) => deletions.push(id),
                    Err(error) => {
                        pull::reject(&message, "deletion", &error).await;
                        continue;
                    }
                }
            } else {
                match serde_json::from_slice::<AnalysedPost>(&message.payload) {
                    Ok(post) => posts.push(Arc::new(post)),
                    Err(error) => {
                        pull::reject(&message, "analysed post", &error).await;
                        continue;
                    }
                }
            }
            kept.push(message);
        }
        for id in &deletions {
            let _ = live.send(LiveEvent::Deleted { id: id.to_string() }.into());
        }
        let (progress, stored) = Progress::notify();
        let pending = PendingAck {
            stored,
            messages: kept,
        };
        let batch = AnalysedBatch {
            posts,
            deletions,
            progress,
            queued: None,
        };
        if to_acker.send(pending).await.is_err() || to_influence.send(batch).await.is_err() {
            return;
        }
    }
}

/// Publishes the engine's live events: alerts and lifecycle updates to the live stream
/// (acknowledged), posts to core NATS (best effort).
async fn publish_live(
    js: jetstream::Context,
    mut events: broadcast::Receiver<SharedEvent>,
    stop: CancellationToken,
) {
    let client = js.client();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live publisher fell behind; events not published");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        // The JSON the local sockets send too, encoded once.
        let Some(payload) = event.json().map(|json| json.as_bytes().to_vec()) else {
            continue;
        };
        let (subject, id) = match event.event() {
            LiveEvent::Post(_) | LiveEvent::Deleted { .. } => {
                if let Err(error) = client.publish(FEED_POST, payload.into()).await {
                    tracing::debug!(%error, "live post not published");
                }
                continue;
            }
            LiveEvent::Alert(alert) => (LIVE_ALERT, alert.id.clone()),
            // Each version of an alert once: the id and a hash of what changed.
            LiveEvent::AlertUpdated(alert) => (LIVE_UPDATE, update_id(&alert.id, &payload)),
            LiveEvent::Lagged { .. } | LiveEvent::Hello { .. } => continue,
        };
        let message = Outgoing {
            subject: subject.to_string(),
            id,
            payload: payload.into(),
        };
        // Not cut short by `stop`: the stream is the only way alerts reach dashboards.
        let never = CancellationToken::new();
        let published = tokio::select! {
            published = publish_acknowledged(&js, vec![message], None, &never) => published,
            _ = stop_after_grace(&stop) => None,
        };
        if published.is_none() {
            tracing::warn!("stopped before an alert was published");
            return;
        }
    }
}

/// Resolves a while after `stop` is cancelled: time for a publication in flight.
async fn stop_after_grace(stop: &CancellationToken) {
    stop.cancelled().await;
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
}

/// The `Nats-Msg-Id` of an alert update: the alert id and a hash of its encoded version.
fn update_id(alert_id: &str, payload: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    payload.hash(&mut hasher);
    format!("{alert_id}|{:016x}", hasher.finish())
}
