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
    /// A post; `key` is its stable key (first edit-history id).
    Post { key: String, post: Box<Post> },
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
    let (key, post) = build_post(data, &message.includes, observed_at)?;
    Ok(StreamItem::Post {
        key,
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
            Ok(StreamItem::Post { key, post }) => decoded.posts.push(DecodedPost {
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
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const POST: &str = r#"{"data":{"id":"1993000000000000001","text":"Lumio down again #lumiofail","author_id":"44","created_at":"2026-11-20T10:15:02.000Z","lang":"en","edit_history_tweet_ids":["1993000000000000001"],"public_metrics":{"retweet_count":2,"reply_count":1,"like_count":7,"quote_count":0,"impression_count":300}},"includes":{"users":[{"id":"44","username":"jane","name":"Jane D","public_metrics":{"followers_count":1830}}]},"matching_rules":[{"id":"1","tag":"brand:lumio"}]}"#;

    fn post_of(item: StreamItem) -> (String, Post) {
        match item {
            StreamItem::Post { key, post } => (key, *post),
            other => panic!("expected a post, got {other:?}"),
        }
    }

    #[test]
    fn decodes_a_post_with_its_author() {
        let (key, post) = post_of(decode_line(POST.as_bytes(), now()).unwrap());
        assert_eq!(key, "1993000000000000001");
        assert_eq!(post.id.as_str(), "x:1993000000000000001");
        assert_eq!(post.text, "Lumio down again #lumiofail");
        assert_eq!(post.lang.as_deref(), Some("en"));
        assert_eq!(post.author.handle.as_deref(), Some("jane"));
        assert_eq!(post.author.followers, Some(1830));
        assert_eq!(
            post.author.profile_url.as_deref(),
            Some("https://x.com/jane")
        );
        assert_eq!(
            post.url.as_deref(),
            Some("https://x.com/jane/status/1993000000000000001")
        );
        assert_eq!(post.created_at.to_rfc3339(), "2026-11-20T10:15:02+00:00");
        assert_eq!(post.observed_at, now());
        assert_eq!(post.engagement.likes, Some(7));
        assert_eq!(post.engagement.views, Some(300));
        assert_eq!(post.change, Change::New);
        assert_eq!(post.relation, Relation::Original);
    }

    #[test]
    fn keep_alives_are_not_errors() {
        for line in [&b""[..], b"   ", b"\t"] {
            assert_eq!(decode_line(line, now()).unwrap(), StreamItem::KeepAlive);
        }
        let stream = format!("\r\n{POST}\r\n\r\n\r\n");
        let decoded = decode_stream("x/s.jsonl", &stream, now());
        assert_eq!(decoded.posts.len(), 1);
        assert_eq!(decoded.posts[0].line, 2);
        assert!(decoded.failures.is_empty());
    }

    #[test]
    fn crlf_framing_with_split_and_joined_objects() {
        let stream = format!("{POST}\r\n\r\n{POST}\r\n");
        let whole = LineFramer::new().push(stream.as_bytes());
        assert_eq!(whole.len(), 3);
        assert!(whole.iter().all(|frame| !frame.bytes.ends_with(b"\r")));

        for split in [1, 7, POST.len(), POST.len() + 1, stream.len() - 1] {
            let mut framer = LineFramer::new();
            let mut frames = framer.push(&stream.as_bytes()[..split]);
            frames.extend(framer.push(&stream.as_bytes()[split..]));
            assert_eq!(frames, whole, "split at {split}");
        }
        let mut framer = LineFramer::new();
        let mut frames = Vec::new();
        for byte in stream.as_bytes() {
            frames.extend(framer.push(std::slice::from_ref(byte)));
        }
        assert_eq!(frames, whole);
        assert_eq!(framer.finish(), None);
    }

    #[test]
    fn unterminated_last_line_and_a_leading_bom_are_fine() {
        let stream = format!("\u{feff}{POST}\r\n{POST}");
        let decoded = decode_stream("x/s.jsonl", &stream, now());
        assert_eq!(decoded.posts.len(), 2);
        assert!(decoded.failures.is_empty());
    }

    #[test]
    fn malformed_line_is_a_failure_with_file_and_line() {
        let stream = format!("{POST}\r\n{{\"data\":{{\"id\":\"19\r\n\r\n{POST}\r\n");
        let decoded = decode_stream("x/s.jsonl", &stream, now());
        assert_eq!(decoded.posts.len(), 2);
        assert_eq!(decoded.failures.len(), 1);
        assert_eq!(decoded.failures[0].file, "x/s.jsonl");
        assert_eq!(decoded.failures[0].line, 2);
        assert!(matches!(decoded.failures[0].error, DecodeError::Json(_)));
    }

    #[test]
    fn numeric_ids_and_odd_shapes_are_failures_not_panics() {
        for line in [
            r#"{"data":{"id":1993000000000000001,"text":"x"}}"#,
            r#"{"data":{"id":"1","text":null,"author_id":"2"}}"#,
            r#"{"data":{"id":"","text":"x"}}"#,
            r#"{"matching_rules":[]}"#,
            r#"[1,2]"#,
            "\u{feff}",
            "nul\0l",
        ] {
            assert!(decode_line(line.as_bytes(), now()).is_err(), "{line}");
        }
        assert!(decode_line(&[0xff, 0xfe, b'{'], now()).is_err());
    }

    #[test]
    fn errors_objects_are_notices() {
        let line = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"x","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;
        assert_eq!(
            decode_line(line.as_bytes(), now()).unwrap(),
            StreamItem::Errors {
                titles: vec!["operational-disconnect".to_owned()]
            }
        );
        let decoded = decode_stream("x/s.jsonl", &format!("{line}\r\n{POST}\r\n"), now());
        assert_eq!(decoded.stream_errors, 1);
        assert_eq!(decoded.posts.len(), 1);
        assert!(decoded.failures.is_empty());

        // A post that carries errors next to data is still a post.
        let with_errors = POST.replacen('{', r#"{"errors":[{"title":"Not Found Error"}],"#, 1);
        assert!(matches!(
            decode_line(with_errors.as_bytes(), now()).unwrap(),
            StreamItem::Post { .. }
        ));
    }

    #[test]
    fn edits_are_keyed_by_first_edit_id() {
        let edited = r#"{"data":{"id":"1993000000000000009","text":"fixed typo","author_id":"44","created_at":"2026-11-20T10:20:00.000Z","edit_history_tweet_ids":["1993000000000000001","1993000000000000009"]}}"#;
        let (key, post) = post_of(decode_line(edited.as_bytes(), now()).unwrap());
        assert_eq!(key, "1993000000000000001");
        assert_eq!(post.id.as_str(), "x:1993000000000000001");
        assert_eq!(post.change, Change::Edit);
        // The link points at the version we saw; the author is unknown here.
        assert_eq!(
            post.url.as_deref(),
            Some("https://x.com/i/web/status/1993000000000000009")
        );
        // The first version of a post that was later edited is not an edit.
        let first = edited.replace(
            r#""id":"1993000000000000009""#,
            r#""id":"1993000000000000001""#,
        );
        let (_, post) = post_of(decode_line(first.as_bytes(), now()).unwrap());
        assert_eq!(post.change, Change::New);
    }

    #[test]
    fn note_tweet_text_wins() {
        let line = r#"{"data":{"id":"5","text":"Long story short…","note_tweet":{"text":"Long story short: the whole thing"},"lang":"und","created_at":"bad"}}"#;
        let (_, post) = post_of(decode_line(line.as_bytes(), now()).unwrap());
        assert_eq!(post.text, "Long story short: the whole thing");
        assert_eq!(post.lang, None);
        assert_eq!(post.created_at, now());
    }

    #[test]
    fn relations_and_repost_text() {
        let reply = r#"{"data":{"id":"6","text":"@lumio_help same","referenced_tweets":[{"type":"quoted","id":"3"},{"type":"replied_to","id":"4"}]}}"#;
        let (_, post) = post_of(decode_line(reply.as_bytes(), now()).unwrap());
        assert_eq!(
            post.relation,
            Relation::Reply {
                parent: Some("4".to_owned())
            }
        );
        let repost = r#"{"data":{"id":"7","text":"RT @jane: Lumio down ag…","referenced_posts":[{"type":"retweeted","id":"3"}]},"includes":{"posts":[{"id":"3","text":"Lumio down again, third time this week"}]}}"#;
        let (_, post) = post_of(decode_line(repost.as_bytes(), now()).unwrap());
        assert_eq!(post.relation, Relation::Repost { of: "3".to_owned() });
        assert_eq!(post.text, "Lumio down again, third time this week");
    }
}
