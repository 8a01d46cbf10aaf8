//! The [`Source`] contract: a source yields [`Batch`]es of posts, each with the
//! [`Checkpoint`] from which it can resume once those posts are stored.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::error::CollectError;
use crate::post::Post;

/// Where a source can resume from. Opaque to every stage but the source that wrote it;
/// the index stores it in the commit that holds every post before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Name of the configured source instance (unique within a config).
    pub source: String,
    /// Source-specific cursor, a small versioned JSON value (`{"v":1,...}`).
    pub cursor: serde_json::Value,
}

/// Posts, and the cursor that is valid once they (and every earlier batch) are stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub posts: Vec<Post>,
    pub checkpoint: Checkpoint,
}

/// A stream of posts from one configured source instance.
///
/// Retry, pacing of reconnects and shutdown belong to [`crate::runner`]; a source only
/// produces its next batch.
pub trait Source: Send + 'static {
    /// Name of the configured source instance; also the key of its checkpoint.
    fn name(&self) -> &str;

    /// Waits for the next batch. `Ok(None)` means the source is exhausted (a replay that
    /// does not loop); an empty batch means "nothing new yet".
    fn next_batch(&mut self) -> impl Future<Output = Result<Option<Batch>, CollectError>> + Send;
}
