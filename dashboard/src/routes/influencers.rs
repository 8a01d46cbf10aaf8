//! `GET /api/influencers?brand=B&kind=connector|maven&limit=N`: the influence tracker's
//! latest leaderboards, as published by the pipeline.
//!
//! Answers `{"updated_at", "share", "window_days", "brands": [...]}` where each brand has
//! `brand`, `active_authors` and, for each asked kind (both when `kind` is absent), a
//! board: `members`, `share_of_authors`, `covered`, `complete` and `leaders` (rank, author,
//! source, followers, posts, impressions, expert posts, score, explanation). Without
//! `brand`, every brand. An unknown brand or kind, or a bad limit, is a 400.

use axum::Json;
use axum::extract::{Query, State};
use nlp::influence::{BrandLeaderboard, InfluenceKind, KindBoard};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::AppError;
use crate::state::AppState;

/// Most leaders per board a request gets (the tracker keeps 20).
const MAX_LIMIT: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InfluencersParams {
    brand: Option<String>,
    kind: Option<String>,
    limit: Option<String>,
}

pub(crate) async fn influencers(
    State(state): State<AppState>,
    Query(params): Query<InfluencersParams>,
) -> Result<Json<Value>, AppError> {
    let kinds: Vec<InfluenceKind> = match params.kind.as_deref().map(str::trim) {
        None | Some("") => InfluenceKind::ALL.to_vec(),
        Some(name) => match InfluenceKind::parse(name) {
            Some(kind) => vec![kind],
            None => {
                return Err(AppError::BadQuery(format!(
                    "unknown kind `{name}` (kinds: connector, maven)"
                )));
            }
        },
    };
    let limit = match params.limit.as_deref().map(str::trim) {
        None | Some("") => MAX_LIMIT,
        Some(text) => text.parse::<usize>().map_err(|_| {
            AppError::BadQuery(format!("`limit` must be a whole number, found `{text}`"))
        })?,
    }
    .min(MAX_LIMIT);
    let leaderboards = std::sync::Arc::clone(&state.influencers.borrow());
    let brands: Vec<&BrandLeaderboard> = match params.brand.as_deref().map(str::trim) {
        None | Some("") => leaderboards.brands.iter().collect(),
        Some(name) => match leaderboards.brand(name) {
            Some(board) => vec![board],
            None => return Err(AppError::BadQuery(format!("unknown brand `{name}`"))),
        },
    };
    let brands: Vec<Value> = brands
        .into_iter()
        .map(|brand| {
            let mut entry = Map::new();
            entry.insert("brand".to_owned(), json!(brand.brand));
            entry.insert("active_authors".to_owned(), json!(brand.active_authors));
            for &kind in &kinds {
                let name = match kind {
                    InfluenceKind::Connector => "connectors",
                    InfluenceKind::Maven => "mavens",
                };
                entry.insert(name.to_owned(), board_json(brand.board(kind), limit));
            }
            Value::Object(entry)
        })
        .collect();
    Ok(Json(json!({
        "updated_at": leaderboards.updated_at,
        "share": leaderboards.share,
        "window_days": leaderboards.window_days,
        "brands": brands,
    })))
}

fn board_json(board: &KindBoard, limit: usize) -> Value {
    let leaders = &board.leaders[..board.leaders.len().min(limit)];
    json!({
        "members": board.members,
        "share_of_authors": board.share_of_authors,
        "covered": board.covered,
        "complete": board.complete,
        "leaders": leaders,
    })
}
