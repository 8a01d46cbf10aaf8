//! Mastodon: the streaming API over WebSocket (public, hashtag and list streams of one
//! instance, with a user token), and timeline walks that fill the gaps after reconnects.
//!
//! In: `{streaming}/api/v1/streaming` with `{"type":"subscribe",...}` per stream; frames
//! `{"stream","event","payload"}` decoded by [`wire`]; `/api/v1/timelines/...` for gaps.
//! Out: batches of posts, edits and deletions; the checkpoint is
//! `{"v":1,"streams":{stream: last_status_id}}` (this instance's ids).
//!
//! Promises:
//! * posts are keyed and deduplicated by `uri` (and `edited_at` for edits); a `delete` is
//!   turned into the tombstone of the uri the instance-local id was seen with;
//! * public streams are matched against the brand terms on our side; hashtag and list
//!   streams are taken whole; authors who opted out of indexing are dropped (filtered);
//! * after every (re)connect from a known position, each stream's timeline is walked
//!   forward with `min_id` (`timelines.rs`) before the socket is read again; a stream's
//!   `last_status_id` only moves past statuses handled (handed on or dropped);
//! * liveness: a client ping after `ping_interval` of silence, a reconnect when it is not
//!   answered; a malformed frame is counted and skipped.

mod timelines;
pub mod wire;

use std::collections::{BTreeMap, HashMap, VecDeque};
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
use wire::{Status, StreamEvent, decode_stream_event};

use crate::backoff::{DecodeBudget, FailureClass, ResetHeader, classify_close, classify_status};
use crate::dedupe::RecentIds;
use crate::error::CollectError;
use crate::http;
use crate::matching::Keywords;
use crate::post::{Post, SourceKind};
use crate::secret::Secret;
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::{DropReason, SourceStats};
use crate::x::id_order;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const RECENT: usize = 50_000;
const DECODE_LIMIT_PER_MINUTE: usize = 50;

/// One subscribed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MastodonStream {
    Public { local: bool },
    Hashtag(String),
    List(String),
}

impl MastodonStream {
    /// `public`, `public:local`, `hashtag:<tag>`, `list:<id>`.
    pub fn parse(spec: &str) -> Option<MastodonStream> {
        match spec.split_once(':') {
            None if spec == "public" => Some(MastodonStream::Public { local: false }),
            Some(("public", "local")) => Some(MastodonStream::Public { local: true }),
            Some(("hashtag", tag)) if !tag.is_empty() => Some(MastodonStream::Hashtag(
                tag.trim_start_matches('#').to_lowercase(),
            )),
            Some(("list", id)) if !id.is_empty() => Some(MastodonStream::List(id.to_owned())),
            _ => None,
        }
    }

    /// The name the server puts in `stream` (joined by `:`), and our checkpoint key.
    pub fn key(&self) -> String {
        match self {
            MastodonStream::Public { local: false } => "public".to_owned(),
            MastodonStream::Public { local: true } => "public:local".to_owned(),
            MastodonStream::Hashtag(tag) => format!("hashtag:{tag}"),
            MastodonStream::List(id) => format!("list:{id}"),
        }
    }

    fn subscribe(&self) -> serde_json::Value {
        match self {
            MastodonStream::Public { .. } => json!({"type": "subscribe", "stream": self.key()}),
            MastodonStream::Hashtag(tag) => {
                json!({"type": "subscribe", "stream": "hashtag", "tag": tag})
            }
            MastodonStream::List(id) => json!({"type": "subscribe", "stream": "list", "list": id}),
        }
    }

    fn timeline(&self) -> (String, Vec<(&'static str, String)>) {
        match self {
            MastodonStream::Public { local } => (
                "/api/v1/timelines/public".to_owned(),
                vec![("local", local.to_string())],
            ),
            MastodonStream::Hashtag(tag) => (format!("/api/v1/timelines/tag/{tag}"), Vec::new()),
            MastodonStream::List(id) => (format!("/api/v1/timelines/list/{id}"), Vec::new()),
        }
    }

    fn brand_filtered(&self) -> bool {
        matches!(self, MastodonStream::Public { .. })
    }
}

/// How to follow one instance.
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    pub name: String,
    /// The instance, `https://social.example`.
    pub base_url: String,
    /// The streaming host (`ws(s)://...`); by default the instance's host.
    pub streaming_url: Option<String>,
    pub token: Secret,
    pub streams: Vec<MastodonStream>,
    pub keywords: Vec<String>,
    pub ping_interval: Duration,
    pub user_agent: String,
}

/// The Mastodon collector (see the module header).
#[derive(Debug)]
pub struct MastodonStreaming {
    config: MastodonConfig,
    keywords: Keywords,
    client: Client,
    stats: Arc<SourceStats>,
    socket: Option<Socket>,
    last_ids: BTreeMap<String, String>,
    need_gap_fill: bool,
    ping_sent: bool,
    seen: RecentIds,
    /// Instance-local id → uri of recent statuses, for `delete` events.
    uris: HashMap<String, String>,
    uri_order: VecDeque<String>,
    decode_budget: DecodeBudget,
}

