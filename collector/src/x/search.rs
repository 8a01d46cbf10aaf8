//! Gap filling after a reconnect: X recent search with `since_id`, every page.
//!
//! Promises: each configured rule is searched (a rule is a valid search query once
//! stream-only operators are absent); every `next_token` page is read before anything is
//! returned, so a failure half-way hands on nothing and the next attempt starts over from
//! the same `since_id`; results come back oldest first, without repeats.

use chrono::Utc;
use reqwest::Client;

use super::{FIELDS, XRule, id_order};
use crate::backoff::ResetHeader;
use crate::error::CollectError;
use crate::http;
use crate::post::Post;
use crate::replay::x_stream::decode_search_page;
use crate::secret::Secret;
use crate::stats::{DropReason, SourceStats};

/// Posts newer than `since_id` matching any rule, oldest first, as `(version id, post)`.
pub(super) async fn since(
    source: &str,
    client: &Client,
    base: &str,
    token: &Secret,
    rules: &[XRule],
    since_id: &str,
    stats: &SourceStats,
) -> Result<Vec<(String, Post)>, CollectError> {
    let url = format!("{base}/2/tweets/search/recent");
    let mut found: Vec<(String, Post)> = Vec::new();
    for rule in rules {
        let mut next: Option<String> = None;
        loop {
            let mut request = client
                .get(&url)
                .bearer_auth(token.expose())
                .query(&[
                    ("query", rule.value.as_str()),
                    ("since_id", since_id),
                    ("max_results", "100"),
                ])
                .query(FIELDS);
            if let Some(token) = &next {
                request = request.query(&[("next_token", token)]);
            }
            let response =
                http::send(source, "recent search", request, ResetHeader::XEpoch).await?;
            let body = response
                .bytes()
                .await
                .map_err(|error| http::network(source, "recent search", &error))?;
            let page = decode_search_page(&body, Utc::now()).map_err(|error| {
                CollectError::transient(
                    source,
                    crate::backoff::FailureClass::Decode,
                    format!("recent search: {error}"),
                )
            })?;
            for failure in &page.failures {
                tracing::warn!(source, error = %failure, "malformed search result skipped");
            }
            stats.dropped(DropReason::Malformed, page.failures.len() as u64);
            SourceStats::add(
                &stats.received,
                (page.posts.len() + page.failures.len()) as u64,
            );
            found.extend(page.posts);
            next = page.next_token;
            if next.is_none() {
                break;
            }
        }
    }
    found.sort_by(|left, right| id_order(&left.0, &right.0));
    found.dedup_by(|right, left| left.0 == right.0);
    tracing::info!(
        source,
        since_id,
        found = found.len(),
        "gap filled from recent search"
    );
    Ok(found)
}
