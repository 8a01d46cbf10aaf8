//! The WebSocket hub: pushes live posts and alerts to dashboards.
//!
//! In: [`LiveEvent`]s the pipeline publishes, as [`SharedEvent`]s, on a
//! `broadcast::Sender<SharedEvent>` (a post as soon as it is analysed, each alert as soon as
//! it is raised). Out: one JSON text message per event on each socket of
//! `GET /ws?team=NAME`, tagged by `type` (`hello`, `post`, `alert`, `lagged`). An event is
//! encoded once, however many sockets receive it: every socket sends the same shared bytes.
//!
//! Promises:
//! * a socket first receives `{"type":"hello","teams":[...]}` naming its subscription, then
//!   the backlog: the most recent alerts of its teams from the alert log, oldest first (up
//!   to `?backlog=N`, default [`DEFAULT_BACKLOG`]), so a dashboard that connects or
//!   reconnects misses nothing; an alert is never sent twice on one socket;
//! * it needs a signed-in user; it receives the `post`s and the `alert`s (and
//!   `alert_updated`s) routed to the requested teams (`?team=a&team=b` or `?team=a,b`,
//!   default: all the user's teams); a manager receives every post and alert; an unknown
//!   team is refused with 400 and a team the user is not in with 403, before the upgrade;
//! * a slow client never slows the pipeline: the broadcast drops its oldest events for that
//!   client only, which is then sent `{"type":"lagged","missed":n}`; lags are counted in
//!   [`LiveStats`]. A client that does not take a message within [`SEND_TIMEOUT`] is
//!   disconnected;
//! * messages that are already waiting are written together and flushed once;
//! * on shutdown every socket is sent a close frame.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocketUpgrade};
use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use collector::SourceKind;
use futures::{Sink, SinkExt, Stream, StreamExt};
use nlp::{AnalysedPost, SentimentLabel};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::alerts::{Alert, Role, Team};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// Alerts replayed from the log to a socket that connects, unless `?backlog=N` says.
pub const DEFAULT_BACKLOG: usize = 200;

/// How long one message may take to reach a client before it is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages a socket queues before it flushes, when events keep coming.
const MAX_UNFLUSHED: usize = 32;

/// One message pushed to dashboards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    Post(LivePost),
    Alert(Alert),
    /// An alert changed: its lifecycle, or posts folded into it.
    AlertUpdated(Alert),
    /// This client missed `missed` events because it was too slow.
    Lagged {
        missed: u64,
    },
    /// First message on every socket: the teams whose alerts it receives.
    Hello {
        teams: Vec<String>,
    },
    /// The post `id` was deleted at its source: it leaves the feeds (and the index).
    Deleted {
        id: String,
    },
}

/// What the live feed shows of a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePost {
    pub id: String,
    pub text: String,
    /// Display name: the author's name, else handle, else source-scoped id.
    pub author: String,
    pub author_handle: Option<String>,
    pub source: SourceKind,
    pub url: Option<String>,
    pub language: String,
    pub sentiment: SentimentLabel,
    pub score: f32,
    pub categories: BTreeMap<String, Vec<String>>,
    pub brands: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Teams whose alerts this post raised or joined; members see only these posts.
    #[serde(default)]
    pub teams: Vec<String>,
    /// The author's mass connector / mass maven badges, with their explanations.
    #[serde(default)]
    pub influence: Vec<nlp::InfluenceBadge>,
}

/// A [`LiveEvent`] as the broadcast carries it: cloning it is one reference count, and its
/// JSON is encoded the first time a socket needs it, then shared by every other socket.
#[derive(Debug, Clone)]
pub struct SharedEvent(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    event: LiveEvent,
    /// The event's JSON; `None` inside when it could not be encoded (logged once).
    json: OnceLock<Option<Utf8Bytes>>,
}

impl SharedEvent {
    pub fn new(event: LiveEvent) -> SharedEvent {
        SharedEvent(Arc::new(Shared {
            event,
            json: OnceLock::new(),
        }))
    }