impl MastodonStreaming {
    pub fn new(
        mut config: MastodonConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<MastodonStreaming, CollectError> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        if config.streams.is_empty() {
            return Err(CollectError::Fatal {
                source_name: config.name.clone(),
                reason: "no stream configured".to_owned(),
            });
        }
        stats.set_liveness(config.ping_interval * 3);
        let last_ids: BTreeMap<String, String> = resume
            .filter(|checkpoint| checkpoint.source == config.name)
            .and_then(|checkpoint| {
                serde_json::from_value(checkpoint.cursor.get("streams")?.clone()).ok()
            })
            .unwrap_or_default();
        Ok(MastodonStreaming {
            keywords: Keywords::new(&config.keywords),
            client: http::client(&config.name, &config.user_agent, true)?,
            need_gap_fill: !last_ids.is_empty(),
            last_ids,
            config,
            stats,
            socket: None,
            ping_sent: false,
            seen: RecentIds::new(RECENT),
            uris: HashMap::new(),
            uri_order: VecDeque::new(),
            decode_budget: DecodeBudget::new(DECODE_LIMIT_PER_MINUTE),
        })
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            source: self.config.name.clone(),
            cursor: json!({"v": 1, "streams": self.last_ids}),
        }
    }

    fn disconnect(&mut self, class: FailureClass, reason: String) -> CollectError {
        self.socket = None;
        self.need_gap_fill = true;
        tracing::warn!(source = %self.config.name, class = class.as_str(), %reason, "mastodon stream disconnected");
        CollectError::transient(&self.config.name, class, reason)
    }

    fn streaming_url(&self) -> String {
        match &self.config.streaming_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => self
                .config
                .base_url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1),
        }
    }

    async fn connect(&mut self) -> Result<(), CollectError> {
        let name = self.config.name.clone();
        let url = format!("{}/api/v1/streaming", self.streaming_url());
        let mut request =
            url.as_str()
                .into_client_request()
                .map_err(|error| CollectError::Fatal {
                    source_name: name.clone(),
                    reason: format!("bad streaming URL `{url}`: {error}"),
                })?;
        let bearer = format!("Bearer {}", self.config.token.expose());
        if let (Ok(bearer), Ok(agent)) = (bearer.parse(), self.config.user_agent.parse()) {
            request.headers_mut().insert("authorization", bearer);
            request.headers_mut().insert("user-agent", agent);
        }
        let (mut socket, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(connected) => connected,
            Err(tungstenite::Error::Http(response)) => {
                let failure = classify_status(
                    response.status().as_u16(),
                    response.headers(),
                    ResetHeader::MastodonTimestamp,
                    Utc::now(),
                );
                return Err(CollectError::from_failure(
                    &name,
                    failure,
                    format!("streaming refused: HTTP {}", response.status()),
                ));
            }
            Err(error) => {
                return Err(CollectError::transient(
                    &name,
                    FailureClass::Network,
                    format!("connect to streaming: {error}"),
                ));
            }
        };
        for stream in &self.config.streams {
            let message = Message::Text(stream.subscribe().to_string().into());
            if let Err(error) = socket.send(message).await {
                return Err(CollectError::transient(
                    &name,
                    FailureClass::Network,
                    format!("subscribe: {error}"),
                ));
            }
        }
        tracing::info!(source = %name, streams = self.config.streams.len(), "mastodon streaming connected");
        self.socket = Some(socket);
        self.ping_sent = false;
        self.stats.alive(Utc::now());
        Ok(())
    }

    fn remember_uri(&mut self, id: &str, uri: &str) {
        if self.uris.len() >= RECENT
            && let Some(oldest) = self.uri_order.pop_front()
        {
            self.uris.remove(&oldest);
        }
        if self.uris.insert(id.to_owned(), uri.to_owned()).is_none() {
            self.uri_order.push_back(id.to_owned());
        }
    }

    /// Handles one status of `stream_key`; a post to hand on goes to `out`.
    fn handle_status(
        &mut self,
        stream_key: &str,
        status: &Status,
        edit: bool,
        now: DateTime<Utc>,
        out: &mut Vec<Post>,
    ) {
        let newer = self
            .last_ids
            .get(stream_key)
            .is_none_or(|last| id_order(&status.id, last).is_gt());
        if newer {
            self.last_ids
                .insert(stream_key.to_owned(), status.id.clone());
        }
        self.remember_uri(&status.id, &status.uri);
        let version = format!(
            "{}#{}",
            status.uri,
            status.edited_at.as_deref().unwrap_or("")
        );
        if !self.seen.insert(&version) {
            self.stats.dropped(DropReason::Duplicate, 1);
            return;
        }
        if status.opted_out() {
            self.stats.dropped(DropReason::Filtered, 1);
            return;
        }
        let filtered = self
            .config
            .streams
            .iter()
            .find(|stream| stream.key() == stream_key)
            .is_some_and(MastodonStream::brand_filtered);
        if filtered && !self.keywords.matches([status.text().as_str()]) {
            self.stats.dropped(DropReason::Unmatched, 1);
            return;
        }
        let post = status.to_post(edit, now);
        self.stats.post_arrived(post.created_at, now);
        out.push(post);
    }

    fn handle_frame(
        &mut self,
        message: Message,
        now: DateTime<Utc>,
        out: &mut Vec<Post>,
    ) -> Result<(), CollectError> {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                let code = frame.as_ref().map_or(CloseCode::Status, |frame| frame.code);
                let class = classify_close(code, FailureClass::Auth);
                return Err(self.disconnect(
                    class,
                    format!("server closed the socket ({})", u16::from(code)),
                ));
            }
            _ => return Ok(()),
        };
        SourceStats::add(&self.stats.received, 1);
        match decode_stream_event(&text) {
            Ok(StreamEvent::Status {
                stream,
                status,
                edit,
            }) => self.handle_status(&stream, &status, edit, now, out),
            Ok(StreamEvent::Delete { id }) => match self.uris.get(&id).cloned() {
                Some(uri) if self.seen.insert(&format!("{uri}#deleted")) => {
                    out.push(Post::deletion(
                        wire::post_id(&uri),
                        SourceKind::Mastodon,
                        now,
                    ));
                }
                Some(_) => self.stats.dropped(DropReason::Duplicate, 1),
                None => self.stats.dropped(DropReason::Filtered, 1),
            },
            Ok(StreamEvent::Other) => {}
            Err(error) => {
                self.stats.dropped(DropReason::Malformed, 1);
                tracing::warn!(source = %self.config.name, %error, "malformed streaming event skipped");
                if self.decode_budget.exceeded(now) {
                    return Err(self
                        .disconnect(FailureClass::Decode, "too many malformed events".to_owned()));
                }
            }
        }
        Ok(())
    }

    /// Walks every stream's timeline forward from its last id.
    async fn fill_gaps(&mut self) -> Result<Vec<Post>, CollectError> {
        let mut walked = Vec::new();
        for stream in &self.config.streams {
            let Some(last) = self.last_ids.get(&stream.key()) else {
                continue;
            };
            let statuses = timelines::after(
                &self.config.name,
                &self.client,
                &self.config.base_url,
                &self.config.token,
                stream,
                last,
                &self.stats,
            )
            .await?;
            walked.push((stream.key(), statuses));
        }
        let now = Utc::now();
        let mut posts = Vec::new();
        for (key, statuses) in walked {
            for status in statuses {
                self.handle_status(&key, &status, false, now, &mut posts);
            }
        }
        Ok(posts)
    }
}

