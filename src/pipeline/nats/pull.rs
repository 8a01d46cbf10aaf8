//! Reading a durable pull consumer, and acknowledging what was read once it is stored.
//!
//! [`run`] asks the consumer for up to [`PULL_BATCH`] messages at a time and hands each
//! non-empty batch on, in order; it survives server restarts (every failed call is retried,
//! and the consumer is looked up again). [`spawn_acker`] acknowledges a batch's messages
//! once the receiver of its [`Progress::Notify`](crate::pipeline::progress::Progress)
//! resolves, in the order batches were read; a batch whose notifier is dropped (it was
//! not fully stored) is left unacknowledged, so the server delivers it again after
//! [`ACK_WAIT`].

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, AckKind, Message};
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ACK_WAIT, MAX_ACK_PENDING, PULL_BATCH, retry};

/// How long one pull request waits for messages.
const PULL_EXPIRES: Duration = Duration::from_secs(1);
/// Batches read but not yet acknowledged, at most (the pull waits beyond that).
pub(crate) const ACK_QUEUE_CAPACITY: usize = 64;

/// A batch waiting for its downstream write.
pub(crate) struct PendingAck {
    pub(crate) stored: oneshot::Receiver<()>,
    pub(crate) messages: Vec<Message>,
}

/// The durable consumer `name` on `stream`, created if needed, retried until it exists.
async fn consumer(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    stop: &CancellationToken,
) -> Option<jetstream::consumer::Consumer<pull::Config>> {
    let what = format!("get consumer {name} on {stream}");
    retry(&what, stop, || async {
        let stream = js.get_stream(stream).await.map_err(|e| e.to_string())?;
        stream
            .get_or_create_consumer(
                name,
                pull::Config {
                    durable_name: Some(name.to_string()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    max_ack_pending: MAX_ACK_PENDING,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    })
    .await
}

/// Pulls batches from the durable consumer `name` on `stream` until `stop`, sending each to
/// `out`. Ends when `stop` is cancelled or `out` is closed.
pub(crate) async fn run(
    js: jetstream::Context,
    stream: &'static str,
    name: &'static str,
    stop: CancellationToken,
    out: mpsc::Sender<Vec<Message>>,
) {
    let Some(mut consumer) = consumer(&js, stream, name, &stop).await else {
        return;
    };
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        match pull_once(&consumer, &stop).await {
            Ok(messages) => {
                failures = 0;
                if messages.is_empty() {
                    continue;
                }
                if out.send(messages).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if failures == 0 {
                    tracing::warn!(consumer = name, %error, "pull failed; retrying");
                }
                failures += 1;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(super::RETRY_PAUSE) => {}
                }
                // The server may have restarted: look the consumer up again.
                match self::consumer(&js, stream, name, &stop).await {
                    Some(found) => consumer = found,
                    None => return,
                }
            }
        }
    }
}

/// One pull request: up to [`PULL_BATCH`] messages, waiting at most [`PULL_EXPIRES`].
async fn pull_once(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
    stop: &CancellationToken,
) -> Result<Vec<Message>, String> {
    let mut batch = consumer
        .batch()
        .max_messages(PULL_BATCH)
        .expires(PULL_EXPIRES)
        .messages()
        .await
        .map_err(|error| error.to_string())?;
    let mut messages = Vec::new();
    loop {
        let next = tokio::select! {
            // Messages already received stay unacknowledged and come back later.
            _ = stop.cancelled() => return Ok(messages),
            next = batch.next() => next,
        };
        match next {
            Some(Ok(message)) => messages.push(message),
            Some(Err(error)) if messages.is_empty() => return Err(error.to_string()),
            Some(Err(error)) => {
                tracing::debug!(%error, "pull ended early");
                return Ok(messages);
            }
            None => return Ok(messages),
        }
    }
}

/// Starts the task that acknowledges each batch once it is stored. It ends when every
/// sender is dropped and the batches sent before are settled.
pub(crate) fn spawn_acker() -> (mpsc::Sender<PendingAck>, JoinHandle<()>) {
    let (pending_tx, mut pending_rx) = mpsc::channel::<PendingAck>(ACK_QUEUE_CAPACITY);
    let task = tokio::spawn(async move {
        while let Some(pending) = pending_rx.recv().await {
            if pending.stored.await.is_err() {
                tracing::debug!(
                    messages = pending.messages.len(),
                    "batch not stored; left for redelivery"
                );
                continue;
            }
            for message in &pending.messages {
                // A lost ack means the message comes back: storage is idempotent.
                if let Err(error) = message.ack().await {
                    tracing::debug!(%error, "cannot acknowledge a message");
                }
            }
        }
    });
    (pending_tx, task)
}

/// Tells the server never to deliver `message` again (it cannot be decoded).
pub(crate) async fn reject(message: &Message, what: &str, error: &serde_json::Error) {
    tracing::warn!(subject = %message.subject, what, %error, "undecodable message skipped");
    if let Err(error) = message.ack_with(AckKind::Term).await {
        tracing::debug!(%error, "cannot reject a message");
    }
}
