//! The influence stage task: owns the one [`InfluenceTracker`] (stateful, runs once). For
//! each analysed batch, in stream order, it counts every post and sets its connector/maven
//! badges, then hands each post to the alert engine and the batch to the index writer, so
//! rules and the index both see the badges.
//!
//! It publishes the leaderboards on a `watch` channel (the dashboard reads the latest) at
//! most every [`Settings::publish_interval`] while posts arrive, and once the input idles.
//!
//! **Nothing counted twice, nothing missed.** The tracker is saved right after an index
//! commit it asked for, which holds every post it counted; the saved record carries that
//! commit's checkpoints. On start, the sources resume from those checkpoints ([`load`]):
//! the posts committed after the snapshot are delivered again, the index stores them once
//! (upsert by id), the alert engine does not raise their alerts twice, and the tracker
//! counts them exactly once. Snapshots are taken at least every
//! [`Settings::min_snapshot_interval`], and less often when they are slow (never more than
//! about 2 % of the time), and when the input closes.
//!
//! **Posts never wait for a snapshot.** A snapshot asks the index for a commit of every
//! batch sent so far and serialises the tracker (the state after those batches) on a
//! blocking thread, sharing it read-only; the serialised bytes are saved when the commit is
//! answered. Encoding takes tens of milliseconds per 10 MB of state: meanwhile the next
//! posts get the badges their authors hold before them
//! ([`InfluenceTracker::assign_uncounted`]) and go on to the alert engine and the index at
//! once; they are counted as soon as the tracker is back, in stream order, before any later
//! post. They belong to the next commit, so the snapshot still matches its commit exactly.
//!
//! Tracker calls may sort its counters: they run on a blocking thread, the task moving the
//! tracker there and back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use collector::Checkpoint;
use index::Store;
use nlp::AnalysedPost;
use nlp::influence::{InfluenceConfig, InfluenceTracker, Leaderboards};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::PipelineStats;
use super::index_task::{AnalysedBatch, IndexMessage};

/// Store table and key of the snapshot.
const SNAPSHOT_TABLE: &str = "influence";
const SNAPSHOT_KEY: &str = "tracker";

/// A snapshot is never slower than this share of the time between snapshots.
const SNAPSHOT_TIME_FACTOR: u32 = 50;

pub(crate) struct Settings {
    pub(crate) min_snapshot_interval: Duration,
    pub(crate) publish_interval: Duration,
}

/// What is saved: the tracker, and the checkpoints of the index commit it matches.
#[derive(Serialize, Deserialize)]
struct Saved {
    /// `BTreeMap<String, Checkpoint>` as JSON (cursors are JSON values).
    checkpoints: String,
    tracker: Vec<u8>,
}

/// The tracker saved in the first of `stores` that holds a snapshot, with the checkpoints
/// the sources must resume from; or an empty tracker and no checkpoints (the sources then
/// resume from the index's). A missing or unreadable snapshot is logged, never fatal.
pub(crate) fn load(
    stores: &[&Store],
    config: InfluenceConfig,
    brands: &[String],
) -> (InfluenceTracker, Option<BTreeMap<String, Checkpoint>>) {
    let empty = || (InfluenceTracker::new(config, brands.iter().cloned()), None);
    let first = stores
        .iter()
        .find_map(|store| store.get_bytes(SNAPSHOT_TABLE, SNAPSHOT_KEY).transpose());
    let bytes = match first {
        Some(Ok(bytes)) => bytes,
        None => return empty(),
        Some(Err(error)) => {
            tracing::error!(error = %error, "cannot read the influence snapshot; starting empty");
            return empty();
        }
    };
    let restored = postcard::from_bytes::<Saved>(&bytes)
        .map_err(|error| error.to_string())
        .and_then(|saved| {
            let checkpoints: BTreeMap<String, Checkpoint> =
                serde_json::from_str(&saved.checkpoints).map_err(|error| error.to_string())?;
            let tracker = InfluenceTracker::restore(config, brands.iter().cloned(), &saved.tracker)
                .map_err(|error| error.to_string())?;
            Ok((tracker, checkpoints))
        });
    match restored {
        Ok((tracker, checkpoints)) => {
            tracing::info!(bytes = bytes.len(), "influence state restored");
            (tracker, Some(checkpoints))
        }
        Err(error) => {
            tracing::error!(error = %error, "influence snapshot unusable; starting empty");
            empty()
        }
    }
}

