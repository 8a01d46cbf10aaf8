//! Label feedback: `POST /api/posts/{id}/label` stores a person's correction of one axis of
//! an indexed post, `GET /api/labels/accuracy` tells, per axis, how often the analysis was
//! right on the corrected posts.
//!
//! The body of the POST is `{"axis": "sentiment", "label": "negative"}`. Axes: `sentiment`
//! (negative, neutral, positive), `intent` (complaint, question, praise, churn_threat) and
//! every configured axis (one of its categories). The correction keeps the post's text,
//! what the analysis had said and who corrected it (the signed-in user)
//! ([`nlp::feedback::Correction`]), in the store table
//! [`nlp::feedback::CORRECTIONS_TABLE`]; `veille train --config` learns from it.
//!
//! Managers may correct any indexed post; a member only a post of an alert routed to one
//! of their teams (the posts they can see), so the answer never shows them another post.
//! Answers: 200 with the stored correction, 400 for a bad axis or label, 403 for a post the
//! member cannot see, 404 for an unknown post, 503 when the dashboard runs without a store.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use collector::PostId;
use nlp::SentimentLabel;
use nlp::feedback::{CORRECTIONS_TABLE, Correction, accuracy_by_axis};
use nlp::intent::INTENTS;
use serde::Deserialize;
use serde_json::json;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// The body of a correction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelBody {
    axis: String,
    label: String,
}

/// Whether `user` may see (and so correct) the post `id`: managers see every post, a
/// member the posts of alerts routed to their teams.
fn may_correct(state: &AppState, user: &CurrentUser, id: &str) -> bool {
    user.manager
        || state.alerts.recent(None, usize::MAX).iter().any(|alert| {
            (alert.post_id == id || alert.group.iter().any(|folded| folded == id))
                && alert.visible_to(&user.teams, user.manager)
        })
}

/// The labels a person may choose on `axis`, or `None` for an unknown axis.
fn allowed_labels(state: &AppState, axis: &str) -> Option<Vec<String>> {
    match axis {
        "sentiment" => Some(
            SentimentLabel::ALL
                .iter()
                .map(|l| l.as_str().to_owned())
                .collect(),
        ),
        "intent" => Some(INTENTS.iter().map(|i| (*i).to_owned()).collect()),
        _ => state
            .axes
            .iter()
            .find(|(name, _)| name == axis)
            .map(|(_, categories)| categories.clone()),
    }
}

pub(crate) async fn set_label(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
    Json(body): Json<LabelBody>,
) -> Result<Response, AppError> {
    let Some(allowed) = allowed_labels(&state, &body.axis) else {
        return Err(AppError::BadQuery(format!("unknown axis `{}`", body.axis)));
    };
    if !allowed.contains(&body.label) {
        return Err(AppError::BadQuery(format!(
            "`{}` is not a label of `{}` (labels: {})",
            body.label,
            body.axis,
            allowed.join(", ")
        )));
    }
    if !may_correct(&state, &user, &id) {
        return Ok((
            StatusCode::FORBIDDEN,
            "members may correct the posts of their team's alerts only",
        )
            .into_response());
    }
    let Some(store) = state.alerts.store().cloned() else {
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            "no store to keep labels in",
        )
            .into_response());
    };
    let index = state.search.clone();
    let post_id = PostId::from_raw(id.clone());
    let Some(analysed) = tokio::task::spawn_blocking(move || index.get(&post_id)).await?? else {
        return Ok((StatusCode::NOT_FOUND, format!("no post `{id}`")).into_response());
    };
    let analysis = &analysed.analysis;
    let predicted = match body.axis.as_str() {
        "sentiment" => vec![analysis.sentiment.label.as_str().to_owned()],
        "intent" => analysis.intents.clone(),
        axis => analysis.categories.get(axis).cloned().unwrap_or_default(),
    };
    let correction = Correction {
        post_id: analysed.post.id.to_string(),
        axis: body.axis,
        label: body.label,
        predicted,
        text: analysed.post.text.clone(),
        by: Some(user.name.clone()),
        at: chrono::Utc::now().to_rfc3339(),
    };
    let stored = correction.clone();
    tokio::task::spawn_blocking(move || store.put(CORRECTIONS_TABLE, &stored.key(), &stored))
        .await??;
    tracing::info!(post = %correction.post_id, axis = %correction.axis, "label corrected");
    Ok(Json(json!({ "correction": correction })).into_response())
}

/// `{"axes": {"sentiment": {"corrected": 12, "right": 9, "accuracy": 0.75}, ...}}`.
pub(crate) async fn accuracy(State(state): State<AppState>) -> Result<Response, AppError> {
    let Some(store) = state.alerts.store().cloned() else {
        return Ok(Json(json!({ "axes": {} })).into_response());
    };
    let corrections: Vec<(String, Correction)> =
        tokio::task::spawn_blocking(move || store.list(CORRECTIONS_TABLE)).await??;
    let by_axis = accuracy_by_axis(corrections.iter().map(|(_, correction)| correction));
    Ok(Json(json!({ "axes": by_axis })).into_response())
}
