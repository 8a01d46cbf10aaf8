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
//! * [`sentiment`]: the v0 lexicon scorer, behind [`sentiment::score`].

pub mod analysis;
pub mod analyzer;
pub mod classify;
pub mod config;
pub mod error;
pub mod language;
mod phrase;
pub mod relevance;
pub mod sentiment;
pub mod tokens;

pub use analysis::{
    AnalysedPost, Analysis, BrandMatch, DropReason, InfluenceBadge, Outcome, PrivacyFlags,
    Sentiment, SentimentLabel,
};

pub use analyzer::Analyzer;
pub use config::{Axis, Brand, Category, NlpConfig};
pub use error::NlpError;