/// Where the stage sends what it has handled.
pub(crate) struct Outputs {
    pub(crate) alerts: mpsc::Sender<Arc<AnalysedPost>>,
    pub(crate) index: mpsc::Sender<IndexMessage>,
    /// Room for the posts sent to the index and not yet written.
    pub(crate) index_queue: IndexQueue,
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
    // The tracker, unless a snapshot is encoding it (then `encoding` shares it).
    let mut slot = Some(tracker);
    let mut encoding: Option<Encoding> = None;
    let mut next_snapshot = Instant::now() + settings.min_snapshot_interval;
    let mut last_publish: Option<Instant> = None;
    // Posts counted since the leaderboards were last published.
    let mut unpublished = false;
    let mut alerts_open = true;
    // A snapshot waiting for its commit's answer, or being written.
    let mut pending: Option<PendingSnapshot> = None;
    loop {
        let publish_due = last_publish.map(|at| at + settings.publish_interval);
        let batch = tokio::select! {
            received = input.recv() => match received {
                Some(batch) => batch,
                None => break,
            },
            encoded = wait_encoded(&mut encoding) => {
                let Some(began) = encoding.take() else { continue };
                let Some(took) = end_encoding(began, encoded, &mut slot, &mut pending, &stats).await
                else {
                    return;
                };
                let spacing = took * SNAPSHOT_TIME_FACTOR;
                next_snapshot = Instant::now() + spacing.max(settings.min_snapshot_interval);
                continue;
            }
            () = advance(&mut pending, &store, &stats), if pending.is_some() => continue,
            _ = sleep_until_option(publish_due.filter(|_| unpublished && slot.is_some())) => {
                if !publish(&mut slot, &outputs.leaderboards).await {
                    return;
                }
                last_publish = Some(Instant::now());
                unpublished = false;
                continue;
            }
        };
        let mut batch = match &mut encoding {
            Some(encoding) => {
                unpublished = true;
                encoding.assign(batch)
            }
            None => {
                let publish_now = publish_due.is_none_or(|due| Instant::now() >= due);
                let Some((batch, published)) = with_tracker(&mut slot, move |tracker| {
                    let batch = assign_batch(tracker, batch);
                    let published = publish_now.then(|| tracker.leaderboards());
                    (batch, published)
                })
                .await
                else {
                    return;
                };
                match published {
                    Some(leaderboards) => {
                        outputs.leaderboards.send_replace(Arc::new(leaderboards));
                        last_publish = Some(Instant::now());
                        unpublished = false;
                    }
                    None => unpublished = true,
                }
                batch
            }
        };
        for post in &batch.posts {
            PipelineStats::bump_by(&stats.influence_badges, post.analysis.influence.len());
            if alerts_open && outputs.alerts.send(Arc::clone(post)).await.is_err() {
                tracing::warn!("alert engine stopped; alerts are no longer raised");
                alerts_open = false;
            }
        }
        batch.queued = outputs.index_queue.take(batch.posts.len()).await;
        if outputs
            .index
            .send(IndexMessage::Batch(batch))
            .await
            .is_err()
        {
            tracing::error!("index writer stopped; stopping the influence stage");
            return;
        }
        if pending.is_none() && encoding.is_none() && Instant::now() >= next_snapshot {
            match begin_snapshot(&mut slot, &outputs.index).await {
                Begun::Encoding(began) => encoding = Some(began),
                Begun::Skipped => next_snapshot = Instant::now() + settings.min_snapshot_interval,
                Begun::Stop => return,
            }
        }
    }
    if let Some(mut began) = encoding.take() {
        let encoded = (&mut began.encoded).await;
        if end_encoding(began, encoded, &mut slot, &mut pending, &stats)
            .await
            .is_none()
        {
            return;
        }
    }
    if unpublished {
        publish(&mut slot, &outputs.leaderboards).await;
    }
    while pending.is_some() {
        advance(&mut pending, &store, &stats).await;
    }
    if let Begun::Encoding(mut last) = begin_snapshot(&mut slot, &outputs.index).await {
        let encoded = (&mut last.encoded).await;
        end_encoding(last, encoded, &mut slot, &mut pending, &stats).await;
        while pending.is_some() {
            advance(&mut pending, &store, &stats).await;
        }
    }
}

/// Publishes the current leaderboards; false when the tracker is gone.
async fn publish(
    slot: &mut Option<InfluenceTracker>,
    leaderboards: &watch::Sender<Arc<Leaderboards>>,
) -> bool {
    match with_tracker(slot, |tracker| tracker.leaderboards()).await {
        Some(current) => {
            leaderboards.send_replace(Arc::new(current));
            true
        }
        None => false,
    }
}

