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
//! * noise control at raise time ([`noise`]): a match whose dedupe key already alerted (or
//!   whose thread has an open alert of the rule) is folded into that alert instead;
//! * every alert carries its [`Lifecycle`] (status, history, SLA due time).
//!
//! [`AlertLog`] keeps the recent alerts for the dashboard, in memory and in the store;
//! [`spike`] raises volume spikes, [`notify`] holds notifications for digests and quiet
//! hours, [`service`] runs all of it as the one alert task.

pub mod lifecycle;
mod log;
pub mod noise;
pub mod notify;
pub mod service;
pub mod spike;

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use collector::{Change, SourceKind};
use nlp::{AnalysedPost, SentimentLabel};
use serde::{Deserialize, Serialize};

use crate::routing::Rule;

pub use lifecycle::{Action, Lifecycle, LifecycleError, SlaPolicy, Status, Transition};
pub use log::{ALERT_LOG_CAPACITY, ALERTS_TABLE, AlertLog};
pub use noise::{Decision, DedupeKey, NoiseFilter, NoisePolicy};
pub use spike::{SpikeConfig, SpikeDetail, SpikeDetector};

/// Post ids folded into one alert, at most.
pub const MAX_GROUP: usize = 100;

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
    #[serde(default)]
    pub noise: NoisePolicy,
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
    /// The author's id on the source (for dedupe by author after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    /// The thread the post belongs to ([`noise::thread_of`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

impl AlertPost {
    pub(crate) fn from_analysed(analysed: &AnalysedPost) -> AlertPost {
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
            author_id: Some(post.author.id.clone()),
            thread: Some(noise::thread_of(analysed)),
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
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Later posts folded into this alert (same dedupe key in the cooldown, or the same
    /// thread), oldest first, at most [`MAX_GROUP`].
    #[serde(default)]
    pub group: Vec<String>,
    /// For a spike alert: the numbers and what drove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spike: Option<Box<SpikeDetail>>,
}

impl Alert {
    /// Whether a user of these teams (or a manager) may see this alert.
    pub fn visible_to(&self, teams: &[String], manager: bool) -> bool {
        manager || teams.contains(&self.team)
    }

    /// Adds a folded post id; false when it was there already.
    pub fn fold(&mut self, post_id: &str) -> bool {
        if self.post_id == post_id || self.group.iter().any(|id| id == post_id) {
            return false;
        }
        if self.group.len() < MAX_GROUP {
            self.group.push(post_id.to_owned());
        }
        true
    }
}

/// What a post did to the alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Raised(Box<Alert>),
    /// The match was folded into an earlier alert (noise control).
    Folded {
        into: String,
        post_id: String,
    },
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
    noise: NoiseFilter,
    sla: SlaPolicy,
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
            noise: NoiseFilter::new(DEDUPE_CAPACITY),
            sla: SlaPolicy::default(),
        }
    }

    /// Starts each new alert's SLA timer from `sla`.
    pub fn with_sla(mut self, sla: SlaPolicy) -> AlertEngine {
        self.sla = sla;
        self
    }

    pub fn sla(&self) -> &SlaPolicy {
        &self.sla
    }

    /// Rebuilds what the engine knows from logged alerts (ids already raised, noise keys and
    /// open threads), oldest first.
    pub fn remember_alerts<'alert>(&mut self, alerts: impl IntoIterator<Item = &'alert Alert>) {
        for alert in alerts {
            self.mark_seen(alert.id.clone());
            for post_id in &alert.group {
                self.mark_seen(format!("{}:{post_id}", alert.rule));
            }
            if let Some(rule) = self.rules.iter().find(|rule| rule.name == alert.rule) {
                self.noise.remember(&rule.noise, alert);
            }
        }
    }

    /// An alert was handled: replies in its thread raise a new alert again.
    pub fn alert_handled(&mut self, alert: &Alert) {
        self.noise
            .handled(&alert.rule, alert.post.thread.as_deref(), &alert.id);
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
        self.noise = NoiseFilter::new(self.dedupe_capacity);
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
        self.process(post, now)
            .into_iter()
            .filter_map(|outcome| match outcome {
                Outcome::Raised(alert) => Some(*alert),
                Outcome::Folded { .. } => None,
            })
            .collect()
    }

    /// What `post` does at `now`: for each rule that holds and has not seen this post, a
    /// new alert or a fold into an earlier one (noise control).
    pub fn process(&mut self, post: &AnalysedPost, now: DateTime<Utc>) -> Vec<Outcome> {
        if post.post.change == Change::Delete {
            return Vec::new();
        }
        let mut outcomes = Vec::new();
        let mut seen_now = Vec::new();
        for rule in &self.rules {
            if !rule.when.matches(post) {
                continue;
            }
            let alert_id = format!("{}:{}", rule.name, post.post.id);
            if self.seen.contains(&alert_id) {
                tracing::debug!(alert = %alert_id, "alert already raised, skipped");
                continue;
            }
            seen_now.push(alert_id.clone());
            if let Decision::Fold { into } = self.noise.decide(&rule.name, &rule.noise, post, now) {
                outcomes.push(Outcome::Folded {
                    into,
                    post_id: post.post.id.to_string(),
                });
                continue;
            }
            self.noise
                .raised(&rule.name, &rule.noise, post, &alert_id, now);
            outcomes.push(Outcome::Raised(Box::new(Alert {
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
                lifecycle: Lifecycle::started(&self.sla, rule.severity, now),
                group: Vec::new(),
                spike: None,
            })));
        }
        for alert_id in seen_now {
            self.mark_seen(alert_id);
        }
        outcomes
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
pub(crate) mod tests;
