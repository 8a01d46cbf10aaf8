//! `GET /api/health`: open to operators; says the server answers and shows the pipeline's
//! stage counters and the WebSocket hub's.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::live::LiveHub;
use crate::state::AppState;

pub(crate) async fn health(
    State(state): State<AppState>,
    State(hub): State<Arc<LiveHub>>,
) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "stages": (state.health)(),
        "live": hub.stats.snapshot(),
    }))
}
