//! Resolved NLP configuration: brands and axes, already validated by the binary's config
//! loader. Building an [`crate::Analyzer`] compiles it into matchers.

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
}

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
}

/// Everything the NLP stage needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NlpConfig {
    pub brands: Vec<Brand>,
    pub axes: Vec<Axis>,
}
