//! The serve role (`veille serve`): a dashboard server. Any number run at once, each with
//! its own WebSocket clients; none holds state that matters.
//!
//! * Search follows the index the index node writes (`<data-dir>/index`, on this machine
//!   or a shared disk), seeing each commit shortly after it lands.
//! * Alerts and alert updates come from the live stream, read from its start by an
//!   ordered consumer: they fill this server's alert list (so `/api/alerts` and a socket's
//!   backlog work on a server started late, with each alert's latest lifecycle) and go to
//!   its sockets. Live posts come from core NATS. The influence leaderboards come from
//!   their stream (latest only), for `/api/influencers`.
//! * Lifecycle actions taken here go, through the dashboard's usual alert-actions channel,
//!   as requests to the index node's alert task; the HTTP reply carries its answer, and the
//!   change comes back as an `alert_updated` event on every server.
//! * Accounts and sessions are this node's own: the embedded store of its data directory
//!   (`veille user add --config` with this node's config writes there). A user signs in on
//!   one node and stays on it (sticky sessions; see docs/SCALING.md). The index is found
//!   at `index-dir`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_nats::jetstream;
use dashboard::alerts::service::{AlertHandle, AlertStats};
use dashboard::alerts::{ALERT_LOG_CAPACITY, AlertLog};
use dashboard::auth::Auth;
use dashboard::live::{LiveEvent, SharedEvent};
use dashboard::state::AppState;
use dashboard::webhooks::WebhookStatus;
use futures::StreamExt;
use index::{SearchIndex, Store};
use nlp::influence::{BrandLeaderboard, Leaderboards};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::{FEED_POST, LIVE_STREAM, RoleHandle, actions, influence};
use crate::config::Config;
use crate::pipeline::LIVE_CAPACITY;

/// How long a serve node waits for the index node to create the index.
const INDEX_WAIT: Duration = Duration::from_secs(120);

pub(crate) async fn start(
    config: &Config,
    js: jetstream::Context,
    listen: SocketAddr,
    store: Store,
) -> anyhow::Result<RoleHandle> {
    let search = follow_index(config).await?;
    let alerts = Arc::new(AlertLog::in_memory(ALERT_LOG_CAPACITY));
    let (live, _) = broadcast::channel::<SharedEvent>(LIVE_CAPACITY);
    let (alert_actions, commands) = AlertHandle::channel();
    let stop = CancellationToken::new();
    let mut handle = RoleHandle::new("serve", stop.clone());
    handle.push(tokio::spawn(follow_live_stream(
        js.clone(),
        Arc::clone(&alerts),
        live.clone(),
        stop.clone(),
    )));
    handle.push(tokio::spawn(follow_feed(
        js.clone(),
        live.clone(),
        stop.clone(),
    )));
    // Until the index node's first version arrives: every configured brand, nobody yet.
    let before_first = Leaderboards {
        updated_at: 0,
        share: config.influence.share,
        window_days: config.influence.window_days,
        brands: (config.nlp.brands.iter())
            .map(|brand| BrandLeaderboard {
                brand: brand.name.clone(),
                ..BrandLeaderboard::default()
            })
            .collect(),
    };
    let (influencers_tx, influencers) = watch::channel(Arc::new(before_first));
    handle.push(tokio::spawn(influence::follow(
        js.clone(),
        influencers_tx,
        stop.clone(),
    )));
    handle.push(tokio::spawn(actions::forward(
        js.client(),
        commands,
        stop.clone(),
    )));

    let axes = crate::pipeline::dashboard_axes(config);
    let health_search = search.clone();
    let state = AppState {
        search,
        live,
        alerts,
        teams: Arc::new(config.teams.clone()),
        axes: Arc::new(axes),
        health: Arc::new(move || {
            let searchable = health_search.count().unwrap_or(0);
            json!({"role": "serve", "index": {"searchable": searchable}})
        }),
        auth: Arc::new(Auth::new(store, config.secure_cookies)),
        alert_actions,
        // The alert task and the webhooks run on the index node: its counters are there.
        alert_stats: Arc::new(AlertStats::default()),
        webhooks: Arc::new(WebhookStatus::default()),
        influencers,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    handle.address = Some(
        listener
            .local_addr()
            .context("cannot read the listening address")?,
    );
    handle.push(tokio::spawn(async move {
        if let Err(error) = dashboard::serve(listener, state, stop).await {
            tracing::error!(error = %error, "dashboard server stopped");
        }
    }));
    Ok(handle)
}

/// Opens the read side of the index node's index, waiting for it to exist.
async fn follow_index(config: &Config) -> anyhow::Result<SearchIndex> {
    let index_dir = config.index_dir.clone();
    let started = tokio::time::Instant::now();
    loop {
        let dir = index_dir.clone();
        let opened = tokio::task::spawn_blocking(move || SearchIndex::open_follower(&dir))
            .await
            .context("the index opening task failed")?
            .with_context(|| format!("cannot open the index in {}", index_dir.display()))?;
        if let Some(search) = opened {
            return Ok(search);
        }
        if started.elapsed() > INDEX_WAIT {
            bail!(
                "no index in {} after {INDEX_WAIT:?}: start `veille index` with the same config",
                index_dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads the live stream from its start with an ordered consumer (re-created by the client
/// after a gap or a reconnect), recording alerts and pushing every event to the sockets.
async fn follow_live_stream(
    js: jetstream::Context,
    alerts: Arc<AlertLog>,
    live: broadcast::Sender<SharedEvent>,
    stop: CancellationToken,
) {
    super::follow_stream(&js, LIVE_STREAM, "live stream", &stop, |message| {
        let event = match serde_json::from_slice::<LiveEvent>(&message.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "undecodable live event skipped");
                return;
            }
        };
        if let LiveEvent::Alert(alert) | LiveEvent::AlertUpdated(alert) = &event {
            // In memory only: never blocks for long.
            if let Err(error) = alerts.record(alert.clone()) {
                tracing::debug!(%error, "alert not recorded");
            }
        }
        let _ = live.send(shared(event, &message.payload));
    })
    .await;
}

/// The event to push to the sockets, with the JSON it came in (nothing re-encoded).
fn shared(event: LiveEvent, payload: &[u8]) -> SharedEvent {
    match std::str::from_utf8(payload) {
        Ok(json) => SharedEvent::with_json(event, json.to_owned()),
        Err(_) => SharedEvent::new(event),
    }
}

/// Pushes the live posts of core NATS to the sockets.
async fn follow_feed(
    js: jetstream::Context,
    live: broadcast::Sender<SharedEvent>,
    stop: CancellationToken,
) {
    let mut subscription = match js.client().subscribe(FEED_POST).await {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::error!(%error, "cannot subscribe to live posts");
            return;
        }
    };
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = subscription.next() => next,
        };
        let Some(message) = next else { return };
        match serde_json::from_slice::<LiveEvent>(&message.payload) {
            Ok(event) => {
                let _ = live.send(shared(event, &message.payload));
            }
            Err(error) => tracing::debug!(%error, "undecodable live post skipped"),
        }
    }
}
