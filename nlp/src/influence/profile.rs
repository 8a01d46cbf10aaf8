//! Authors: what one post tells about its author ([`Observation`]), how authors are keyed
//! and linked across sources ([`author_key`], [`identities`]), the two per-post weights
//! ([`reach_weight`], [`expertise_weight`]) and the exact [`Profile`] kept for candidates.
//!
//! An author is keyed by source and source-scoped id. Two keys are the same person only
//! when a handle or profile URL says so: the handle `@tom` on X and a blog author whose
//! profile URL is `https://x.com/tom` share the identity `x/tom`. Links are only kept for
//! candidates (authors with a profile), so they cost no memory for the long tail.

use collector::{Post, Relation, SourceKind};
use serde::{Deserialize, Serialize};

/// A post from this many characters on is a long post (an expertise signal).
pub const LONG_POST_CHARS: usize = 600;

/// Longest text kept for a handle or a name, and for a profile URL, in characters.
const MAX_NAME_CHARS: usize = 64;
const MAX_URL_CHARS: usize = 160;

/// What one post tells about its author, borrowed from the post.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'post> {
    pub source: SourceKind,
    pub author_id: &'post str,
    pub handle: Option<&'post str>,
    pub name: Option<&'post str>,
    pub profile_url: Option<&'post str>,
    /// Followers or subscribers, when the source says.
    pub followers: Option<u64>,
    /// Likes, reposts, replies and quotes the post had received.
    pub engagement: u64,
    /// Forum trust level (0-4), when the source says.
    pub trust_level: Option<u8>,
    /// Posts the author has written on the site, when the source says.
    pub forum_posts: Option<u64>,
    pub blog_author: bool,
    /// Length of the text, in characters (counted up to [`LONG_POST_CHARS`]).
    pub text_chars: usize,
    /// The post answers another one.
    pub answering: bool,
    /// Unix seconds of the post.
    pub at: i64,
}

