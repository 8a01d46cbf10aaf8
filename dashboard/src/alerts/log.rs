//! [`AlertLog`]: the recent alerts, for the dashboard's alert list.
//!
//! Keeps the newest [`ALERT_LOG_CAPACITY`] alerts in memory, newest first, and every alert
//! in the [`index::Store`] table [`ALERTS_TABLE`] keyed by alert id, so the list survives a
//! restart and recording the same alert again replaces it instead of duplicating it.
//!
//! [`AlertLog::open`], [`AlertLog::record`] and [`AlertLog::persist`] touch the store and block: async callers
//! run them in `spawn_blocking`. [`AlertLog::recent`] only reads memory.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use index::{IndexError, Store};

use super::Alert;

/// Store table holding every alert, keyed by alert id.
pub const ALERTS_TABLE: &str = "alerts";
/// How many alerts the log keeps in memory.
pub const ALERT_LOG_CAPACITY: usize = 1_000;

/// Recent alerts in memory, all alerts in the store.
pub struct AlertLog {
    store: Option<Store>,
    /// Newest first (by `created_at`), at most `capacity`.
    recent: Mutex<VecDeque<Alert>>,
    capacity: usize,
}

impl AlertLog {
    /// Opens the log over `store`, loading its newest alerts. Blocking.
    pub fn open(store: Store) -> Result<AlertLog, IndexError> {
        AlertLog::open_with_capacity(store, ALERT_LOG_CAPACITY)
    }

    /// [`AlertLog::open`], keeping `capacity` alerts in memory (at least one).
    pub fn open_with_capacity(store: Store, capacity: usize) -> Result<AlertLog, IndexError> {
        let capacity = capacity.max(1);
        // Decoded one by one: an entry written by another version is skipped, not fatal.
        let stored: Vec<(String, serde_json::Value)> = store.list(ALERTS_TABLE)?;
        let stored_count = stored.len();
        let mut alerts = Vec::with_capacity(stored_count);
        for (key, value) in stored {
            match serde_json::from_value::<Alert>(value) {
                Ok(alert) => alerts.push(alert),
                Err(error) => tracing::warn!(%key, %error, "stored alert does not decode, skipped"),
            }
        }
        alerts.sort_by(|left, right| {
            right
                .created_at
                .cmp(&left.created_at)
                .then_with(|| left.id.cmp(&right.id))
        });
        alerts.truncate(capacity);
        tracing::info!(
            stored = stored_count,
            loaded = alerts.len(),
            "alert log opened"
        );
        Ok(AlertLog {
            store: Some(store),
            recent: Mutex::new(alerts.into()),
            capacity,
        })
    }

