//! The pipeline spread over processes, joined by NATS JetStream: the same stage loops as the
//! embedded pipeline, with JetStream streams in place of the tokio channels between them.
//!
//! ```text
//!  veille collect ──► VEILLE_RAW (veille.raw.<source>) ──► durable pull consumer `analyse`
//!   cursors in KV `veille-cursors`                           shared by N `veille analyse`
//!                                                                       │
//!  veille index ◄── durable pull consumer `index` ◄── VEILLE_ANALYSED (veille.analysed.*)
//!  (index writer, the alert task with its log)
//!     │ alerts, alert updates ──► VEILLE_LIVE (veille.live.*) ──► every `veille serve`
//!     │ live posts ──► veille.feed.post (core NATS, not stored) ──► every `veille serve`
//!     ◄── request/reply on veille.actions (core NATS) ◄── any `veille serve`
//!     │ influence leaderboards ──► VEILLE_INFLUENCE (latest only) ──► every `veille serve`
//! ```
//!
//! Messages are the serde JSON of `collector::Post` (raw), `nlp::AnalysedPost` or a
//! `PostId` (analysed posts and deletions), `dashboard::live::LiveEvent` (live),
//! `nlp::influence::Leaderboards` (influence), and a
//! lifecycle request and its answer (actions, see the `actions` module).
//!
//! Delivery guarantees, hop by hop (at least once end to end, stored exactly once):
//! * collect: a batch's posts are published and each JetStream acknowledgement awaited
//!   (retried until it comes); only then is the source's cursor written to the KV bucket.
//!   A crash in between re-publishes the batch from the previous cursor; the stream drops
//!   the copies it already holds within its dedupe window (`Nats-Msg-Id` = post id + content
//!   hash, [`DEDUPE_WINDOW`]);
//! * analyse: a worker acknowledges a raw message only after the analysed post (or the
//!   deletion) it produced is acknowledged by the analysed stream; a relevance drop is
//!   acknowledged once analysed. A worker killed mid-batch leaves its messages unacknowledged:
//!   the server delivers them to another worker after [`ACK_WAIT`];
//! * index: the stateful node runs the influence tracker, the alert engine and the index
//!   writer as the embedded pipeline does (badges set before rules and the index see a
//!   post); it acknowledges an analysed message only after the index commit
//!   that holds it; a crash before that re-delivers it, and the index keys posts by id, so
//!   each post is stored once. The alert engine sees a post when it arrives (before the
//!   commit) and, seeded from the alert log, never raises the same alert twice;
//! * live: alerts and alert updates are published once by the stateful node (dedupe by
//!   alert id) into a stream every serve node reads from its start (which also seeds its
//!   alert list); live posts are best effort (core NATS), like the embedded broadcast;
//! * actions: a serve node's HTTP reply waits for the index node's answer (the updated
//!   alert, or why it was refused); an action is applied at most once, and one that gets
//!   no answer fails (503-like "engine stopped") rather than hang.
//!
//! Accounts and sessions live in each serve node's own data directory (its embedded store):
//! a user signs in on one serve node and stays there (sticky sessions). The index node
//! finds no accounts; a serve node finds the index at `index-dir`.
//!
//! Ordering: one worker keeps a source's order, several do not; an edit and its original
//! analysed by two workers may be indexed in either order (the later write wins).
//!
//! Every role re-connects by itself (the client retries forever) and retries its JetStream
//! calls with backoff, so a restart of nats-server pauses the pipeline and loses nothing:
//! the streams are on disk.