async fn sleep_until_option(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A budget of posts sent to the index and not yet written.
///
/// The index writer takes no batch while it commits (a few hundred ms). Bounded in batches
/// only, its input would fill with small batches during a commit and hold up this stage,
/// and every alert behind it; bounded in posts, it absorbs the commits and still caps the
/// memory the queue can take.
pub(crate) struct IndexQueue {
    room: Arc<Semaphore>,
    posts: usize,
}

impl IndexQueue {
    /// Room for `posts` posts in all (at least one).
    pub(crate) fn new(posts: usize) -> IndexQueue {
        let posts = posts.clamp(1, Semaphore::MAX_PERMITS);
        IndexQueue {
            room: Arc::new(Semaphore::new(posts)),
            posts,
        }
    }

    /// Waits for room for `posts` more posts (a batch larger than the whole budget waits
    /// for all of it); the room is given back when the returned permit drops. None only if
    /// the budget were closed, which it never is.
    async fn take(&self, posts: usize) -> Option<OwnedSemaphorePermit> {
        let room = u32::try_from(posts.clamp(1, self.posts)).unwrap_or(u32::MAX);
        Arc::clone(&self.room).acquire_many_owned(room).await.ok()
    }
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

/// A snapshot on its way: the tracker's bytes wait for the commit that holds every post it
/// counted, then are written.
enum PendingSnapshot {
    Committing {
        tracker: Vec<u8>,
        answered: oneshot::Receiver<Option<BTreeMap<String, Checkpoint>>>,
    },
    Saving(tokio::task::JoinHandle<Result<usize, String>>),
}

/// What a blocking thread's encoding of the tracker gives: the bytes, and how long it took.
type Encoded = (Result<Vec<u8>, nlp::influence::InfluenceError>, Duration);

/// A snapshot being encoded: the tracker is shared read-only with the encoding thread, and
/// the posts that arrive meanwhile are badged now and counted when it is back.
struct Encoding {
    shared: Arc<InfluenceTracker>,
    encoded: tokio::task::JoinHandle<Encoded>,
    /// The answer to the commit asked for when the encoding began.
    answered: oneshot::Receiver<Option<BTreeMap<String, Checkpoint>>>,
    /// Posts badged but not yet counted, in stream order.
    uncounted: Vec<Arc<AnalysedPost>>,
}

impl Encoding {
    /// Sets the batch's badges from the shared tracker and keeps its posts to count later.
    fn assign(&mut self, mut batch: AnalysedBatch) -> AnalysedBatch {
        for post in &mut batch.posts {
            // Fresh from the NLP stage: nobody else holds the post yet, so this does not copy.
            self.shared.assign_uncounted(Arc::make_mut(post));
            self.uncounted.push(Arc::clone(post));
        }
        batch
    }
}

/// How a snapshot's beginning went.
enum Begun {
    Encoding(Encoding),
    /// Skipped (logged): try again later.
    Skipped,
    /// The tracker is gone: the stage stops.
    Stop,
}

/// Asks the index for a commit of everything sent before, and starts encoding the tracker
/// (the state those posts left) on a blocking thread.
async fn begin_snapshot(
    slot: &mut Option<InfluenceTracker>,
    index: &mpsc::Sender<IndexMessage>,
) -> Begun {
    let Some(tracker) = slot.take() else {
        return Begun::Stop;
    };
    let (answer, answered) = oneshot::channel();
    if index.send(IndexMessage::Commit(answer)).await.is_err() {
        tracing::warn!("index writer gone; influence snapshot skipped");
        *slot = Some(tracker);
        return Begun::Skipped;
    }
    let shared = Arc::new(tracker);
    let encoding = Arc::clone(&shared);
    let encoded = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let encoded = encoding.snapshot();
        (encoded, started.elapsed())
    });
    Begun::Encoding(Encoding {
        shared,
        encoded,
        answered,
        uncounted: Vec::new(),
    })
}

/// Waits for the encoding, if there is one (cancel-safe).
async fn wait_encoded(encoding: &mut Option<Encoding>) -> Result<Encoded, tokio::task::JoinError> {
    match encoding {
        Some(encoding) => (&mut encoding.encoded).await,
        None => std::future::pending().await,
    }
}

