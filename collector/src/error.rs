//! [`CollectError`]: what went wrong in a source, shaped by what the runner does next.

use std::path::PathBuf;
use std::time::Duration;

use crate::backoff::{Failure, FailureClass};

/// A failure of a source. Bad items are not errors (they are counted and skipped); these
/// are failures of the source itself.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Worth retrying after a pause that depends on its class (see [`crate::backoff`]).
    #[error("{source_name}: {} failure: {reason}", class.as_str())]
    Transient {
        source_name: String,
        class: FailureClass,
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
    /// A retryable failure of `class`.
    pub fn transient(source: &str, class: FailureClass, reason: impl Into<String>) -> Self {
        CollectError::Transient {
            source_name: source.to_owned(),
            class,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// The error a classified failure stands for: `BadRequest` is fatal, the rest retry.
    pub fn from_failure(source: &str, failure: Failure, reason: impl Into<String>) -> Self {
        match failure.class {
            FailureClass::BadRequest => CollectError::Fatal {
                source_name: source.to_owned(),
                reason: reason.into(),
            },
            class => CollectError::Transient {
                source_name: source.to_owned(),
                class,
                reason: reason.into(),
                retry_after: failure.retry_after,
            },
        }
    }

    /// Whether the runner should try the source again.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, CollectError::Fatal { .. })
    }

    /// The backoff class of this error (`Io` errors are treated as server trouble).
    pub fn class(&self) -> FailureClass {
        match self {
            CollectError::Transient { class, .. } => *class,
            CollectError::Fatal { .. } => FailureClass::BadRequest,
            CollectError::Io { .. } => FailureClass::Server,
        }
    }

    /// How long the source asked us to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CollectError::Transient { retry_after, .. } => *retry_after,
            CollectError::Fatal { .. } | CollectError::Io { .. } => None,
        }
    }
}