mod actions;
pub(crate) mod analyse;
pub mod bench;
pub(crate) mod collect;
pub(crate) mod index;
mod influence;
pub mod local_server;
mod pull;
pub(crate) mod serve;

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, kv, stream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Raw posts, one subject per source: `veille.raw.<source>`.
pub const RAW_STREAM: &str = "VEILLE_RAW";
pub const RAW_SUBJECTS: &str = "veille.raw.>";
/// Analysed posts (`veille.analysed.post`) and deletions (`veille.analysed.delete`).
pub const ANALYSED_STREAM: &str = "VEILLE_ANALYSED";
pub const ANALYSED_POST: &str = "veille.analysed.post";
pub const ANALYSED_DELETE: &str = "veille.analysed.delete";
/// Alerts (`veille.live.alert`) and alert updates (`veille.live.update`).
pub const LIVE_STREAM: &str = "VEILLE_LIVE";
pub const LIVE_ALERT: &str = "veille.live.alert";
pub const LIVE_UPDATE: &str = "veille.live.update";
/// The influence leaderboards, latest only (`veille.influence.leaderboards`).
pub const INFLUENCE_STREAM: &str = "VEILLE_INFLUENCE";
pub const LEADERBOARDS_SUBJECT: &str = "veille.influence.leaderboards";
/// Live posts for the dashboards' feeds: core NATS, not stored.
pub const FEED_POST: &str = "veille.feed.post";
/// Lifecycle actions from the serve nodes to the alert task: core NATS request/reply.
pub const ACTIONS_SUBJECT: &str = "veille.actions";
/// Collector cursors, by source name.
pub const CURSOR_BUCKET: &str = "veille-cursors";
/// The durable consumers.
pub const ANALYSE_CONSUMER: &str = "analyse";
pub const INDEX_CONSUMER: &str = "index";
/// Header naming the analyse worker that produced an analysed post.
pub const WORKER_HEADER: &str = "Veille-Worker";

/// A message not acknowledged within this time is delivered again (to any worker).
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// Copies of a message published again within this window are dropped by the stream.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(120);
/// Raw and analysed posts are kept this long (a buffer for slow or stopped consumers).
pub const BUFFER_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Messages delivered to one consumer and not yet acknowledged, at most.
pub const MAX_ACK_PENDING: i64 = 20_000;
/// Messages asked for by one pull request.
pub const PULL_BATCH: usize = 500;
/// Pause between retries of a failed JetStream call.
pub const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Hands `handle` every message `stream` keeps, then each new one, in order, until `stop`.
/// When the stream cannot be followed or is interrupted, it is logged as `what` and
/// followed again from its first kept message (after [`RETRY_PAUSE`] when it failed).
pub(crate) async fn follow_stream(
    js: &jetstream::Context,
    stream: &str,
    what: &str,
    stop: &CancellationToken,
    mut handle: impl FnMut(jetstream::Message),
) {
    use futures::StreamExt;
    while !stop.is_cancelled() {
        let mut messages = match ordered_consumer(js, stream).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, what, "cannot follow the stream; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_PAUSE) => continue,
                }
            }
        };
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = messages.next() => next,
            };
            match next {
                Some(Ok(message)) => handle(message),
                Some(Err(error)) => {
                    tracing::warn!(%error, what, "stream interrupted; following it again");
                    break;
                }
                None => break,
            }
        }
    }
}

/// An ordered push consumer over every message `stream` keeps (recreated by the client
/// after a gap).
async fn ordered_consumer(
    js: &jetstream::Context,
    stream: &str,
) -> Result<jetstream::consumer::push::Ordered, String> {
    let consumer = js
        .get_stream(stream)
        .await
        .map_err(|e| e.to_string())?
        .create_consumer(jetstream::consumer::push::OrderedConfig {
            deliver_subject: js.client().new_inbox(),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    consumer.messages().await.map_err(|e| e.to_string())
}

/// Connects to `url`, waiting for the server if it is not up yet; the client re-connects
/// by itself for as long as the process runs.
pub async fn connect(url: &str) -> anyhow::Result<jetstream::Context> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))?;
    Ok(jetstream::new(client))
}

