//! Reddit listing JSON (`{"kind":"Listing","data":{"after","children":[{"kind","data"}]}}`)
//! → posts. `t3` links give `title` + `selftext`, `t1` comments their `body`; ids are
//! fullnames; times are float epoch seconds.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::post::{Author, Change, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};

/// One decoded listing page.
#[derive(Debug, Default)]
pub(super) struct Page {
    pub(super) children: Vec<Child>,
    pub(super) malformed: usize,
    pub(super) after: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Child {
    #[serde(rename = "name")]
    pub(super) fullname: String,
    title: Option<String>,
    selftext: Option<String>,
    body: Option<String>,
    author: Option<String>,
    author_fullname: Option<String>,
    pub(super) created_utc: f64,
    permalink: Option<String>,
    score: Option<i64>,
    num_comments: Option<u64>,
    parent_id: Option<String>,
}

/// Decodes a recorded listing: its posts in listing order, and the number of malformed
/// children.
pub fn decode_listing(
    body: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Post>, usize), serde_json::Error> {
    let listing: Value = serde_json::from_str(body)?;
    let page = Page::parse(&listing);
    let posts = page
        .children
        .into_iter()
        .map(|child| child.into_post(now))
        .collect();
    Ok((posts, page.malformed))
}

impl Page {
    pub(super) fn parse(listing: &Value) -> Page {
        let data = &listing["data"];
        let mut page = Page {
            after: data["after"].as_str().map(str::to_owned),
            ..Page::default()
        };
        for child in data["children"].as_array().into_iter().flatten() {
            let kind = child["kind"].as_str().unwrap_or("");
            match (kind, Child::deserialize(&child["data"])) {
                ("t1" | "t3", Ok(decoded)) if decoded.created_utc.is_finite() => {
                    page.children.push(decoded)
                }
                _ => page.malformed += 1,
            }
        }
        page
    }
}

impl Child {
    pub(super) fn post_id(&self) -> PostId {
        PostId::new(SourceKind::Reddit, &self.fullname)
    }

    pub(super) fn into_post(self, now: DateTime<Utc>) -> Post {
        let text = match (&self.title, &self.body) {
            (Some(title), _) => match self.selftext.as_deref().map(str::trim) {
                Some(selftext) if !selftext.is_empty() => format!("{title}\n{selftext}"),
                _ => title.clone(),
            },
            (None, Some(body)) => body.clone(),
            (None, None) => String::new(),
        };
        let seconds = self.created_utc.trunc() as i64;
        let nanos = (self.created_utc.fract() * 1e9) as u32;
        let created_at = DateTime::from_timestamp(seconds, nanos).unwrap_or(now);
        let author = self
            .author
            .clone()
            .unwrap_or_else(|| "[deleted]".to_owned());
        let relation = match &self.parent_id {
            Some(parent) if self.fullname.starts_with("t1_") => Relation::Reply {
                parent: Some(parent.clone()),
            },
            _ => Relation::Original,
        };
        Post {
            id: self.post_id(),
            source: SourceKind::Reddit,
            url: self
                .permalink
                .as_ref()
                .map(|permalink| format!("https://www.reddit.com{permalink}")),
            text,
            lang: None,
            created_at,
            observed_at: now,
            author: Author {
                id: self
                    .author_fullname
                    .clone()
                    .unwrap_or_else(|| author.clone()),
                profile_url: Some(format!("https://www.reddit.com/user/{author}")),
                handle: Some(author),
                name: None,
                followers: None,
                maven: MavenSignals::default(),
            },
            relation,
            engagement: Engagement {
                likes: self.score.and_then(|score| u64::try_from(score).ok()),
                replies: self.num_comments,
                ..Engagement::default()
            },
            change: Change::New,
        }
    }
}
