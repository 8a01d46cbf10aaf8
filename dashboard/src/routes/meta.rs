//! `GET /api/meta`: what the page needs to draw itself: the teams (name and role, not
//! their members) and the axes with their categories, in config order.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub(crate) async fn meta(State(state): State<AppState>) -> Json<Value> {
    let teams: Vec<Value> = state
        .teams
        .iter()
        .map(|team| json!({ "name": team.name, "role": team.role }))
        .collect();
    let axes: Vec<Value> = state
        .axes
        .iter()
        .map(|(name, categories)| json!({ "name": name, "categories": categories }))
        .collect();
    Json(json!({ "teams": teams, "axes": axes }))
}