    /// An event together with the JSON it was decoded from (a message from another node),
    /// sent on as it came.
    pub fn with_json(event: LiveEvent, json: String) -> SharedEvent {
        SharedEvent(Arc::new(Shared {
            event,
            json: OnceLock::from(Some(Utf8Bytes::from(json))),
        }))
    }

    pub fn event(&self) -> &LiveEvent {
        &self.0.event
    }

    /// The event's JSON text, encoded on first use; `None` when it cannot be encoded.
    pub fn json(&self) -> Option<&str> {
        self.encoded().map(Utf8Bytes::as_str)
    }

    fn encoded(&self) -> Option<&Utf8Bytes> {
        self.0
            .json
            .get_or_init(|| match serde_json::to_string(&self.0.event) {
                Ok(json) => Some(Utf8Bytes::from(json)),
                Err(error) => {
                    tracing::warn!(%error, "live event could not be encoded, skipped");
                    None
                }
            })
            .as_ref()
    }

    /// The WebSocket message of this event (the shared bytes, not a copy).
    fn message(&self) -> Option<Message> {
        self.encoded().cloned().map(Message::Text)
    }
}

impl std::ops::Deref for SharedEvent {
    type Target = LiveEvent;

    fn deref(&self) -> &LiveEvent {
        &self.0.event
    }
}

impl From<LiveEvent> for SharedEvent {
    fn from(event: LiveEvent) -> SharedEvent {
        SharedEvent::new(event)
    }
}

impl LiveEvent {
    /// The live event of an analysed post.
    pub fn post(analysed: &AnalysedPost) -> LiveEvent {
        LiveEvent::Post(LivePost::from_analysed(analysed))
    }
}

impl LivePost {
    pub fn from_analysed(analysed: &AnalysedPost) -> LivePost {
        let post = &analysed.post;
        let analysis = &analysed.analysis;
        let author = post
            .author
            .name
            .clone()
            .or_else(|| post.author.handle.clone())
            .unwrap_or_else(|| post.author.id.clone());
        LivePost {
            id: post.id.to_string(),
            text: post.text.clone(),
            author,
            author_handle: post.author.handle.clone(),
            source: post.source,
            url: post.url.clone(),
            language: analysis.language.clone(),
            sentiment: analysis.sentiment.label,
            score: analysis.sentiment.score,
            categories: analysis.categories.clone(),
            brands: analysis
                .brands
                .iter()
                .map(|brand| brand.brand.clone())
                .collect(),
            created_at: post.created_at,
            teams: Vec::new(),
            influence: analysis.influence.clone(),
        }
    }

    /// The same post, routed to `teams`.
    pub fn routed_to(mut self, teams: Vec<String>) -> LivePost {
        self.teams = teams;
        self
    }
}

/// Counters of the hub, shown on `/api/health`.
#[derive(Debug, Default)]
pub struct LiveStats {
    sockets_open: AtomicU64,
    sockets_total: AtomicU64,
    lag_notices: AtomicU64,
    missed_events: AtomicU64,
}

/// A copy of [`LiveStats`] at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStatsSnapshot {
    pub sockets_open: u64,
    pub sockets_total: u64,
    pub lag_notices: u64,
    pub missed_events: u64,
}

impl LiveStats {
    pub fn snapshot(&self) -> LiveStatsSnapshot {
        LiveStatsSnapshot {
            sockets_open: self.sockets_open.load(Ordering::Relaxed),
            sockets_total: self.sockets_total.load(Ordering::Relaxed),
            lag_notices: self.lag_notices.load(Ordering::Relaxed),
            missed_events: self.missed_events.load(Ordering::Relaxed),
        }
    }
}

/// The sockets of one server: their counters and the signal that closes them.
#[derive(Debug, Default)]
pub(crate) struct LiveHub {
    pub(crate) stats: LiveStats,
    pub(crate) shutdown: CancellationToken,
}

/// Counts a socket as open for as long as it lives.
struct OpenSocket<'stats>(&'stats LiveStats);

