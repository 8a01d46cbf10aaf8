//! X API v2 filtered stream, with rules kept in sync and gaps filled by recent search.
//!
//! In: `GET /2/tweets/search/stream` (one chunked body of `\r\n`-terminated JSON objects,
//! bare `\r\n` keep-alives), `.../stream/rules`, `/2/tweets/search/recent`; a bearer token.
//! Out: batches of posts, decoded by the same code as recorded streams
//! ([`crate::replay::x_stream`]); the checkpoint is `{"v":1,"last_id","last_byte_at","rules_hash"}`.
//!
//! Promises:
//! * rules are synced once per run, sending only the difference (`rules.rs`);
//! * the body is read with a read-idle timeout (default 30 s, above the 20 s keep-alive);
//!   silence, a cut, a close or an `operational-disconnect` notice drops the connection
//!   *before* the error is returned, so the next dial never meets TooManyConnections of our
//!   own making; the runner waits by X's classes ([`crate::backoff`]);
//! * after any reconnect, and on start from a checkpoint, recent search with `since_id` (all
//!   pages) fills the gap before the stream is read again; versions already handed on are
//!   dropped as duplicates;
//! * `last_id` is the newest version id handed on in this or an earlier batch, never one
//!   that was not; an edit keeps the post id of its first `edit_history_tweet_ids` entry;
//! * a malformed line is counted and skipped; more than 50 a minute reconnects.

mod rules;
mod search;

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Client, Response};
use serde_json::json;

pub use rules::{ExistingRule, RulesDiff, diff};

use crate::backoff::{DecodeBudget, FailureClass, ResetHeader};
use crate::dedupe::RecentIds;
use crate::error::CollectError;
use crate::http;
use crate::post::Post;
use crate::replay::x_stream::{LineFramer, StreamItem, decode_line};
use crate::secret::Secret;
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::{DropReason, SourceStats};

/// Fields and expansions asked for on the stream and in search: author follower counts
/// come from `includes.users[].public_metrics`.
pub(crate) const FIELDS: &[(&str, &str)] = &[
    (
        "tweet.fields",
        "created_at,lang,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,public_metrics,entities,note_tweet,edit_history_tweet_ids",
    ),
    (
        "expansions",
        "author_id,referenced_tweets.id,referenced_tweets.id.author_id",
    ),
    (
        "user.fields",
        "username,name,public_metrics,verified,verified_type,created_at",
    ),
];

/// Default read-idle timeout: a little above X's 20 s keep-alive interval.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Malformed lines per minute past which the stream is treated as broken.
const DECODE_LIMIT_PER_MINUTE: usize = 50;
/// Version ids remembered to drop re-deliveries.
const RECENT_IDS: usize = 20_000;

/// One filtered-stream rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XRule {
    pub value: String,
    pub tag: String,
}

/// How to run the X collector.
#[derive(Debug, Clone)]
pub struct XConfig {
    pub name: String,
    /// `https://api.x.com`, or a local server in tests.
    pub base_url: String,
    pub token: Secret,
    pub rules: Vec<XRule>,
    pub idle_timeout: Duration,
    pub user_agent: String,
}

/// The X collector (see the module header).
#[derive(Debug)]
pub struct XStream {
    config: XConfig,
    stream_client: Client,
    client: Client,
    stats: Arc<SourceStats>,
    body: Option<Response>,
    framer: LineFramer,
    rules_synced: bool,
    last_id: Option<String>,
    last_byte_at: Option<DateTime<Utc>>,
    need_backfill: bool,
    /// An error met after posts that were handed on first.
    pending_error: Option<CollectError>,
    recent: RecentIds,
    decode_budget: DecodeBudget,
}

