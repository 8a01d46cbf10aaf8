//! RSS 2.0 / Atom 1.0 feeds (blogs, forums), polled over HTTP.
//!
//! In: the configured feed URLs. Out: one batch per poll that found new items, decoded by
//! the same code as recorded feeds (`replay/feed.rs`); the checkpoint is
//! `{"v":1,"feeds":[{configured,url,etag,last_modified,body_hash,seen,gone}]}`.
//!
//! Promises:
//! * conditional GET: the `ETag` and `Last-Modified` of the last answer go back as
//!   `If-None-Match` / `If-Modified-Since`; a `304` is nothing new; a body whose SHA-256 is
//!   the last one's is not parsed again (servers that change the ETag on every request);
//! * items are deduplicated by their key (guid/id, else link, else title + date, namespaced
//!   by feed) against the last 1,000 keys of each feed, which travel in the checkpoint;
//! * `301`/`308` move the feed for good (persisted), `302`/`307` are followed for this poll
//!   only; `410` stops polling that feed; `429`/`503` wait `Retry-After`; `404`, other
//!   errors and network failures back that feed off (doubling from the interval, up to a
//!   day) while the other feeds go on;
//! * malformed XML keeps the items before the error and counts one malformed item.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::backoff::{self, ResetHeader};
use crate::dedupe::RecentIds;
use crate::error::CollectError;
use crate::http;
use crate::post::Post;
use crate::replay::feed::decode_feed;
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::{DropReason, SourceStats};

const ACCEPT_FEEDS: &str =
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8";
/// Item keys remembered per feed.
const SEEN_PER_FEED: usize = 1_000;
/// Longest pause of a failing feed.
const MAX_FEED_BACKOFF: Duration = Duration::from_secs(24 * 3600);
/// Temporary redirects followed in one poll.
const MAX_REDIRECTS: usize = 5;

/// How to poll a set of feeds.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub name: String,
    pub urls: Vec<String>,
    /// Pause between two polls of one feed.
    pub interval: Duration,
    pub user_agent: String,
}

/// What is kept of one feed between polls (and in the checkpoint).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct FeedState {
    /// The URL as configured: the feed's identity.
    configured: String,
    /// Where it is fetched now (after permanent redirects).
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    body_hash: Option<String>,
    #[serde(default)]
    seen: Vec<String>,
    #[serde(default)]
    gone: bool,
}

#[derive(Debug)]
struct Feed {
    state: FeedState,
    seen: RecentIds,
    next_poll: Instant,
    failures: u32,
}

/// The feed poller (see the module header).
#[derive(Debug)]
pub struct FeedPoller {
    config: FeedConfig,
    client: Client,
    stats: Arc<SourceStats>,
    feeds: Vec<Feed>,
}

/// What one poll of one feed gave.
enum Polled {
    Posts(Vec<Post>),
    Nothing,
}

