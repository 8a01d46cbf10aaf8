//! Index stage: stores analysed posts in tantivy and answers searches; keeps the embedded
//! store for mutable state that is not a post.
//!
//! In: [`nlp::AnalysedPost`]s, deletions by [`collector::PostId`], and source
//! [`collector::Checkpoint`]s. Out: [`SearchIndex`] answers (hits, facet counts).
//!
//! Promises:
//! * a post is stored once per [`collector::PostId`]: adding it again replaces it;
//! * a checkpoint handed to [`PostWriter::stage_checkpoint`] is written in the payload of the
//!   next commit, which also holds every post added before it; after a crash, the
//!   checkpoints read back by [`PostWriter::open`] never pass an uncommitted post;
//! * the schema carries a version; opening an index of another version is a clear error.
//!
//! Writing is synchronous (tantivy's writer is); callers run it on a blocking thread.

pub mod error;
mod facet_tally;
mod filter_search;
mod label_bits;
mod match_bits;
pub mod retention;
pub mod schema;
pub mod search;
pub mod store;
pub mod writer;

pub use error::IndexError;
pub use search::{FacetCount, SearchHit, SearchIndex, SearchQuery, SearchResults};
pub use store::Store;
pub use writer::{CommitTrigger, PostWriter};