impl XStream {
    pub fn new(
        mut config: XConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<XStream, CollectError> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        if config.rules.is_empty() {
            return Err(CollectError::Fatal {
                source_name: config.name.clone(),
                reason: "no stream rule: configure at least one brand".to_owned(),
            });
        }
        stats.set_liveness(config.idle_timeout * 2);
        let last_id = resume
            .filter(|checkpoint| checkpoint.source == config.name)
            .and_then(|checkpoint| {
                checkpoint
                    .cursor
                    .get("last_id")?
                    .as_str()
                    .map(str::to_owned)
            })
            .filter(|id| !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_digit()));
        Ok(XStream {
            stream_client: http::client(&config.name, &config.user_agent, false)?,
            client: http::client(&config.name, &config.user_agent, true)?,
            need_backfill: last_id.is_some(),
            last_id,
            config,
            stats,
            body: None,
            framer: LineFramer::new(),
            rules_synced: false,
            last_byte_at: None,
            pending_error: None,
            recent: RecentIds::new(RECENT_IDS),
            decode_budget: DecodeBudget::new(DECODE_LIMIT_PER_MINUTE),
        })
    }

    /// The checkpoint of everything handed on so far.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            source: self.config.name.clone(),
            cursor: json!({
                "v": 1,
                "last_id": self.last_id,
                "last_byte_at": self.last_byte_at.map(|at| at.to_rfc3339()),
                "rules_hash": rules_hash(&self.config.rules),
            }),
        }
    }

    /// Drops the connection, then returns the error that ended it.
    fn disconnect(&mut self, class: FailureClass, reason: String) -> CollectError {
        self.body = None;
        self.need_backfill = true;
        tracing::warn!(source = %self.config.name, class = class.as_str(), %reason, "stream disconnected");
        CollectError::transient(&self.config.name, class, reason)
    }

    async fn connect(&mut self) -> Result<(), CollectError> {
        let name = self.config.name.clone();
        if !self.rules_synced {
            rules::sync(
                &name,
                &self.client,
                &self.config.base_url,
                &self.config.token,
                &self.config.rules,
            )
            .await?;
            self.rules_synced = true;
        }
        let request = self
            .stream_client
            .get(format!("{}/2/tweets/search/stream", self.config.base_url))
            .bearer_auth(self.config.token.expose())
            .query(FIELDS);
        let response =
            http::send(&name, "connect to the stream", request, ResetHeader::XEpoch).await?;
        self.body = Some(response);
        self.framer = LineFramer::new();
        self.stats.alive(Utc::now());
        tracing::info!(source = %name, "stream connected");
        Ok(())
    }

    /// Keeps the posts not handed on before, and moves `last_id` past them.
    fn accept(&mut self, found: Vec<(String, Post)>, now: DateTime<Utc>) -> Vec<Post> {
        let mut posts = Vec::with_capacity(found.len());
        for (version, post) in found {
            if !self.recent.insert(&version) {
                self.stats.dropped(DropReason::Duplicate, 1);
                continue;
            }
            if self
                .last_id
                .as_deref()
                .is_none_or(|last| id_order(&version, last) == Ordering::Greater)
            {
                self.last_id = Some(version);
            }
            self.stats.post_arrived(post.created_at, now);
            posts.push(post);
        }
        posts
    }

    fn batch(&mut self, posts: Vec<Post>) -> Batch {
        if !posts.is_empty() {
            SourceStats::add(&self.stats.posts, posts.len() as u64);
            SourceStats::add(&self.stats.batches, 1);
        }
        Batch {
            posts,
            checkpoint: self.checkpoint(),
        }
    }

    async fn backfill(&mut self) -> Result<Vec<Post>, CollectError> {
        let Some(since_id) = self.last_id.clone() else {
            return Ok(Vec::new());
        };
        let found = search::since(
            &self.config.name,
            &self.client,
            &self.config.base_url,
            &self.config.token,
            &self.config.rules,
            &since_id,
            &self.stats,
        )
        .await?;
        Ok(self.accept(found, Utc::now()))
    }

    /// Decodes a chunk; returns its posts, and sets `pending_error` when the stream must end.
    fn decode_chunk(&mut self, chunk: &[u8], now: DateTime<Utc>) -> Vec<(String, Post)> {
        let mut found = Vec::new();
        for frame in self.framer.push(chunk) {
            match decode_line(&frame.bytes, now) {
                Ok(StreamItem::KeepAlive) => {}
                Ok(StreamItem::Post { version, post, .. }) => {
                    SourceStats::add(&self.stats.received, 1);
                    found.push((version, *post));
                }
                Ok(StreamItem::Errors { titles }) => {
                    tracing::warn!(source = %self.config.name, ?titles, "error notice in the stream");
                    if titles.iter().any(|title| title.contains("disconnect")) {
                        self.body = None;
                        self.need_backfill = true;
                        self.pending_error = Some(CollectError::transient(
                            &self.config.name,
                            FailureClass::Server,
                            format!("X ended the stream: {}", titles.join(", ")),
                        ));
                        break;
                    }
                }
                Err(error) => {
                    SourceStats::add(&self.stats.received, 1);
                    self.stats.dropped(DropReason::Malformed, 1);
                    tracing::warn!(source = %self.config.name, line = frame.line, %error, "malformed stream line skipped");
                    if self.decode_budget.exceeded(now) {
                        self.body = None;
                        self.need_backfill = true;
                        self.pending_error = Some(CollectError::transient(
                            &self.config.name,
                            FailureClass::Decode,
                            "too many malformed lines".to_owned(),
                        ));
                        break;
                    }
                }
            }
        }
        found
    }
}

impl Source for XStream {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        if let Some(error) = self.pending_error.take() {
            return Err(error);
        }
        if self.body.is_none() {
            self.connect().await?;
            if self.need_backfill {
                let posts = match self.backfill().await {
                    Ok(posts) => posts,
                    Err(error) => {
                        self.body = None;
                        return Err(error);
                    }
                };
                self.need_backfill = false;
                return Ok(Some(self.batch(posts)));
            }
        }
        let idle = self.config.idle_timeout;
        loop {
            let Some(body) = self.body.as_mut() else {
                return Err(self.disconnect(FailureClass::Network, "no connection".to_owned()));
            };
            let chunk = match tokio::time::timeout(idle, body.chunk()).await {
                Err(_) => {
                    return Err(self.disconnect(
                        FailureClass::Network,
                        format!("no data nor keep-alive for {idle:?}"),
                    ));
                }
                Ok(Err(error)) => {
                    return Err(
                        self.disconnect(FailureClass::Network, format!("stream cut: {error}"))
                    );
                }
                Ok(Ok(None)) => {
                    return Err(
                        self.disconnect(FailureClass::Network, "stream closed by X".to_owned())
                    );
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            let now = Utc::now();
            self.stats.alive(now);
            self.last_byte_at = Some(now);
            let found = self.decode_chunk(&chunk, now);
            let posts = self.accept(found, now);
            if !posts.is_empty() {
                return Ok(Some(self.batch(posts)));
            }
            if let Some(error) = self.pending_error.take() {
                return Err(error);
            }
        }
    }
}

/// Orders numeric id strings by value (X ids exceed 2^53: never parse them as floats).
pub(crate) fn id_order(left: &str, right: &str) -> Ordering {
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}

fn rules_hash(rules: &[XRule]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for rule in rules {
        hasher.update(rule.value.as_bytes());
        hasher.update([0]);
        hasher.update(rule.tag.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_by_value_not_by_text() {
        assert_eq!(id_order("9", "10"), Ordering::Less);
        assert_eq!(
            id_order("1893000000000000002", "1893000000000000001"),
            Ordering::Greater
        );
    }
}
