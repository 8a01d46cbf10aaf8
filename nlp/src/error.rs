//! [`NlpError`]: failures to build the NLP stage. Analysing a post never fails.

/// The NLP stage could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum NlpError {
    #[error("cannot build the {what} matcher")]
    Matcher {
        what: String,
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Configured terms that cannot be matched (no words, or not a single tag); every
    /// problem is listed.
    #[error("invalid terms: {}", .0.join("; "))]
    InvalidTerms(Vec<String>),
    #[error("cannot load the model {path}")]
    Model {
        path: std::path::PathBuf,
        #[source]
        error: crate::model::ModelError,
    },
}
