//! The influence leaderboards between the index node, where the one tracker runs, and the
//! serve nodes, whose `/api/influencers` shows them: the stream `VEILLE_INFLUENCE` keeps
//! the latest leaderboards only (one message on one subject), so a serve node started late
//! reads them at once.
//!
//! The index node publishes each new version the influence stage puts on its `watch`
//! channel (at most every 500 ms while posts arrive), acknowledged and retried; a version
//! superseded while its publication is retried is skipped. A serve node follows the stream
//! with an ordered consumer (the stream holds the latest version only) and puts each version on its own `watch`
//! channel.

use std::sync::Arc;

use async_nats::jetstream::{self};
use nlp::influence::Leaderboards;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{INFLUENCE_STREAM, LEADERBOARDS_SUBJECT, Outgoing, publish_acknowledged};

/// Publishes every version of the leaderboards until `stop` (index node).
pub(crate) async fn publish(
    js: jetstream::Context,
    mut leaderboards: watch::Receiver<Arc<Leaderboards>>,
    stop: CancellationToken,
) {
    // The restored (or empty) leaderboards first, so serve nodes show the state at once.
    leaderboards.mark_changed();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = leaderboards.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        let current = Arc::clone(&leaderboards.borrow_and_update());
        let payload = match serde_json::to_vec(current.as_ref()) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(%error, "leaderboards could not be encoded, not published");
                continue;
            }
        };
        let message = Outgoing {
            subject: LEADERBOARDS_SUBJECT.to_string(),
            id: version_id(&payload),
            payload: payload.into(),
        };
        if publish_acknowledged(&js, vec![message], None, &stop)
            .await
            .is_none()
        {
            return;
        }
    }
}

/// Follows the latest leaderboards into `leaderboards` until `stop` (serve node). The
/// stream keeps one message: the latest version.
pub(crate) async fn follow(
    js: jetstream::Context,
    leaderboards: watch::Sender<Arc<Leaderboards>>,
    stop: CancellationToken,
) {
    super::follow_stream(&js, INFLUENCE_STREAM, "leaderboards", &stop, |message| {
        match serde_json::from_slice::<Leaderboards>(&message.payload) {
            Ok(current) => {
                leaderboards.send_replace(Arc::new(current));
            }
            Err(error) => tracing::warn!(%error, "undecodable leaderboards skipped"),
        }
    })
    .await;
}

/// The `Nats-Msg-Id` of a version: a hash of its encoding (the same version published
/// twice is stored once).
fn version_id(payload: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    payload.hash(&mut hasher);
    format!("leaderboards|{:016x}", hasher.finish())
}
