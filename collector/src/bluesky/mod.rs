//! Bluesky through Jetstream: the WebSocket JSON firehose of `app.bsky.feed.post`, matched
//! against the brand terms on our side.
//!
//! In: `{base}/subscribe?wantedCollections=app.bsky.feed.post[&cursor=µs]`, one JSON event
//! per text frame; `getProfiles` on the AppView for handles and followers (`profiles.rs`).
//! Out: batches of matching posts, edits and deletions; the checkpoint is
//! `{"v":1,"max_time_us","endpoint","protocol":"v1"}`.
//!
//! Promises:
//! * `max_time_us` is the running maximum `time_us` of the events handled (time_us is not
//!   strictly increasing); a reconnect or restart asks for `cursor = max_time_us − rewind`
//!   (5 s by default), and re-deliveries are dropped by `(did, collection, rkey, cid)`;
//! * when the first event after a cursor is more than `gap_after` newer than the cursor, the
//!   server clamped it (it keeps ~36 h): the gap is counted and logged;
//! * deletions of posts are passed on whatever their text (the index drops unknown ids);
//! * liveness: a client ping after `ping_interval` of silence, and a reconnect when that
//!   ping is not answered within another `ping_interval`;
//! * a malformed frame is counted and skipped; more than 50 a minute reconnects.

mod profiles;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use reqwest::Client;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use profiles::Profile;
use profiles::ProfileCache;
use wire::{Event, decode_event};

use crate::backoff::{DecodeBudget, FailureClass, ResetHeader, classify_close, classify_status};
use crate::dedupe::RecentIds;
use crate::error::CollectError;
use crate::http;
use crate::matching::Keywords;
use crate::post::Post;
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::{DropReason, SourceStats};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Events remembered to drop re-deliveries after a rewind.
const RECENT_EVENTS: usize = 100_000;
const DECODE_LIMIT_PER_MINUTE: usize = 50;
/// Most posts per batch, and the lull that ends a batch early.
const BATCH_POSTS: usize = 100;
const BATCH_LULL: Duration = Duration::from_millis(50);

/// How to follow Jetstream.
#[derive(Debug, Clone)]
pub struct BlueskyConfig {
    pub name: String,
    /// `wss://jetstream2.us-east.bsky.network`.
    pub base_url: String,
    /// `https://public.api.bsky.app`.
    pub appview_url: String,
    /// Brand terms; a post must contain one (in text, tags or links).
    pub keywords: Vec<String>,
    pub rewind: Duration,
    pub ping_interval: Duration,
    pub gap_after: Duration,
    pub profile_ttl: Duration,
    pub user_agent: String,
}

