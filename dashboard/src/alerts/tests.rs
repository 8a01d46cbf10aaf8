//! Unit tests of the alert engine: routing, dedupe, cooldown, grouping by thread, SLA start.
use super::*;
use crate::routing::parse;
use crate::test_support::{PostBuilder, instant};

fn team(name: &str, role: Role) -> Team {
    Team {
        name: name.to_owned(),
        role,
        members: vec![format!("{name}-member")],
    }
}

fn teams() -> Vec<Team> {
    vec![
        team("customer-service", Role::Member),
        team("marketing", Role::Member),
        team("managers", Role::Manager),
    ]
}

fn rule(name: &str, when: &str, team: &str, severity: Severity) -> RoutingRule {
    RoutingRule {
        name: name.to_owned(),
        when: parse(when).expect("valid rule"),
        team: team.to_owned(),
        severity,
        noise: NoisePolicy::default(),
    }
}

/// An alert as the engine raises it, for other modules' tests.
pub(crate) fn sample_alert(id: &str) -> Alert {
    let mut engine = sample_engine();
    let mut alert = engine
        .evaluate(&unhappy_outage("x:1"), instant(0))
        .remove(0);
    alert.id = id.to_owned();
    alert
}

fn sample_engine() -> AlertEngine {
    let rules = vec![
        rule(
            "unhappy-outage-or-billing",
            "sentiment = negative and topic in [outage, billing]",
            "customer-service",
            Severity::High,
        ),
        rule(
            "unhappy-other",
            "sentiment = negative and not topic in [outage, billing]",
            "customer-service",
            Severity::Medium,
        ),
        rule("fans", "sentiment = positive", "marketing", Severity::Low),
        rule(
            "churn-watch",
            "topic = cancellation",
            "managers",
            Severity::Medium,
        ),
    ];
    AlertEngine::new(rules, teams())
}

fn unhappy_outage(id: &str) -> AnalysedPost {
    PostBuilder::new(id)
        .text("@lumio no signal since this morning")
        .author("@claire", "Claire")
        .followers(25_300)
        .sentiment(SentimentLabel::Negative, -0.72)
        .brand("Lumio")
        .category("topic", "outage")
        .category("topic", "cancellation")
        .build()
}

#[test]
fn raises_one_alert_per_matching_rule_for_its_team() {
    let mut engine = sample_engine();
    let alerts = engine.evaluate(&unhappy_outage("x:1"), instant(10));
    let summary: Vec<(&str, &str, Severity)> = alerts
        .iter()
        .map(|alert| (alert.rule.as_str(), alert.team.as_str(), alert.severity))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "unhappy-outage-or-billing",
                "customer-service",
                Severity::High
            ),
            ("churn-watch", "managers", Severity::Medium),
        ]
    );
    let first = &alerts[0];
    assert_eq!(first.id, "unhappy-outage-or-billing:x:1");
    assert_eq!(first.post_id, "x:1");
    assert_eq!(first.brands, ["Lumio"]);
    assert_eq!(first.created_at, instant(10));
    assert_eq!(
        first.reason,
        "rule unhappy-outage-or-billing: sentiment = negative (-0.72), \
         topic in [outage, billing] (outage)"
    );
    assert_eq!(first.post.author_handle.as_deref(), Some("@claire"));
    assert_eq!(first.post.followers, Some(25_300));
    assert_eq!(first.post.categories["topic"], ["outage", "cancellation"]);

    let fan = PostBuilder::new("x:2")
        .sentiment(SentimentLabel::Positive, 0.8)
        .build();
    let alerts = engine.evaluate(&fan, instant(11));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].team, "marketing");

    let neutral = PostBuilder::new("x:3").build();
    assert!(engine.evaluate(&neutral, instant(12)).is_empty());
}

#[test]
fn never_alerts_twice_for_the_same_rule_and_post() {
    let mut engine = sample_engine();
    assert_eq!(engine.evaluate(&unhappy_outage("x:1"), instant(0)).len(), 2);
    assert!(
        engine
            .evaluate(&unhappy_outage("x:1"), instant(5))
            .is_empty()
    );
    assert_eq!(engine.evaluate(&unhappy_outage("x:2"), instant(6)).len(), 2);
}

