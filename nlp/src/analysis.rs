//! [`Analysis`]: what the NLP stage adds to a post, and [`AnalysedPost`], the pair handed on
//! to the index and the alert engine.

use std::collections::BTreeMap;
use std::fmt;

use collector::Post;
use serde::{Deserialize, Serialize};

/// Sentiment polarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

impl SentimentLabel {
    pub const ALL: [SentimentLabel; 3] = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Negative => "negative",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Positive => "positive",
        }
    }

    pub fn parse(name: &str) -> Option<SentimentLabel> {
        SentimentLabel::ALL
            .into_iter()
            .find(|label| label.as_str() == name)
    }
}

impl fmt::Display for SentimentLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sentiment label with its score in `[-1, 1]` (negative to positive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: SentimentLabel,
    pub score: f32,
}

/// One configured brand the post is about, and the term that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandMatch {
    pub brand: String,
    /// The alias, handle or hashtag that matched, as configured.
    pub matched: String,
}

/// Personal-data handling applied to the text (filled by the privacy step).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyFlags {
    /// E-mail addresses and phone numbers replaced in the stored text.
    pub redactions: u32,
    /// Sensitive categories (CNIL) the post reveals.
    pub sensitive: Vec<String>,
}

/// An influence badge (mass connector, mass maven) with the figures behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfluenceBadge {
    /// `connector` or `maven`.
    pub kind: String,
    pub explanation: String,
    /// The brand the author is influential about.
    #[serde(default)]
    pub brand: String,
    /// The author's rank in the set (1 for the first).
    #[serde(default)]
    pub rank: u64,
    /// The score the set is chosen on: estimated impressions, or expert-weighted posts,
    /// in the window.
    #[serde(default)]
    pub score: u64,
}

/// What the NLP stage adds to a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// ISO 639-1 code (`en`, `fr`...) or `und`.
    pub language: String,
    /// Brands the post is about (never empty for a relevant post).
    pub brands: Vec<BrandMatch>,
    /// Categories per configured axis: axis name → category names, in config order.
    /// Every configured axis has an entry, possibly empty.
    pub categories: BTreeMap<String, Vec<String>>,
    pub sentiment: Sentiment,
    /// Intents (`complaint`, `question`, `praise`, `churn_threat`), see [`crate::intent`].
    #[serde(default)]
    pub intents: Vec<String>,
    #[serde(default)]
    pub privacy: PrivacyFlags,
    #[serde(default)]
    pub influence: Vec<InfluenceBadge>,
}

/// A post with its analysis: what the index stores and the alert engine evaluates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysedPost {
    pub post: Post,
    pub analysis: Analysis,
}

/// Why a post was not kept. Counted, never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Matches no configured brand (or only through an exclusion term).
    NotRelevant,
    /// Nothing left to analyse.
    EmptyText,
    /// Reveals a sensitive category configured to be dropped.
    Sensitive,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotRelevant => "not_relevant",
            DropReason::EmptyText => "empty_text",
            DropReason::Sensitive => "sensitive",
        }
    }
}

/// The result of analysing one post.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Relevant(Box<AnalysedPost>),
    Dropped(DropReason),
}
