//! Reddit: subreddit `new` listings and searches over app-only OAuth, polled.
//!
//! In: `https://oauth.reddit.com` listings (`/r/{sub}/new`, `/search?sort=new`) with
//! `raw_json=1`, a bearer token from `auth.rs`, a descriptive User-Agent. Out: batches of
//! posts, oldest first; the checkpoint is `{"v":1,"newest":{listing: created_utc},"seen":[fullname…]}`.
//!
//! Promises:
//! * every listing is read newest first; when a whole page is unseen and newer than the
//!   listing's checkpoint, older pages are read with `after=` until a seen or older item
//!   (at most 10 pages, the depth Reddit keeps; past that a gap is counted);
//! * items are deduplicated against the last 5,000 fullnames handed on, which travel in the
//!   checkpoint with each listing's newest `created_utc`;
//! * a 401 renews the token once and retries; `X-Ratelimit-Remaining` at zero waits for
//!   `X-Ratelimit-Reset` (seconds) before the next request; a 429 waits that long too;
//! * a malformed child is counted and skipped.

mod auth;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::{Client, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use crate::backoff::{self, ResetHeader};
use crate::dedupe::RecentIds;
use crate::error::CollectError;
use crate::http;
use crate::post::Post;
use crate::secret::Secret;
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::{DropReason, SourceStats};

/// Fullnames remembered (and checkpointed) to drop items seen before.
const SEEN: usize = 5_000;
/// Pages read back with `after=` (Reddit keeps about 1,000 items per listing).
const MAX_PAGES: usize = 10;

/// A polled listing: (checkpoint key, path, query parameters).
type Listing = (String, String, Vec<(&'static str, String)>);

/// How to poll Reddit.
#[derive(Debug, Clone)]
pub struct RedditConfig {
    pub name: String,
    /// API host, `https://oauth.reddit.com`.
    pub base_url: String,
    /// Token host, `https://www.reddit.com`.
    pub auth_url: String,
    pub client_id: Secret,
    pub client_secret: Secret,
    pub subreddits: Vec<String>,
    pub queries: Vec<String>,
    pub interval: Duration,
    /// `<platform>:<app id>:<version> (by /u/<username>)`: Reddit blocks generic agents.
    pub user_agent: String,
}

/// The Reddit poller (see the module header).
#[derive(Debug)]
pub struct RedditPoller {
    config: RedditConfig,
    client: Client,
    stats: Arc<SourceStats>,
    token: auth::Token,
    seen: RecentIds,
    newest: BTreeMap<String, f64>,
    next_poll: Instant,
    /// Earliest time of the next request, from the rate-limit headers.
    not_before: Option<Instant>,
}

impl RedditPoller {
    pub fn new(
        mut config: RedditConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<RedditPoller, CollectError> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        config.auth_url = config.auth_url.trim_end_matches('/').to_owned();
        if config.subreddits.is_empty() && config.queries.is_empty() {
            return Err(CollectError::Fatal {
                source_name: config.name.clone(),
                reason: "no subreddit nor query configured".to_owned(),
            });
        }
        stats.set_liveness(config.interval * 3 + http::REQUEST_TIMEOUT);
        let cursor = resume
            .filter(|checkpoint| checkpoint.source == config.name)
            .map(|checkpoint| checkpoint.cursor.clone())
            .unwrap_or_default();
        let mut seen = RecentIds::new(SEEN);
        for fullname in cursor["seen"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
        {
            seen.insert(fullname);
        }
        let newest = cursor["newest"]
            .as_object()
            .map(|listings| {
                listings
                    .iter()
                    .filter_map(|(key, value)| Some((key.clone(), value.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(RedditPoller {
            client: http::client(&config.name, &config.user_agent, true)?,
            config,
            stats,
            token: auth::Token::default(),
            seen,
            newest,
            next_poll: Instant::now(),
            not_before: None,
        })
    }

    pub fn checkpoint(&self) -> Checkpoint {
        let seen: Vec<&str> = self.seen.iter().collect();
        Checkpoint {
            source: self.config.name.clone(),
            cursor: json!({"v": 1, "newest": self.newest, "seen": seen}),
        }
    }

    /// The listings polled: (checkpoint key, path, query).
    fn listings(&self) -> Vec<Listing> {
        let mut listings = Vec::new();
        for sub in &self.config.subreddits {
            listings.push((format!("r/{sub}"), format!("/r/{sub}/new"), Vec::new()));
        }
        for query in &self.config.queries {
            let params = vec![
                ("q", query.clone()),
                ("sort", "new".to_owned()),
                ("t", "day".to_owned()),
                ("type", "link".to_owned()),
            ];
            listings.push((format!("search:{query}"), "/search".to_owned(), params));
        }
        listings
    }

    /// GETs one listing page, renewing the token once on 401 and pacing by the headers.
    async fn get_page(
        &mut self,
        path: &str,
        params: &[(&'static str, String)],
        after: Option<&str>,
    ) -> Result<wire::Page, CollectError> {
        let name = self.config.name.clone();
        for attempt in 0..2 {
            if let Some(at) = self.not_before.take() {
                tokio::time::sleep_until(at).await;
            }
            let token = self
                .token
                .get(
                    &name,
                    &self.client,
                    &self.config.auth_url,
                    &self.config.client_id,
                    &self.config.client_secret,
                )
                .await?;
            let mut request = self
                .client
                .get(format!("{}{path}", self.config.base_url))
                .bearer_auth(token.expose())
                .query(&[("limit", "100"), ("raw_json", "1")])
                .query(params);
            if let Some(after) = after {
                request = request.query(&[("after", after)]);
            }
            let response = request
                .send()
                .await
                .map_err(|error| http::network(&name, "read listing", &error))?;
            let remaining = response
                .headers()
                .get("x-ratelimit-remaining")
                .and_then(|value| value.to_str().ok()?.trim().parse::<f64>().ok());
            if remaining.is_some_and(|left| left < 1.0)
                && let Some(wait) = backoff::reset_wait(
                    response.headers(),
                    ResetHeader::RedditSecondsUntil,
                    Utc::now(),
                )
            {
                tracing::info!(source = %name, ?wait, "rate budget spent, pausing until the window resets");
                self.not_before = Some(Instant::now() + wait);
            }
            if response.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                tracing::info!(source = %name, "access token refused, renewing it");
                self.token.invalidate();
                continue;
            }
            if !response.status().is_success() {
                return Err(http::failure(
                    &name,
                    "read listing",
                    response,
                    ResetHeader::RedditSecondsUntil,
                )
                .await);
            }
            let listing: serde_json::Value = http::json(&name, "read listing", response).await?;
            return Ok(wire::Page::parse(&listing));
        }
        Err(CollectError::transient(
            &name,
            backoff::FailureClass::Auth,
            "token refused twice",
        ))
    }

    /// New items of one listing, oldest first.
    async fn poll_listing(
        &mut self,
        key: &str,
        path: &str,
        params: &[(&'static str, String)],
    ) -> Result<Vec<(f64, Post)>, CollectError> {
        let since = self.newest.get(key).copied();
        let now = Utc::now();
        let mut found: Vec<(f64, Post)> = Vec::new();
        let mut after: Option<String> = None;
        for page_number in 0..MAX_PAGES {
            let page = self.get_page(path, params, after.as_deref()).await?;
            SourceStats::add(
                &self.stats.received,
                (page.children.len() + page.malformed) as u64,
            );
            self.stats
                .dropped(DropReason::Malformed, page.malformed as u64);
            let mut reached_known = page.children.is_empty();
            for child in page.children {
                let older = since.is_some_and(|since| child.created_utc < since);
                if self.seen.contains(&child.fullname) || older {
                    reached_known = true;
                    continue;
                }
                if found.iter().any(|(_, post)| post.id == child.post_id()) {
                    continue;
                }
                found.push((child.created_utc, child.into_post(now)));
            }
            // A first run reads one page; later runs go back until they meet known items.
            if reached_known || since.is_none() {
                break;
            }
            match page.after {
                Some(next) => after = Some(next),
                None => break,
            }
            if page_number + 1 == MAX_PAGES {
                SourceStats::add(&self.stats.gaps, 1);
                tracing::warn!(source = %self.config.name, listing = key, "gap: more new items than Reddit pages back");
            }
        }
        found.sort_by(|left, right| left.0.total_cmp(&right.0));
        Ok(found)
    }
}

impl Source for RedditPoller {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        tokio::time::sleep_until(self.next_poll).await;
        self.next_poll = Instant::now() + self.config.interval;
        let mut per_listing = Vec::new();
        for (key, path, params) in self.listings() {
            let found = self.poll_listing(&key, &path, &params).await?;
            per_listing.push((key, found));
        }
        // Everything is read before the state moves: a failure above hands on nothing.
        let now = Utc::now();
        self.stats.alive(now);
        let mut posts = Vec::new();
        for (key, found) in per_listing {
            for (created_utc, post) in found {
                let newest = self.newest.entry(key.clone()).or_insert(created_utc);
                *newest = newest.max(created_utc);
                let fullname = post.id.as_str().trim_start_matches("reddit:").to_owned();
                if !self.seen.insert(&fullname) {
                    self.stats.dropped(DropReason::Duplicate, 1);
                    continue;
                }
                self.stats.post_arrived(post.created_at, now);
                posts.push(post);
            }
        }
        posts.sort_by_key(|post| post.created_at);
        if !posts.is_empty() {
            SourceStats::add(&self.stats.posts, posts.len() as u64);
            SourceStats::add(&self.stats.batches, 1);
        }
        Ok(Some(Batch {
            posts,
            checkpoint: self.checkpoint(),
        }))
    }
}
