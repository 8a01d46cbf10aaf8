//! Discourse forums: `/posts.json` polled, with `before=` windows walked down to the
//! checkpoint so that no post is skipped.
//!
//! In: a forum's base URL, optional `Api-Key`/`Api-Username`. Out: batches of posts, oldest
//! first; the checkpoint is `{"v":1,"max_post_id"}`.
//!
//! Promises:
//! * each poll reads the newest page, then, while the oldest id it has seen is above the
//!   checkpoint, pages down with `before = B, B − 50, …` (an empty window never stops the
//!   walk); everything is collected before anything is handed on, so a failure half-way
//!   hands on nothing and the next poll starts again from the same checkpoint;
//! * `max_post_id` is the highest id handed on, never one that was not; a walk deeper
//!   than 100 windows is reported as a gap and jumps to the newest posts;
//! * hidden, deleted and whisper posts are counted as filtered; malformed ones as malformed;
//! * the author's trust level (inline) and post count (`/u/{username}.json`, cached an
//!   hour) are kept as maven signals; a 429 waits for its `Retry-After`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::backoff::ResetHeader;
use crate::error::CollectError;
use crate::http;
use crate::post::{Author, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};
use crate::replay::html::html_to_text;
use crate::secret::Secret;
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::{DropReason, SourceStats};

/// Width of the id window `before=` selects.
const WINDOW: i64 = 50;
/// Deepest walk before the rest is reported as a gap.
const MAX_WINDOWS: usize = 100;
/// How long an author's post count is trusted.
const AUTHOR_TTL: Duration = Duration::from_secs(3600);

/// How to poll one forum.
#[derive(Debug, Clone)]
pub struct DiscourseConfig {
    pub name: String,
    pub base_url: String,
    /// `Api-Key` and `Api-Username`, when configured.
    pub api_key: Option<(Secret, String)>,
    pub interval: Duration,
    pub user_agent: String,
}

/// The Discourse poller (see the module header).
#[derive(Debug)]
pub struct DiscoursePoller {
    config: DiscourseConfig,
    client: Client,
    stats: Arc<SourceStats>,
    site: String,
    max_post_id: Option<i64>,
    next_poll: Instant,
    authors: HashMap<String, (Option<u64>, Instant)>,
}

