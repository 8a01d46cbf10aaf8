//! The alert task on an injected clock: lifecycle changes persisted across a restart and
//! pushed live, SLA breaches flagged once and notified, folded posts, notifications held
//! for a digest.

use std::sync::Arc;
use std::time::Duration;

use nlp::SentimentLabel;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::*;
use crate::alerts::notify::TeamNotify;
use crate::alerts::{DedupeKey, NoisePolicy, Role, RoutingRule, Severity, SlaPolicy, Team};
use crate::routing::parse;
use crate::test_support::{PostBuilder, instant};

fn engine() -> AlertEngine {
    let rule = RoutingRule {
        name: "unhappy".to_owned(),
        when: parse("sentiment = negative").expect("valid"),
        team: "care".to_owned(),
        severity: Severity::High,
        noise: NoisePolicy {
            dedupe: DedupeKey::Author,
            cooldown: Some(Duration::from_secs(600)),
            group_threads: true,
        },
    };
    let team = Team {
        name: "care".to_owned(),
        role: Role::Member,
        members: vec!["carla".to_owned()],
    };
    AlertEngine::new(vec![rule], vec![team]).with_sla(SlaPolicy {
        high: Some(Duration::from_secs(3600)),
        ..SlaPolicy::default()
    })
}

fn unhappy(id: &str, author: &str) -> nlp::AnalysedPost {
    let mut post = PostBuilder::new(id)
        .text("no signal again")
        .sentiment(SentimentLabel::Negative, -0.8)
        .brand("Lumio")
        .build();
    post.post.author.id = author.to_owned();
    post
}

fn act(
    service: &mut AlertService,
    id: &str,
    action: Action,
    at: i64,
) -> Result<Alert, LifecycleError> {
    let (reply, mut answer) = oneshot::channel();
    service.on_command(
        Command::Lifecycle {
            alert_id: id.to_owned(),
            action,
            by: "carla".to_owned(),
            reply,
        },
        instant(at),
    );
    answer.try_recv().expect("answered at once")
}

#[test]
fn lifecycle_survives_a_restart_and_every_change_is_pushed_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    let (live, mut events) = broadcast::channel(64);
    {
        let store = index::Store::open(&path).expect("store");
        let log = Arc::new(AlertLog::open(store).expect("log"));
        let mut service = AlertService::new(engine(), log, live.clone(), Arc::default());
        service.on_post(&unhappy("x:1", "a"), instant(0));
        let kinds: Vec<String> =
            std::iter::from_fn(|| events.try_recv().ok().map(|event| event.event().clone()))
                .map(|event| match event {
                    LiveEvent::Post(post) => format!("post {} {:?}", post.id, post.teams),
                    LiveEvent::Alert(alert) => format!("alert {}", alert.id),
                    other => format!("{other:?}"),
                })
                .collect();
        assert_eq!(kinds, ["post x:1 [\"care\"]", "alert unhappy:x:1"]);
        let acknowledged = act(&mut service, "unhappy:x:1", Action::Acknowledge, 5).expect("ack");
        assert_eq!(acknowledged.lifecycle.status, Status::Acknowledged);
        match events.try_recv().map(|event| event.event().clone()) {
            Ok(LiveEvent::AlertUpdated(alert)) => assert_eq!(alert, acknowledged),
            other => panic!("expected the change live, got {other:?}"),
        }
        act(
            &mut service,
            "unhappy:x:1",
            Action::Assign {
                to: "sam".to_owned(),
            },
            6,
        )
        .expect("assign");
        assert_eq!(
            act(&mut service, "nope", Action::Acknowledge, 7),
            Err(LifecycleError::UnknownAlert("nope".to_owned()))
        );
    }
    // Restart: a new store handle, log and service over the same file.
    let store = index::Store::open(&path).expect("store reopens");
    let log = Arc::new(AlertLog::open(store).expect("log reopens"));
    let alert = log.get("unhappy:x:1").expect("still there");
    assert_eq!(alert.lifecycle.status, Status::Assigned);
    assert_eq!(alert.lifecycle.assignee.as_deref(), Some("sam"));
    let history: Vec<(Status, i64)> = alert
        .lifecycle
        .history
        .iter()
        .map(|step| (step.status, step.at.timestamp() - instant(0).timestamp()))
        .collect();
    assert_eq!(history, [(Status::Acknowledged, 5), (Status::Assigned, 6)]);
    assert_eq!(alert.lifecycle.due_at, Some(instant(3600)));

    let (live, mut events) = broadcast::channel(64);
    let mut service = AlertService::new(engine(), Arc::clone(&log), live, Arc::default());
    service.on_post(&unhappy("x:1", "a"), instant(100));
    service.on_post(&unhappy("x:2", "a"), instant(200));
    let alerts: Vec<String> =
        std::iter::from_fn(|| events.try_recv().ok().map(|event| event.event().clone()))
            .filter_map(|event| match event {
                LiveEvent::Alert(alert) => Some(format!("new {}", alert.id)),
                LiveEvent::AlertUpdated(alert) => {
                    Some(format!("updated {} {:?}", alert.id, alert.group))
                }
                _ => None,
            })
            .collect();
    assert_eq!(
        alerts,
        ["updated unhappy:x:1 [\"x:2\"]"],
        "the re-delivered post raises nothing; the author's next post folds in (cooldown)"
    );
    let handled = act(
        &mut service,
        "unhappy:x:1",
        Action::Handle { note: None },
        300,
    )
    .expect("handle");
    assert_eq!(handled.lifecycle.history.len(), 3);
    assert_eq!(handled.group, ["x:2"]);
}