/// Creates the streams and the cursor bucket if they do not exist (every role calls it).
pub async fn ensure_topology(js: &jetstream::Context) -> anyhow::Result<()> {
    let buffers = [
        (RAW_STREAM, RAW_SUBJECTS),
        (ANALYSED_STREAM, "veille.analysed.>"),
    ];
    for (name, subjects) in buffers {
        ensure_stream(
            js,
            stream::Config {
                name: name.to_string(),
                subjects: vec![subjects.to_string()],
                max_age: BUFFER_MAX_AGE,
                duplicate_window: DEDUPE_WINDOW,
                ..Default::default()
            },
        )
        .await?;
    }
    ensure_stream(
        js,
        stream::Config {
            name: LIVE_STREAM.to_string(),
            subjects: vec!["veille.live.>".to_string()],
            max_messages: 10 * dashboard::alerts::ALERT_LOG_CAPACITY as i64,
            duplicate_window: DEDUPE_WINDOW,
            ..Default::default()
        },
    )
    .await?;
    ensure_stream(
        js,
        stream::Config {
            name: INFLUENCE_STREAM.to_string(),
            subjects: vec![LEADERBOARDS_SUBJECT.to_string()],
            max_messages_per_subject: 1,
            duplicate_window: DEDUPE_WINDOW,
            ..Default::default()
        },
    )
    .await?;
    cursor_bucket(js).await?;
    Ok(())
}

async fn ensure_stream(js: &jetstream::Context, config: stream::Config) -> anyhow::Result<()> {
    let name = config.name.clone();
    js.get_or_create_stream(config)
        .await
        .with_context(|| format!("cannot create the JetStream stream {name}"))?;
    Ok(())
}

/// The key-value bucket of collector cursors.
///
/// Created as its backing stream (`KV_<bucket>`, the layout every NATS client reads as a
/// bucket) rather than through `create_key_value`: async-nats asks the server for its
/// account limits first, and 2.9's answer does not decode in 0.51.
pub async fn cursor_bucket(js: &jetstream::Context) -> anyhow::Result<kv::Store> {
    if let Ok(store) = js.get_key_value(CURSOR_BUCKET).await {
        return Ok(store);
    }
    ensure_stream(
        js,
        stream::Config {
            name: format!("KV_{CURSOR_BUCKET}"),
            description: Some("veille collector cursors, by source".to_string()),
            subjects: vec![format!("$KV.{CURSOR_BUCKET}.>")],
            max_messages_per_subject: 1,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        },
    )
    .await?;
    js.get_key_value(CURSOR_BUCKET)
        .await
        .with_context(|| format!("cannot open the key-value bucket {CURSOR_BUCKET}"))
}

/// The subject of a source's raw posts: `veille.raw.<name>`, with every character a subject
/// token may not hold replaced by `_`.
pub fn raw_subject(source: &str) -> String {
    let token: String = source
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect();
    format!("veille.raw.{token}")
}

/// The `Nats-Msg-Id` of a post: its id and a hash of what may change between versions,
/// so re-publishing the same version is dropped and an edit is not.
pub fn post_message_id(post: &collector::Post) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    post.text.hash(&mut hasher);
    format!("{}|{:?}|{:016x}", post.id, post.change, hasher.finish())
}

