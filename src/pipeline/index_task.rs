//! The index stage task: owns the one [`PostWriter`], writes analysed batches, stages each
//! batch's checkpoint after its posts (or, over a transport such as NATS, signals its
//! producer once a commit holds them: [`Progress::Notify`]), and commits on named triggers
//! (a pending-operation limit, a timeout since the first uncommitted change, retention, the
//! input closing).
//!
//! A [`IndexMessage::Commit`] asks for a commit now, and is answered once everything
//! received before it is committed (the influence tracker snapshots its state then, so
//! that the snapshot and the index checkpoints describe the same point of the stream).
//!
//! Writer calls are blocking; the task moves the writer to its [`BackgroundThread`] for
//! each call and gets it back, so the async workers are never held (and tantivy's threads,
//! started from there, run at background priority).

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use collector::{Checkpoint, PostId};
use index::{CommitTrigger, PostWriter};
use nlp::AnalysedPost;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;

use super::PipelineStats;
use super::background::BackgroundThread;
use super::progress::Progress;

/// What the NLP stage hands to the index: the relevant posts of one collected batch, the
/// deletions it carried, and how its producer learns they are stored.
#[derive(Debug)]
pub(crate) struct AnalysedBatch {
    pub(crate) posts: Vec<Arc<AnalysedPost>>,
    pub(crate) deletions: Vec<PostId>,
    pub(crate) progress: Progress,
    /// Its share of the index queue's post budget (see `influence_task`), given back when
    /// the batch is written.
    pub(crate) queued: Option<OwnedSemaphorePermit>,
}

/// What the index stage receives, in stream order.
#[derive(Debug)]
pub(crate) enum IndexMessage {
    Batch(AnalysedBatch),
    /// Commit now; answer, once everything received so far is committed, with the
    /// checkpoints of that commit (None when the commit failed).
    Commit(oneshot::Sender<Option<BTreeMap<String, Checkpoint>>>),
}

pub(crate) struct Settings {
    pub(crate) commit_interval: Duration,
    pub(crate) commit_doc_limit: usize,
    pub(crate) retention_interval: Duration,
    pub(crate) retention_days: u32,
}

/// Runs until the input closes, then makes a final commit. A batch's
/// [`Progress::Notify`] is signalled after the first successful commit that holds it.
pub(crate) async fn run(
    writer: PostWriter,
    thread: BackgroundThread,
    mut input: mpsc::Receiver<IndexMessage>,
    settings: Settings,
    stats: Arc<PipelineStats>,
) {
    let mut writer = WriterSlot {
        thread,
        writer: Some(writer),
    };
    // Batches written but not yet committed, whose producers wait for the commit.
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    // When the oldest uncommitted change arrived; None when everything is committed.
    let mut dirty_since: Option<Instant> = None;
    let mut retention = tokio::time::interval(settings.retention_interval);
    loop {
        let commit_due = dirty_since.map(|since| since + settings.commit_interval);
        tokio::select! {
            received = input.recv() => {
                let batch = match received {
                    Some(IndexMessage::Batch(batch)) => batch,
                    Some(IndexMessage::Commit(answer)) => {
                        let committed =
                            commit(&mut writer, CommitTrigger::Requested, &stats, &mut waiting).await;
                        dirty_since = None;
                        let checkpoints = writer
                            .writer
                            .as_ref()
                            .filter(|_| committed)
                            .map(|writer| writer.committed_checkpoints().clone());
                        let _ = answer.send(checkpoints);
                        continue;
                    }
                    None => break,
                };
                let pending = with_writer(&mut writer, move |writer| write_batch(writer, batch)).await;
                match pending {
                    Some(Ok(outcome)) => {
                        stats.record_write(outcome.added, outcome.deleted, outcome.failed);
                        waiting.extend(outcome.notify);
                        dirty_since.get_or_insert_with(Instant::now);
                        if outcome.pending >= settings.commit_doc_limit {
                            commit(&mut writer, CommitTrigger::DocLimit, &stats, &mut waiting).await;
                            dirty_since = None;
                        }
                    }
                    Some(Err(())) | None => return,
                }
            }
            _ = sleep_until_option(commit_due) => {
                commit(&mut writer, CommitTrigger::Timeout, &stats, &mut waiting).await;
                dirty_since = None;
            }
            _ = retention.tick() => {
                let days = settings.retention_days;
                let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
                let result = with_writer(&mut writer, move |writer| writer.delete_older_than(cutoff)).await;
                if let Some(Err(error)) = result {
                    tracing::error!(error = %error, "retention failed");
                }
                commit(&mut writer, CommitTrigger::Retention, &stats, &mut waiting).await;
                dirty_since = None;
            }
        }
    }
    commit(
        &mut writer,
        CommitTrigger::InputClosed,
        &stats,
        &mut waiting,
    )
    .await;
}