    /// A log without a store: alerts are lost on restart (tests, tools).
    pub fn in_memory(capacity: usize) -> AlertLog {
        AlertLog {
            store: None,
            recent: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Alert>> {
        // A panic while holding the lock cannot leave the list half-updated in a way that
        // matters: keep serving it.
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an alert in the store (blocking) and in memory. An alert with the id of one
    /// already logged replaces it. When the store fails the alert is still kept in memory
    /// and the error returned, for the caller to count and log.
    pub fn record(&self, alert: Alert) -> Result<(), IndexError> {
        let stored = match &self.store {
            Some(store) => store.put(ALERTS_TABLE, &alert.id, &alert),
            None => Ok(()),
        };
        self.keep(alert);
        stored
    }

    /// Keeps `alert` in memory only (an alert with the same id is replaced); the caller
    /// persists it soon after with [`AlertLog::persist`], many alerts in one write.
    pub fn keep(&self, alert: Alert) {
        let mut recent = self.lock();
        recent.retain(|existing| existing.id != alert.id);
        let position = recent.partition_point(|existing| existing.created_at > alert.created_at);
        recent.insert(position, alert);
        recent.truncate(self.capacity);
    }

    /// Writes `alerts` to the store in one transaction (blocking); the last version of an
    /// id wins. Memory is not touched (see [`AlertLog::keep`]).
    pub fn persist(&self, alerts: &[Alert]) -> Result<(), IndexError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let entries: Vec<(&str, &Alert)> = alerts
            .iter()
            .map(|alert| (alert.id.as_str(), alert))
            .collect();
        store.put_many(ALERTS_TABLE, &entries)
    }

    /// The store the log writes to (`None` for an in-memory log); other durable state of
    /// the dashboard, such as label corrections, lives in the same store.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// The alert `id`: from memory, else from the store (an older alert).
    pub fn get(&self, id: &str) -> Option<Alert> {
        if let Some(alert) = self.lock().iter().find(|alert| alert.id == id) {
            return Some(alert.clone());
        }
        let store = self.store.as_ref()?;
        match store.get::<Alert>(ALERTS_TABLE, id) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, alert = %id, "cannot read an alert from the store");
                None
            }
        }
    }

    /// Recent alerts not handled whose SLA is past at `now` and not yet flagged.
    pub fn overdue(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<Alert> {
        self.lock()
            .iter()
            .filter(|alert| {
                let lifecycle = &alert.lifecycle;
                lifecycle.status != super::Status::Handled
                    && !lifecycle.sla_breached
                    && lifecycle.due_at.is_some_and(|due| now > due)
            })
            .cloned()
            .collect()
    }

    /// Up to `limit` recent alerts, newest first; only those routed to `team` if given.
    pub fn recent(&self, team: Option<&str>, limit: usize) -> Vec<Alert> {
        self.lock()
            .iter()
            .filter(|alert| team.is_none_or(|team| alert.team == team))
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use collector::SourceKind;
    use nlp::SentimentLabel;

    use super::*;
    use crate::alerts::{AlertPost, Severity};
    use crate::test_support::instant;

    fn alert(id: &str, team: &str, seconds: i64) -> Alert {
        Alert {
            id: id.to_owned(),
            rule: "rule".to_owned(),
            team: team.to_owned(),
            severity: Severity::High,
            post_id: format!("x:{id}"),
            brands: vec!["Lumio".to_owned()],
            reason: "rule rule: brand (Lumio)".to_owned(),
            created_at: instant(seconds),
            post: AlertPost {
                text: "<script>alert(1)</script>".to_owned(),
                author_handle: None,
                author_name: None,
                followers: None,
                url: None,
                source: SourceKind::X,
                language: "en".to_owned(),
                sentiment: SentimentLabel::Negative,
                score: -0.5,
                categories: BTreeMap::new(),
                author_id: None,
                thread: None,
            },
            lifecycle: Default::default(),
            group: Vec::new(),
            spike: None,
        }
    }

    fn ids(alerts: &[Alert]) -> Vec<&str> {
        alerts.iter().map(|alert| alert.id.as_str()).collect()
    }

    #[test]
    fn lists_newest_first_filtered_by_team() {
        let log = AlertLog::in_memory(10);
        log.record(alert("a", "care", 1)).expect("record");
        log.record(alert("b", "sales", 2)).expect("record");
        log.record(alert("c", "care", 3)).expect("record");
        log.record(alert("old", "care", 0)).expect("record");
        assert_eq!(ids(&log.recent(None, 10)), ["c", "b", "a", "old"]);
        assert_eq!(ids(&log.recent(Some("care"), 2)), ["c", "a"]);
        assert!(log.recent(Some("nobody"), 10).is_empty());
    }

    #[test]
    fn keeps_a_bounded_number_in_memory() {
        let log = AlertLog::in_memory(2);
        for (number, id) in ["a", "b", "c"].into_iter().enumerate() {
            log.record(alert(id, "care", number as i64))
                .expect("record");
        }
        assert_eq!(ids(&log.recent(None, 10)), ["c", "b"]);
    }

    #[test]
    fn recording_the_same_alert_again_replaces_it() {
        let log = AlertLog::in_memory(10);
        log.record(alert("a", "care", 1)).expect("record");
        log.record(alert("a", "care", 5)).expect("record");
        let recent = log.recent(None, 10);
        assert_eq!(ids(&recent), ["a"]);
        assert_eq!(recent[0].created_at, instant(5));
    }

    #[test]
    fn survives_reopening_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).expect("store opens");
            let log = AlertLog::open(store).expect("log opens");
            log.record(alert("a", "care", 1)).expect("record");
            log.record(alert("b", "sales", 2)).expect("record");
            log.record(alert("c", "care", 3)).expect("record");
            log.record(alert("a", "care", 1)).expect("record again");
        }
        let store = Store::open(&path).expect("store reopens");
        let log = AlertLog::open_with_capacity(store.clone(), 2).expect("log reopens");
        let recent = log.recent(None, 10);
        assert_eq!(ids(&recent), ["c", "b"]);
        assert_eq!(recent[0], alert("c", "care", 3));
        assert_eq!(store.list::<Alert>(ALERTS_TABLE).expect("list").len(), 3);
    }

    #[test]
    fn kept_then_persisted_alerts_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.redb");
        {
            let log = AlertLog::open(Store::open(&path).expect("store opens")).expect("log");
            let batch = [alert("a", "care", 1), alert("b", "care", 2)];
            for kept in &batch {
                log.keep(kept.clone());
            }
            assert_eq!(ids(&log.recent(None, 10)), ["b", "a"]);
            log.persist(&batch).expect("persist");
        }
        let log = AlertLog::open(Store::open(&path).expect("store reopens")).expect("log");
        assert_eq!(ids(&log.recent(None, 10)), ["b", "a"]);
    }

    #[test]
    fn an_undecodable_stored_alert_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state.redb")).expect("store opens");
        store
            .put(
                ALERTS_TABLE,
                "old",
                &serde_json::json!({"id": "old", "format": 0}),
            )
            .expect("put");
        store
            .put(ALERTS_TABLE, "a", &alert("a", "care", 1))
            .expect("put");
        let log = AlertLog::open(store).expect("log opens despite the old entry");
        assert_eq!(ids(&log.recent(None, 10)), ["a"]);
    }
}
