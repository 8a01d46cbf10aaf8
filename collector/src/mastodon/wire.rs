//! Mastodon statuses and streaming envelopes → posts. Shared by the live collector and
//! recorded `mastodon/*.jsonl` files.
//!
//! Promises: a streaming envelope's `payload` is parsed a second time (it is JSON in a
//! string) except for `delete`, whose payload is the bare status id; a status becomes a post
//! keyed by its `uri` (the same on every instance), its HTML `content` turned into text
//! (after any content warning); a boost is a repost of the boosted status, with its text;
//! authors who opted out of search (`indexable: false`, `noindex: true`) are flagged.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::post::{Author, Change, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};
use crate::replay::DecodeError;
use crate::replay::html::html_to_text;

/// One streaming event.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// `update` (new) or `status.update` (edit): the status and its stream name.
    Status {
        stream: String,
        status: Box<Status>,
        edit: bool,
    },
    /// `delete`: the instance-local id of the deleted status.
    Delete { id: String },
    /// Anything else (notifications, announcements, `filters_changed`...).
    Other,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    stream: Vec<String>,
    event: String,
    payload: Option<String>,
}

/// A status as the REST and streaming APIs send it (the fields veille reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Status {
    pub id: String,
    pub uri: String,
    pub url: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub language: Option<String>,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub spoiler_text: String,
    pub in_reply_to_id: Option<String>,
    pub reblog: Option<Box<Status>>,
    pub replies_count: Option<u64>,
    pub reblogs_count: Option<u64>,
    pub favourites_count: Option<u64>,
    pub account: Account,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub acct: String,
    pub display_name: Option<String>,
    pub url: Option<String>,
    pub followers_count: Option<u64>,
    pub indexable: Option<bool>,
    pub noindex: Option<bool>,
}

/// Decodes one streaming frame.
pub fn decode_stream_event(frame: &str) -> Result<StreamEvent, DecodeError> {
    let envelope: Envelope = serde_json::from_str(frame)?;
    let stream = envelope.stream.join(":");
    match envelope.event.as_str() {
        "update" | "status.update" => {
            let Some(payload) = envelope.payload else {
                return Err(DecodeError::Invalid("status event without a payload"));
            };
            let status: Status = serde_json::from_str(&payload)?;
            Ok(StreamEvent::Status {
                stream,
                status: Box::new(status),
                edit: envelope.event == "status.update",
            })
        }
        "delete" => match envelope.payload {
            Some(id) if !id.trim().is_empty() => Ok(StreamEvent::Delete {
                id: id.trim().to_owned(),
            }),
            _ => Err(DecodeError::Invalid("delete without a status id")),
        },
        _ => Ok(StreamEvent::Other),
    }
}

/// The post id of the status whose `uri` is `uri`.
pub fn post_id(uri: &str) -> PostId {
    PostId::new(SourceKind::Mastodon, uri)
}

impl Status {
    /// Whether the author asked not to be indexed.
    pub fn opted_out(&self) -> bool {
        let account = self
            .reblog
            .as_ref()
            .map_or(&self.account, |boosted| &boosted.account);
        account.indexable == Some(false) || account.noindex == Some(true)
    }

    /// The text to match brands against (of the boosted status for a boost).
    pub fn text(&self) -> String {
        let shown = self.reblog.as_deref().unwrap_or(self);
        let content = html_to_text(&shown.content);
        if shown.spoiler_text.trim().is_empty() {
            content
        } else {
            format!("{}\n{content}", shown.spoiler_text.trim())
        }
    }

    pub fn to_post(&self, edit: bool, observed_at: DateTime<Utc>) -> Post {
        let created_at = DateTime::parse_from_rfc3339(&self.created_at)
            .map_or(observed_at, |at| at.with_timezone(&Utc));
        let relation = match (&self.reblog, &self.in_reply_to_id) {
            (Some(boosted), _) => Relation::Repost {
                of: boosted.uri.clone(),
            },
            (None, Some(parent)) => Relation::Reply {
                parent: Some(parent.clone()),
            },
            (None, None) => Relation::Original,
        };
        let name = self
            .account
            .display_name
            .clone()
            .filter(|name| !name.trim().is_empty());
        Post {
            id: post_id(&self.uri),
            source: SourceKind::Mastodon,
            url: self.url.clone().or_else(|| Some(self.uri.clone())),
            text: self.text(),
            lang: self.language.clone().filter(|lang| !lang.is_empty()),
            created_at,
            observed_at,
            author: Author {
                id: self.account.acct.clone(),
                handle: Some(self.account.acct.clone()),
                name,
                followers: self.account.followers_count,
                profile_url: self.account.url.clone(),
                maven: MavenSignals::default(),
            },
            relation,
            engagement: Engagement {
                likes: self.favourites_count,
                reposts: self.reblogs_count,
                replies: self.replies_count,
                ..Engagement::default()
            },
            change: if edit || self.edited_at.is_some() {
                Change::Edit
            } else {
                Change::New
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATE: &str = r#"{"stream":["hashtag","acme"],"event":"update","payload":"{\"id\":\"113900000000000001\",\"uri\":\"https://social.example/users/ana/statuses/113899\",\"url\":\"https://social.example/@ana/113899\",\"created_at\":\"2026-11-20T10:15:03.000Z\",\"language\":\"en\",\"in_reply_to_id\":null,\"reblog\":null,\"content\":\"<p>Loving <a href=\\\"https://social.example/tags/acme\\\" class=\\\"mention hashtag\\\">#<span>acme</span></a> &amp; more</p>\",\"replies_count\":0,\"reblogs_count\":2,\"favourites_count\":5,\"account\":{\"id\":\"1099\",\"username\":\"ana\",\"acct\":\"ana@social.example\",\"display_name\":\"Ana\",\"followers_count\":412,\"indexable\":true}}"}"#;

    #[test]
    fn the_payload_is_parsed_twice_and_html_becomes_text() {
        let StreamEvent::Status {
            stream,
            status,
            edit,
        } = decode_stream_event(UPDATE).unwrap()
        else {
            panic!("expected a status");
        };
        assert_eq!(stream, "hashtag:acme");
        assert!(!edit);
        let post = status.to_post(false, Utc::now());
        assert_eq!(
            post.id.as_str(),
            "mastodon:https://social.example/users/ana/statuses/113899"
        );
        assert_eq!(post.text, "Loving #acme & more");
        assert_eq!(post.author.handle.as_deref(), Some("ana@social.example"));
        assert_eq!(post.author.followers, Some(412));
        assert_eq!(post.engagement.likes, Some(5));
    }

    #[test]
    fn deletes_carry_a_bare_id_and_other_events_are_ignored() {
        let delete = r#"{"stream":["public"],"event":"delete","payload":"113900000000000001"}"#;
        assert_eq!(
            decode_stream_event(delete).unwrap(),
            StreamEvent::Delete {
                id: "113900000000000001".to_owned()
            }
        );
        let filters = r#"{"stream":["user"],"event":"filters_changed"}"#;
        assert_eq!(decode_stream_event(filters).unwrap(), StreamEvent::Other);
        let bad = r#"{"stream":["public"],"event":"update","payload":"{not json"}"#;
        assert!(decode_stream_event(bad).is_err());
    }
}