#[derive(Debug, Deserialize)]
struct LatestPosts {
    #[serde(default)]
    latest_posts: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct WirePost {
    id: i64,
    topic_id: Option<i64>,
    post_number: Option<i64>,
    topic_slug: Option<String>,
    topic_title: Option<String>,
    username: String,
    name: Option<String>,
    user_id: Option<i64>,
    trust_level: Option<u8>,
    created_at: String,
    cooked: Option<String>,
    raw: Option<String>,
    reply_to_post_number: Option<i64>,
    reply_count: Option<u64>,
    quote_count: Option<u64>,
    reads: Option<u64>,
    #[serde(default)]
    actions_summary: Vec<Value>,
    post_url: Option<String>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    user_deleted: bool,
    deleted_at: Option<String>,
    post_type: Option<u8>,
}

impl DiscoursePoller {
    pub fn new(
        mut config: DiscourseConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<DiscoursePoller, CollectError> {
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        let site = site_of(&config.base_url).ok_or_else(|| CollectError::Fatal {
            source_name: config.name.clone(),
            reason: format!("`{}` is not a forum URL", config.base_url),
        })?;
        stats.set_liveness(config.interval * 3 + http::REQUEST_TIMEOUT);
        let max_post_id = resume
            .filter(|checkpoint| checkpoint.source == config.name)
            .and_then(|checkpoint| checkpoint.cursor.get("max_post_id")?.as_i64());
        Ok(DiscoursePoller {
            client: http::client(&config.name, &config.user_agent, true)?,
            config,
            stats,
            site,
            max_post_id,
            next_poll: Instant::now(),
            authors: HashMap::new(),
        })
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            source: self.config.name.clone(),
            cursor: json!({"v": 1, "max_post_id": self.max_post_id}),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .get(format!("{}{path}", self.config.base_url))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some((key, user)) = &self.config.api_key {
            request = request
                .header("Api-Key", key.expose())
                .header("Api-Username", user);
        }
        request
    }

    /// One page: `/posts.json`, or the window below `before`.
    async fn page(&self, before: Option<i64>) -> Result<Vec<Value>, CollectError> {
        let mut request = self.get("/posts.json");
        if let Some(before) = before {
            request = request.query(&[("before", before)]);
        }
        let name = &self.config.name;
        let response = http::send(name, "read posts", request, ResetHeader::None).await?;
        let page: LatestPosts = http::json(name, "read posts", response).await?;
        Ok(page.latest_posts)
    }

    /// Every post above the checkpoint (or the newest page on a first run), oldest first.
    async fn collect(&mut self) -> Result<Vec<WirePost>, CollectError> {
        let mut found: HashMap<i64, WirePost> = HashMap::new();
        let mut lowest: Option<i64> = None;
        let mut before = None;
        for window in 0..=MAX_WINDOWS {
            let page = self.page(before).await?;
            for value in page {
                let id = value.get("id").and_then(Value::as_i64);
                if id.is_some_and(|id| self.max_post_id.is_some_and(|max| id <= max)) {
                    // Below the checkpoint: handed on (or counted) before.
                    continue;
                }
                SourceStats::add(&self.stats.received, 1);
                match WirePost::deserialize(&value) {
                    Ok(post) => {
                        lowest = Some(lowest.map_or(post.id, |low: i64| low.min(post.id)));
                        found.insert(post.id, post);
                    }
                    Err(error) => {
                        self.stats.dropped(DropReason::Malformed, 1);
                        tracing::warn!(source = %self.config.name, %error, "malformed forum post skipped");
                    }
                }
            }
            let Some(checkpoint) = self.max_post_id else {
                break;
            };
            let next = match before {
                // Below the newest page: from just under the lowest id seen.
                None => match lowest {
                    Some(low) => low - 1,
                    None => break,
                },
                Some(previous) => previous - WINDOW,
            };
            if next <= checkpoint {
                break;
            }
            if window == MAX_WINDOWS {
                SourceStats::add(&self.stats.gaps, 1);
                tracing::warn!(source = %self.config.name, from = checkpoint, to = next, "gap: too many posts since the checkpoint");
                self.max_post_id = None;
                break;
            }
            before = Some(next);
        }
        let checkpoint = self.max_post_id.unwrap_or(i64::MIN);
        let mut posts: Vec<WirePost> = found
            .into_values()
            .filter(|post| post.id > checkpoint)
            .collect();
        posts.sort_by_key(|post| post.id);
        Ok(posts)
    }

    /// The author's post count, from the cache or `/u/{username}.json`.
    async fn post_count(&mut self, username: &str) -> Option<u64> {
        if let Some((count, at)) = self.authors.get(username)
            && at.elapsed() < AUTHOR_TTL
        {
            return *count;
        }
        let path = format!("/u/{}.json", urlencode(username));
        let name = self.config.name.clone();
        let count = match http::send(&name, "read author", self.get(&path), ResetHeader::None).await
        {
            Ok(response) => http::json::<Value>(&name, "read author", response)
                .await
                .ok()
                .and_then(|user| user.pointer("/user/post_count")?.as_u64()),
            Err(error) => {
                tracing::debug!(source = %name, %error, "author profile unavailable");
                None
            }
        };
        self.authors
            .insert(username.to_owned(), (count, Instant::now()));
        count
    }

    fn to_post(&self, wire: &WirePost, post_count: Option<u64>, now: DateTime<Utc>) -> Post {
        post_from_wire(&self.config.base_url, &self.site, wire, post_count, now)
    }
}

/// Whether a post is not for indexing: hidden, deleted, or a staff whisper.
fn invisible(wire: &WirePost) -> bool {
    wire.hidden || wire.user_deleted || wire.deleted_at.is_some() || wire.post_type == Some(4)
}

/// The host a forum's post ids are scoped by.
fn site_of(base_url: &str) -> Option<String> {
    reqwest::Url::parse(base_url)
        .ok()?
        .host_str()
        .map(str::to_owned)
}

/// Decodes a `/posts.json` body of the forum at `base_url` (recorded files): visible posts
/// in id order, and one error per malformed post.
pub fn decode_latest_posts(
    base_url: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Post, crate::replay::DecodeError>>, crate::replay::DecodeError> {
    let site = site_of(base_url).ok_or(crate::replay::DecodeError::Invalid(
        "forum URL without a host",
    ))?;
    let page: LatestPosts = serde_json::from_str(body)?;
    let mut decoded: Vec<(i64, Result<Post, crate::replay::DecodeError>)> = Vec::new();
    for value in page.latest_posts {
        let id = value.get("id").and_then(Value::as_i64).unwrap_or(i64::MAX);
        match WirePost::deserialize(&value) {
            Ok(wire) if invisible(&wire) => {}
            Ok(wire) => decoded.push((id, Ok(post_from_wire(base_url, &site, &wire, None, now)))),
            Err(error) => decoded.push((id, Err(error.into()))),
        }
    }
    decoded.sort_by_key(|(id, _)| *id);
    Ok(decoded.into_iter().map(|(_, post)| post).collect())
}

fn post_from_wire(
    base: &str,
    site: &str,
    wire: &WirePost,
    post_count: Option<u64>,
    now: DateTime<Utc>,
) -> Post {
    let body = match (&wire.cooked, &wire.raw) {
        (Some(cooked), _) => html_to_text(cooked),
        (None, Some(raw)) => raw.clone(),
        (None, None) => String::new(),
    };
    let text = match (&wire.topic_title, wire.post_number) {
        (Some(title), Some(1)) => format!("{title}\n{body}"),
        _ => body,
    };
    let url = match (
        &wire.post_url,
        &wire.topic_slug,
        wire.topic_id,
        wire.post_number,
    ) {
        (Some(path), ..) => format!("{base}{path}"),
        (None, Some(slug), Some(topic), Some(number)) => {
            format!("{base}/t/{slug}/{topic}/{number}")
        }
        _ => format!("{base}/p/{}", wire.id),
    };
    let name = wire.name.clone().filter(|name| !name.trim().is_empty());
    let likes = wire
        .actions_summary
        .iter()
        .find(|action| action.get("id").and_then(Value::as_i64) == Some(2))
        .and_then(|action| action.get("count")?.as_u64());
    let relation = match (wire.reply_to_post_number, wire.topic_id) {
        (Some(number), Some(topic)) => Relation::Reply {
            parent: Some(format!("{topic}/{number}")),
        },
        _ => Relation::Original,
    };
    let created_at = DateTime::parse_from_rfc3339(&wire.created_at)
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or(now);
    Post {
        id: PostId::new(SourceKind::Discourse, &format!("{site}/{}", wire.id)),
        source: SourceKind::Discourse,
        url: Some(url),
        text,
        lang: None,
        created_at,
        observed_at: now,
        author: Author {
            id: wire
                .user_id
                .map_or_else(|| wire.username.clone(), |id| id.to_string()),
            handle: Some(wire.username.clone()),
            name: name.or_else(|| Some(wire.username.clone())),
            followers: None,
            profile_url: Some(format!("{base}/u/{}", wire.username)),
            maven: MavenSignals {
                trust_level: wire.trust_level,
                post_count,
                blog_author: false,
            },
        },
        relation,
        engagement: Engagement {
            likes,
            replies: wire.reply_count,
            quotes: wire.quote_count,
            views: wire.reads,
            reposts: None,
        },
        change: crate::post::Change::New,
    }
}

impl Source for DiscoursePoller {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        tokio::time::sleep_until(self.next_poll).await;
        // Set before polling: a failure is paced by the runner, success by the interval.
        self.next_poll = Instant::now() + self.config.interval;
        let found = self.collect().await?;
        let now = Utc::now();
        self.stats.alive(now);
        let mut posts = Vec::with_capacity(found.len());
        for wire in &found {
            self.max_post_id = Some(self.max_post_id.map_or(wire.id, |max| max.max(wire.id)));
            let invisible = wire.hidden
                || wire.user_deleted
                || wire.deleted_at.is_some()
                || wire.post_type == Some(4);
            if invisible {
                self.stats.dropped(DropReason::Filtered, 1);
                continue;
            }
            let post_count = self.post_count(&wire.username).await;
            let post = self.to_post(wire, post_count, now);
            self.stats.post_arrived(post.created_at, now);
            posts.push(post);
        }
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

/// Percent-encodes a path segment.
fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