impl<'stats> OpenSocket<'stats> {
    fn new(stats: &'stats LiveStats) -> OpenSocket<'stats> {
        stats.sockets_open.fetch_add(1, Ordering::Relaxed);
        stats.sockets_total.fetch_add(1, Ordering::Relaxed);
        OpenSocket(stats)
    }
}

impl Drop for OpenSocket<'_> {
    fn drop(&mut self) {
        self.0.sockets_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Which events one socket receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    teams: Vec<String>,
    every_alert: bool,
}

impl Subscription {
    /// Resolves requested team names (each may be comma-separated) against the configured
    /// teams; an unknown name is an error message.
    pub fn resolve(requested: &[String], teams: &[Team]) -> Result<Subscription, String> {
        let mut subscription = Subscription {
            teams: Vec::new(),
            every_alert: false,
        };
        let names = requested
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty());
        for name in names {
            let Some(team) = teams.iter().find(|team| team.name == name) else {
                let known: Vec<&str> = teams.iter().map(|team| team.name.as_str()).collect();
                return Err(format!(
                    "unknown team `{name}` (teams: {})",
                    known.join(", ")
                ));
            };
            if !subscription.teams.contains(&team.name) {
                subscription.teams.push(team.name.clone());
            }
            subscription.every_alert |= team.role == Role::Manager;
        }
        Ok(subscription)
    }

    /// The subscription of a signed-in user: the requested teams, which must be theirs
    /// (a manager may name any), or all their teams when none is requested. A manager
    /// receives every alert and post.
    pub fn for_user(
        user: &CurrentUser,
        requested: &[String],
        teams: &[Team],
    ) -> Result<Subscription, AppError> {
        let mut subscription =
            Subscription::resolve(requested, teams).map_err(AppError::BadQuery)?;
        if let Some(foreign) = subscription.teams.iter().find(|team| !user.sees_team(team)) {
            return Err(AppError::Forbidden(format!(
                "you are not a member of team `{foreign}`"
            )));
        }
        if subscription.teams.is_empty() {
            subscription.teams = user.teams.clone();
        }
        subscription.every_alert = user.manager;
        Ok(subscription)
    }

    pub fn teams(&self) -> &[String] {
        &self.teams
    }

    /// Whether this socket receives `alert`.
    pub fn wants_alert(&self, alert: &Alert) -> bool {
        self.every_alert || self.teams.contains(&alert.team)
    }

    /// Whether this socket receives `event`.
    pub fn wants(&self, event: &LiveEvent) -> bool {
        match event {
            LiveEvent::Alert(alert) | LiveEvent::AlertUpdated(alert) => self.wants_alert(alert),
            LiveEvent::Post(post) => {
                self.every_alert || post.teams.iter().any(|team| self.teams.contains(team))
            }
            LiveEvent::Lagged { .. } | LiveEvent::Hello { .. } | LiveEvent::Deleted { .. } => true,
        }
    }
}

fn encode(event: LiveEvent) -> Option<Message> {
    SharedEvent::new(event).message()
}

/// Sends one message, giving up after [`SEND_TIMEOUT`]; false when the client is gone.
async fn send<W: Sink<Message> + Unpin>(sink: &mut W, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

/// Flushes the queued messages, giving up after [`SEND_TIMEOUT`]; false when the client is
/// gone.
async fn flush<W: Sink<Message> + Unpin>(sink: &mut W) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.flush()).await,
        Ok(Ok(()))
    )
}

/// Queues one message without flushing it (more are waiting), giving up after
/// [`SEND_TIMEOUT`] if the socket's buffer stays full; false when the client is gone.
async fn feed<W: Sink<Message> + Unpin>(sink: &mut W, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.feed(message)).await,
        Ok(Ok(()))
    )
}

