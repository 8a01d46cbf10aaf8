//! NLP stage: turns each [`collector::Post`] into an [`AnalysedPost`], or drops it.
//!
//! In: posts from the collectors. Out: [`Outcome::Relevant`] with an [`Analysis`] (language,
//! brands matched and why, categories per configured axis, sentiment with score, and room
//! for intent, privacy flags and influence badges that later stages fill), or
//! [`Outcome::Dropped`] with a [`DropReason`] that the caller counts. Dropping is never an
//! error.
//!
//! Every step is a plain synchronous function of the post and the [`Analyzer`] built once
//! from configuration: no I/O, no async, so any number of workers can share the work.
//!
//! Steps, in the order [`Analyzer::analyse`] runs them:
//! * [`tokens`]: normalisation and tokens (words, hashtags and their camel-case parts,
//!   handles, URLs, emoji), folded (no accents) and later stemmed;
//! * [`relevance`]: which brands the post is about (aliases, handles, hashtags,
//!   exclusions); a post about none is dropped here, before any further work;
//! * [`language`]: the claimed language, else a detected one, or `und`;
//! * [`classify`]: categories on every configured axis, from stemmed keywords;
//! * [`model`]: trainable linear models (hashed word and character n-grams, negation
//!   scope, emoji, lexicon features) for sentiment (a default English and French model is
//!   embedded) and any axis; [`sentiment`] is the v0 lexicon scorer, used as a feature
//!   and as the fallback;
//! * [`intent`]: complaint, question, praise, churn threat;
//! * [`privacy`]: e-mail and phone redaction, sensitive categories (flag or drop);
//! * [`feedback`]: label corrections people make, and accuracy on them.
//!
//! [`influence`] is not a step of [`Analyzer`]: it is stateful and runs once, after the
//! analysis, in the pipeline (mass connectors and mass mavens per brand, as badges).

pub mod analysis;
pub mod analyzer;
pub mod classify;
pub mod config;
pub mod error;
mod fasthash;
pub mod feedback;
pub mod influence;
pub mod intent;
pub mod language;
pub mod model;
mod phrase;
pub mod privacy;
pub mod relevance;
pub mod sentiment;
pub mod tokens;

pub use analysis::{
    AnalysedPost, Analysis, BrandMatch, DropReason, InfluenceBadge, Outcome, PrivacyFlags,
    Sentiment, SentimentLabel,
};

pub use analyzer::Analyzer;
pub use config::{
    Axis, Brand, Category, DEFAULT_CONTEXT_WINDOW, NlpConfig, PrivacyConfig, SensitiveAction,
    SentimentModel,
};
pub use error::NlpError;
pub use privacy::SensitiveCategory;
