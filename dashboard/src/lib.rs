//! Dashboard stage: the alert engine and the web server people use.
//!
//! * [`routing`]: the rule language of routing conditions (`sentiment = negative and topic
//!   in [outage, billing]`): parse, check against the configured fields, evaluate.
//! * [`alerts`]: the [`AlertEngine`] (stateful, runs once) turns each analysed post into
//!   [`Alert`]s for teams, once per rule and post; the [`AlertLog`] keeps recent alerts in
//!   memory and in the store.
//! * [`live`]: the WebSocket hub: the pipeline publishes [`LiveEvent`]s (posts, alerts) on a
//!   `broadcast` channel; every socket receives posts and its teams' alerts; a slow client
//!   loses its own oldest events (and is told how many), never slows the pipeline.
//! * [`router`] builds the HTTP app from an [`AppState`]: `/api/search`, `/api/alerts`,
//!   `/api/influencers`, `/api/meta`, `/api/health`, `/ws` and the page (`/`, `/assets/...`), with security
//!   headers on every response; [`serve`] runs it until the shutdown token is cancelled.
//!
//! In: analysed posts (for the engine), the index's [`index::SearchIndex`] and
//! [`index::Store`]. Out: alerts, HTTP and WebSocket answers. Handlers never block the
//! runtime: searches and store writes run on blocking threads.

pub mod alerts;
pub mod auth;
pub mod error;
pub mod live;
pub mod routing;
pub mod state;
pub mod webhooks;

mod routes;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use alerts::{Alert, AlertEngine, AlertLog, AlertPost, Role, RoutingRule, Severity, Team};
pub use error::{AppError, DashboardError};
pub use live::{LiveEvent, LivePost, LiveStats};
pub use routing::{FieldSet, Rule, RuleError};
pub use state::{AppState, HealthReport};

use live::LiveHub;
use state::ServerState;

/// How long a request may take before it is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The page loads only its own script and style, talks only to its own origin (CSP level 3
/// `'self'` covers `ws:`/`wss:` to the same host), and may not be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Headers set on every response.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// The whole dashboard app over `state`. Its sockets end when their clients leave; [`serve`]
/// also closes them on shutdown.
pub fn router(state: AppState) -> Router {
    router_with_shutdown(state, CancellationToken::new())
}

/// [`router`] whose sockets close when `shutdown` is cancelled.
fn router_with_shutdown(state: AppState, shutdown: CancellationToken) -> Router {
    // Every route needs a signed-in user except `auth::OPEN_PATHS`: the middleware wraps
    // the whole router, so a route added later is protected by default.
    let routes = Router::new()
        .route("/", get(routes::page::index))
        .route("/assets/app.js", get(routes::page::script))
        .route("/assets/app.css", get(routes::page::style))
        .route("/assets/influence.js", get(routes::page::influence_script))
        .route("/api/search", get(routes::search::search))
        .route("/api/alerts", get(routes::alerts::recent_alerts))
        .route("/api/alerts/{id}/actions", post(routes::alerts::act))
        .route("/api/influencers", get(routes::influencers::influencers))
        .route("/api/meta", get(routes::meta::meta))
        .route("/api/posts/{id}/label", post(routes::labels::set_label))
        .route("/api/labels/accuracy", get(routes::labels::accuracy))
        .route("/api/status", get(routes::status::status))
        .route("/api/session", get(routes::login::session))
        .route("/api/logout", post(routes::login::logout))
        .route("/ws", get(live::websocket))
        .route("/api/health", get(routes::health::health))
        .route("/metrics", get(routes::metrics::metrics))
        .route("/login", get(routes::login::page))
        .route("/assets/login.js", get(routes::login::script))
        .route("/api/login", post(routes::login::login));
    let hub = Arc::new(LiveHub::new(shutdown));
    let auth_layer = axum::middleware::from_fn_with_state(state.clone(), auth::require_user);
    let server_state = ServerState { app: state, hub };
    let mut app = routes.layer(auth_layer).with_state(server_state);
    for (name, value) in SECURITY_HEADERS {
        app = app.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    app
}

/// Serves the dashboard on `listener` until `shutdown` is cancelled, then closes the open
/// sockets and waits for requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> Result<(), DashboardError> {
    let app = router_with_shutdown(state, shutdown.clone()).layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    match listener.local_addr() {
        Ok(address) => tracing::info!(%address, "dashboard listening"),
        Err(error) => tracing::warn!(%error, "dashboard listening on an unknown address"),
    }
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(DashboardError::Serve)?;
    tracing::info!("dashboard stopped");
    Ok(())
}
