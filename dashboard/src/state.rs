//! [`AppState`]: what the embedding program hands the dashboard, shared by every request
//! handler; and the server's own additions to it (the WebSocket hub). Cheap to clone
//! (handles and `Arc`s).

use std::sync::Arc;

use axum::extract::FromRef;
use index::SearchIndex;
use nlp::influence::Leaderboards;
use tokio::sync::{broadcast, watch};

use crate::alerts::service::{AlertHandle, AlertStats};
use crate::alerts::{AlertLog, Team};
use crate::auth::Auth;
use crate::live::{LiveHub, SharedEvent};
use crate::webhooks::WebhookStatus;

/// Produces the pipeline's stage counters for `/api/health`. Must be quick: it runs on
/// the request's async worker.
pub type HealthReport = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Shared state of the dashboard server.
#[derive(Clone)]
pub struct AppState {
    /// Read side of the index, for `/api/search`.
    pub search: SearchIndex,
    /// Live posts and alerts, published by the pipeline; each socket subscribes.
    pub live: broadcast::Sender<SharedEvent>,
    /// Recent alerts, for `/api/alerts`.
    pub alerts: Arc<AlertLog>,
    /// Configured teams, for subscriptions and the team selector.
    pub teams: Arc<Vec<Team>>,
    /// Configured axes with their categories, in config order, for filters and the UI.
    pub axes: Arc<Vec<(String, Vec<String>)>>,
    /// The pipeline's counters, shown under `stages` on `/api/health`.
    pub health: HealthReport,
    /// Accounts, sessions and sign-in rate limiting.
    pub auth: Arc<Auth>,
    /// Lifecycle actions go to the alert task through this.
    pub alert_actions: AlertHandle,
    /// The alert task's counters.
    pub alert_stats: Arc<AlertStats>,
    /// Webhook delivery figures, for the status panel.
    pub webhooks: Arc<WebhookStatus>,
    /// The influence tracker's latest leaderboards, for `/api/influencers`.
    pub influencers: watch::Receiver<Arc<Leaderboards>>,
}

impl AppState {
    /// The configured team called `name`.
    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|team| team.name == name)
    }
}

/// The router's state: the [`AppState`] and the hub of this server's sockets. Handlers
/// extract either part.
#[derive(Clone)]
pub(crate) struct ServerState {
    pub(crate) app: AppState,
    pub(crate) hub: Arc<LiveHub>,
}

impl FromRef<ServerState> for AppState {
    fn from_ref(server: &ServerState) -> AppState {
        server.app.clone()
    }
}

impl FromRef<ServerState> for Arc<LiveHub> {
    fn from_ref(server: &ServerState) -> Arc<LiveHub> {
        Arc::clone(&server.hub)
    }
}
