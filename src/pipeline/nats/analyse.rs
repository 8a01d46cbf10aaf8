//! The analyse role (`veille analyse`): a stateless worker on the shared durable consumer
//! `analyse` of the raw stream. Any number run at once; the server spreads the messages.
//!
//! ```text
//!  pull ──► decode ──(Collected)──► run_nlp ──(AnalysedBatch)──► publish ──► VEILLE_ANALYSED
//!    └──────────── raw messages ──► acker (acks once the batch is published) ◄──┘
//! ```
//!
//! Promises: a raw message is acknowledged only after what it became (an analysed post, a
//! deletion, or nothing: not relevant) is acknowledged by the analysed stream. Each
//! analysed message carries the worker's name in [`WORKER_HEADER`] and a `Nats-Msg-Id`
//! derived from the post, so the same post analysed twice within the dedupe window is
//! stored once in the stream. An undecodable raw message is logged and never delivered
//! again.

use std::sync::Arc;

use anyhow::Context;
use async_nats::jetstream::{self, Message};
use nlp::Analyzer;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pull::{self, PendingAck};
use super::{
    ANALYSE_CONSUMER, ANALYSED_DELETE, ANALYSED_POST, Outgoing, RAW_STREAM, RoleHandle,
    post_message_id, publish_acknowledged,
};
use crate::config::Config;
use crate::pipeline::index_task::AnalysedBatch;
use crate::pipeline::progress::{Collected, Progress};
use crate::pipeline::{ANALYSED_CAPACITY, COLLECTED_CAPACITY, PipelineStats, run_nlp};

/// Pulled batches waiting to be decoded.
const PULLED_CAPACITY: usize = 4;

pub(crate) async fn start(
    config: &Config,
    js: jetstream::Context,
    worker: &str,
) -> anyhow::Result<RoleHandle> {
    let analyzer = Arc::new(Analyzer::new(&config.nlp).context("cannot build the NLP stage")?);
    let stats = Arc::new(PipelineStats::default());
    let stop = CancellationToken::new();
    let (pulled_tx, pulled_rx) = mpsc::channel(PULLED_CAPACITY);
    let (collected_tx, collected_rx) = mpsc::channel(COLLECTED_CAPACITY);
    let (analysed_tx, analysed_rx) = mpsc::channel(ANALYSED_CAPACITY);
    let (acks_tx, acker) = pull::spawn_acker();

    let mut handle = RoleHandle::new("analyse", stop.clone());
    handle.push(tokio::spawn(pull::run(
        js.clone(),
        RAW_STREAM,
        ANALYSE_CONSUMER,
        stop.clone(),
        pulled_tx,
    )));
    handle.push(tokio::spawn(decode(pulled_rx, collected_tx, acks_tx)));
    handle.push(tokio::spawn(run_nlp(
        analyzer,
        collected_rx,
        analysed_tx,
        None,
        stats,
    )));
    handle.push(tokio::spawn(publish(
        js,
        analysed_rx,
        worker.to_string(),
        stop,
    )));
    handle.push(acker);
    tracing::info!(worker, "analyse worker started");
    Ok(handle)
}

/// Decodes each pulled batch into posts for the NLP stage, and queues its messages for
/// acknowledgement once the batch is published.
async fn decode(
    mut pulled: mpsc::Receiver<Vec<Message>>,
    to_nlp: mpsc::Sender<Collected>,
    to_acker: mpsc::Sender<PendingAck>,
) {
    while let Some(messages) = pulled.recv().await {
        let mut posts = Vec::with_capacity(messages.len());
        let mut kept = Vec::with_capacity(messages.len());
        for message in messages {
            match serde_json::from_slice::<collector::Post>(&message.payload) {
                Ok(post) => {
                    posts.push(post);
                    kept.push(message);
                }
                Err(error) => pull::reject(&message, "raw post", &error).await,
            }
        }
        let (progress, stored) = Progress::notify();
        let pending = PendingAck {
            stored,
            messages: kept,
        };
        if to_acker.send(pending).await.is_err()
            || to_nlp.send(Collected { posts, progress }).await.is_err()
        {
            return;
        }
    }
}

/// Publishes each analysed batch, then signals its progress (its raw messages get acked).
async fn publish(
    js: jetstream::Context,
    mut batches: mpsc::Receiver<AnalysedBatch>,
    worker: String,
    stop: CancellationToken,
) {
    while let Some(batch) = batches.recv().await {
        let mut messages = Vec::with_capacity(batch.posts.len() + batch.deletions.len());
        for analysed in &batch.posts {
            match serde_json::to_vec(analysed.as_ref()) {
                Ok(payload) => messages.push(Outgoing {
                    subject: ANALYSED_POST.to_string(),
                    id: post_message_id(&analysed.post),
                    payload: payload.into(),
                }),
                Err(error) => {
                    tracing::error!(%error, post = %analysed.post.id, "cannot encode an analysed post");
                }
            }
        }
        for id in &batch.deletions {
            if let Ok(payload) = serde_json::to_vec(id) {
                messages.push(Outgoing {
                    subject: ANALYSED_DELETE.to_string(),
                    id: format!("delete|{id}"),
                    payload: payload.into(),
                });
            }
        }
        if publish_acknowledged(&js, messages, Some(&worker), &stop)
            .await
            .is_none()
        {
            return;
        }
        if let Progress::Notify(stored) = batch.progress {
            let _ = stored.send(());
        }
    }
}
