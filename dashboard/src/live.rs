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
//!
//! Many dashboards cost the pipeline nothing it needs: events reach sockets through
//! `live/fanout.rs` (one channel per subscription, so a socket only wakes for its own
//! events), and the sockets run on a thread of their own (`live/threads.rs`); when that
//! thread cannot keep up, sockets lag and are told so, the pipeline does not slow down.

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
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::alerts::{Alert, Role, Team};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use fanout::Fanout;
use threads::SocketThread;

/// Alerts replayed from the log to a socket that connects, unless `?backlog=N` says.
pub const DEFAULT_BACKLOG: usize = 200;

/// How long one message may take to reach a client before it is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages a socket queues before it flushes, when events keep coming.
const MAX_UNFLUSHED: usize = 32;

/// Events a socket takes per wake-up before it checks for shutdown and the client again.
const MAX_DRAIN: usize = 256;

/// Read buffer of a dashboard socket. Clients only send control frames (ping, close), and
/// the WebSocket codec zeroes its whole read buffer on every read attempt and keeps it for
/// the socket's life, so the 128 KiB default would cost 128 KiB of memory per socket;
/// a larger frame still arrives (the buffer grows for it).
const READ_BUFFER: usize = 4 * 1024;

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
    /// Counts one `lagged` notice for `missed` events.
    fn count_lag(&self, missed: u64) {
        self.lag_notices.fetch_add(1, Ordering::Relaxed);
        self.missed_events.fetch_add(missed, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LiveStatsSnapshot {
        LiveStatsSnapshot {
            sockets_open: self.sockets_open.load(Ordering::Relaxed),
            sockets_total: self.sockets_total.load(Ordering::Relaxed),
            lag_notices: self.lag_notices.load(Ordering::Relaxed),
            missed_events: self.missed_events.load(Ordering::Relaxed),
        }
    }
}

/// The sockets of one server: their counters, the signal that closes them and the thread
/// they run on.
#[derive(Debug)]
pub(crate) struct LiveHub {
    pub(crate) stats: Arc<LiveStats>,
    pub(crate) shutdown: CancellationToken,
    /// Started with the first socket; `None` inside when it could not be (the sockets then
    /// run on the server's runtime).
    thread: OnceLock<Option<SocketThread>>,
    /// The channel of each subscription that has sockets.
    fanout: Fanout,
}

impl LiveHub {
    pub(crate) fn new(shutdown: CancellationToken) -> LiveHub {
        LiveHub {
            stats: Arc::default(),
            shutdown,
            thread: OnceLock::new(),
            fanout: Fanout::default(),
        }
    }

    /// The events `subscription` wants from `live`, from now on (starting the fan-out task
    /// with the first socket).
    fn subscribe(
        &self,
        subscription: &Subscription,
        live: &broadcast::Sender<SharedEvent>,
    ) -> broadcast::Receiver<SharedEvent> {
        let (receiver, fanout) =
            self.fanout
                .subscribe(subscription, live, &self.shutdown, &self.stats);
        // On the server's runtime, not the sockets' thread: it is one light task, and
        // behind a thousand busy sockets it would fall behind the pipeline for all of them.
        if let Some(fanout) = fanout {
            drop(tokio::spawn(fanout));
        }
        receiver
    }

    /// The runtime sockets run on, started on first use.
    fn sockets(&self) -> Option<&tokio::runtime::Handle> {
        self.thread
            .get_or_init(|| match SocketThread::start() {
                Ok(thread) => Some(thread),
                Err(error) => {
                    tracing::warn!(%error, "cannot start the dashboard sockets' thread; they share the server's");
                    None
                }
            })
            .as_ref()
            .and_then(SocketThread::handle)
    }
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

/// Reads what the client sends until it closes the socket or the connection fails, then
/// cancels `gone`. Clients send nothing we act on; axum answers pings itself.
async fn watch_client<R, E>(mut incoming: R, gone: CancellationToken)
where
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    loop {
        match incoming.next().await {
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    gone.cancel();
}

/// Serves one socket until the client leaves, the events end or shutdown: sends `hello`,
/// then the `backlog` alerts (oldest first), then every wanted event, and a `lagged` notice
/// whenever events were dropped for it. Live alerts already sent in the backlog are
/// skipped (subscribe to `events` before reading the backlog, so nothing falls between).
/// Generic over the socket halves so tests can drive it with channels.
///
/// The client's side is read by a task of its own, woken only when the client sends
/// something: polling it beside every event would make the codec try a read (and zero its
/// read buffer) once per event and socket, which with 1,000 sockets cost most of the CPU.
pub async fn run_socket<W, R, E>(
    mut sink: W,
    incoming: R,
    mut events: broadcast::Receiver<SharedEvent>,
    subscription: Subscription,
    backlog: Vec<Alert>,
    stats: &LiveStats,
    shutdown: CancellationToken,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin + Send + 'static,
    E: 'static,
{
    let _open = OpenSocket::new(stats);
    let client_gone = CancellationToken::new();
    let _watcher =
        AbortOnDropHandle::new(tokio::spawn(watch_client(incoming, client_gone.clone())));
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
    // Each wake-up takes the event that woke it and those already waiting (at most
    // MAX_DRAIN), writes them together with one flush per MAX_UNFLUSHED, then checks
    // shutdown and the client again: with many sockets, that check and the wake-up cost
    // more than a message, so they are paid once per wake-up, not once per event.
    let shutting_down = shutdown.cancelled();
    let gone = client_gone.cancelled();
    tokio::pin!(shutting_down, gone);
    loop {
        let received = tokio::select! {
            biased;
            () = &mut shutting_down => {
                let _ = send(&mut sink, Message::Close(None)).await;
                return;
            }
            () = &mut gone => return,
            received = events.recv() => received,
        };
        let mut next = Some(received);
        let mut taken = 0_usize;
        let mut unflushed = 0_usize;
        while let Some(received) = next.take() {
            let event = match received {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    stats.count_lag(missed);
                    tracing::debug!(missed, "slow dashboard client missed live events");
                    SharedEvent::new(LiveEvent::Lagged { missed })
                }
                Err(RecvError::Closed) => {
                    let _ = send(&mut sink, Message::Close(None)).await;
                    return;
                }
            };
            taken += 1;
            if taken < MAX_DRAIN {
                next = ready(&mut events);
            }
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
            if unflushed >= MAX_UNFLUSHED {
                if !flush(&mut sink).await {
                    return;
                }
                unflushed = 0;
            }
        }
        if unflushed > 0 && !flush(&mut sink).await {
            return;
        }
    }
}

/// The next event if one is already waiting (or the lag or end the channel reports),
/// without waiting.
fn ready(events: &mut broadcast::Receiver<SharedEvent>) -> Option<Result<SharedEvent, RecvError>> {
    match events.try_recv() {
        Ok(event) => Some(Ok(event)),
        Err(TryRecvError::Lagged(missed)) => Some(Err(RecvError::Lagged(missed))),
        Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
        Err(TryRecvError::Empty) => None,
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
        Ok(upgrade) => upgrade.read_buffer_size(READ_BUFFER),
        Err(rejection) => return Ok(rejection.into_response()),
    };
    // Subscribe first, then read the log: an alert raised in between is in both, and the
    // socket loop sends it once.
    let events = hub.subscribe(&subscription, &state.live);
    let mut backlog: Vec<Alert> = state
        .alerts
        .recent(None, crate::alerts::ALERT_LOG_CAPACITY)
        .into_iter()
        .filter(|alert| subscription.wants_alert(alert))
        .take(backlog_size)
        .collect();
    backlog.reverse();
    Ok(upgrade.on_upgrade(move |socket| async move {
        let sockets = hub.sockets().cloned();
        let serve = async move {
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
        };
        match sockets {
            Some(sockets) => {
                if let Err(error) = sockets.spawn(serve).await {
                    tracing::warn!(%error, "a dashboard socket's task failed");
                }
            }
            None => serve.await,
        }
    }))
}

mod fanout;
mod threads;

#[cfg(test)]
mod tests;