impl<'post> Observation<'post> {
    /// What `post` tells about its author. Its time is when it was written, or when veille
    /// received it if the source claims a later time.
    pub fn of(post: &'post Post) -> Observation<'post> {
        let author = &post.author;
        let engagement = &post.engagement;
        let engagement = [
            engagement.likes,
            engagement.reposts,
            engagement.replies,
            engagement.quotes,
        ]
        .into_iter()
        .flatten()
        .fold(0u64, u64::saturating_add);
        let at = post.created_at.min(post.observed_at).timestamp();
        Observation {
            source: post.source,
            author_id: &author.id,
            handle: author.handle.as_deref(),
            name: author.name.as_deref(),
            profile_url: author.profile_url.as_deref(),
            followers: author.followers,
            engagement,
            trust_level: author.maven.trust_level,
            forum_posts: author.maven.post_count,
            blog_author: author.maven.blog_author,
            text_chars: post.text.chars().take(LONG_POST_CHARS).count(),
            answering: matches!(post.relation, Relation::Reply { .. }),
            at,
        }
    }
}

/// The estimated impressions of one post: the author's reach plus the engagement the post
/// received. Never lower with more followers.
pub fn reach_weight(observation: &Observation<'_>) -> f64 {
    let followers = observation.followers.unwrap_or(0);
    followers.saturating_add(observation.engagement) as f64
}

/// The weight of one brand-relevant post as maven material: 1, plus up to 1 for the forum
/// trust level (0.25 a level), up to 0.5 for the author's forum post count (log scale,
/// full at 10,000 posts), 1 for a blog author, 0.5 for a long post and 0.5 for an answer.
pub fn expertise_weight(observation: &Observation<'_>) -> f64 {
    let mut weight = 1.0;
    if let Some(level) = observation.trust_level {
        weight += f64::from(level.min(4)) * 0.25;
    }
    if let Some(posts) = observation.forum_posts {
        weight += 0.5 * ((posts as f64 + 1.0).log10() / 4.0).min(1.0);
    }
    if observation.blog_author {
        weight += 1.0;
    }
    if observation.text_chars >= LONG_POST_CHARS {
        weight += 0.5;
    }
    if observation.answering {
        weight += 0.5;
    }
    weight
}

/// FNV-1a over a tag and a text, ASCII letters lowercased: a stable 64-bit hash (the same
/// in every version, so saved keys stay valid).
fn stable_hash(tag: &str, text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in tag.bytes().chain([0xff]).chain(text.bytes()) {
        hash ^= u64::from(byte.to_ascii_lowercase());
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The key of an author: source and source-scoped id (ids are compared as written).
pub fn author_key(source: SourceKind, author_id: &str) -> u64 {
    // Ids are case-sensitive on some sources: hash them with their case.
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in source
        .as_str()
        .bytes()
        .chain([0xfe])
        .chain(author_id.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The identities that link an author across sources: its own handle on its source, and
/// the account its profile URL names. Each is a stable hash of `platform/handle`.
pub fn identities(
    source: SourceKind,
    handle: Option<&str>,
    profile_url: Option<&str>,
) -> [Option<u64>; 2] {
    let own = handle
        .map(|handle| handle.trim_start_matches('@'))
        .filter(|handle| !handle.is_empty())
        .map(|handle| stable_hash(source.as_str(), handle));
    let linked = profile_url.and_then(url_identity);
    [own, linked]
}

/// The account a profile URL names: `x.com/tom` → `x/tom`, `bsky.app/profile/a.b` →
/// `bluesky/a.b`, `reddit.com/user/tom` → `reddit/tom`, `host/@tom` → `mastodon/tom@host`;
/// any other URL is its own identity (`web/host/path`).
fn url_identity(url: &str) -> Option<u64> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host
        .trim_start_matches("www.")
        .trim_start_matches("mobile.");
    let mut segments = path.split('/').filter(|segment| !segment.is_empty());
    let first = segments.next();
    let second = segments.next();
    if host.is_empty() {
        return None;
    }
    let host_is = |name: &str| host.eq_ignore_ascii_case(name);
    match (first, second) {
        (Some(handle), _) if host_is("x.com") || host_is("twitter.com") => {
            Some(stable_hash("x", handle))
        }
        (Some("profile"), Some(handle)) if host_is("bsky.app") => {
            Some(stable_hash("bluesky", handle))
        }
        (Some("user" | "u"), Some(handle)) if host_is("reddit.com") => {
            Some(stable_hash("reddit", handle))
        }
        (Some(segment), None) if segment.starts_with('@') && segment.len() > 1 => {
            let account = format!("{}@{host}", &segment[1..]);
            Some(stable_hash("mastodon", &account))
        }
        _ => Some(stable_hash("web", rest.trim_end_matches('/'))),
    }
}

/// `text` cut to at most `max_chars` characters.
fn bounded_str(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

fn bounded(text: &str, max_chars: usize) -> Box<str> {
    bounded_str(text, max_chars).into()
}

/// Stores `value` (cut) in `slot` when it is given and differs; true when it changed.
fn keep(slot: &mut Option<Box<str>>, value: Option<&str>, max_chars: usize) -> bool {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return false;
    };
    let value = bounded_str(value, max_chars);
    if slot.as_deref() == Some(value) {
        return false;
    }
    *slot = Some(value.into());
    true
}

/// The exact profile of a candidate author (for one brand). Values named `*_stored` are
/// forward-decayed (see [`super::window::Decay`]); the others are plain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub source: SourceKind,
    pub id: Box<str>,
    pub handle: Option<Box<str>>,
    pub name: Option<Box<str>>,
    pub profile_url: Option<Box<str>>,
    /// The latest reach the sources gave.
    pub followers: u64,
    /// Posts about the brand since the author became a candidate.
    pub posts_seen: u64,
    pub posts_stored: f64,
    pub impressions_stored: f64,
    pub engagement_stored: f64,
    pub expertise_stored: f64,
    pub trust_level: Option<u8>,
    pub forum_posts: Option<u64>,
    pub blog_author: bool,
    pub long_posts: u64,
    pub answers: u64,
    /// Unix seconds of the first and last post seen.
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Profile {
    /// A profile with no activity yet.
    pub fn new(observation: &Observation<'_>) -> Profile {
        Profile {
            source: observation.source,
            id: bounded(observation.author_id, MAX_URL_CHARS),
            handle: None,
            name: None,
            profile_url: None,
            followers: 0,
            posts_seen: 0,
            posts_stored: 0.0,
            impressions_stored: 0.0,
            engagement_stored: 0.0,
            expertise_stored: 0.0,
            trust_level: None,
            forum_posts: None,
            blog_author: false,
            long_posts: 0,
            answers: 0,
            first_seen: observation.at,
            last_seen: observation.at,
        }
    }

    /// Adds one post, whose decay factor is `stored_unit` (the stored value of a weight 1).
    /// Returns true when the handle or the profile URL changed (the links must follow).
    pub fn record(&mut self, observation: &Observation<'_>, stored_unit: f64) -> bool {
        let handle_changed = keep(&mut self.handle, observation.handle, MAX_NAME_CHARS);
        keep(&mut self.name, observation.name, MAX_NAME_CHARS);
        let url_changed = keep(
            &mut self.profile_url,
            observation.profile_url,
            MAX_URL_CHARS,
        );
        if let Some(followers) = observation.followers {
            self.followers = followers;
        }
        self.posts_seen += 1;
        self.posts_stored += stored_unit;
        self.impressions_stored += reach_weight(observation) * stored_unit;
        self.engagement_stored += observation.engagement as f64 * stored_unit;
        self.expertise_stored += expertise_weight(observation) * stored_unit;
        if observation.trust_level.is_some() {
            self.trust_level = observation.trust_level;
        }
        if observation.forum_posts.is_some() {
            self.forum_posts = observation.forum_posts;
        }
        self.blog_author |= observation.blog_author;
        if observation.text_chars >= LONG_POST_CHARS {
            self.long_posts += 1;
        }
        if observation.answering {
            self.answers += 1;
        }
        self.first_seen = self.first_seen.min(observation.at);
        self.last_seen = self.last_seen.max(observation.at);
        handle_changed || url_changed
    }

    /// Multiplies the decayed values by `factor` (when the decay landmark moves).
    pub fn scale(&mut self, factor: f64) {
        self.posts_stored *= factor;
        self.impressions_stored *= factor;
        self.engagement_stored *= factor;
        self.expertise_stored *= factor;
    }

    /// The identities that link this author (see [`identities`]).
    pub fn identities(&self) -> [Option<u64>; 2] {
        identities(
            self.source,
            self.handle.as_deref(),
            self.profile_url.as_deref(),
        )
    }

    /// The current identities when `observation` would change them (it names another
    /// handle or profile URL), else none: spares hashing on the hot path.
    pub fn identities_if(&self, observation: &Observation<'_>) -> [Option<u64>; 2] {
        let differs = |slot: &Option<Box<str>>, value: Option<&str>, max: usize| {
            value.is_some_and(|value| {
                !value.is_empty() && slot.as_deref() != Some(bounded_str(value, max))
            })
        };
        let handle_differs = differs(&self.handle, observation.handle, MAX_NAME_CHARS);
        let url_differs = differs(&self.profile_url, observation.profile_url, MAX_URL_CHARS);
        if handle_differs || url_differs {
            self.identities()
        } else {
            [None, None]
        }
    }

    /// What the profile is shown as: `@handle`, else the name, else the id.
    pub fn display_name(&self) -> String {
        match (&self.handle, &self.name) {
            (Some(handle), _) if handle.starts_with('@') => handle.to_string(),
            (Some(handle), _) => format!("@{handle}"),
            (None, Some(name)) => name.to_string(),
            (None, None) => self.id.to_string(),
        }
    }

    /// Bytes the profile holds on the heap (its texts).
    pub fn heap_bytes(&self) -> usize {
        let text = |slot: &Option<Box<str>>| slot.as_ref().map_or(0, |text| text.len());
        self.id.len() + text(&self.handle) + text(&self.name) + text(&self.profile_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(followers: Option<u64>) -> Observation<'static> {
        Observation {
            source: SourceKind::X,
            author_id: "42",
            handle: Some("Tom"),
            name: None,
            profile_url: None,
            followers,
            engagement: 7,
            trust_level: None,
            forum_posts: None,
            blog_author: false,
            text_chars: 10,
            answering: false,
            at: 0,
        }
    }

    #[test]
    fn weights() {
        assert_eq!(reach_weight(&observation(Some(100))), 107.0);
        assert_eq!(reach_weight(&observation(None)), 7.0);
        assert_eq!(expertise_weight(&observation(None)), 1.0);
        let expert = Observation {
            trust_level: Some(4),
            forum_posts: Some(9_999),
            blog_author: true,
            text_chars: LONG_POST_CHARS,
            answering: true,
            ..observation(None)
        };
        assert!((expertise_weight(&expert) - 4.5).abs() < 1e-9);
    }

    #[test]
    fn handles_and_profile_urls_link_sources() {
        let [own, _] = identities(SourceKind::X, Some("@Tom"), None);
        let [_, from_url] = identities(SourceKind::Feed, None, Some("https://x.com/tom?s=1"));
        assert!(own.is_some());
        assert_eq!(own, from_url, "the same X account");
        let [_, mastodon] = identities(SourceKind::Feed, None, Some("https://eu.social/@tom"));
        let [own_mastodon, _] = identities(SourceKind::Mastodon, Some("tom@eu.social"), None);
        assert_eq!(mastodon, own_mastodon);
        let [_, blog_a] = identities(SourceKind::Feed, None, Some("https://blog.example/me/"));
        let [_, blog_b] = identities(SourceKind::Feed, None, Some("http://blog.example/me"));
        assert_eq!(blog_a, blog_b);
        assert_ne!(blog_a, from_url);
        assert_eq!(
            identities(SourceKind::X, Some("@"), Some("ftp://a")),
            [None, None]
        );
        assert_ne!(
            author_key(SourceKind::X, "Tom"),
            author_key(SourceKind::X, "tom")
        );
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "é".repeat(500);
        let post = Observation {
            handle: Some(&long),
            ..observation(Some(1))
        };
        let mut profile = Profile::new(&post);
        profile.record(&post, 1.0);
        assert_eq!(
            profile.handle.as_deref().map(str::len),
            Some(2 * MAX_NAME_CHARS)
        );
        assert_eq!(profile.display_name().chars().count(), MAX_NAME_CHARS + 1);
    }
}
