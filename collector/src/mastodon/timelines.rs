//! Gap filling after a reconnect: each stream's timeline walked forward with `min_id`
//! (`/api/v1/timelines/{public,tag/:tag,list/:id}`), 40 statuses a page, until a page is
//! empty — the gap-free walk (`since_id` would skip the middle of a long gap).
//!
//! Promises: pages are read oldest first; everything is collected before anything is
//! returned; a walk longer than 50 pages stops and is reported as a gap; a malformed status
//! is counted and skipped.

use reqwest::Client;

use super::MastodonStream;
use super::wire::Status;
use crate::backoff::ResetHeader;
use crate::error::CollectError;
use crate::http;
use crate::secret::Secret;
use crate::stats::{DropReason, SourceStats};
use crate::x::id_order;

const PAGE: &str = "40";
const MAX_PAGES: usize = 50;

/// Statuses of `stream` after `min_id`, oldest first.
pub(super) async fn after(
    source: &str,
    client: &Client,
    base: &str,
    token: &Secret,
    stream: &MastodonStream,
    min_id: &str,
    stats: &SourceStats,
) -> Result<Vec<Status>, CollectError> {
    let (path, params) = stream.timeline();
    let mut found: Vec<Status> = Vec::new();
    let mut cursor = min_id.to_owned();
    for page_number in 0..MAX_PAGES {
        let request = client
            .get(format!("{base}{path}"))
            .bearer_auth(token.expose())
            .query(&params)
            .query(&[("min_id", cursor.as_str()), ("limit", PAGE)]);
        let response = http::send(
            source,
            "fill the gap",
            request,
            ResetHeader::MastodonTimestamp,
        )
        .await?;
        let page: Vec<serde_json::Value> = http::json(source, "fill the gap", response).await?;
        if page.is_empty() {
            return Ok(found);
        }
        SourceStats::add(&stats.received, page.len() as u64);
        let mut statuses = Vec::with_capacity(page.len());
        let mut highest = cursor.clone();
        for value in page {
            if let Some(id) = value.get("id").and_then(|id| id.as_str())
                && id_order(id, &highest).is_gt()
            {
                highest = id.to_owned();
            }
            match serde_json::from_value::<Status>(value) {
                Ok(status) => statuses.push(status),
                Err(error) => {
                    stats.dropped(DropReason::Malformed, 1);
                    tracing::warn!(source, %error, "malformed status skipped");
                }
            }
        }
        statuses.sort_by(|left, right| id_order(&left.id, &right.id));
        found.extend(statuses);
        if highest == cursor {
            break;
        }
        cursor = highest;
        if page_number + 1 == MAX_PAGES {
            SourceStats::add(&stats.gaps, 1);
            tracing::warn!(source, stream = %stream.key(), "gap: timeline walk stopped at its page limit");
        }
    }
    Ok(found)
}
