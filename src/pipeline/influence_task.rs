//! The influence stage task: owns the one [`InfluenceTracker`] (stateful, runs once). For
//! each analysed batch, in stream order, it counts every post and sets its connector/maven
//! badges, then hands each post to the alert engine and the batch to the index writer, so
//! rules and the index both see the badges.
//!
//! It publishes the leaderboards on a `watch` channel (the dashboard reads the latest) at
//! most every [`Settings::publish_interval`], and snapshots the tracker into the store every
//! [`Settings::snapshot_interval`] and when its input closes. A snapshot is taken right
//! after an index commit it asked for and that holds every post the tracker counted, so
//! that after a restart the tracker and the index's checkpoints describe the same point of
//! the stream (a crash between that commit and the snapshot write loses, for influence
//! only, the posts since the previous snapshot).
//!
//! Tracker calls may sort its counters: they run on a blocking thread, the task moving the
//! tracker there and back.

use std::sync::Arc;
use std::time::Duration;

use index::Store;
use nlp::AnalysedPost;
use nlp::influence::{InfluenceConfig, InfluenceTracker, Leaderboards};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::PipelineStats;
use super::index_task::{AnalysedBatch, IndexMessage};

/// Store table and key of the snapshot.
const SNAPSHOT_TABLE: &str = "influence";
const SNAPSHOT_KEY: &str = "tracker";

pub(crate) struct Settings {
    pub(crate) snapshot_interval: Duration,
    pub(crate) publish_interval: Duration,
}

/// The tracker saved in `store`, or an empty one (a missing or unreadable snapshot is
/// logged, never fatal).
pub(crate) fn load(store: &Store, config: InfluenceConfig, brands: &[String]) -> InfluenceTracker {
    let saved = match store.get_bytes(SNAPSHOT_TABLE, SNAPSHOT_KEY) {
        Ok(saved) => saved,
        Err(error) => {
            tracing::error!(error = %error, "cannot read the influence snapshot; starting empty");
            None
        }
    };
    let Some(bytes) = saved else {
        return InfluenceTracker::new(config, brands.iter().cloned());
    };
    match InfluenceTracker::restore(config, brands.iter().cloned(), &bytes) {
        Ok(tracker) => {
            tracing::info!(bytes = bytes.len(), "influence state restored");
            tracker
        }
        Err(error) => {
            tracing::error!(error = %error, "influence snapshot unusable; starting empty");
            InfluenceTracker::new(config, brands.iter().cloned())
        }
    }
}

/// Where the stage sends what it has handled.
pub(crate) struct Outputs {
    pub(crate) alerts: mpsc::Sender<Arc<AnalysedPost>>,
    pub(crate) index: mpsc::Sender<IndexMessage>,
    pub(crate) leaderboards: watch::Sender<Arc<Leaderboards>>,
}

/// Runs until the input closes, then snapshots the tracker.
pub(crate) async fn run(
    tracker: InfluenceTracker,
    store: Store,
    mut input: mpsc::Receiver<AnalysedBatch>,
    outputs: Outputs,
    settings: Settings,
    stats: Arc<PipelineStats>,
) {
    let mut slot = Some(tracker);
    let mut last_snapshot = Instant::now();
    let mut last_publish: Option<Instant> = None;
    let mut alerts_open = true;
    while let Some(batch) = input.recv().await {
        let publish = last_publish.is_none_or(|at| at.elapsed() >= settings.publish_interval);
        let Some((batch, published)) = with_tracker(&mut slot, move |tracker| {
            let batch = assign_batch(tracker, batch);
            let published = publish.then(|| tracker.leaderboards());
            (batch, published)
        })
        .await
        else {
            return;
        };
        if let Some(leaderboards) = published {
            outputs.leaderboards.send_replace(Arc::new(leaderboards));
            last_publish = Some(Instant::now());
        }
        for post in &batch.posts {
            PipelineStats::bump_by(&stats.influence_badges, post.analysis.influence.len());
            if alerts_open && outputs.alerts.send(Arc::clone(post)).await.is_err() {
                tracing::warn!("alert engine stopped; alerts are no longer raised");
                alerts_open = false;
            }
        }
        if outputs
            .index
            .send(IndexMessage::Batch(batch))
            .await
            .is_err()
        {
            tracing::error!("index writer stopped; stopping the influence stage");
            return;
        }
        if last_snapshot.elapsed() >= settings.snapshot_interval {
            snapshot(&mut slot, &store, &outputs.index, &stats).await;
            last_snapshot = Instant::now();
        }
    }
    if let Some(leaderboards) = with_tracker(&mut slot, |tracker| {
        tracker.refresh();
        tracker.leaderboards()
    })
    .await
    {
        outputs.leaderboards.send_replace(Arc::new(leaderboards));
    }
    snapshot(&mut slot, &store, &outputs.index, &stats).await;
}

/// Counts the batch's posts and sets their badges.
fn assign_batch(tracker: &mut InfluenceTracker, mut batch: AnalysedBatch) -> AnalysedBatch {
    for post in &mut batch.posts {
        // The NLP stage hands fresh posts on: nobody else holds them yet, so this does not
        // copy.
        tracker.assign(Arc::make_mut(post));
    }
    batch
}

/// Asks the index for a commit of everything before, then saves the tracker.
async fn snapshot(
    slot: &mut Option<InfluenceTracker>,
    store: &Store,
    index: &mpsc::Sender<IndexMessage>,
    stats: &PipelineStats,
) {
    let (answer, answered) = oneshot::channel();
    if index.send(IndexMessage::Commit(answer)).await.is_err() {
        tracing::warn!("index writer gone; influence snapshot skipped");
        return;
    }
    if answered.await != Ok(true) {
        PipelineStats::bump(&stats.influence_errors);
        tracing::warn!("index commit failed; influence snapshot skipped");
        return;
    }
    let store = store.clone();
    let saved = with_tracker(slot, move |tracker| {
        let bytes = tracker.snapshot().map_err(|error| error.to_string())?;
        store
            .put_bytes(SNAPSHOT_TABLE, SNAPSHOT_KEY, &bytes)
            .map_err(|error| error.to_string())?;
        Ok::<usize, String>(bytes.len())
    })
    .await;
    match saved {
        Some(Ok(bytes)) => tracing::debug!(bytes, "influence snapshot saved"),
        Some(Err(error)) => {
            PipelineStats::bump(&stats.influence_errors);
            tracing::error!(error = %error, "cannot save the influence snapshot");
        }
        None => {}
    }
}

/// Runs `work` on a blocking thread with the tracker, and puts it back. None when the
/// tracker is gone (a previous blocking task panicked).
async fn with_tracker<T: Send + 'static>(
    slot: &mut Option<InfluenceTracker>,
    work: impl FnOnce(&mut InfluenceTracker) -> T + Send + 'static,
) -> Option<T> {
    let mut tracker = slot.take()?;
    let joined = tokio::task::spawn_blocking(move || {
        let result = work(&mut tracker);
        (tracker, result)
    })
    .await;
    match joined {
        Ok((tracker, result)) => {
            *slot = Some(tracker);
            Some(result)
        }
        Err(error) => {
            tracing::error!(error = %error, "influence tracker task failed; the stage stops");
            None
        }
    }
}
