//! Resolved NLP configuration: brands and axes, already validated by the binary's config
//! loader. Building an [`crate::Analyzer`] compiles it into matchers and loads its models.

use std::path::PathBuf;

use crate::privacy::SensitiveCategory;

/// A brand to listen for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Brand {
    pub name: String,
    /// Other names of the brand ("acme cloud", "acme"); matched as whole words, any case.
    pub aliases: Vec<String>,
    /// Account handles, with their `@` ("@acme", "@acme_help").
    pub handles: Vec<String>,
    /// Hashtags, with their `#` ("#acme").
    pub hashtags: Vec<String>,
    /// A post containing one of these terms is not about the brand ("acme anvil").
    pub exclusions: Vec<String>,
    /// When not empty, an alias counts only within [`Brand::context_window`] words of one
    /// of these terms (for brands named like common words: "orange" near "forfait",
    /// "fibre", "network"). Handles and configured hashtags always count.
    pub context: Vec<String>,
    /// How many words before or after an alias a context term may be; 0 for anywhere in
    /// the post.
    pub context_window: usize,
}

/// Default [`Brand::context_window`].
pub const DEFAULT_CONTEXT_WINDOW: usize = 12;

/// One category of an axis, recognised by keywords or phrases.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Category {
    pub name: String,
    /// Keywords and phrases, matched on stems ("cancelled" matches "cancellation").
    pub keywords: Vec<String>,
}

/// A classification axis (topic, product...) and its categories.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Axis {
    pub name: String,
    pub categories: Vec<Category>,
    /// A trained model file (`veille train --axis NAME`) whose label is added to the
    /// keyword categories.
    pub model: Option<PathBuf>,
}

/// Where sentiment comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SentimentModel {
    /// The English and French model embedded in the binary (the lexicon scorer if this
    /// build has none).
    #[default]
    Builtin,
    /// The v0 lexicon scorer.
    Lexicon,
    /// A model file trained with `veille train --axis sentiment`.
    File(PathBuf),
}

/// What to do with a post revealing a sensitive category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SensitiveAction {
    /// Keep it, with the category in `privacy.sensitive`.
    #[default]
    Flag,
    /// Drop it (counted under `sensitive`).
    Drop,
    /// Do not look for this category.
    Ignore,
}

/// Personal-data handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyConfig {
    /// Replace e-mail addresses and phone numbers in the stored text.
    pub redact: bool,
    /// Action per sensitive category; categories not listed are flagged.
    pub sensitive: Vec<(SensitiveCategory, SensitiveAction)>,
}

impl Default for PrivacyConfig {
    fn default() -> PrivacyConfig {
        PrivacyConfig {
            redact: true,
            sensitive: Vec::new(),
        }
    }
}

impl PrivacyConfig {
    /// The action for `category`.
    pub fn action(&self, category: SensitiveCategory) -> SensitiveAction {
        self.sensitive
            .iter()
            .find(|(configured, _)| *configured == category)
            .map_or(SensitiveAction::Flag, |(_, action)| *action)
    }
}

/// Everything the NLP stage needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NlpConfig {
    pub brands: Vec<Brand>,
    pub axes: Vec<Axis>,
    pub sentiment: SentimentModel,
    pub privacy: PrivacyConfig,
}
