//! [`IndexError`]: what can go wrong in the index stage, shaped by what the caller does next.
//!
//! * [`IndexError::SchemaMismatch`] and [`IndexError::Locked`]: stop at startup and tell the
//!   operator (the message says what to do);
//! * [`IndexError::BadQuery`]: the user's search is wrong; answer 400 with the reason;
//! * [`IndexError::Corrupt`]: stored bytes no longer decode; report, do not retry;
//! * [`IndexError::Tantivy`], [`IndexError::Store`], [`IndexError::Io`], [`IndexError::Encode`]:
//!   the storage failed; the stage is broken (log with context, answer 500).

use std::path::{Path, PathBuf};

/// An error of the index stage.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index directory was written by another schema version, or by something else.
    #[error("{}", describe_schema_mismatch(.path, *.found, *.expected))]
    SchemaMismatch {
        /// The version found, `None` when the directory holds a tantivy index without a
        /// veille version file.
        found: Option<u32>,
        expected: u32,
        path: PathBuf,
    },

    /// Another writer (most likely another veille process) holds the index.
    #[error(
        "index at {} is locked by another writer: stop the other veille process using this \
         data directory, or choose another one",
        path.display()
    )]
    Locked {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },

    /// The search text or parameters are invalid; the reason is meant for the user.
    #[error("bad query: {0}")]
    BadQuery(String),

    /// tantivy failed while doing `context`.
    #[error("index failed while {context}")]
    Tantivy {
        context: &'static str,
        #[source]
        source: tantivy::TantivyError,
    },

    /// The embedded store (redb) failed while doing `context`.
    #[error("state store failed while {context}")]
    Store {
        context: &'static str,
        /// Boxed: redb's error is large and this variant is rare.
        #[source]
        source: Box<redb::Error>,
    },

    /// Stored bytes (commit payload, stored post, store value) do not decode.
    #[error("corrupt {what}")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// A value could not be encoded as JSON before storing it.
    #[error("could not encode {what}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// A file system operation on `path` failed.
    #[error("i/o error on {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl IndexError {
    /// Wraps a tantivy error with what we were doing.
    pub(crate) fn tantivy(context: &'static str) -> impl FnOnce(tantivy::TantivyError) -> Self {
        move |source| IndexError::Tantivy { context, source }
    }

    /// Wraps a redb error with what we were doing.
    pub(crate) fn store<E: Into<redb::Error>>(context: &'static str) -> impl FnOnce(E) -> Self {
        move |source| IndexError::Store {
            context,
            source: Box::new(source.into()),
        }
    }

    /// True when the error is the user's (a bad search), false when the stage is broken.
    pub fn is_bad_query(&self) -> bool {
        matches!(self, IndexError::BadQuery(_))
    }
}

fn describe_schema_mismatch(path: &Path, found: Option<u32>, expected: u32) -> String {
    match found {
        Some(found) => format!(
            "index at {} has schema version {found}, this veille needs version {expected}: \
             run the veille release that wrote it, or move the directory away to start a new \
             index (its posts are then no longer searchable)",
            path.display()
        ),
        None => format!(
            "{} holds a tantivy index without a veille schema version file (schema version \
             {expected} expected): it was not written by veille or predates versioning; \
             move it away or choose another data directory",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_mismatch_message_says_what_to_do() {
        let error = IndexError::SchemaMismatch {
            found: Some(2),
            expected: 1,
            path: PathBuf::from("/data/index"),
        };
        let message = error.to_string();
        assert!(message.contains("/data/index"), "{message}");
        assert!(message.contains("version 2"), "{message}");
        assert!(message.contains("move the directory away"), "{message}");

        let unversioned = IndexError::SchemaMismatch {
            found: None,
            expected: 1,
            path: PathBuf::from("/data/index"),
        };
        assert!(
            unversioned
                .to_string()
                .contains("without a veille schema version")
        );
    }

    #[test]
    fn only_bad_query_is_the_users_fault() {
        assert!(IndexError::BadQuery("x".into()).is_bad_query());
        let io = IndexError::Io {
            path: PathBuf::from("/x"),
            source: std::io::Error::other("boom"),
        };
        assert!(!io.is_bad_query());
    }
}
