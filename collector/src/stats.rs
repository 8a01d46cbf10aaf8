//! Per-source counters, shared between a source and the health endpoint.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters of one source instance. Cheap to update from the hot path.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Posts emitted downstream.
    pub posts: AtomicU64,
    /// Batches emitted downstream.
    pub batches: AtomicU64,
    /// Items that could not be decoded and were skipped.
    pub decode_failures: AtomicU64,
    /// Failures of the source itself (each followed by a retry or a stop).
    pub errors: AtomicU64,
}

/// A point-in-time copy of [`SourceStats`], for `/api/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceStatsSnapshot {
    pub posts: u64,
    pub batches: u64,
    pub decode_failures: u64,
    pub errors: u64,
}

impl SourceStats {
    pub fn snapshot(&self) -> SourceStatsSnapshot {
        SourceStatsSnapshot {
            posts: self.posts.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            decode_failures: self.decode_failures.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    pub fn add(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}
