//! `GET /api/alerts?team=&limit=`: the recent alerts, newest first, as
//! `{"alerts": [...]}`. With a member team, only the alerts routed to it; with a manager
//! team or none, every alert. An unknown team or a bad limit is a 400.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::alerts::{ALERT_LOG_CAPACITY, Role};
use crate::error::AppError;
use crate::state::AppState;

/// How many alerts a request gets when it does not say.
const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsParams {
    team: Option<String>,
    limit: Option<String>,
}

pub(crate) async fn recent_alerts(
    State(state): State<AppState>,
    Query(params): Query<AlertsParams>,
) -> Result<Json<Value>, AppError> {
    let limit = match params.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => text.parse::<usize>().map_err(|_| {
            AppError::BadQuery(format!("`limit` must be a whole number, found `{text}`"))
        })?,
    };
    let limit = limit.min(ALERT_LOG_CAPACITY);
    let team_filter = match params.team.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            let Some(team) = state.team(name) else {
                return Err(AppError::BadQuery(format!("unknown team `{name}`")));
            };
            match team.role {
                Role::Manager => None,
                Role::Member => Some(team.name.clone()),
            }
        }
    };
    let alerts = state.alerts.recent(team_filter.as_deref(), limit);
    Ok(Json(json!({ "alerts": alerts })))
}
