//! Jetstream v1 event lines (`{"did","time_us","kind","commit"|"identity"|"account"}`) →
//! [`Event`]s. Shared by the live collector and recorded `bluesky/*.jsonl` files.
//!
//! Promises: `app.bsky.feed.post` creates and updates become posts keyed by their AT-URI
//! (updates are [`Change::Edit`]); deletes become tombstones for that AT-URI; `identity`
//! events carry the new handle; anything else is [`Event::Other`] with its `time_us`; a
//! malformed line is a [`DecodeError`], never a panic.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::post::{Author, Change, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};
use crate::replay::DecodeError;

pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// What one Jetstream event means to us.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A post created or edited; `dedup` is `did/collection/rkey/cid`; `terms` the text,
    /// tags and links to match brands against.
    Post {
        time_us: i64,
        dedup: String,
        did: String,
        terms: Vec<String>,
        post: Box<Post>,
    },
    Delete {
        time_us: i64,
        post: Box<Post>,
    },
    Identity {
        time_us: i64,
        did: String,
        handle: Option<String>,
    },
    Other {
        time_us: i64,
    },
}

impl Event {
    pub fn time_us(&self) -> i64 {
        match self {
            Event::Post { time_us, .. }
            | Event::Delete { time_us, .. }
            | Event::Identity { time_us, .. }
            | Event::Other { time_us } => *time_us,
        }
    }
}