impl BlueskyConfig {
    /// Defaults of sources.md §2 and §8.3 for everything but names, URLs and terms.
    pub fn new(
        name: &str,
        base_url: &str,
        appview_url: &str,
        keywords: Vec<String>,
    ) -> BlueskyConfig {
        BlueskyConfig {
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            appview_url: appview_url.to_owned(),
            keywords,
            rewind: Duration::from_secs(5),
            ping_interval: Duration::from_secs(20),
            gap_after: Duration::from_secs(60),
            profile_ttl: Duration::from_secs(3600),
            user_agent: http::DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

/// The Jetstream collector (see the module header).
#[derive(Debug)]
pub struct Jetstream {
    config: BlueskyConfig,
    keywords: Keywords,
    client: Client,
    stats: Arc<SourceStats>,
    socket: Option<Socket>,
    max_time_us: Option<i64>,
    /// The cursor asked for on the current connection, until its first event is seen.
    asked_cursor: Option<i64>,
    ping_sent: bool,
    recent: RecentIds,
    profiles: ProfileCache,
    decode_budget: DecodeBudget,
    pending_error: Option<CollectError>,
}

impl Jetstream {
    pub fn new(
        mut config: BlueskyConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<Jetstream, CollectError> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        stats.set_liveness(config.ping_interval * 3);
        let max_time_us = resume
            .filter(|checkpoint| checkpoint.source == config.name)
            .and_then(|checkpoint| checkpoint.cursor.get("max_time_us")?.as_i64());
        Ok(Jetstream {
            keywords: Keywords::new(&config.keywords),
            client: http::client(&config.name, &config.user_agent, true)?,
            profiles: ProfileCache::new(&config.appview_url, config.profile_ttl),
            config,
            stats,
            socket: None,
            max_time_us,
            asked_cursor: None,
            ping_sent: false,
            recent: RecentIds::new(RECENT_EVENTS),
            decode_budget: DecodeBudget::new(DECODE_LIMIT_PER_MINUTE),
            pending_error: None,
        })
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            source: self.config.name.clone(),
            cursor: json!({"v": 1, "max_time_us": self.max_time_us, "endpoint": self.config.base_url, "protocol": "v1"}),
        }
    }

    /// `getProfiles` calls made so far.
    pub fn profile_calls(&self) -> u64 {
        self.profiles.calls
    }

    fn disconnect(&mut self, class: FailureClass, reason: String) -> CollectError {
        self.socket = None;
        tracing::warn!(source = %self.config.name, class = class.as_str(), %reason, "jetstream disconnected");
        CollectError::transient(&self.config.name, class, reason)
    }

    async fn connect(&mut self) -> Result<(), CollectError> {
        let name = self.config.name.clone();
        let rewind = i64::try_from(self.config.rewind.as_micros()).unwrap_or(i64::MAX);
        let cursor = self.max_time_us.map(|max| max.saturating_sub(rewind));
        let mut url = format!(
            "{}/subscribe?wantedCollections={}",
            self.config.base_url,
            wire::POST_COLLECTION
        );
        if let Some(cursor) = cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let mut request =
            url.as_str()
                .into_client_request()
                .map_err(|error| CollectError::Fatal {
                    source_name: name.clone(),
                    reason: format!("bad jetstream URL `{url}`: {error}"),
                })?;
        if let Ok(agent) = self.config.user_agent.parse() {
            request.headers_mut().insert("user-agent", agent);
        }
        let (socket, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(connected) => connected,
            Err(tungstenite::Error::Http(response)) => {
                let failure = classify_status(
                    response.status().as_u16(),
                    &reqwest::header::HeaderMap::new(),
                    ResetHeader::None,
                    Utc::now(),
                );
                return Err(CollectError::from_failure(
                    &name,
                    failure,
                    format!(
                        "jetstream refused the connection: HTTP {}",
                        response.status()
                    ),
                ));
            }
            Err(error) => {
                return Err(CollectError::transient(
                    &name,
                    FailureClass::Network,
                    format!("connect to jetstream: {error}"),
                ));
            }
        };
        tracing::info!(source = %name, ?cursor, "jetstream connected");
        self.socket = Some(socket);
        self.asked_cursor = cursor;
        self.ping_sent = false;
        self.stats.alive(Utc::now());
        Ok(())
    }

    /// Reads one frame, pinging on silence; `None` when a lull of `wait` passed (batching).
    async fn read(&mut self, wait: Duration) -> Result<Option<Message>, CollectError> {
        let Some(socket) = self.socket.as_mut() else {
            return Err(self.disconnect(FailureClass::Network, "no connection".to_owned()));
        };
        match tokio::time::timeout(wait, socket.next()).await {
            Err(_) => Ok(None),
            Ok(None) => Err(self.disconnect(FailureClass::Network, "connection closed".to_owned())),
            Ok(Some(Err(error))) => Err(self.disconnect(
                FailureClass::Network,
                format!("connection lost (1006): {error}"),
            )),
            Ok(Some(Ok(message))) => {
                self.ping_sent = false;
                self.stats.alive(Utc::now());
                Ok(Some(message))
            }
        }
    }

    /// Handles one frame; matching posts and deletions go to `out`.
    fn handle(
        &mut self,
        message: Message,
        now: DateTime<Utc>,
        out: &mut Vec<Post>,
    ) -> Result<(), CollectError> {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                let code = frame.as_ref().map_or(CloseCode::Status, |frame| frame.code);
                let class = classify_close(code, FailureClass::Server);
                return Err(self.disconnect(
                    class,
                    format!("server closed the socket ({})", u16::from(code)),
                ));
            }
            Message::Binary(_) => {
                self.stats.dropped(DropReason::Malformed, 1);
                return Ok(());
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(()),
        };
        SourceStats::add(&self.stats.received, 1);
        let event = match decode_event(text.as_bytes(), now) {
            Ok(event) => event,
            Err(error) => {
                self.stats.dropped(DropReason::Malformed, 1);
                tracing::warn!(source = %self.config.name, %error, "malformed jetstream event skipped");
                if self.decode_budget.exceeded(now) {
                    return Err(self
                        .disconnect(FailureClass::Decode, "too many malformed events".to_owned()));
                }
                return Ok(());
            }
        };
        let time_us = event.time_us();
        if let Some(asked) = self.asked_cursor.take() {
            let gap_us = i64::try_from(self.config.gap_after.as_micros()).unwrap_or(i64::MAX);
            if time_us - asked > gap_us {
                SourceStats::add(&self.stats.gaps, 1);
                tracing::warn!(source = %self.config.name, asked, first = time_us, "gap: the cursor is older than the server keeps");
            }
        }
        self.max_time_us = Some(self.max_time_us.map_or(time_us, |max| max.max(time_us)));
        match event {
            Event::Post {
                dedup, terms, post, ..
            } => {
                if !self.recent.insert(&dedup) {
                    self.stats.dropped(DropReason::Duplicate, 1);
                } else if !self.keywords.matches(terms.iter().map(String::as_str)) {
                    self.stats.dropped(DropReason::Unmatched, 1);
                } else {
                    self.stats.post_arrived(post.created_at, now);
                    out.push(*post);
                }
            }
            Event::Delete { post, .. } => {
                if self.recent.insert(&format!("{}#delete", post.id)) {
                    out.push(*post);
                } else {
                    self.stats.dropped(DropReason::Duplicate, 1);
                }
            }
            Event::Identity { did, .. } => self.profiles.invalidate(&did),
            Event::Other { .. } => self.stats.dropped(DropReason::Filtered, 1),
        }
        Ok(())
    }

    /// Names the authors of `posts` from their profiles.
    async fn name_authors(&mut self, posts: &mut [Post]) {
        let dids: Vec<String> = posts
            .iter()
            .filter(|post| post.change != crate::post::Change::Delete)
            .map(|post| post.author.id.clone())
            .collect();
        if dids.is_empty() {
            return;
        }
        let found = self
            .profiles
            .get(&self.config.name, &self.client, &dids)
            .await;
        for post in posts.iter_mut() {
            if let Some(profile) = found.get(&post.author.id) {
                wire::apply_profile(
                    post,
                    profile.handle.as_deref(),
                    profile.display_name.as_deref(),
                    profile.followers_count,
                );
            }
        }
    }
}

impl Source for Jetstream {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        if let Some(error) = self.pending_error.take() {
            return Err(error);
        }
        if self.socket.is_none() {
            self.connect().await?;
        }
        let mut posts = Vec::new();
        loop {
            let wait = if posts.is_empty() {
                self.config.ping_interval
            } else {
                BATCH_LULL
            };
            let message = match self.read(wait).await {
                Ok(message) => message,
                Err(error) if posts.is_empty() => return Err(error),
                Err(error) => {
                    self.pending_error = Some(error);
                    break;
                }
            };
            let Some(message) = message else {
                if !posts.is_empty() {
                    break;
                }
                if self.ping_sent {
                    return Err(
                        self.disconnect(FailureClass::Network, "ping not answered".to_owned())
                    );
                }
                self.ping_sent = true;
                if let Some(socket) = self.socket.as_mut()
                    && let Err(error) = socket.send(Message::Ping(Vec::new().into())).await
                {
                    return Err(
                        self.disconnect(FailureClass::Network, format!("ping failed: {error}"))
                    );
                }
                continue;
            };
            match self.handle(message, Utc::now(), &mut posts) {
                Ok(()) => {}
                Err(error) if posts.is_empty() => return Err(error),
                Err(error) => {
                    self.pending_error = Some(error);
                    break;
                }
            }
            if posts.len() >= BATCH_POSTS {
                break;
            }
        }
        self.name_authors(&mut posts).await;
        SourceStats::add(&self.stats.posts, posts.len() as u64);
        SourceStats::add(&self.stats.batches, 1);
        Ok(Some(Batch {
            posts,
            checkpoint: self.checkpoint(),
        }))
    }
}