impl Source for MastodonStreaming {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        if self.socket.is_none() {
            self.connect().await?;
            if self.need_gap_fill {
                let posts = match self.fill_gaps().await {
                    Ok(posts) => posts,
                    Err(error) => {
                        self.socket = None;
                        return Err(error);
                    }
                };
                self.need_gap_fill = false;
                SourceStats::add(&self.stats.posts, posts.len() as u64);
                return Ok(Some(Batch {
                    posts,
                    checkpoint: self.checkpoint(),
                }));
            }
        }
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return Err(self.disconnect(FailureClass::Network, "no connection".to_owned()));
            };
            let message = match tokio::time::timeout(self.config.ping_interval, socket.next()).await
            {
                Err(_) if self.ping_sent => {
                    return Err(
                        self.disconnect(FailureClass::Network, "ping not answered".to_owned())
                    );
                }
                Err(_) => {
                    self.ping_sent = true;
                    if let Err(error) = socket.send(Message::Ping(Vec::new().into())).await {
                        return Err(
                            self.disconnect(FailureClass::Network, format!("ping failed: {error}"))
                        );
                    }
                    continue;
                }
                Ok(None) => {
                    return Err(
                        self.disconnect(FailureClass::Network, "connection closed".to_owned())
                    );
                }
                Ok(Some(Err(error))) => {
                    return Err(self.disconnect(
                        FailureClass::Network,
                        format!("connection lost (1006): {error}"),
                    ));
                }
                Ok(Some(Ok(message))) => message,
            };
            self.ping_sent = false;
            let now = Utc::now();
            self.stats.alive(now);
            let mut posts = Vec::new();
            self.handle_frame(message, now, &mut posts)?;
            if !posts.is_empty() {
                SourceStats::add(&self.stats.posts, posts.len() as u64);
                SourceStats::add(&self.stats.batches, 1);
                return Ok(Some(Batch {
                    posts,
                    checkpoint: self.checkpoint(),
                }));
            }
        }
    }
}
