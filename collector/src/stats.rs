//! Per-source counters, shared between a source, its runner and the health endpoint.
//!
//! Promises: updates are lock-free on the hot path (relaxed atomics); a snapshot is a
//! consistent-enough copy for `/api/health` and `/metrics`; [`SourceStats::stalled`] says
//! whether the source has been silent longer than its liveness timeout.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::backoff::FailureClass;

/// Why a received item was not handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Could not be decoded.
    Malformed,
    /// Already handed on (re-delivery, overlap of a gap fill with the live stream).
    Duplicate,
    /// Did not mention any configured brand (sources filtered on our side).
    Unmatched,
    /// Not for indexing: hidden, whisper, opted out of search, not a post.
    Filtered,
}

/// Counters of one source instance. Cheap to update from the hot path.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Items received from the source (posts, deletions, malformed items; not heartbeats).
    pub received: AtomicU64,
    /// Posts emitted downstream.
    pub posts: AtomicU64,
    /// Batches emitted downstream.
    pub batches: AtomicU64,
    /// Items that could not be decoded and were skipped.
    pub decode_failures: AtomicU64,
    pub dropped_duplicate: AtomicU64,
    pub dropped_unmatched: AtomicU64,
    pub dropped_filtered: AtomicU64,
    /// Failures of the source itself (each followed by a retry or a stop).
    pub errors: AtomicU64,
    /// Reconnects (or retried polls) after a failure.
    pub reconnects: AtomicU64,
    /// Gaps the source could not fill (e.g. a Jetstream cursor older than the server keeps).
    pub gaps: AtomicU64,
    /// Unix milliseconds of the last sign of life (item, heartbeat, successful poll); 0 = none.
    last_event_ms: AtomicI64,
    /// Milliseconds between the last post's claimed time and its arrival.
    lag_ms: AtomicI64,
    /// Liveness timeout in milliseconds; 0 = never stalled (replay).
    liveness_ms: AtomicI64,
    /// Unix milliseconds when the source started.
    started_ms: AtomicI64,
}

/// A point-in-time copy of [`SourceStats`], for `/api/health` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceStatsSnapshot {
    pub received: u64,
    pub posts: u64,
    pub batches: u64,
    pub decode_failures: u64,
    pub dropped: DroppedSnapshot,
    pub errors: u64,
    pub reconnects: u64,
    pub gaps: u64,
    /// RFC 3339 time of the last sign of life.
    pub last_event_at: Option<String>,
    /// Seconds since the last sign of life.
    pub silent_seconds: Option<i64>,
    pub lag_seconds: Option<f64>,
    pub liveness_timeout_seconds: Option<i64>,
    pub stalled: bool,
}

/// Items dropped, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DroppedSnapshot {
    pub malformed: u64,
    pub duplicate: u64,
    pub unmatched: u64,
    pub filtered: u64,
}

impl SourceStats {
    /// Counters for a source that must show a sign of life every `liveness`.
    pub fn with_liveness(liveness: std::time::Duration) -> SourceStats {
        let stats = SourceStats::default();
        stats.set_liveness(liveness);
        stats
    }