/// Takes the tracker back from an ended encoding, counts the posts badged meanwhile, and
/// sets the snapshot waiting for its commit. Returns how long the encoding took (zero when
/// it failed), or None when the tracker is gone.
async fn end_encoding(
    began: Encoding,
    encoded: Result<Encoded, tokio::task::JoinError>,
    slot: &mut Option<InfluenceTracker>,
    pending: &mut Option<PendingSnapshot>,
    stats: &PipelineStats,
) -> Option<Duration> {
    let Encoding {
        shared,
        answered,
        uncounted,
        ..
    } = began;
    // The encoding thread has dropped its share: this does not copy.
    *slot = Some(Arc::unwrap_or_clone(shared));
    with_tracker(slot, move |tracker| {
        for post in &uncounted {
            tracker.count_post(post);
        }
    })
    .await?;
    match encoded {
        Ok((Ok(tracker), took)) => {
            tracing::debug!(bytes = tracker.len(), ?took, "influence tracker encoded");
            *pending = Some(PendingSnapshot::Committing { tracker, answered });
            Some(took)
        }
        Ok((Err(error), _)) => {
            PipelineStats::bump(&stats.influence_errors);
            tracing::error!(error = %error, "cannot serialise the influence tracker");
            Some(Duration::ZERO)
        }
        Err(error) => {
            PipelineStats::bump(&stats.influence_errors);
            tracing::error!(error = %error, "influence snapshot encoding failed");
            Some(Duration::ZERO)
        }
    }
}

/// Moves the pending snapshot one step: once its commit is answered, starts writing it;
/// once written, clears it. Cancel-safe: `pending` holds the step reached.
async fn advance(pending: &mut Option<PendingSnapshot>, store: &Store, stats: &PipelineStats) {
    match pending {
        None => {}
        Some(PendingSnapshot::Committing { answered, .. }) => {
            let answer = answered.await;
            let Some(PendingSnapshot::Committing { tracker, .. }) = pending.take() else {
                return;
            };
            let Ok(Some(checkpoints)) = answer else {
                PipelineStats::bump(&stats.influence_errors);
                tracing::warn!("index commit failed; influence snapshot skipped");
                return;
            };
            let store = store.clone();
            *pending = Some(PendingSnapshot::Saving(tokio::task::spawn_blocking(
                move || save(&store, &checkpoints, tracker),
            )));
        }
        Some(PendingSnapshot::Saving(saving)) => {
            let saved = saving.await;
            *pending = None;
            match saved {
                Ok(Ok(bytes)) => tracing::debug!(bytes, "influence snapshot saved"),
                Ok(Err(error)) => {
                    PipelineStats::bump(&stats.influence_errors);
                    tracing::error!(error = %error, "cannot save the influence snapshot");
                }
                Err(error) => {
                    PipelineStats::bump(&stats.influence_errors);
                    tracing::error!(error = %error, "influence snapshot task failed");
                }
            }
        }
    }
}