/// A role's tasks, stopped together.
pub struct RoleHandle {
    /// What the role is, for logs.
    pub name: &'static str,
    /// The dashboard address, for the serve role.
    pub address: Option<SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RoleHandle {
    pub(crate) fn new(name: &'static str, stop: CancellationToken) -> RoleHandle {
        RoleHandle {
            name,
            address: None,
            stop,
            tasks: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// Whether every task of the role has ended (a collector whose sources finished).
    pub fn is_finished(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }

    /// Asks the role to stop and waits for its tasks, which finish what they hold (a
    /// final index commit, acknowledgements in flight).
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Every role in this process, joined through NATS (`veille run --nats URL`).
pub async fn start_all(
    config: &Config,
    url: &str,
    listen: SocketAddr,
) -> anyhow::Result<Vec<RoleHandle>> {
    let js = connect(url).await?;
    ensure_topology(&js).await?;
    // One process, one data directory: the index and serve roles share its store.
    let store = open_store(config)?;
    let index = index::start(config, js.clone(), store.clone()).await?;
    let analyse = analyse::start(config, js.clone(), "local").await?;
    let serve = serve::start(config, js.clone(), listen, store).await?;
    let collect = collect::start(config, js).await?;
    // Stopped in this order: collectors first, the dashboard last.
    Ok(vec![collect, analyse, index, serve])
}

/// Starts one role by name (`collect`, `analyse`, `index`, `serve`).
pub async fn start_role(
    role: Role,
    config: &Config,
    url: &str,
    listen: SocketAddr,
    worker: &str,
) -> anyhow::Result<RoleHandle> {
    let js = connect(url).await?;
    ensure_topology(&js).await?;
    match role {
        Role::Collect => collect::start(config, js).await,
        Role::Analyse => analyse::start(config, js, worker).await,
        Role::Index => index::start(config, js, open_store(config)?).await,
        Role::Serve => serve::start(config, js, listen, open_store(config)?).await,
    }
}

/// The embedded store of the config's data directory: the alert log on the index node,
/// accounts and sessions on a serve node.
pub(crate) fn open_store(config: &Config) -> anyhow::Result<::index::Store> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join("state.redb");
    ::index::Store::open(&path).with_context(|| {
        format!(
            "cannot open the store {} (two roles on one data directory? give each serve \
             node its own `data-dir` and point `index-dir` at the index)",
            path.display()
        )
    })
}

/// The roles a process can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Collect,
    Analyse,
    Index,
    Serve,
}

/// One message to publish on a JetStream stream.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) subject: String,
    /// `Nats-Msg-Id`: the stream drops a copy published again within [`DEDUPE_WINDOW`].
    pub(crate) id: String,
    pub(crate) payload: bytes::Bytes,
}

/// Publishes `messages` (pipelined) and waits for every acknowledgement, publishing again
/// those that fail until they succeed. `worker` goes in [`WORKER_HEADER`]. `None` when
/// stopped first.
pub(crate) async fn publish_acknowledged(
    js: &jetstream::Context,
    messages: Vec<Outgoing>,
    worker: Option<&str>,
    stop: &CancellationToken,
) -> Option<()> {
    let mut pending = messages;
    let mut failures = 0u64;
    while !pending.is_empty() {
        let mut acks = Vec::with_capacity(pending.len());
        for message in &pending {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", message.id.as_str());
            if let Some(worker) = worker {
                headers.insert(WORKER_HEADER, worker);
            }
            let subject = message.subject.clone();
            acks.push(
                js.publish_with_headers(subject, headers, message.payload.clone())
                    .await,
            );
        }
        let mut failed = Vec::new();
        for (sent, message) in acks.into_iter().zip(pending) {
            let acknowledged = match sent {
                Ok(ack) => ack.await.map(|_| ()).map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            if let Err(error) = acknowledged {
                if failures == 0 && failed.is_empty() {
                    tracing::warn!(%error, subject = %message.subject, "publish not acknowledged; publishing again");
                }
                failed.push(message);
            }
        }
        if !failed.is_empty() {
            failures += 1;
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = tokio::time::sleep(RETRY_PAUSE) => {}
            }
        }
        pending = failed;
    }
    if failures > 0 {
        tracing::info!(rounds = failures, "publishing acknowledged again");
    }
    Some(())
}

/// Runs `call` until it succeeds or `stop` is cancelled (then `None`), pausing
/// [`RETRY_PAUSE`] after each failure, which is logged once per `what`.
pub(crate) async fn retry<T, E, F, Fut>(
    what: &str,
    stop: &CancellationToken,
    mut call: F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut failures = 0u64;
    loop {
        match call().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(what, failures, "nats call succeeded again");
                }
                return Some(value);
            }
            Err(error) => {
                if failures == 0 {
                    tracing::warn!(what, %error, "nats call failed; retrying");
                }
                failures += 1;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(RETRY_PAUSE) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_subjects_are_one_token_per_source() {
        assert_eq!(raw_subject("replay"), "veille.raw.replay");
        assert_eq!(raw_subject("a.b c>*"), "veille.raw.a_b_c__");
    }
}