#[test]
fn remembers_a_bounded_number_of_alerts() {
    let mut engine = sample_engine().with_dedupe_capacity(4);
    for number in 0..3 {
        let id = format!("x:{number}");
        assert_eq!(engine.evaluate(&unhappy_outage(&id), instant(0)).len(), 2);
    }
    assert!(engine.seen.len() <= 4);
    // x:0's alerts were forgotten, x:2's are remembered.
    assert_eq!(engine.evaluate(&unhappy_outage("x:0"), instant(1)).len(), 2);
    assert!(
        engine
            .evaluate(&unhappy_outage("x:0"), instant(1))
            .is_empty()
    );
}

#[test]
fn remembered_ids_are_not_raised_again() {
    let mut engine = sample_engine();
    engine.remember(["churn-watch:x:1"]);
    let alerts = engine.evaluate(&unhappy_outage("x:1"), instant(0));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, "unhappy-outage-or-billing");
}

fn with_noise(mut engine: AlertEngine, rule: &str, noise: NoisePolicy) -> AlertEngine {
    for candidate in &mut engine.rules {
        if candidate.name == rule {
            candidate.noise = noise.clone();
        }
    }
    engine
}

fn outcome_summary(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Raised(alert) => format!("raise {}", alert.id),
            Outcome::Folded { into, post_id } => format!("fold {post_id} into {into}"),
        })
        .collect()
}

fn by_author(id: &str, author: &str) -> AnalysedPost {
    let mut post = unhappy_outage(id);
    post.post.author.id = author.to_owned();
    post
}

#[test]
fn dedupe_by_author_folds_later_posts_forever_without_cooldown() {
    let noise = NoisePolicy {
        dedupe: DedupeKey::Author,
        cooldown: None,
        group_threads: false,
    };
    let mut engine = with_noise(sample_engine(), "churn-watch", noise);
    let first = engine.process(&by_author("x:1", "a"), instant(0));
    assert_eq!(
        outcome_summary(&first),
        [
            "raise unhappy-outage-or-billing:x:1",
            "raise churn-watch:x:1"
        ]
    );
    let second = engine.process(&by_author("x:2", "a"), instant(86_400));
    assert_eq!(
        outcome_summary(&second),
        [
            "raise unhappy-outage-or-billing:x:2",
            "fold x:2 into churn-watch:x:1"
        ]
    );
    let other = engine.process(&by_author("x:3", "b"), instant(86_401));
    assert_eq!(other.len(), 2);
    assert!(matches!(other[1], Outcome::Raised(_)));
}

#[test]
fn cooldown_folds_only_while_it_lasts() {
    let noise = NoisePolicy {
        dedupe: DedupeKey::Author,
        cooldown: Some(std::time::Duration::from_secs(600)),
        group_threads: false,
    };
    let mut engine = with_noise(sample_engine(), "churn-watch", noise);
    engine.process(&by_author("x:1", "a"), instant(0));
    let inside = engine.process(&by_author("x:2", "a"), instant(599));
    assert_eq!(outcome_summary(&inside)[1], "fold x:2 into churn-watch:x:1");
    let after = engine.process(&by_author("x:3", "a"), instant(600));
    assert_eq!(outcome_summary(&after)[1], "raise churn-watch:x:3");
    let inside_new = engine.process(&by_author("x:4", "a"), instant(1000));
    assert_eq!(
        outcome_summary(&inside_new)[1],
        "fold x:4 into churn-watch:x:3"
    );
}

