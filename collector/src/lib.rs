//! Collector stage: turns what each source says into [`Post`]s, in [`Batch`]es that carry
//! the [`Checkpoint`] from which the source can resume.
//!
//! In: a source's wire protocol (X API v2 stream, RSS/Atom, recorded fixtures...).
//! Out: `Batch { posts, checkpoint }` on a bounded channel, through [`runner::run_source`].
//!
//! Promises:
//! * a checkpoint is valid only once every post of its batch and of earlier batches is
//!   stored; the collector never commits it itself, the index does, with those posts;
//! * after a restart from a checkpoint a source may re-deliver posts it already emitted:
//!   storage is keyed by [`PostId`], so re-delivery is idempotent;
//! * malformed input is counted in [`SourceStats`] and skipped with one warning naming
//!   where it came from; it never stops the source.
//!
//! This crate knows nothing else of veille.

pub mod backoff;
pub mod bluesky;
pub mod dedupe;
pub mod discourse;
pub mod error;
pub mod feed;
pub mod http;
pub mod mastodon;
pub mod matching;
pub mod post;
pub mod reddit;
pub mod replay;
pub mod runner;
pub mod secret;
pub mod source;
pub mod stats;
pub mod x;

pub use backoff::FailureClass;
pub use error::CollectError;
pub use post::{Author, Change, Engagement, MavenSignals, Post, PostId, Relation, SourceKind};
pub use replay::{Replay, ReplayConfig, ReplayFile, load_dir};
pub use runner::run_source;
pub use secret::Secret;
pub use source::{Batch, Checkpoint, Source};
pub use stats::{DropReason, SourceStats, SourceStatsSnapshot};
