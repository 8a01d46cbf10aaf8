//! [`Post`]: the one normalised shape every source produces, whatever its wire format.
//!
//! A post is identified by [`PostId`] = `<source>:<stable key>` (X: the first
//! `edit_history_tweet_ids` entry; a feed item: its guid/id, else its link...), so an edit
//! or a re-delivery of the same post maps to the same id.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Stable identifier of a post: `<source>:<stable key>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostId(String);

impl PostId {
    /// Builds the id of the post whose source-scoped stable key is `key`.
    pub fn new(source: SourceKind, key: &str) -> Self {
        PostId(format!("{}:{key}", source.as_str()))
    }

    /// Wraps an id that is already in `<source>:<key>` form (read back from storage).
    pub fn from_raw(raw: impl Into<String>) -> Self {
        PostId(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The platform a post comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    X,
    Bluesky,
    Mastodon,
    Reddit,
    Discourse,
    Feed,
}

impl SourceKind {
    pub const ALL: [SourceKind; 6] = [
        SourceKind::X,
        SourceKind::Bluesky,
        SourceKind::Mastodon,
        SourceKind::Reddit,
        SourceKind::Discourse,
        SourceKind::Feed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::X => "x",
            SourceKind::Bluesky => "bluesky",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Reddit => "reddit",
            SourceKind::Discourse => "discourse",
            SourceKind::Feed => "feed",
        }
    }

    pub fn parse(name: &str) -> Option<SourceKind> {
        SourceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote a post, with what the source tells of their reach and expertise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Author {
    /// Source-scoped author id (X user id, feed author name...).
    pub id: String,
    pub handle: Option<String>,
    pub name: Option<String>,
    /// Followers or subscribers, when the source says.
    pub followers: Option<u64>,
    pub profile_url: Option<String>,
    #[serde(default)]
    pub maven: MavenSignals,
}

/// Expertise signals a source may carry (used to find mass mavens).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MavenSignals {
    /// Discourse trust level (0-4).
    pub trust_level: Option<u8>,
    /// Posts the author has written on the site, when the source says.
    pub post_count: Option<u64>,
    /// The author wrote a blog or feed entry.
    #[serde(default)]
    pub blog_author: bool,
}

/// How a post relates to others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Relation {
    #[default]
    Original,
    Reply {
        parent: Option<String>,
    },
    Quote {
        of: String,
    },
    Repost {
        of: String,
    },
}

/// Engagement the post had received when it was observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    pub likes: Option<u64>,
    pub reposts: Option<u64>,
    pub replies: Option<u64>,
    pub quotes: Option<u64>,
    pub views: Option<u64>,
}

/// Whether this post is new, replaces an earlier version, or removes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    #[default]
    New,
    Edit,
    Delete,
}

/// One normalised post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub id: PostId,
    pub source: SourceKind,
    /// Link to the original, when known.
    pub url: Option<String>,
    /// Plain text (HTML already turned into text by the source).
    pub text: String,
    /// Language the source claims (BCP 47), if any.
    pub lang: Option<String>,
    /// When the author posted it, as the source claims.
    pub created_at: DateTime<Utc>,
    /// When veille received it.
    pub observed_at: DateTime<Utc>,
    pub author: Author,
    #[serde(default)]
    pub relation: Relation,
    #[serde(default)]
    pub engagement: Engagement,
    #[serde(default)]
    pub change: Change,
}

impl Post {
    /// A tombstone for the post `id`: storage removes it.
    pub fn deletion(id: PostId, source: SourceKind, at: DateTime<Utc>) -> Post {
        Post {
            id,
            source,
            url: None,
            text: String::new(),
            lang: None,
            created_at: at,
            observed_at: at,
            author: Author::default(),
            relation: Relation::Original,
            engagement: Engagement::default(),
            change: Change::Delete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_id_is_scoped_by_source() {
        let id = PostId::new(SourceKind::X, "1893000000000000001");
        assert_eq!(id.as_str(), "x:1893000000000000001");
    }

    #[test]
    fn source_kind_round_trips_through_its_name() {
        for kind in SourceKind::ALL {
            assert_eq!(SourceKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(SourceKind::parse("myspace"), None);
    }
}
