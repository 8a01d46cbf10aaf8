//! The X API v2 filtered-stream body: framing and decoding into [`Post`]s.
//!
//! In: the bytes of a stream response (or a recorded `x/*.jsonl` file): JSON objects each
//! terminated by `\r\n`, bare `\r\n` keep-alives, and `{"errors":[...]}` notices.
//! Out: one [`StreamItem`] per line: a post, a keep-alive, or an error notice.
//!
//! Promises:
//! * framing does not depend on how the bytes were chunked: an object split over chunks or
//!   several objects in one chunk decode the same ([`LineFramer`]); a bare `\n` is accepted
//!   as a terminator too, and a trailing `\r` is always dropped;
//! * ids stay strings (they exceed 2^53); a post is keyed by its first
//!   `edit_history_tweet_ids` entry, so every version of an edited post has the same
//!   [`PostId`] and the later ones are marked [`Change::Edit`];
//! * a malformed line is a [`DecodeError`], never a panic, and never stops the stream.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{DecodeError, DecodeFailure, DecodedFile, DecodedPost};
use crate::post::{Author, Change, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};

/// Splits a byte stream into lines, whatever the chunking.
#[derive(Debug, Default)]
pub struct LineFramer {
    pending: Vec<u8>,
    /// Number of the next line to complete (1-based).
    next_line: usize,
}

/// One complete line of the stream, without its terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 1-based line number within the stream.
    pub line: usize,
    pub bytes: Vec<u8>,
}

impl LineFramer {
    pub fn new() -> Self {
        LineFramer {
            pending: Vec::new(),
            next_line: 1,
        }
    }

    /// Adds a chunk and returns every line it completes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&byte| byte == b'\n') {
            self.pending.extend_from_slice(&rest[..newline]);
            rest = &rest[newline + 1..];
            frames.push(self.take_frame());
        }
        self.pending.extend_from_slice(rest);
        frames
    }

    /// Ends the stream: returns the last line if it had no terminator.
    pub fn finish(mut self) -> Option<Frame> {
        if self.pending.is_empty() {
            return None;
        }
        Some(self.take_frame())
    }

    fn take_frame(&mut self) -> Frame {
        let mut bytes = std::mem::take(&mut self.pending);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let line = self.next_line.max(1);
        self.next_line = line + 1;
        Frame { line, bytes }
    }
}

/// What one line of the stream holds.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A bare `\r\n` (or whitespace only): the connection is alive.
    KeepAlive,
    /// A post; `key` is its stable key (first edit-history id), `version` the id of this
    /// version (`data.id`).
    Post {
        key: String,
        version: String,
        post: Box<Post>,
    },
    /// A `{"errors":[...]}` notice without `data`: the titles (or details) it gave.
    Errors { titles: Vec<String> },
}

/// Decodes one line (without its terminator).
pub fn decode_line(line: &[u8], observed_at: DateTime<Utc>) -> Result<StreamItem, DecodeError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(StreamItem::KeepAlive);
    }
    let message: StreamMessage = serde_json::from_slice(line)?;
    let Some(data) = message.data else {
        if message.errors.is_empty() {
            return Err(DecodeError::Invalid("object has neither data nor errors"));
        }
        let titles = message.errors.iter().map(error_title).collect();
        return Ok(StreamItem::Errors { titles });
    };
    let version = data.id.clone();
    let (key, post) = build_post(data, &message.includes, observed_at)?;
    Ok(StreamItem::Post {
        key,
        version,
        post: Box::new(post),
    })
}

/// Decodes a whole recorded stream. `file` names it in failures.
pub(crate) fn decode_stream(file: &str, contents: &str, observed_at: DateTime<Utc>) -> DecodedFile {
    let contents = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let mut framer = LineFramer::new();
    let mut frames = framer.push(contents.as_bytes());
    frames.extend(framer.finish());

    let mut decoded = DecodedFile::default();
    for frame in frames {
        match decode_line(&frame.bytes, observed_at) {
            Ok(StreamItem::KeepAlive) => {}
            Ok(StreamItem::Post { key, post, .. }) => decoded.posts.push(DecodedPost {
                key,
                line: frame.line,
                post: *post,
            }),
            Ok(StreamItem::Errors { titles }) => {
                tracing::debug!(file, line = frame.line, ?titles, "x stream error notice");
                decoded.stream_errors += 1;
            }
            Err(error) => decoded.failures.push(DecodeFailure {
                file: file.to_owned(),
                line: frame.line,
                error,
            }),
        }
    }
    decoded
}