struct WriteOutcome {
    added: u64,
    deleted: u64,
    failed: u64,
    pending: usize,
    /// The batch's producer, to signal after the commit (all posts written).
    notify: Option<oneshot::Sender<()>>,
}

/// Writes a batch's posts and deletions, then stages its checkpoint; the checkpoint is
/// staged only when every post of the batch was written, so it never passes a lost post.
fn write_batch(writer: &mut PostWriter, batch: AnalysedBatch) -> Result<WriteOutcome, ()> {
    let mut outcome = WriteOutcome {
        added: 0,
        deleted: 0,
        failed: 0,
        pending: 0,
        notify: None,
    };
    for post in &batch.posts {
        match writer.add(post) {
            Ok(()) => outcome.added += 1,
            Err(error) => {
                outcome.failed += 1;
                tracing::error!(error = %error, post = %post.post.id, "cannot index a post");
            }
        }
    }
    for id in &batch.deletions {
        match writer.delete(id) {
            Ok(()) => outcome.deleted += 1,
            Err(error) => {
                outcome.failed += 1;
                tracing::error!(error = %error, post = %id, "cannot delete a post");
            }
        }
    }
    if outcome.failed == 0 {
        match batch.progress {
            Progress::Checkpoint(checkpoint) => writer.stage_checkpoint(checkpoint),
            Progress::Notify(notify) => outcome.notify = Some(notify),
        }
    } else {
        tracing::warn!(
            failed = outcome.failed,
            "progress not advanced: some posts of the batch were not written"
        );
    }
    outcome.pending = writer.pending();
    Ok(outcome)
}

/// Commits; on success signals every waiting producer, on failure drops them (their
/// batches will be delivered again). True when the commit succeeded.
async fn commit(
    writer: &mut WriterSlot,
    trigger: CommitTrigger,
    stats: &PipelineStats,
    waiting: &mut Vec<oneshot::Sender<()>>,
) -> bool {
    let result = with_writer(writer, move |writer| writer.commit(trigger)).await;
    let committed = std::mem::take(waiting);
    match result {
        Some(Ok(())) => {
            stats.record_commit();
            for producer in committed {
                // A producer that stopped waiting has nothing left to acknowledge.
                let _ = producer.send(());
            }
            true
        }
        Some(Err(error)) => {
            PipelineStats::bump(&stats.index_errors);
            tracing::error!(error = %error, trigger = ?trigger, "index commit failed");
            false
        }
        None => false,
    }
}

/// The writer, and the thread its calls run on. `writer` is None while a call runs, and
/// for good once one panicked.
struct WriterSlot {
    thread: BackgroundThread,
    writer: Option<PostWriter>,
}

/// Runs `work` on the writer's thread with the writer, and puts the writer back. Returns
/// None when the writer is gone (earlier work panicked).
async fn with_writer<T: Send + 'static>(
    slot: &mut WriterSlot,
    work: impl FnOnce(&mut PostWriter) -> T + Send + 'static,
) -> Option<T> {
    let mut writer = slot.writer.take()?;
    let done = slot
        .thread
        .run(move || {
            let result = work(&mut writer);
            (writer, result)
        })
        .await;
    match done {
        Some((writer, result)) => {
            slot.writer = Some(writer);
            Some(result)
        }
        None => {
            tracing::error!("index writer task failed; the index stage stops");
            None
        }
    }
}

async fn sleep_until_option(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
