//! [`CollectError`]: what went wrong in a source, shaped by what the runner does next.

use std::path::PathBuf;
use std::time::Duration;

/// A failure of a source. Bad items are not errors (they are counted and skipped); these
/// are failures of the source itself.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Worth retrying after a pause.
    #[error("{source_name}: transient failure: {reason}")]
    Transient {
        source_name: String,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help: configuration or credentials must change.
    #[error("{source_name}: {reason}")]
    Fatal { source_name: String, reason: String },
    /// A local file could not be read.
    #[error("{source_name}: cannot read {path}")]
    Io {
        source_name: String,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

impl CollectError {
    /// Whether the runner should try the source again.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, CollectError::Fatal { .. })
    }

    /// How long the source asked us to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CollectError::Transient { retry_after, .. } => *retry_after,
            CollectError::Fatal { .. } | CollectError::Io { .. } => None,
        }
    }
}
