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