/// One page of a recent-search response (`GET /2/tweets/search/recent`).
#[derive(Debug, Default)]
pub struct SearchPage {
    /// `(version id, post)` of each result, newest first as X sends them.
    pub posts: Vec<(String, Post)>,
    /// Results that could not be decoded.
    pub failures: Vec<DecodeError>,
    /// `meta.next_token`: the next (older) page, if any.
    pub next_token: Option<String>,
}

/// Decodes a recent-search page: the same post objects, fields and expansions as the
/// stream, in a `data[]` array with shared `includes`.
pub fn decode_search_page(
    body: &[u8],
    observed_at: DateTime<Utc>,
) -> Result<SearchPage, DecodeError> {
    let page: SearchResponse = serde_json::from_slice(body)?;
    let mut decoded = SearchPage {
        next_token: page.meta.and_then(|meta| meta.next_token),
        ..SearchPage::default()
    };
    for value in page.data {
        let data = match TweetData::deserialize(value) {
            Ok(data) => data,
            Err(error) => {
                decoded.failures.push(DecodeError::Json(error));
                continue;
            }
        };
        let version = data.id.clone();
        match build_post(data, &page.includes, observed_at) {
            Ok((_, post)) => decoded.posts.push((version, post)),
            Err(error) => decoded.failures.push(error),
        }
    }
    Ok(decoded)
}

#[derive(Debug, Deserialize)]
struct SearchResponse {
    #[serde(default)]
    data: Vec<serde_json::Value>,
    #[serde(default)]
    includes: Includes,
    meta: Option<SearchMeta>,
}

#[derive(Debug, Deserialize)]
struct SearchMeta {
    next_token: Option<String>,
}

fn error_title(error: &serde_json::Value) -> String {
    for field in ["title", "detail", "message"] {
        if let Some(text) = error.get(field).and_then(serde_json::Value::as_str) {
            return text.to_owned();
        }
    }
    "untitled".to_owned()
}

fn build_post(
    data: TweetData,
    includes: &Includes,
    observed_at: DateTime<Utc>,
) -> Result<(String, Post), DecodeError> {
    if data.id.is_empty() {
        return Err(DecodeError::Invalid("post has an empty id"));
    }
    let key = match data.edit_history_tweet_ids.first() {
        Some(first) if !first.is_empty() => first.clone(),
        _ => data.id.clone(),
    };
    let change = if data.edit_history_tweet_ids.len() > 1 && data.id != key {
        Change::Edit
    } else {
        Change::New
    };

    let relation = relation_of(&data);
    let text = match &relation {
        // A repost's own text is truncated (`RT @x: …`): prefer the referenced post's.
        Relation::Repost { of } => included_text(includes, of).or_else(|| own_text(&data)),
        _ => own_text(&data),
    };
    let Some(text) = text else {
        return Err(DecodeError::Invalid("post has no text"));
    };

    let user = data
        .author_id
        .as_deref()
        .and_then(|author_id| includes.users.iter().find(|user| user.id == author_id));
    let username = user.and_then(|user| user.username.clone());
    let author = Author {
        id: data.author_id.clone().unwrap_or_default(),
        handle: username.clone(),
        name: user.and_then(|user| user.name.clone()),
        followers: user
            .and_then(|user| user.public_metrics.as_ref())
            .and_then(|metrics| metrics.followers_count),
        profile_url: username
            .as_ref()
            .map(|name| format!("https://x.com/{name}")),
        maven: MavenSignals::default(),
    };
    let url = match &username {
        Some(name) => format!("https://x.com/{name}/status/{}", data.id),
        None => format!("https://x.com/i/web/status/{}", data.id),
    };

    let created_at = match data.created_at.as_deref().map(DateTime::parse_from_rfc3339) {
        Some(Ok(at)) => at.with_timezone(&Utc),
        Some(Err(_)) | None => {
            tracing::debug!(id = %data.id, "x post without a valid created_at, using now");
            observed_at
        }
    };
    let lang = data
        .lang
        .as_deref()
        .map(str::trim)
        .filter(|lang| !lang.is_empty() && *lang != "und")
        .map(str::to_owned);
    let engagement = data
        .public_metrics
        .as_ref()
        .map(|metrics| Engagement {
            likes: metrics.like_count,
            reposts: metrics.retweet_count,
            replies: metrics.reply_count,
            quotes: metrics.quote_count,
            views: metrics.impression_count,
        })
        .unwrap_or_default();

    let post = Post {
        id: PostId::new(SourceKind::X, &key),
        source: SourceKind::X,
        url: Some(url),
        text,
        lang,
        created_at,
        observed_at,
        author,
        relation,
        engagement,
        change,
    };
    Ok((key, post))
}