/// Serves one socket until the client leaves, the events end or shutdown: sends `hello`,
/// then the `backlog` alerts (oldest first), then every wanted event, and a `lagged` notice
/// whenever events were dropped for it. Live alerts already sent in the backlog are
/// skipped (subscribe to `events` before reading the backlog, so nothing falls between).
/// Generic over the socket halves so tests can drive it with channels.
pub async fn run_socket<W, R, E>(
    mut sink: W,
    mut incoming: R,
    mut events: broadcast::Receiver<SharedEvent>,
    subscription: Subscription,
    backlog: Vec<Alert>,
    stats: &LiveStats,
    shutdown: CancellationToken,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let _open = OpenSocket::new(stats);
    let hello = LiveEvent::Hello {
        teams: subscription.teams().to_vec(),
    };
    if let Some(message) = encode(hello)
        && !send(&mut sink, message).await
    {
        return;
    }
    let mut sent_in_backlog = std::collections::HashSet::with_capacity(backlog.len());
    for alert in backlog {
        if !subscription.wants_alert(&alert) {
            continue;
        }
        let id = alert.id.clone();
        if let Some(message) = encode(LiveEvent::Alert(alert))
            && !send(&mut sink, message).await
        {
            return;
        }
        sent_in_backlog.insert(id);
    }
    // Messages queued on the socket but not flushed: while more events wait, they are
    // written together (one flush for up to MAX_UNFLUSHED), never held back otherwise.
    let mut unflushed = 0_usize;
    loop {
        if unflushed > 0 && (events.is_empty() || unflushed >= MAX_UNFLUSHED) {
            if !flush(&mut sink).await {
                return;
            }
            unflushed = 0;
        }
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let _ = send(&mut sink, Message::Close(None)).await;
                return;
            }
            from_client = incoming.next() => match from_client {
                // Clients send nothing we act on; axum answers pings itself.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            received = events.recv() => match received {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    stats.lag_notices.fetch_add(1, Ordering::Relaxed);
                    stats.missed_events.fetch_add(missed, Ordering::Relaxed);
                    tracing::debug!(missed, "slow dashboard client missed live events");
                    SharedEvent::new(LiveEvent::Lagged { missed })
                }
                Err(RecvError::Closed) => {
                    let _ = send(&mut sink, Message::Close(None)).await;
                    return;
                }
            },
        };
        if !subscription.wants(&event) {
            continue;
        }
        if let LiveEvent::Alert(alert) = event.event()
            && !sent_in_backlog.is_empty()
            && sent_in_backlog.remove(&alert.id)
        {
            continue;
        }
        let Some(message) = event.message() else {
            continue;
        };
        if !feed(&mut sink, message).await {
            return; // the client went away or stopped reading
        }
        unflushed += 1;
    }
}

/// `GET /ws?team=NAME`: checks the subscription, then upgrades to a WebSocket.
pub(crate) async fn websocket(
    State(state): State<AppState>,
    State(hub): State<Arc<LiveHub>>,
    Extension(user): Extension<CurrentUser>,
    Query(params): Query<Vec<(String, String)>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let mut requested = Vec::new();
    let mut backlog_size = DEFAULT_BACKLOG;
    for (name, value) in params {
        match name.as_str() {
            "team" => requested.push(value),
            "backlog" => {
                backlog_size = value.parse().map_err(|_| {
                    AppError::BadQuery(format!("backlog: `{value}` is not a number of alerts"))
                })?;
            }
            _ => {
                return Err(AppError::BadQuery(format!(
                    "unknown query parameter `{name}` (known: team, backlog)"
                )));
            }
        }
    }
    let subscription = Subscription::for_user(&user, &requested, &state.teams)?;
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    // Subscribe first, then read the log: an alert raised in between is in both, and the
    // socket loop sends it once.
    let events = state.live.subscribe();
    let mut backlog: Vec<Alert> = state
        .alerts
        .recent(None, crate::alerts::ALERT_LOG_CAPACITY)
        .into_iter()
        .filter(|alert| subscription.wants_alert(alert))
        .take(backlog_size)
        .collect();
    backlog.reverse();
    Ok(upgrade.on_upgrade(move |socket| async move {
        let (sink, incoming) = socket.split();
        let shutdown = hub.shutdown.clone();
        run_socket(
            sink,
            incoming,
            events,
            subscription,
            backlog,
            &hub.stats,
            shutdown,
        )
        .await;
    }))
}

#[cfg(test)]
mod tests;