    pub fn set_liveness(&self, liveness: std::time::Duration) {
        let millis = i64::try_from(liveness.as_millis()).unwrap_or(i64::MAX);
        self.liveness_ms.store(millis, Ordering::Relaxed);
        let _ = self.started_ms.compare_exchange(
            0,
            Utc::now().timestamp_millis(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    pub fn add(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn dropped(&self, reason: DropReason, by: u64) {
        let counter = match reason {
            DropReason::Malformed => &self.decode_failures,
            DropReason::Duplicate => &self.dropped_duplicate,
            DropReason::Unmatched => &self.dropped_unmatched,
            DropReason::Filtered => &self.dropped_filtered,
        };
        Self::add(counter, by);
    }

    /// Records a sign of life at `now`.
    pub fn alive(&self, now: DateTime<Utc>) {
        self.last_event_ms
            .fetch_max(now.timestamp_millis(), Ordering::Relaxed);
    }

    /// Records the arrival at `now` of a post claimed written at `created_at`.
    pub fn post_arrived(&self, created_at: DateTime<Utc>, now: DateTime<Utc>) {
        self.alive(now);
        let lag = (now - created_at).num_milliseconds().max(0);
        self.lag_ms.store(lag, Ordering::Relaxed);
    }

    /// Records a failure of `class` that the runner will retry.
    pub fn failed(&self, _class: FailureClass, retried: bool) {
        Self::add(&self.errors, 1);
        if retried {
            Self::add(&self.reconnects, 1);
        }
    }

    /// Whether the source has been silent (since its last sign of life, or its start)
    /// longer than its liveness timeout at `now`.
    pub fn stalled(&self, now: DateTime<Utc>) -> bool {
        let liveness = self.liveness_ms.load(Ordering::Relaxed);
        if liveness <= 0 {
            return false;
        }
        let last = self
            .last_event_ms
            .load(Ordering::Relaxed)
            .max(self.started_ms.load(Ordering::Relaxed));
        last > 0 && now.timestamp_millis() - last > liveness
    }

    pub fn snapshot(&self) -> SourceStatsSnapshot {
        self.snapshot_at(Utc::now())
    }

    pub fn snapshot_at(&self, now: DateTime<Utc>) -> SourceStatsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let last = self.last_event_ms.load(Ordering::Relaxed);
        let last_event = (last > 0)
            .then(|| DateTime::<Utc>::from_timestamp_millis(last))
            .flatten();
        let lag = self.lag_ms.load(Ordering::Relaxed);
        let liveness = self.liveness_ms.load(Ordering::Relaxed);
        SourceStatsSnapshot {
            received: load(&self.received),
            posts: load(&self.posts),
            batches: load(&self.batches),
            decode_failures: load(&self.decode_failures),
            dropped: DroppedSnapshot {
                malformed: load(&self.decode_failures),
                duplicate: load(&self.dropped_duplicate),
                unmatched: load(&self.dropped_unmatched),
                filtered: load(&self.dropped_filtered),
            },
            errors: load(&self.errors),
            reconnects: load(&self.reconnects),
            gaps: load(&self.gaps),
            last_event_at: last_event.map(|at| at.to_rfc3339()),
            silent_seconds: last_event.map(|at| (now - at).num_seconds()),
            lag_seconds: (last > 0).then(|| lag as f64 / 1000.0),
            liveness_timeout_seconds: (liveness > 0).then_some(liveness / 1000),
            stalled: self.stalled(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_source_is_stalled_past_its_liveness_timeout() {
        let stats = SourceStats::with_liveness(Duration::from_secs(30));
        let now = Utc::now();
        stats.alive(now);
        assert!(!stats.stalled(now + chrono::TimeDelta::seconds(29)));
        assert!(stats.stalled(now + chrono::TimeDelta::seconds(31)));
        let replay = SourceStats::default();
        assert!(!replay.stalled(now + chrono::TimeDelta::days(1)));
    }

    #[test]
    fn snapshot_shows_drops_lag_and_reconnects() {
        let stats = SourceStats::with_liveness(Duration::from_secs(30));
        let now = Utc::now();
        stats.dropped(DropReason::Malformed, 2);
        stats.dropped(DropReason::Duplicate, 1);
        stats.post_arrived(now - chrono::TimeDelta::seconds(4), now);
        stats.failed(FailureClass::Network, true);
        let snapshot = stats.snapshot_at(now);
        assert_eq!(snapshot.decode_failures, 2);
        assert_eq!(snapshot.dropped.malformed, 2);
        assert_eq!(snapshot.dropped.duplicate, 1);
        assert_eq!(snapshot.lag_seconds, Some(4.0));
        assert_eq!((snapshot.errors, snapshot.reconnects), (1, 1));
        assert!(!snapshot.stalled);
    }
}
