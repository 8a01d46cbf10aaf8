//! `GET /api/status`: the status panel: the alert task's counters and the webhook
//! delivery figures of the teams the user may see (never URLs or secrets).

use axum::Json;
use axum::extract::{Extension, State};
use serde_json::{Value, json};

use crate::auth::CurrentUser;
use crate::state::AppState;

pub(crate) async fn status(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Json<Value> {
    let webhooks: serde_json::Map<String, Value> = state
        .webhooks
        .snapshot()
        .into_iter()
        .filter(|(team, _)| user.sees_team(team))
        .map(|(team, delivery)| (team, json!(delivery)))
        .collect();
    Json(json!({
        "alerts": state.alert_stats.snapshot(),
        "webhooks": webhooks,
    }))
}