#[test]
fn replies_in_a_thread_with_an_open_alert_are_grouped() {
    let mut engine = sample_engine();
    let root = engine.process(&unhappy_outage("x:100"), instant(0));
    assert_eq!(root.len(), 2);
    let mut reply = unhappy_outage("x:101");
    reply.post.relation = collector::Relation::Reply {
        parent: Some("100".to_owned()),
    };
    let grouped = engine.process(&reply, instant(5));
    assert_eq!(
        outcome_summary(&grouped),
        [
            "fold x:101 into unhappy-outage-or-billing:x:100",
            "fold x:101 into churn-watch:x:100"
        ]
    );
    // Once handled, a new reply opens a new alert.
    let Outcome::Raised(alert) = root[0].clone() else {
        panic!("raised")
    };
    let mut alert = *alert;
    alert.lifecycle.status = Status::Handled;
    engine.alert_handled(&alert);
    let mut late = unhappy_outage("x:102");
    late.post.relation = reply.post.relation.clone();
    let outcomes = engine.process(&late, instant(9));
    assert_eq!(
        outcome_summary(&outcomes)[0],
        "raise unhappy-outage-or-billing:x:102"
    );
}

#[test]
fn a_restarted_engine_decides_as_before_from_the_log() {
    let noise = NoisePolicy {
        dedupe: DedupeKey::Author,
        cooldown: None,
        group_threads: true,
    };
    let mut engine = with_noise(sample_engine(), "churn-watch", noise.clone());
    let raised: Vec<Alert> = engine.evaluate(&by_author("x:1", "a"), instant(0));
    let mut restarted = with_noise(sample_engine(), "churn-watch", noise);
    restarted.remember_alerts(&raised);
    assert!(
        restarted
            .process(&by_author("x:1", "a"), instant(1))
            .is_empty()
    );
    let later = restarted.process(&by_author("x:2", "a"), instant(2));
    assert_eq!(outcome_summary(&later)[1], "fold x:2 into churn-watch:x:1");
}

#[test]
fn new_alerts_start_their_sla_timer() {
    let sla = SlaPolicy {
        high: Some(std::time::Duration::from_secs(3600)),
        ..SlaPolicy::default()
    };
    let mut engine = sample_engine().with_sla(sla);
    let alerts = engine.evaluate(&unhappy_outage("x:1"), instant(0));
    assert_eq!(alerts[0].lifecycle.due_at, Some(instant(3600)));
    assert_eq!(alerts[1].lifecycle.due_at, None, "no SLA for medium");
    assert_eq!(alerts[0].lifecycle.status, Status::New);
}

#[test]
fn deletions_are_not_evaluated() {
    let mut engine = sample_engine();
    let mut deleted = unhappy_outage("x:1");
    deleted.post.change = Change::Delete;
    assert!(engine.evaluate(&deleted, instant(0)).is_empty());
}

#[test]
fn check_reports_unknown_teams_and_duplicate_names_all_at_once() {
    let rules = vec![
        rule("a", "brand", "nobody", Severity::Low),
        rule("a", "brand", "marketing", Severity::Low),
        rule(" ", "brand", "marketing", Severity::Low),
    ];
    assert!(AlertEngine::check(&rules[1..2], &teams()).is_empty());
    assert_eq!(
        AlertEngine::check(&rules, &teams()),
        [
            "rule `a` routes to unknown team `nobody`",
            "rule `a` is defined twice",
            "a rule has an empty name",
        ]
    );
}

#[test]
fn config_types_read_lowercase_names() {
    let team: Team = serde_json::from_str(r#"{"name":"m","role":"manager","members":["morgan"]}"#)
        .expect("valid team");
    assert_eq!(team.role, Role::Manager);
    let rule: RoutingRule = serde_json::from_str(
        r#"{"name":"r","when":"sentiment = negative","team":"m","severity":"urgent"}"#,
    )
    .expect("valid rule");
    assert_eq!(rule.severity, Severity::Urgent);
    assert!(Severity::Urgent > Severity::High && Severity::Medium > Severity::Low);
    for severity in Severity::ALL {
        assert_eq!(Severity::parse(severity.as_str()), Some(severity));
    }
    assert_eq!(Severity::parse("critical"), None);
}

#[test]
fn alerts_round_trip_through_json() {
    let mut engine = sample_engine();
    let alert = engine
        .evaluate(&unhappy_outage("x:1"), instant(0))
        .remove(0);
    let json = serde_json::to_string(&alert).expect("serialize");
    let back: Alert = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, alert);
}