#[derive(Debug, Deserialize)]
struct WireEvent {
    did: String,
    time_us: i64,
    kind: String,
    commit: Option<Commit>,
    identity: Option<Identity>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    cid: Option<String>,
    /// Any collection's record; read as a post's only for `app.bsky.feed.post`.
    record: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Identity {
    handle: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    text: String,
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
    reply: Option<Reply>,
    embed: Option<serde_json::Value>,
    #[serde(default)]
    facets: Vec<serde_json::Value>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    parent: Option<StrongRef>,
}

#[derive(Debug, Deserialize)]
struct StrongRef {
    uri: String,
}

/// The AT-URI of a post.
pub fn at_uri(did: &str, rkey: &str) -> String {
    format!("at://{did}/{POST_COLLECTION}/{rkey}")
}

/// Decodes one event line.
pub fn decode_event(line: &[u8], observed_at: DateTime<Utc>) -> Result<Event, DecodeError> {
    let event: WireEvent = serde_json::from_slice(line)?;
    let time_us = event.time_us;
    if event.kind == "identity" {
        let handle = event.identity.and_then(|identity| identity.handle);
        return Ok(Event::Identity {
            time_us,
            did: event.did,
            handle,
        });
    }
    let Some(commit) = event
        .commit
        .filter(|commit| event.kind == "commit" && commit.collection == POST_COLLECTION)
    else {
        return Ok(Event::Other { time_us });
    };
    let uri = at_uri(&event.did, &commit.rkey);
    let id = PostId::new(SourceKind::Bluesky, &uri);
    let ingested = DateTime::from_timestamp_micros(time_us).unwrap_or(observed_at);
    if commit.operation == "delete" {
        return Ok(Event::Delete {
            time_us,
            post: Box::new(Post::deletion(id, SourceKind::Bluesky, ingested)),
        });
    }
    let change = match commit.operation.as_str() {
        "create" => Change::New,
        "update" => Change::Edit,
        _ => return Err(DecodeError::Invalid("unknown commit operation")),
    };
    let Some(record) = commit.record else {
        return Err(DecodeError::Invalid("post commit without a record"));
    };
    let record = Record::deserialize(record)?;
    let mut terms = vec![record.text.clone()];
    terms.extend(record.tags.iter().cloned());
    for facet in &record.facets {
        for feature in facet["features"].as_array().into_iter().flatten() {
            for field in ["tag", "uri"] {
                if let Some(value) = feature[field].as_str() {
                    terms.push(value.to_owned());
                }
            }
        }
    }
    let created_at = record
        .created_at
        .as_deref()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map_or(ingested, |at| at.with_timezone(&Utc));
    let quoted = record.embed.as_ref().and_then(|embed| {
        embed
            .pointer("/record/uri")
            .or_else(|| embed.pointer("/record/record/uri"))?
            .as_str()
            .map(str::to_owned)
    });
    let relation = match (&record.reply, quoted) {
        (Some(reply), _) => Relation::Reply {
            parent: reply.parent.as_ref().map(|parent| parent.uri.clone()),
        },
        (None, Some(of)) => Relation::Quote { of },
        (None, None) => Relation::Original,
    };
    let post = Post {
        id,
        source: SourceKind::Bluesky,
        url: Some(format!(
            "https://bsky.app/profile/{}/post/{}",
            event.did, commit.rkey
        )),
        text: record.text,
        lang: record.langs.first().cloned(),
        created_at,
        observed_at,
        author: Author {
            id: event.did.clone(),
            handle: None,
            name: None,
            followers: None,
            profile_url: Some(format!("https://bsky.app/profile/{}", event.did)),
            maven: MavenSignals::default(),
        },
        relation,
        engagement: Engagement::default(),
        change,
    };
    Ok(Event::Post {
        time_us,
        dedup: format!(
            "{}/{}/{}/{}",
            event.did,
            POST_COLLECTION,
            commit.rkey,
            commit.cid.unwrap_or_default()
        ),
        did: event.did,
        terms,
        post: Box::new(post),
    })
}

/// Fills a post's author from a profile: handle (also in the URLs), name, followers.
pub fn apply_profile(
    post: &mut Post,
    handle: Option<&str>,
    name: Option<&str>,
    followers: Option<u64>,
) {
    if let Some(handle) = handle {
        post.author.handle = Some(handle.to_owned());
        post.author.profile_url = Some(format!("https://bsky.app/profile/{handle}"));
        if let Some(url) = &post.url
            && let Some(rkey) = url.rsplit('/').next()
        {
            post.url = Some(format!("https://bsky.app/profile/{handle}/post/{rkey}"));
        }
    }
    post.author.name = name
        .filter(|name| !name.trim().is_empty())
        .map(str::to_owned);
    post.author.followers = followers;
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"{"did":"did:plc:abcd","time_us":1790000000000001,"kind":"commit","commit":{"rev":"3l","operation":"create","collection":"app.bsky.feed.post","rkey":"3lj2","cid":"bafy1","record":{"$type":"app.bsky.feed.post","createdAt":"2026-11-20T10:15:01.902Z","langs":["en"],"text":"Switched our CI to Acme today","facets":[{"index":{"byteStart":0,"byteEnd":4},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"devops"}]}],"embed":{"$type":"app.bsky.embed.record","record":{"uri":"at://did:plc:zzz/app.bsky.feed.post/3lj1","cid":"b"}}}}}"#;

    #[test]
    fn a_create_is_a_post_keyed_by_its_at_uri() {
        let Event::Post {
            time_us,
            dedup,
            terms,
            post,
            ..
        } = decode_event(CREATE.as_bytes(), Utc::now()).unwrap()
        else {
            panic!("expected a post");
        };
        assert_eq!(time_us, 1_790_000_000_000_001);
        assert_eq!(dedup, "did:plc:abcd/app.bsky.feed.post/3lj2/bafy1");
        assert_eq!(
            post.id.as_str(),
            "bluesky:at://did:plc:abcd/app.bsky.feed.post/3lj2"
        );
        assert_eq!(
            post.url.as_deref(),
            Some("https://bsky.app/profile/did:plc:abcd/post/3lj2")
        );
        assert_eq!(post.lang.as_deref(), Some("en"));
        assert_eq!(
            post.relation,
            Relation::Quote {
                of: "at://did:plc:zzz/app.bsky.feed.post/3lj1".to_owned()
            }
        );
        assert!(terms.contains(&"devops".to_owned()));
    }

    #[test]
    fn deletes_identities_and_other_events() {
        let delete = r#"{"did":"did:plc:abcd","time_us":5,"kind":"commit","commit":{"rev":"3m","operation":"delete","collection":"app.bsky.feed.post","rkey":"3lj2"}}"#;
        let Event::Delete { post, .. } = decode_event(delete.as_bytes(), Utc::now()).unwrap()
        else {
            panic!("expected a delete");
        };
        assert_eq!(post.change, Change::Delete);
        assert_eq!(
            post.id.as_str(),
            "bluesky:at://did:plc:abcd/app.bsky.feed.post/3lj2"
        );
        let identity = r#"{"did":"did:plc:abcd","time_us":6,"kind":"identity","identity":{"did":"did:plc:abcd","handle":"ana.bsky.social","seq":1,"time":"2026-11-20T10:00:00Z"}}"#;
        assert_eq!(
            decode_event(identity.as_bytes(), Utc::now()).unwrap(),
            Event::Identity {
                time_us: 6,
                did: "did:plc:abcd".to_owned(),
                handle: Some("ana.bsky.social".to_owned())
            }
        );
        let like = r#"{"did":"did:plc:abcd","time_us":7,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.like","rkey":"x"}}"#;
        assert_eq!(
            decode_event(like.as_bytes(), Utc::now()).unwrap(),
            Event::Other { time_us: 7 }
        );
        assert!(decode_event(b"{\"did\":1}", Utc::now()).is_err());
        assert!(decode_event(b"not json", Utc::now()).is_err());
    }
}
