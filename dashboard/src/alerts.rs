//! The alert engine: routing rules turn analysed posts into [`Alert`]s for teams.
//!
//! In: each [`AnalysedPost`] as soon as the NLP stage hands it on (alerts never wait for an
//! index commit). Out: one [`Alert`] per [`RoutingRule`] whose condition holds, for the
//! rule's team, with a human-readable reason.
//!
//! Promises:
//! * the engine is stateful and runs in exactly one place (see `ARCHITECTURE.md`);
//! * an alert's id is `<rule>:<post id>`, and the engine never emits the same id twice
//!   while it remembers it: it keeps the newest [`DEDUPE_CAPACITY`] ids (and can be seeded
//!   from the [`AlertLog`] at start), so a post re-delivered after a crash does not alert
//!   again;
//! * deletions are never evaluated (the pipeline does not hand them on anyway).
//!
//! [`AlertLog`] keeps the recent alerts for the dashboard, in memory and in the store.

mod log;

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use collector::{Change, SourceKind};
use nlp::{AnalysedPost, SentimentLabel};
use serde::{Deserialize, Serialize};

use crate::routing::Rule;

pub use log::{ALERT_LOG_CAPACITY, ALERTS_TABLE, AlertLog};

/// How many alert ids the engine remembers to avoid alerting twice.
pub const DEDUPE_CAPACITY: usize = 100_000;

/// What a team's members may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees what is routed to the team.
    Member,
    /// Sees every alert and every category feed.
    Manager,
}

/// A team that alerts are routed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub role: Role,
    /// User names of the members.
    pub members: Vec<String>,
}

/// How urgent an alert is. Ordered from `Low` to `Urgent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Urgent,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Urgent,
    ];

    /// The severity called `name` (`low`, `medium`, `high`, `urgent`).
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Urgent => "urgent",
        }
    }
}

/// A validated routing rule: when `when` holds for a post, alert `team`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingRule {
    /// Unique among the rules; part of every alert id.
    pub name: String,
    pub when: Rule,
    pub team: String,
    pub severity: Severity,
}

/// What an alert shows of its post, so the alert list needs no index lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPost {
    pub text: String,
    pub author_handle: Option<String>,
    pub author_name: Option<String>,
    pub followers: Option<u64>,
    pub url: Option<String>,
    pub source: SourceKind,
    pub language: String,
    pub sentiment: SentimentLabel,
    pub score: f32,
    pub categories: BTreeMap<String, Vec<String>>,
}

impl AlertPost {
    fn from_analysed(analysed: &AnalysedPost) -> AlertPost {
        let post = &analysed.post;
        let analysis = &analysed.analysis;
        AlertPost {
            text: post.text.clone(),
            author_handle: post.author.handle.clone(),
            author_name: post.author.name.clone(),
            followers: post.author.followers,
            url: post.url.clone(),
            source: post.source,
            language: analysis.language.clone(),
            sentiment: analysis.sentiment.label,
            score: analysis.sentiment.score,
            categories: analysis.categories.clone(),
        }
    }
}

/// A routing rule fired for a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `<rule>:<post id>`: unique per rule and post.
    pub id: String,
    pub rule: String,
    pub team: String,
    pub severity: Severity,
    pub post_id: String,
    pub brands: Vec<String>,
    /// Why: the rule's name and the conditions that held, with the post's values.
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub post: AlertPost,
}

/// Evaluates every routing rule on each post and remembers what it already alerted.
#[derive(Debug)]
pub struct AlertEngine {
    rules: Vec<RoutingRule>,
    teams: Vec<Team>,
    /// Alert ids already emitted, and the same ids oldest first for eviction.
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    dedupe_capacity: usize,
}

impl AlertEngine {
    /// Builds the engine from validated configuration. Problems [`AlertEngine::check`]
    /// would report are logged, not fatal: the config loader rejects them first.
    pub fn new(rules: Vec<RoutingRule>, teams: Vec<Team>) -> AlertEngine {
        for problem in AlertEngine::check(&rules, &teams) {
            tracing::warn!(%problem, "alert rules are inconsistent");
        }
        AlertEngine {
            rules,
            teams,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            dedupe_capacity: DEDUPE_CAPACITY,
        }
    }

    /// Every inconsistency between rules and teams: a rule routing to an unknown team, a
    /// rule name that is empty or used twice (names make alert ids).
    pub fn check(rules: &[RoutingRule], teams: &[Team]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = HashSet::new();
        for rule in rules {
            if rule.name.trim().is_empty() {
                problems.push("a rule has an empty name".to_owned());
            } else if !names.insert(rule.name.as_str()) {
                problems.push(format!("rule `{}` is defined twice", rule.name));
            }
            if !teams.iter().any(|team| team.name == rule.team) {
                problems.push(format!(
                    "rule `{}` routes to unknown team `{}`",
                    rule.name, rule.team
                ));
            }
        }
        problems
    }

    /// Remembers at most `capacity` alert ids (at least one).
    pub fn with_dedupe_capacity(mut self, capacity: usize) -> AlertEngine {
        self.dedupe_capacity = capacity.max(1);
        self.forget_oldest();
        self
    }

    pub fn rules(&self) -> &[RoutingRule] {
        &self.rules
    }

    pub fn teams(&self) -> &[Team] {
        &self.teams
    }

    /// Marks these alert ids as already emitted, e.g. those of the [`AlertLog`] at start,
    /// oldest first.
    pub fn remember<'id>(&mut self, alert_ids: impl IntoIterator<Item = &'id str>) {
        for alert_id in alert_ids {
            self.mark_seen(alert_id.to_owned());
        }
    }

    /// The alerts `post` raises now: one per rule that holds and has not already alerted
    /// for this post.
    pub fn evaluate(&mut self, post: &AnalysedPost, now: DateTime<Utc>) -> Vec<Alert> {
        if post.post.change == Change::Delete {
            return Vec::new();
        }
        let mut alerts = Vec::new();
        for rule in &self.rules {
            if !rule.when.matches(post) {
                continue;
            }
            let alert_id = format!("{}:{}", rule.name, post.post.id);
            if self.seen.contains(&alert_id) {
                tracing::debug!(alert = %alert_id, "alert already raised, skipped");
                continue;
            }
            alerts.push(Alert {
                id: alert_id,
                rule: rule.name.clone(),
                team: rule.team.clone(),
                severity: rule.severity,
                post_id: post.post.id.to_string(),
                brands: post
                    .analysis
                    .brands
                    .iter()
                    .map(|brand| brand.brand.clone())
                    .collect(),
                reason: format!("rule {}: {}", rule.name, rule.when.explain(post)),
                created_at: now,
                post: AlertPost::from_analysed(post),
            });
        }
        for alert in &alerts {
            self.mark_seen(alert.id.clone());
        }
        alerts
    }

    fn mark_seen(&mut self, alert_id: String) {
        if self.seen.insert(alert_id.clone()) {
            self.seen_order.push_back(alert_id);
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        while self.seen_order.len() > self.dedupe_capacity {
            if let Some(oldest) = self.seen_order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        debug_assert_eq!(self.seen.len(), self.seen_order.len());
    }
}

#[cfg(test)]
mod tests {
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
        }
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
        let team: Team =
            serde_json::from_str(r#"{"name":"m","role":"manager","members":["morgan"]}"#)
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
}