fn own_text(data: &TweetData) -> Option<String> {
    let note = data.note_tweet.as_ref().and_then(|note| note.text.clone());
    note.filter(|text| !text.is_empty())
        .or_else(|| data.text.clone())
}

fn included_text(includes: &Includes, id: &str) -> Option<String> {
    let tweet = includes.tweets.iter().find(|tweet| tweet.id == id)?;
    let note = tweet.note_tweet.as_ref().and_then(|note| note.text.clone());
    note.filter(|text| !text.is_empty())
        .or_else(|| tweet.text.clone())
}

/// Repost wins over reply, and reply over quote (a quoting reply is threaded as a reply).
fn relation_of(data: &TweetData) -> Relation {
    let referenced = |kind: &str| {
        data.referenced_tweets
            .iter()
            .find(|reference| reference.kind == kind)
            .map(|reference| reference.id.clone())
    };
    if let Some(of) = referenced("retweeted") {
        return Relation::Repost { of };
    }
    if let Some(parent) = referenced("replied_to") {
        return Relation::Reply {
            parent: Some(parent),
        };
    }
    if let Some(of) = referenced("quoted") {
        return Relation::Quote { of };
    }
    if data.in_reply_to_user_id.is_some() {
        return Relation::Reply { parent: None };
    }
    Relation::Original
}

// Wire types. Every field X may omit is optional; both the wire names and the newer
// OpenAPI spellings are accepted.

#[derive(Debug, Deserialize)]
struct StreamMessage {
    data: Option<TweetData>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct TweetData {
    id: String,
    text: Option<String>,
    author_id: Option<String>,
    created_at: Option<String>,
    lang: Option<String>,
    #[serde(default)]
    edit_history_tweet_ids: Vec<String>,
    note_tweet: Option<NoteTweet>,
    #[serde(default, alias = "referenced_posts")]
    referenced_tweets: Vec<ReferencedTweet>,
    in_reply_to_user_id: Option<String>,
    public_metrics: Option<TweetMetrics>,
}

#[derive(Debug, Deserialize)]
struct NoteTweet {
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReferencedTweet {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Deserialize)]
struct TweetMetrics {
    #[serde(alias = "repost_count")]
    retweet_count: Option<u64>,
    reply_count: Option<u64>,
    like_count: Option<u64>,
    quote_count: Option<u64>,
    impression_count: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Includes {
    #[serde(default)]
    users: Vec<User>,
    #[serde(default, alias = "posts")]
    tweets: Vec<IncludedTweet>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    name: Option<String>,
    public_metrics: Option<UserMetrics>,
}

#[derive(Debug, Deserialize)]
struct UserMetrics {
    followers_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct IncludedTweet {
    id: String,
    text: Option<String>,
    note_tweet: Option<NoteTweet>,
}

#[cfg(test)]
#[path = "x_stream_tests.rs"]
mod tests;
