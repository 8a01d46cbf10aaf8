//! `GET /api/alerts?team=&limit=`: the recent alerts the user may see, newest first, as
//! `{"alerts": [...]}`: those routed to `team` if given (it must be one of the user's, 403
//! otherwise), else to any of the user's teams; a manager sees every alert.
//!
//! `POST /api/alerts/{id}/actions` with `{"action": "acknowledge"}`,
//! `{"action": "assign", "to": "sam"}` or `{"action": "handle", "note": "..."}`: moves the
//! alert through its lifecycle via the alert task, which persists the change and pushes it
//! live; answers the updated alert. 404 for an alert the user may not see, 409 for a move
//! the lifecycle refuses, 503 when the alert task is not running.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::alerts::{ALERT_LOG_CAPACITY, Action, Alert, LifecycleError};
use crate::auth::CurrentUser;
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
    Extension(user): Extension<CurrentUser>,
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
            if state.team(name).is_none() {
                return Err(AppError::BadQuery(format!("unknown team `{name}`")));
            }
            if !user.sees_team(name) {
                return Err(AppError::Forbidden(format!(
                    "you are not a member of team `{name}`"
                )));
            }
            Some(name.to_owned())
        }
    };
    let alerts: Vec<Alert> = state
        .alerts
        .recent(None, ALERT_LOG_CAPACITY)
        .into_iter()
        .filter(|alert| match &team_filter {
            Some(team)
                if !user.manager
                    || state
                        .team(team)
                        .is_some_and(|t| t.role == crate::alerts::Role::Member) =>
            {
                alert.team == *team
            }
            _ => alert.visible_to(&user.teams, user.manager),
        })
        .take(limit)
        .collect();
    Ok(Json(json!({ "alerts": alerts })))
}

pub(crate) async fn act(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(alert_id): Path<String>,
    Json(action): Json<Action>,
) -> Result<Json<Alert>, AppError> {
    let not_found = || AppError::NotFound(format!("no alert `{alert_id}`"));
    let alert = state.alerts.get(&alert_id).ok_or_else(not_found)?;
    if !alert.visible_to(&user.teams, user.manager) {
        return Err(not_found());
    }
    match state.alert_actions.act(&alert_id, action, &user.name).await {
        Ok(alert) => Ok(Json(alert)),
        Err(LifecycleError::UnknownAlert(_)) => Err(not_found()),
        Err(LifecycleError::EngineStopped) => Err(AppError::Unavailable(
            "the alert engine is not running".to_owned(),
        )),
        Err(refused) => Err(AppError::Conflict(refused.to_string())),
    }
}
