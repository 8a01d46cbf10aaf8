//! Per-stage counters of the running pipeline, and the JSON that `/api/health` shows.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use collector::SourceStats;
use nlp::DropReason;
use serde_json::{Value, json};

/// Lifecycle of one source task.
#[derive(Debug, Default)]
pub(crate) struct SourceState {
    state: Mutex<SourceStatus>,
}

#[derive(Debug, Default, Clone)]
enum SourceStatus {
    #[default]
    Running,
    Finished,
    Failed(String),
}

impl SourceState {
    pub(super) fn set_finished(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = SourceStatus::Finished;
        }
    }

    pub(super) fn set_failed(&self, reason: String) {
        if let Ok(mut state) = self.state.lock() {
            *state = SourceStatus::Failed(reason);
        }
    }

    fn is_running(&self) -> bool {
        self.state
            .lock()
            .is_ok_and(|state| matches!(*state, SourceStatus::Running))
    }

    fn to_json(&self) -> Value {
        let status = self
            .state
            .lock()
            .map(|state| state.clone())
            .unwrap_or_default();
        match status {
            SourceStatus::Running => json!({"state": "running"}),
            SourceStatus::Finished => json!({"state": "finished"}),
            SourceStatus::Failed(reason) => json!({"state": "failed", "reason": reason}),
        }
    }
}

/// A source's label (`x`, `bluesky`... or `replay`), counters and lifecycle, as
/// registered when it starts.
type RegisteredSource = (&'static str, Arc<SourceStats>, Arc<SourceState>);

/// A running source as the stall watcher sees it.
pub(crate) struct WatchedSource {
    pub(crate) name: String,
    pub(crate) label: &'static str,
    pub(crate) stats: Arc<SourceStats>,
}

/// Counters of every stage, updated on the hot path with relaxed atomics.
#[derive(Debug, Default)]
pub struct PipelineStats {
    sources: Mutex<BTreeMap<String, RegisteredSource>>,
    pub nlp_received: AtomicU64,
    pub nlp_relevant: AtomicU64,
    pub nlp_dropped_not_relevant: AtomicU64,
    pub nlp_dropped_empty: AtomicU64,
    pub nlp_dropped_sensitive: AtomicU64,
    pub index_added: AtomicU64,
    pub index_deleted: AtomicU64,
    pub index_failed: AtomicU64,
    pub index_commits: AtomicU64,
    pub index_errors: AtomicU64,
    pub alerts_raised: AtomicU64,
    pub alert_log_errors: AtomicU64,
    /// Connector/maven badges given to posts, and failed influence snapshots.
    pub influence_badges: AtomicU64,
    pub influence_errors: AtomicU64,
}

impl PipelineStats {
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn bump_by(counter: &AtomicU64, amount: usize) {
        counter.fetch_add(amount as u64, Ordering::Relaxed);
    }

    pub(super) fn register_source(
        &self,
        name: &str,
        label: &'static str,
        stats: Arc<SourceStats>,
    ) -> Arc<SourceState> {
        let state = Arc::new(SourceState::default());
        if let Ok(mut sources) = self.sources.lock() {
            sources.insert(name.to_string(), (label, stats, Arc::clone(&state)));
        }
        state
    }

    /// The sources still running.
    pub(crate) fn running_sources(&self) -> Vec<WatchedSource> {
        let Ok(sources) = self.sources.lock() else {
            return Vec::new();
        };
        sources
            .iter()
            .filter(|(_, (_, _, state))| state.is_running())
            .map(|(name, (label, stats, _))| WatchedSource {
                name: name.clone(),
                label,
                stats: Arc::clone(stats),
            })
            .collect()
    }

    pub(super) fn count_drop(&self, reason: DropReason) {
        match reason {
            DropReason::NotRelevant => Self::bump(&self.nlp_dropped_not_relevant),
            DropReason::EmptyText => Self::bump(&self.nlp_dropped_empty),
            DropReason::Sensitive => Self::bump(&self.nlp_dropped_sensitive),
        }
    }

    pub(super) fn record_write(&self, added: u64, deleted: u64, failed: u64) {
        self.index_added.fetch_add(added, Ordering::Relaxed);
        self.index_deleted.fetch_add(deleted, Ordering::Relaxed);
        self.index_failed.fetch_add(failed, Ordering::Relaxed);
    }

    pub(super) fn record_commit(&self) {
        Self::bump(&self.index_commits);
    }

    /// Whether every source has stopped (finished or failed).
    pub fn sources_done(&self) -> bool {
        let Ok(sources) = self.sources.lock() else {
            return false;
        };
        sources.values().all(|(_, _, state)| {
            state
                .state
                .lock()
                .is_ok_and(|status| !matches!(*status, SourceStatus::Running))
        })
    }

    /// The health document: counters per stage, and the number of posts searchable now.
    pub fn snapshot(&self, search: &index::SearchIndex) -> Value {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut sources = serde_json::Map::new();
        if let Ok(registered) = self.sources.lock() {
            for (name, (label, stats, state)) in registered.iter() {
                let mut entry = state.to_json();
                if let Value::Object(fields) = &mut entry {
                    fields.insert("kind".to_owned(), json!(label));
                }
                if let (Value::Object(fields), Ok(Value::Object(counters))) =
                    (&mut entry, serde_json::to_value(stats.snapshot()))
                {
                    fields.extend(counters);
                }
                sources.insert(name.clone(), entry);
            }
        }
        let searchable = match search.count() {
            Ok(count) => json!(count),
            Err(error) => json!(format!("unavailable: {error}")),
        };
        json!({
            "sources": sources,
            "nlp": {
                "received": load(&self.nlp_received),
                "relevant": load(&self.nlp_relevant),
                "dropped": {
                    DropReason::NotRelevant.as_str(): load(&self.nlp_dropped_not_relevant),
                    DropReason::EmptyText.as_str(): load(&self.nlp_dropped_empty),
                    DropReason::Sensitive.as_str(): load(&self.nlp_dropped_sensitive),
                },
            },
            "index": {
                "added": load(&self.index_added),
                "deleted": load(&self.index_deleted),
                "failed": load(&self.index_failed),
                "commits": load(&self.index_commits),
                "errors": load(&self.index_errors),
                "searchable": searchable,
            },
            "alerts": {
                "raised": load(&self.alerts_raised),
                "log_errors": load(&self.alert_log_errors),
            },
            "influence": {
                "badges": load(&self.influence_badges),
                "snapshot_errors": load(&self.influence_errors),
            },
        })
    }
}