#[test]
fn sla_breaches_are_flagged_once_pushed_and_notified() {
    let (live, mut events) = broadcast::channel(64);
    let log = Arc::new(AlertLog::in_memory(10));
    let (out, mut notifications) = mpsc::channel(16);
    let stats = Arc::new(AlertStats::default());
    let mut service = AlertService::new(engine(), log, live, Arc::clone(&stats))
        .with_notifications(Notifier::default(), out);
    service.on_post(&unhappy("x:1", "a"), instant(0));
    service.on_post(&unhappy("x:2", "b"), instant(0));
    act(
        &mut service,
        "unhappy:x:2",
        Action::Handle { note: None },
        60,
    )
    .expect("handle");
    while events.try_recv().is_ok() {}
    service.on_tick(instant(3600));
    assert!(events.try_recv().is_err(), "not late at the due time");
    service.on_tick(instant(3601));
    match events.try_recv().map(|event| event.event().clone()) {
        Ok(LiveEvent::AlertUpdated(alert)) => {
            assert_eq!(alert.id, "unhappy:x:1");
            assert!(alert.lifecycle.sla_breached);
        }
        other => panic!("expected the breach live, got {other:?}"),
    }
    assert!(
        events.try_recv().is_err(),
        "the handled alert is not breached"
    );
    service.on_tick(instant(7200));
    assert!(events.try_recv().is_err(), "breached once");
    let sent: Vec<String> = std::iter::from_fn(|| notifications.try_recv().ok())
        .map(|notification| match notification {
            Notification::Alert { alert, .. } => format!("alert {}", alert.id),
            Notification::SlaBreached { alert, .. } => format!("breach {}", alert.id),
            Notification::Digest { alerts, .. } => format!("digest {}", alerts.len()),
        })
        .collect();
    assert_eq!(
        sent,
        [
            "alert unhappy:x:1",
            "alert unhappy:x:2",
            "breach unhappy:x:1"
        ]
    );
    assert_eq!(stats.snapshot()["sla_breaches"], 1);
}

#[test]
fn digest_teams_get_one_notification_per_period() {
    let (live, _events) = broadcast::channel(64);
    let (out, mut notifications) = mpsc::channel(16);
    let notifier = Notifier::new([(
        "care".to_owned(),
        TeamNotify {
            digest: Some(Duration::from_secs(900)),
            quiet_hours: None,
        },
    )]);
    let mut service = AlertService::new(
        engine(),
        Arc::new(AlertLog::in_memory(10)),
        live,
        Arc::default(),
    )
    .with_notifications(notifier, out);
    service.on_post(&unhappy("x:1", "a"), instant(0));
    service.on_post(&unhappy("x:2", "b"), instant(60));
    service.on_tick(instant(899));
    assert!(notifications.try_recv().is_err());
    service.on_tick(instant(900));
    match notifications.try_recv() {
        Ok(Notification::Digest { team, alerts }) => {
            assert_eq!(team, "care");
            assert_eq!(alerts.len(), 2);
        }
        other => panic!("expected a digest, got {other:?}"),
    }
}
