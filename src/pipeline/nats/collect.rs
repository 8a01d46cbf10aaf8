//! The collect role (`veille collect`): the configured sources, each resuming from the cursor
//! in the KV bucket, publishing raw posts to `veille.raw.<source>`.
//!
//! Promises: a batch's cursor is written to the bucket only after JetStream acknowledged
//! every post of the batch (the stream is the durable buffer, not the index); publishing is
//! retried until acknowledged, and copies are dropped by the stream's dedupe window.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use async_nats::jetstream::{self, kv};
use collector::{Batch, Checkpoint};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Outgoing, RoleHandle, cursor_bucket, post_message_id, publish_acknowledged, raw_subject, retry,
};
use crate::config::Config;
use crate::pipeline::{COLLECTED_CAPACITY, PipelineStats, sources};

/// The KV key of a source's cursor (keys allow `[-/_=.a-zA-Z0-9]`).
pub(crate) fn cursor_key(source: &str) -> String {
    source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) async fn start(config: &Config, js: jetstream::Context) -> anyhow::Result<RoleHandle> {
    let cursors = cursor_bucket(&js).await?;
    let mut checkpoints = BTreeMap::new();
    for source in &config.sources {
        let name = source.name();
        let stored = cursors
            .get(cursor_key(name))
            .await
            .with_context(|| format!("cannot read the cursor of source `{name}`"))?;
        if let Some(bytes) = stored {
            let checkpoint: Checkpoint = serde_json::from_slice(&bytes)
                .with_context(|| format!("the stored cursor of source `{name}` is not valid"))?;
            checkpoints.insert(name.to_string(), checkpoint);
        }
    }
    let stats = Arc::new(PipelineStats::default());
    let stop = CancellationToken::new();
    let (batches_tx, batches_rx) = mpsc::channel(COLLECTED_CAPACITY);
    let source_tasks = sources::spawn_all(
        &config.sources,
        &config.nlp.brands,
        &checkpoints,
        batches_tx,
        &stop,
        &stats,
    )?;
    let mut handle = RoleHandle::new("collect", stop.clone());
    for task in source_tasks {
        handle.push(task);
    }
    handle.push(tokio::spawn(publish(js, cursors, batches_rx, stop)));
    Ok(handle)
}

/// Publishes every batch, then saves its cursor. On stop, the batch in hand is abandoned
/// (its cursor is not saved, so it is collected again).
async fn publish(
    js: jetstream::Context,
    cursors: kv::Store,
    mut batches: mpsc::Receiver<Batch>,
    stop: CancellationToken,
) {
    while let Some(batch) = batches.recv().await {
        if publish_batch(&js, &batch, &stop).await.is_none() {
            return;
        }
        let key = cursor_key(&batch.checkpoint.source);
        let value = match serde_json::to_vec(&batch.checkpoint) {
            Ok(value) => value,
            Err(error) => {
                tracing::error!(%error, "cannot encode a cursor; not saved");
                continue;
            }
        };
        let saved = retry("save a cursor", &stop, || {
            cursors.put(key.as_str(), value.clone().into())
        })
        .await;
        if saved.is_none() {
            return;
        }
    }
}

/// Publishes the batch's posts and waits for every acknowledgement. `None` when stopped
/// first.
async fn publish_batch(
    js: &jetstream::Context,
    batch: &Batch,
    stop: &CancellationToken,
) -> Option<()> {
    let subject = raw_subject(&batch.checkpoint.source);
    let mut messages = Vec::with_capacity(batch.posts.len());
    for post in &batch.posts {
        match serde_json::to_vec(post) {
            Ok(payload) => messages.push(Outgoing {
                subject: subject.clone(),
                id: post_message_id(post),
                payload: payload.into(),
            }),
            Err(error) => tracing::error!(%error, post = %post.id, "cannot encode a post; skipped"),
        }
    }
    publish_acknowledged(js, messages, None, stop).await
}