impl FeedPoller {
    pub fn new(
        config: FeedConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<FeedPoller, CollectError> {
        if config.urls.is_empty() {
            return Err(CollectError::Fatal {
                source_name: config.name.clone(),
                reason: "no feed URL configured".to_owned(),
            });
        }
        let client = Client::builder()
            .user_agent(&config.user_agent)
            .connect_timeout(http::CONNECT_TIMEOUT)
            .timeout(http::REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .build()
            .map_err(|error| CollectError::Fatal {
                source_name: config.name.clone(),
                reason: format!("cannot build an HTTP client: {error}"),
            })?;
        stats.set_liveness(config.interval * 3 + http::REQUEST_TIMEOUT);
        let saved: Vec<FeedState> = resume
            .filter(|checkpoint| checkpoint.source == config.name)
            .and_then(|checkpoint| {
                serde_json::from_value(checkpoint.cursor.get("feeds")?.clone()).ok()
            })
            .unwrap_or_default();
        let now = Instant::now();
        let feeds = config
            .urls
            .iter()
            .map(|url| {
                let state = saved
                    .iter()
                    .find(|state| &state.configured == url)
                    .cloned()
                    .unwrap_or_else(|| FeedState {
                        configured: url.clone(),
                        url: url.clone(),
                        ..FeedState::default()
                    });
                let mut seen = RecentIds::new(SEEN_PER_FEED);
                for key in &state.seen {
                    seen.insert(key);
                }
                Feed {
                    state,
                    seen,
                    next_poll: now,
                    failures: 0,
                }
            })
            .collect();
        Ok(FeedPoller {
            config,
            client,
            stats,
            feeds,
        })
    }

    /// The checkpoint of everything handed on so far.
    pub fn checkpoint(&self) -> Checkpoint {
        let feeds: Vec<FeedState> = self
            .feeds
            .iter()
            .map(|feed| FeedState {
                seen: feed.seen.iter().map(str::to_owned).collect(),
                ..feed.state.clone()
            })
            .collect();
        Checkpoint {
            source: self.config.name.clone(),
            cursor: json!({"v": 1, "feeds": feeds}),
        }
    }

    /// Polls feed `index` once.
    async fn poll(&mut self, index: usize) -> Polled {
        let name = self.config.name.clone();
        let interval = self.config.interval;
        let now = Instant::now();
        let outcome = self.fetch(index).await;
        let feed = &mut self.feeds[index];
        match outcome {
            Ok(polled) => {
                feed.failures = 0;
                feed.next_poll = now + jitter(interval);
                self.stats.alive(Utc::now());
                polled
            }
            Err((error, asked)) => {
                self.stats.failed(error.class(), true);
                let wait = match asked {
                    Some(asked) => asked + backoff::RATE_LIMIT_MARGIN,
                    None => {
                        let factor = 2u32.saturating_pow(feed.failures);
                        interval.saturating_mul(factor).min(MAX_FEED_BACKOFF)
                    }
                };
                feed.failures = feed.failures.saturating_add(1);
                feed.next_poll = now + wait;
                tracing::warn!(source = %name, feed = %feed.state.configured, %error, retry_in = ?wait, "feed poll failed");
                Polled::Nothing
            }
        }
    }

    /// One conditional GET of feed `index`, following redirects by their kind.
    async fn fetch(&mut self, index: usize) -> Result<Polled, (CollectError, Option<Duration>)> {
        let name = self.config.name.clone();
        let mut url = self.feeds[index].state.url.clone();
        let mut permanent = true;
        for _ in 0..=MAX_REDIRECTS {
            let state = &self.feeds[index].state;
            let mut request = self.client.get(&url).header(ACCEPT, ACCEPT_FEEDS);
            if let Some(etag) = &state.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &state.last_modified {
                request = request.header(IF_MODIFIED_SINCE, modified);
            }
            let response = request
                .send()
                .await
                .map_err(|error| (http::network(&name, "poll feed", &error), None))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let Some(location) = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| reqwest::Url::parse(&url).ok()?.join(value).ok())
                else {
                    return Err((
                        CollectError::transient(
                            &name,
                            backoff::FailureClass::Server,
                            "redirect without a location",
                        ),
                        None,
                    ));
                };
                permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                url = location.to_string();
                if permanent {
                    tracing::info!(source = %name, feed = %self.feeds[index].state.configured, to = %url, "feed moved for good");
                    self.feeds[index].state.url = url.clone();
                }
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Polled::Nothing);
            }
            if status == StatusCode::GONE {
                tracing::warn!(source = %name, feed = %self.feeds[index].state.configured, "feed is gone (410): no longer polled");
                self.feeds[index].state.gone = true;
                return Ok(Polled::Nothing);
            }
            if !status.is_success() {
                let failure = backoff::classify_status(
                    status.as_u16(),
                    response.headers(),
                    ResetHeader::None,
                    Utc::now(),
                );
                let error = http::failure(&name, "poll feed", response, ResetHeader::None).await;
                return Err((error, failure.retry_after));
            }
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let etag = header(ETAG);
            let last_modified = header(LAST_MODIFIED);
            let body = response
                .bytes()
                .await
                .map_err(|error| (http::network(&name, "read feed", &error), None))?;
            let state = &mut self.feeds[index].state;
            state.etag = etag;
            state.last_modified = last_modified;
            let hash = format!("{:x}", Sha256::digest(&body));
            if state.body_hash.as_deref() == Some(hash.as_str()) {
                return Ok(Polled::Nothing);
            }
            state.body_hash = Some(hash);
            let text = String::from_utf8_lossy(&body);
            let namespace = state.configured.clone();
            return Ok(Polled::Posts(self.accept(index, &namespace, &text)));
        }
        Err((
            CollectError::transient(&name, backoff::FailureClass::Server, "too many redirects"),
            None,
        ))
    }

    /// Decodes a feed body and keeps the items not handed on before.
    fn accept(&mut self, index: usize, namespace: &str, text: &str) -> Vec<Post> {
        let now = Utc::now();
        let decoded = decode_feed(namespace, text, now);
        for failure in &decoded.failures {
            tracing::warn!(source = %self.config.name, feed = namespace, line = failure.line, error = %failure.error, "malformed feed content skipped");
        }
        self.stats
            .dropped(DropReason::Malformed, decoded.failures.len() as u64);
        SourceStats::add(
            &self.stats.received,
            (decoded.posts.len() + decoded.failures.len()) as u64,
        );
        let feed = &mut self.feeds[index];
        let mut posts = Vec::new();
        for decoded_post in decoded.posts {
            if !feed.seen.insert(decoded_post.post.id.as_str()) {
                self.stats.dropped(DropReason::Duplicate, 1);
                continue;
            }
            self.stats.post_arrived(decoded_post.post.created_at, now);
            posts.push(decoded_post.post);
        }
        posts
    }
}

impl Source for FeedPoller {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        let Some(index) = (0..self.feeds.len())
            .filter(|index| !self.feeds[*index].state.gone)
            .min_by_key(|index| self.feeds[*index].next_poll)
        else {
            return Err(CollectError::Fatal {
                source_name: self.config.name.clone(),
                reason: "every configured feed is gone (410)".to_owned(),
            });
        };
        tokio::time::sleep_until(self.feeds[index].next_poll).await;
        let posts = match self.poll(index).await {
            Polled::Posts(posts) => posts,
            Polled::Nothing => Vec::new(),
        };
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

/// `interval` scaled into [0.9, 1.0] of itself, so feeds do not poll in lockstep.
fn jitter(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.1 * fastrand::f64())
}
