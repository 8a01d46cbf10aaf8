//! Recorded files of the other sources, decoded by the live collectors' own decoders:
//! `bluesky/*.jsonl` (Jetstream event lines), `mastodon/*.jsonl` (streaming envelopes),
//! `reddit/*.json` (a listing), `discourse/<forum host>.json` (a `/posts.json` body).
//!
//! Promises: posts come out in the order the platform produced them (a Reddit listing,
//! newest first on the wire, is reversed); deletions and edits in the recording become
//! tombstones and edits; a malformed item is one [`DecodeFailure`] naming its line (JSON
//! documents: the item's position); nothing here panics on any input.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{DecodeError, DecodeFailure, DecodedFile, DecodedPost};
use crate::bluesky::wire::{Event, apply_profile, decode_event};
use crate::mastodon::wire::{StreamEvent, decode_stream_event, post_id};
use crate::post::{Post, SourceKind};

fn record(line: usize, post: Post) -> DecodedPost {
    let key = post
        .id
        .as_str()
        .split_once(':')
        .map_or_else(|| post.id.to_string(), |(_, key)| key.to_owned());
    DecodedPost { key, line, post }
}

fn failure(file: &str, line: usize, error: DecodeError) -> DecodeFailure {
    DecodeFailure {
        file: file.to_owned(),
        line,
        error,
    }
}

/// Non-blank lines with their 1-based numbers.
fn lines(contents: &str) -> impl Iterator<Item = (usize, &str)> {
    contents
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty())
}

/// Jetstream event lines; `identity` events name the authors of later posts.
pub(crate) fn decode_jetstream(
    file: &str,
    contents: &str,
    observed_at: DateTime<Utc>,
) -> DecodedFile {
    let mut decoded = DecodedFile::default();
    let mut handles: HashMap<String, String> = HashMap::new();
    for (line, text) in lines(contents) {
        match decode_event(text.as_bytes(), observed_at) {
            Ok(Event::Post { did, mut post, .. }) => {
                if let Some(handle) = handles.get(&did) {
                    apply_profile(&mut post, Some(handle), None, None);
                }
                decoded.posts.push(record(line, *post));
            }
            Ok(Event::Delete { post, .. }) => decoded.posts.push(record(line, *post)),
            Ok(Event::Identity {
                did,
                handle: Some(handle),
                ..
            }) => {
                handles.insert(did, handle);
            }
            Ok(Event::Identity { .. } | Event::Other { .. }) => {}
            Err(error) => decoded.failures.push(failure(file, line, error)),
        }
    }
    decoded
}

/// Mastodon streaming envelopes; a `delete` names a status seen earlier in the file.
pub(crate) fn decode_mastodon(
    file: &str,
    contents: &str,
    observed_at: DateTime<Utc>,
) -> DecodedFile {
    let mut decoded = DecodedFile::default();
    let mut uris: HashMap<String, String> = HashMap::new();
    for (line, text) in lines(contents) {
        match decode_stream_event(text) {
            Ok(StreamEvent::Status { status, edit, .. }) => {
                uris.insert(status.id.clone(), status.uri.clone());
                if !status.opted_out() {
                    decoded
                        .posts
                        .push(record(line, status.to_post(edit, observed_at)));
                }
            }
            Ok(StreamEvent::Delete { id }) => {
                if let Some(uri) = uris.get(&id) {
                    let deletion = Post::deletion(post_id(uri), SourceKind::Mastodon, observed_at);
                    decoded.posts.push(record(line, deletion));
                }
            }
            Ok(StreamEvent::Other) => {}
            Err(error) => decoded.failures.push(failure(file, line, error)),
        }
    }
    decoded
}

/// A Reddit listing, replayed oldest first.
pub(crate) fn decode_reddit(file: &str, contents: &str, observed_at: DateTime<Utc>) -> DecodedFile {
    let mut decoded = DecodedFile::default();
    match crate::reddit::wire::decode_listing(contents, observed_at) {
        Ok((mut posts, malformed)) => {
            posts.sort_by_key(|post| post.created_at);
            decoded.posts = posts
                .into_iter()
                .enumerate()
                .map(|(index, post)| record(index + 1, post))
                .collect();
            for position in 0..malformed {
                decoded.failures.push(failure(
                    file,
                    position + 1,
                    DecodeError::Invalid("malformed listing child"),
                ));
            }
        }
        Err(error) => decoded.failures.push(failure(file, 1, error.into())),
    }
    decoded
}

/// A Discourse `/posts.json` body of the forum named by the file (`discourse/<host>.json`).
pub(crate) fn decode_discourse(
    file: &str,
    contents: &str,
    observed_at: DateTime<Utc>,
) -> DecodedFile {
    let mut decoded = DecodedFile::default();
    let host = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".json");
    let base_url = format!("https://{host}");
    match crate::discourse::decode_latest_posts(&base_url, contents, observed_at) {
        Ok(posts) => {
            for (index, post) in posts.into_iter().enumerate() {
                match post {
                    Ok(post) => decoded.posts.push(record(index + 1, post)),
                    Err(error) => decoded.failures.push(failure(file, index + 1, error)),
                }
            }
        }
        Err(error) => decoded.failures.push(failure(file, 1, error)),
    }
    decoded
}
