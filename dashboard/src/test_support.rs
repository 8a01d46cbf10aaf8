//! Test helpers shared by the crate's unit tests: a builder of analysed posts.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use collector::{Author, Post, PostId, SourceKind};
use nlp::{AnalysedPost, Analysis, BrandMatch, Sentiment, SentimentLabel};

/// A fixed instant, for deterministic tests.
pub(crate) fn instant(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + seconds, 0)
        .single()
        .expect("valid timestamp")
}

/// Builds an [`AnalysedPost`] with neutral defaults: source `x`, language `en`, no brand,
/// no category, neutral sentiment, unknown followers.
pub(crate) struct PostBuilder {
    post: AnalysedPost,
}

impl PostBuilder {
    pub(crate) fn new(id: &str) -> PostBuilder {
        let post = Post {
            id: PostId::from_raw(id),
            source: SourceKind::X,
            url: None,
            text: format!("text of {id}"),
            lang: None,
            created_at: instant(0),
            observed_at: instant(1),
            author: Author {
                id: "author-1".to_owned(),
                ..Author::default()
            },
            relation: Default::default(),
            engagement: Default::default(),
            change: Default::default(),
        };
        let analysis = Analysis {
            language: "en".to_owned(),
            brands: Vec::new(),
            categories: BTreeMap::new(),
            sentiment: Sentiment {
                label: SentimentLabel::Neutral,
                score: 0.0,
            },
            intents: Vec::new(),
            privacy: Default::default(),
            influence: Vec::new(),
        };
        PostBuilder {
            post: AnalysedPost { post, analysis },
        }
    }

    pub(crate) fn source(mut self, source: SourceKind) -> Self {
        self.post.post.source = source;
        self
    }

    pub(crate) fn text(mut self, text: &str) -> Self {
        self.post.post.text = text.to_owned();
        self
    }

    pub(crate) fn author(mut self, handle: &str, name: &str) -> Self {
        self.post.post.author.handle = Some(handle.to_owned());
        self.post.post.author.name = Some(name.to_owned());
        self
    }

    pub(crate) fn url(mut self, url: &str) -> Self {
        self.post.post.url = Some(url.to_owned());
        self
    }

    pub(crate) fn followers(mut self, followers: u64) -> Self {
        self.post.post.author.followers = Some(followers);
        self
    }

    pub(crate) fn sentiment(mut self, label: SentimentLabel, score: f32) -> Self {
        self.post.analysis.sentiment = Sentiment { label, score };
        self
    }

    pub(crate) fn language(mut self, language: &str) -> Self {
        self.post.analysis.language = language.to_owned();
        self
    }

    pub(crate) fn brand(mut self, brand: &str) -> Self {
        self.post.analysis.brands.push(BrandMatch {
            brand: brand.to_owned(),
            matched: brand.to_lowercase(),
        });
        self
    }

    pub(crate) fn category(mut self, axis: &str, category: &str) -> Self {
        self.post
            .analysis
            .categories
            .entry(axis.to_owned())
            .or_default()
            .push(category.to_owned());
        self
    }

    pub(crate) fn intent(mut self, intent: &str) -> Self {
        self.post.analysis.intents.push(intent.to_owned());
        self
    }

    /// An influence badge: the author is a mass `kind` (`connector`, `maven`) of `brand`.
    pub(crate) fn badge(mut self, kind: &str, brand: &str) -> Self {
        self.post.analysis.influence.push(nlp::InfluenceBadge {
            kind: kind.to_owned(),
            explanation: format!("top 1% by {kind}"),
            brand: brand.to_owned(),
            rank: 1,
            score: 1,
        });
        self
    }

    pub(crate) fn build(self) -> AnalysedPost {
        self.post
    }
}
