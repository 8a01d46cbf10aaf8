//! The stall watcher: a source silent for longer than its liveness timeout (no post, no
//! keep-alive, no successful poll) is shown as stalled on `/api/health` and raises one
//! alert per stall to every manager team, through the alert log and the live feed.
//!
//! Promises: one alert per source per stall (a source that speaks again and stalls again
//! raises a new one); a source without a liveness timeout (replay) never stalls.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use collector::SourceKind;
use dashboard::alerts::{Alert, AlertLog, AlertPost, Role, Severity, Team};
use dashboard::live::{LiveEvent, SharedEvent};
use nlp::SentimentLabel;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::health::PipelineStats;

/// How often sources are checked.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Watches the running sources until `stop`.
pub(super) async fn watch(
    stats: Arc<PipelineStats>,
    teams: Vec<Team>,
    log: Arc<AlertLog>,
    live: broadcast::Sender<SharedEvent>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut stalled: BTreeSet<String> = BTreeSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = Utc::now();
        for source in stats.running_sources() {
            if !source.stats.stalled(now) {
                if stalled.remove(&source.name) {
                    tracing::info!(source = %source.name, "source speaks again");
                }
                continue;
            }
            if !stalled.insert(source.name.clone()) {
                continue;
            }
            let silent = source.stats.snapshot_at(now);
            tracing::warn!(source = %source.name, silent_seconds = ?silent.silent_seconds, "source stalled");
            for alert in stall_alerts(
                &source.name,
                source.label,
                silent.silent_seconds,
                silent.liveness_timeout_seconds,
                &teams,
                now,
            ) {
                let worker_log = Arc::clone(&log);
                let to_record = alert.clone();
                match tokio::task::spawn_blocking(move || worker_log.record(to_record)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::error!(%error, alert = %alert.id, "cannot persist an alert")
                    }
                    Err(error) => {
                        tracing::error!(%error, alert = %alert.id, "cannot persist an alert")
                    }
                }
                let _ = live.send(LiveEvent::Alert(alert).into());
            }
        }
    }
}

/// The alerts a stall of source `name` raises: one per manager team.
pub(super) fn stall_alerts(
    name: &str,
    label: &str,
    silent_seconds: Option<i64>,
    timeout_seconds: Option<i64>,
    teams: &[Team],
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let silent = silent_seconds.map_or_else(
        || "since it started".to_owned(),
        |seconds| format!("for {seconds} s"),
    );
    let reason = format!(
        "source `{name}` ({label}) has been silent {silent}, past its liveness timeout of {} s",
        timeout_seconds.unwrap_or_default()
    );
    teams
        .iter()
        .filter(|team| team.role == Role::Manager)
        .map(|team| Alert {
            id: format!("source-stalled:{name}:{}:{}", now.timestamp(), team.name),
            rule: "source-stalled".to_owned(),
            team: team.name.clone(),
            severity: Severity::High,
            post_id: format!("source:{name}"),
            brands: Vec::new(),
            reason: reason.clone(),
            created_at: now,
            post: AlertPost {
                text: reason.clone(),
                author_handle: None,
                author_name: Some("veille".to_owned()),
                followers: None,
                url: None,
                source: SourceKind::parse(label).unwrap_or(SourceKind::Feed),
                language: String::new(),
                sentiment: SentimentLabel::Neutral,
                score: 0.0,
                categories: Default::default(),
                author_id: None,
                thread: None,
            },
            lifecycle: Default::default(),
            group: Vec::new(),
            spike: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use collector::SourceStats;

    use super::*;

    #[tokio::test]
    async fn a_silent_source_raises_one_alert_per_stall() {
        let stats = Arc::new(PipelineStats::default());
        let source = Arc::new(SourceStats::with_liveness(Duration::from_millis(300)));
        let _state = stats.register_source("forum", "discourse", Arc::clone(&source));
        let _replay = stats.register_source("replay", "replay", Arc::new(SourceStats::default()));
        let team = |name: &str, role| Team {
            name: name.to_owned(),
            role,
            members: Vec::new(),
        };
        let teams = vec![team("care", Role::Member), team("managers", Role::Manager)];
        let log = Arc::new(AlertLog::in_memory(16));
        let (live, mut events) = broadcast::channel(16);
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch(
            Arc::clone(&stats),
            teams,
            Arc::clone(&log),
            live,
            Duration::from_millis(20),
            stop.clone(),
        ));
        let first = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an alert before the deadline")
            .expect("an event");
        let LiveEvent::Alert(alert) = first.event().clone() else {
            panic!("expected an alert")
        };
        assert_eq!(alert.team, "managers");
        assert!(
            alert.reason.contains("`forum` (discourse)"),
            "{}",
            alert.reason
        );
        // Still silent: no second alert for the same stall.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(log.recent(None, 16).len(), 1);
        // It speaks, then falls silent again: a new stall, a new alert.
        source.alive(Utc::now());
        tokio::time::sleep(Duration::from_millis(60)).await;
        let second = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("a second alert before the deadline")
            .expect("an event");
        assert!(matches!(second.event(), LiveEvent::Alert(_)));
        stop.cancel();
        task.await.expect("the watcher stops");
    }

    #[test]
    fn a_stall_alerts_every_manager_team_and_only_them() {
        let team = |name: &str, role| Team {
            name: name.to_owned(),
            role,
            members: Vec::new(),
        };
        let teams = [
            team("support", Role::Member),
            team("managers", Role::Manager),
        ];
        let alerts = stall_alerts("x", "x", Some(95), Some(60), &teams, Utc::now());
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].team, "managers");
        assert_eq!(alerts[0].rule, "source-stalled");
        assert!(
            alerts[0].reason.contains("silent for 95 s"),
            "{}",
            alerts[0].reason
        );
        assert_eq!(alerts[0].post.source, SourceKind::X);
    }
}