/// Writes the tracker's bytes with the checkpoints of the commit that holds its posts.
fn save(
    store: &Store,
    checkpoints: &BTreeMap<String, Checkpoint>,
    tracker: Vec<u8>,
) -> Result<usize, String> {
    let saved = Saved {
        checkpoints: serde_json::to_string(checkpoints).map_err(|error| error.to_string())?,
        tracker,
    };
    let bytes = postcard::to_allocvec(&saved).map_err(|error| error.to_string())?;
    store
        .put_bytes(SNAPSHOT_TABLE, SNAPSHOT_KEY, &bytes)
        .map_err(|error| error.to_string())?;
    Ok(bytes.len())
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

#[cfg(test)]
mod tests {
    use super::super::progress::Progress;
    use super::*;

    fn saved_with(source: &str) -> BTreeMap<String, Checkpoint> {
        let checkpoint = Checkpoint {
            source: source.to_owned(),
            cursor: serde_json::json!({"v": 1}),
        };
        BTreeMap::from([(source.to_owned(), checkpoint)])
    }

    /// Post `n` of a stream about Lumio by seven authors of growing reach.
    fn post(n: usize) -> Arc<AnalysedPost> {
        use nlp::{Analysis, BrandMatch, Sentiment, SentimentLabel};
        let at =
            chrono::DateTime::from_timestamp(1_750_000_000 + n as i64 * 60, 0).expect("valid time");
        let author = n % 7;
        let post = collector::Post {
            id: collector::PostId::from_raw(format!("x:{n}")),
            source: collector::SourceKind::X,
            url: None,
            text: "Lumio again".to_owned(),
            lang: None,
            created_at: at,
            observed_at: at,
            author: collector::Author {
                id: format!("a{author}"),
                followers: Some(10u64.pow(author as u32)),
                ..collector::Author::default()
            },
            relation: collector::Relation::Original,
            engagement: collector::Engagement::default(),
            change: collector::Change::New,
        };
        Arc::new(AnalysedPost {
            post,
            analysis: Analysis {
                language: "en".to_owned(),
                brands: vec![BrandMatch {
                    brand: "Lumio".to_owned(),
                    matched: "lumio".to_owned(),
                }],
                categories: Default::default(),
                sentiment: Sentiment {
                    label: SentimentLabel::Neutral,
                    score: 0.0,
                },
                intents: Vec::new(),
                privacy: Default::default(),
                influence: Vec::new(),
            },
        })
    }

    /// A snapshot after every batch: most batches arrive while one is encoding, so they are
    /// badged from the shared tracker and counted after. Every post still reaches the alert
    /// engine in order, and the last snapshot, saved with the last commit's checkpoints,
    /// holds every post counted exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn posts_arriving_while_a_snapshot_encodes_are_counted_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("influence.redb")).expect("store opens");
        let config = InfluenceConfig::default();
        let brands = ["Lumio".to_owned()];
        let tracker = InfluenceTracker::new(config, brands.iter().cloned());
        let posts: Vec<Arc<AnalysedPost>> = (0..2_000).map(post).collect();

        let (input, stage_input) = mpsc::channel(1_000);
        let (alerts, mut alerted) = mpsc::channel(posts.len());
        let (index, mut indexed) = mpsc::channel(16);
        let (leaderboards, _) = watch::channel(Arc::new(tracker.leaderboards()));
        let outputs = Outputs {
            alerts,
            index,
            index_queue: IndexQueue::new(1_000),
            leaderboards,
        };
        let settings = Settings {
            min_snapshot_interval: Duration::ZERO,
            publish_interval: Duration::from_millis(1),
        };
        let stage = tokio::spawn(run(
            tracker,
            store.clone(),
            stage_input,
            outputs,
            settings,
            Arc::new(PipelineStats::default()),
        ));
        // The index: drops batches (giving their room back), answers each commit with its
        // number as the checkpoint.
        let index = tokio::spawn(async move {
            let (mut batches, mut commits) = (0, 0);
            while let Some(message) = indexed.recv().await {
                match message {
                    IndexMessage::Batch(_) => batches += 1,
                    IndexMessage::Commit(answer) => {
                        commits += 1;
                        let _ = answer.send(Some(saved_with(&format!("commit-{commits}"))));
                    }
                }
            }
            (batches, commits)
        });
        for chunk in posts.chunks(4) {
            let batch = AnalysedBatch {
                posts: chunk
                    .iter()
                    .map(|post| Arc::new(AnalysedPost::clone(post)))
                    .collect(),
                deletions: Vec::new(),
                progress: Progress::notify().0,
                queued: None,
            };
            input.send(batch).await.expect("stage running");
        }
        drop(input);
        stage.await.expect("stage ends");
        let (batches, commits) = index.await.expect("index ends");
        assert_eq!(batches, posts.len() / 4);
        assert!(commits > 2, "snapshots all along the stream: {commits}");

        let mut order = Vec::new();
        while let Some(alerted) = alerted.recv().await {
            order.push(alerted.post.id.clone());
        }
        let expected: Vec<_> = posts.iter().map(|post| post.post.id.clone()).collect();
        assert_eq!(order, expected, "every post alerted once, in stream order");

        let (restored, checkpoints) = load(&[&store], config, &brands);
        assert_eq!(
            checkpoints,
            Some(saved_with(&format!("commit-{commits}"))),
            "the last snapshot goes with the last commit"
        );
        let mut reference = InfluenceTracker::new(config, brands.iter().cloned());
        for post in &posts {
            reference.assign(&mut AnalysedPost::clone(post));
        }
        assert_eq!(
            restored.leaderboards(),
            reference.leaderboards(),
            "every post counted exactly once"
        );
    }

    #[test]
    fn the_snapshot_comes_from_the_first_store_holding_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let open = |name: &str| Store::open(&dir.path().join(name)).expect("store opens");
        let (current, legacy) = (open("influence.redb"), open("state.redb"));
        let config = InfluenceConfig::default();
        let brands = ["Lumio".to_owned()];
        let snapshot = || {
            InfluenceTracker::new(config, brands.iter().cloned())
                .snapshot()
                .expect("encodes")
        };
        let loaded = || load(&[&current, &legacy], config, &brands).1;
        let none = loaded();
        assert!(
            none.is_none(),
            "nothing saved: empty tracker, no checkpoints"
        );

        for (store, source, why) in [
            (&legacy, "old", "an older data directory's"),
            (&current, "new", "the newest store first"),
        ] {
            save(store, &saved_with(source), snapshot()).expect("saved");
            assert_eq!(loaded(), Some(saved_with(source)), "{why}");
        }
    }
}
