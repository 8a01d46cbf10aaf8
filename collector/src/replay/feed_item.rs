//! One feed item or entry, as the feed parser collected it, → a [`Post`].
//!
//! Promises: the key is the guid / Atom id, else the link, else a hash of title + date
//! (stable across builds; never of the content), prefixed by the feed's namespace; text is
//! title and body joined by a newline; a missing or malformed date falls back to the time the
//! item was observed (with a debug log); the author is the item's, else the feed's, else the
//! feed's title, and is always flagged as a blog author.

use chrono::{DateTime, Utc};

use super::DecodeError;
use crate::post::{Author, Change, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};

/// What the feed says about itself.
#[derive(Debug, Default)]
pub(super) struct Feed {
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) self_link: Option<String>,
    pub(super) lang: Option<String>,
    pub(super) author: Option<String>,
}

/// One RSS item or Atom entry, as the parser collected it (text already plain).
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// 1-based line where the item starts.
    pub(super) line: usize,
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) guid: Option<String>,
    pub(super) guid_is_permalink: bool,
    pub(super) body: Option<String>,
    pub(super) content: Option<String>,
    pub(super) author_name: Option<String>,
    pub(super) author_uri: Option<String>,
    pub(super) published: Option<String>,
    pub(super) updated: Option<String>,
    pub(super) lang: Option<String>,
    pub(super) in_reply_to: Option<String>,
    pub(super) comments: Option<u64>,
}

/// Turns a collected item into a post keyed `<namespace>#<item key>`.
pub(super) fn build_post(
    entry: Entry,
    feed: &Feed,
    namespace: &str,
    observed_at: DateTime<Utc>,
) -> Result<(String, Post), DecodeError> {
    let date_text = entry.published.as_deref().or(entry.updated.as_deref());
    let item_key = match (&entry.guid, &entry.link, &entry.title) {
        (Some(guid), _, _) => guid.clone(),
        (None, Some(link), _) => link.clone(),
        (None, None, Some(title)) => {
            format!(
                "h{:016x}",
                fnv1a(&format!("{title}\n{}", date_text.unwrap_or("")))
            )
        }
        (None, None, None) => return Err(DecodeError::Invalid("item has no id, link or title")),
    };
    let key = format!("{namespace}#{item_key}");

    let body = entry.content.or(entry.body);
    let parts: Vec<&str> = [entry.title.as_deref(), body.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        return Err(DecodeError::Invalid("item has no text"));
    }
    let text = parts.join("\n");

    let created_at = [entry.published.as_deref(), entry.updated.as_deref()]
        .into_iter()
        .flatten()
        .find_map(parse_date);
    let created_at = created_at.unwrap_or_else(|| {
        tracing::debug!(key = %key, date = ?date_text, "feed item without a valid date, using now");
        observed_at
    });

    let url = entry.link.or_else(|| {
        let guid = entry.guid.as_deref()?;
        let is_url = guid.starts_with("http://") || guid.starts_with("https://");
        (entry.guid_is_permalink && is_url).then(|| guid.to_owned())
    });
    let author_name = entry
        .author_name
        .or_else(|| feed.author.clone())
        .or_else(|| feed.title.clone())
        .unwrap_or_else(|| namespace.to_owned());
    let author = Author {
        id: author_name.clone(),
        handle: None,
        name: Some(author_name),
        followers: None,
        profile_url: entry.author_uri,
        maven: MavenSignals {
            blog_author: true,
            ..MavenSignals::default()
        },
    };
    let relation = match entry.in_reply_to {
        Some(parent) => Relation::Reply {
            parent: Some(parent),
        },
        None => Relation::Original,
    };
    let post = Post {
        id: PostId::new(SourceKind::Feed, &key),
        source: SourceKind::Feed,
        url,
        text,
        lang: entry.lang.or_else(|| feed.lang.clone()),
        created_at,
        observed_at,
        author,
        relation,
        engagement: Engagement {
            replies: entry.comments,
            ..Engagement::default()
        },
        change: Change::New,
    };
    Ok((key, post))
}

/// `jane@example.com (Jane Doe)` → `Jane Doe`; `Jane <jane@x>` → `Jane`; a bare address →
/// its local part (the address itself is personal data we do not need).
pub(super) fn name_of_email_form(raw: &str) -> Option<String> {
    if let (Some(open), Some(close)) = (raw.find('('), raw.rfind(')'))
        && open < close
    {
        let name = raw[open + 1..close].trim();
        if !name.is_empty() {
            return Some(name.to_owned());
        }
    }
    let without_address = match raw.find('<') {
        Some(open) => raw[..open].trim(),
        None => raw.trim(),
    };
    let name = match without_address.split_once('@') {
        Some((local, _)) => local.trim(),
        None => without_address,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// RFC 2822 (RSS) or RFC 3339 (Atom), whichever the feed actually used.
fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    let parsed = DateTime::parse_from_rfc2822(raw).or_else(|_| DateTime::parse_from_rfc3339(raw));
    parsed.ok().map(|at| at.with_timezone(&Utc))
}

/// FNV-1a: a tiny hash that is stable across builds and Rust versions.
pub(super) fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_email_forms() {
        assert_eq!(
            name_of_email_form("a@b.example (Ann B)").as_deref(),
            Some("Ann B")
        );
        assert_eq!(
            name_of_email_form("Ann B <a@b.example>").as_deref(),
            Some("Ann B")
        );
        assert_eq!(name_of_email_form("ann@b.example").as_deref(), Some("ann"));
        assert_eq!(name_of_email_form("()"), Some("()".to_owned()));
    }

    #[test]
    fn title_date_hash_is_stable() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
