//! Noise control at raise time: what makes two matches "the same alert".
//!
//! For each rule, a match is keyed by the rule's [`DedupeKey`] (the post, its author or its
//! thread). A match whose key already raised an alert is folded into that alert instead of
//! raising a new one: forever when the rule has no cooldown, during the cooldown after the
//! first alert otherwise. A match in a thread (a reply) whose thread already has an alert of
//! the same rule that is not handled is folded into it too (grouping by thread).
//!
//! Promises: decisions depend only on the matches seen and the `now` passed in; memory is
//! bounded (the oldest keys are forgotten first); [`NoiseFilter::remember`] rebuilds the
//! state from logged alerts after a restart, so a re-delivered post decides the same way.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nlp::AnalysedPost;
use serde::{Deserialize, Serialize};

use super::Alert;

/// What identifies "the same thing" for a rule's alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupeKey {
    /// One alert per post (the default).
    #[default]
    Post,
    /// One alert per author.
    Author,
    /// One alert per conversation thread.
    Thread,
}

impl DedupeKey {
    pub fn parse(name: &str) -> Option<DedupeKey> {
        match name {
            "post" => Some(DedupeKey::Post),
            "author" => Some(DedupeKey::Author),
            "thread" => Some(DedupeKey::Thread),
            _ => None,
        }
    }
}

/// A rule's noise settings. The default: one alert per post, replies grouped by thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoisePolicy {
    #[serde(default)]
    pub dedupe: DedupeKey,
    /// After an alert, matches with the same key fold into it for this long; `None`: for
    /// as long as the key is remembered.
    #[serde(default)]
    pub cooldown: Option<Duration>,
    /// Replies in a thread that has an open alert of the rule fold into it.
    #[serde(default = "default_true")]
    pub group_threads: bool,
}

fn default_true() -> bool {
    true
}

impl Default for NoisePolicy {
    fn default() -> NoisePolicy {
        NoisePolicy {
            dedupe: DedupeKey::Post,
            cooldown: None,
            group_threads: true,
        }
    }
}

/// The thread a post belongs to: the post it replies to, else itself.
pub fn thread_of(post: &AnalysedPost) -> String {
    match &post.post.relation {
        collector::Relation::Reply {
            parent: Some(parent),
        } => format!("{}:{parent}", post.post.source.as_str()),
        _ => thread_key_of_id(&post.post.id.to_string()),
    }
}

/// The thread key of a post that starts its own thread: `<source>:<key>` as in replies.
fn thread_key_of_id(post_id: &str) -> String {
    post_id.to_owned()
}

/// Whether a match raises a new alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Raise,
    /// Fold the match into this earlier alert.
    Fold {
        into: String,
    },
}

#[derive(Debug, Clone)]
struct Raised {
    alert_id: String,
    at: DateTime<Utc>,
}

/// Remembers which keys and threads raised which alerts.
#[derive(Debug)]
pub struct NoiseFilter {
    keys: HashMap<(String, String), Raised>,
    key_order: VecDeque<(String, String)>,
    /// (rule, thread) → alert id, while the alert is not handled.
    threads: HashMap<(String, String), String>,
    thread_order: VecDeque<(String, String)>,
    capacity: usize,
}

impl NoiseFilter {
    pub fn new(capacity: usize) -> NoiseFilter {
        NoiseFilter {
            keys: HashMap::new(),
            key_order: VecDeque::new(),
            threads: HashMap::new(),
            thread_order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The key value of a match of `policy`.
    pub fn key_of(policy: &NoisePolicy, post: &AnalysedPost) -> String {
        match policy.dedupe {
            DedupeKey::Post => post.post.id.to_string(),
            DedupeKey::Author => format!("{}:{}", post.post.source.as_str(), post.post.author.id),
            DedupeKey::Thread => thread_of(post),
        }
    }

    /// Decides for a match of rule `rule` with `policy` on `post` at `now`.
    pub fn decide(
        &self,
        rule: &str,
        policy: &NoisePolicy,
        post: &AnalysedPost,
        now: DateTime<Utc>,
    ) -> Decision {
        let key = (rule.to_owned(), NoiseFilter::key_of(policy, post));
        if let Some(raised) = self.keys.get(&key) {
            let cooling = match policy.cooldown {
                None => true,
                Some(cooldown) => chrono::Duration::from_std(cooldown)
                    .ok()
                    .and_then(|cooldown| raised.at.checked_add_signed(cooldown))
                    .is_none_or(|until| now < until),
            };
            if cooling {
                return Decision::Fold {
                    into: raised.alert_id.clone(),
                };
            }
        }
        if policy.group_threads
            && matches!(post.post.relation, collector::Relation::Reply { .. })
            && let Some(alert_id) = self.threads.get(&(rule.to_owned(), thread_of(post)))
        {
            return Decision::Fold {
                into: alert_id.clone(),
            };
        }
        Decision::Raise
    }

    /// Records that `alert_id` was raised for this match at `at`.
    pub fn raised(
        &mut self,
        rule: &str,
        policy: &NoisePolicy,
        post: &AnalysedPost,
        alert_id: &str,
        at: DateTime<Utc>,
    ) {
        let key = NoiseFilter::key_of(policy, post);
        self.insert(rule, key, thread_of(post), alert_id, at);
    }

    /// Rebuilds the state of one alert read back from the log.
    pub fn remember(&mut self, policy: &NoisePolicy, alert: &Alert) {
        let thread = alert
            .post
            .thread
            .clone()
            .unwrap_or_else(|| thread_key_of_id(&alert.post_id));
        let key = match policy.dedupe {
            DedupeKey::Post => alert.post_id.clone(),
            DedupeKey::Author => match &alert.post.author_id {
                Some(author) => format!("{}:{author}", alert.post.source.as_str()),
                None => return,
            },
            DedupeKey::Thread => thread.clone(),
        };
        self.insert(&alert.rule, key, thread, &alert.id, alert.created_at);
        if alert.lifecycle.status == super::Status::Handled {
            self.handled(&alert.rule, alert.post.thread.as_deref(), &alert.id);
        }
    }

    /// The alert was handled: later replies in its thread raise a new alert.
    pub fn handled(&mut self, rule: &str, thread: Option<&str>, alert_id: &str) {
        if let Some(thread) = thread {
            let key = (rule.to_owned(), thread.to_owned());
            if self.threads.get(&key).is_some_and(|id| id == alert_id) {
                self.threads.remove(&key);
            }
        }
    }

    fn insert(
        &mut self,
        rule: &str,
        key: String,
        thread: String,
        alert_id: &str,
        at: DateTime<Utc>,
    ) {
        let key = (rule.to_owned(), key);
        let raised = Raised {
            alert_id: alert_id.to_owned(),
            at,
        };
        if self.keys.insert(key.clone(), raised).is_none() {
            self.key_order.push_back(key);
        }
        let thread = (rule.to_owned(), thread);
        if self
            .threads
            .insert(thread.clone(), alert_id.to_owned())
            .is_none()
        {
            self.thread_order.push_back(thread);
        }
        while self.key_order.len() > self.capacity {
            if let Some(oldest) = self.key_order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        while self.thread_order.len() > self.capacity {
            if let Some(oldest) = self.thread_order.pop_front() {
                self.threads.remove(&oldest);
            }
        }
    }
}
