//! The life of an alert once raised: new → acknowledged → assigned → handled, who moved it
//! and when (with an optional reply note), and its SLA timer.
//!
//! Promises:
//! * an alert only moves forward: `acknowledge` from new; `assign` from new, acknowledged or
//!   assigned (re-assigning); `handle` from anything but handled; anything else is a
//!   [`LifecycleError`] and changes nothing;
//! * every change appends a [`Transition`] (status, by, at, note, assignee) to the history;
//! * the SLA timer of an alert is set when it is raised, from its severity
//!   ([`SlaPolicy`]); an alert not handled by then is breached, once
//!   ([`Lifecycle::check_sla`]). Time is always passed in, never read here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Severity;

/// The longest reply note kept, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    New,
    Acknowledged,
    Assigned,
    Handled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Assigned => "assigned",
            Status::Handled => "handled",
        }
    }
}

/// One change of status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub status: Status,
    /// User name of who made the change.
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a user asks to do with an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    Acknowledge,
    Assign {
        to: String,
    },
    Handle {
        #[serde(default)]
        note: Option<String>,
    },
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the alert is already {0}; it cannot be acknowledged")]
    CannotAcknowledge(&'static str),
    #[error("the alert is already handled")]
    AlreadyHandled,
    #[error("an assignment needs the name of a user")]
    NoAssignee,
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error("no alert `{0}`")]
    UnknownAlert(String),
    #[error("the alert engine is not running")]
    EngineStopped,
}

/// The lifecycle part of an [`super::Alert`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default)]
    pub history: Vec<Transition>,
    /// When the alert must be handled by, from its severity's SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// The alert was not handled by `due_at`.
    #[serde(default)]
    pub sla_breached: bool,
}

impl Lifecycle {
    /// A new alert's lifecycle, with its SLA timer started at `raised_at`.
    pub fn started(sla: &SlaPolicy, severity: Severity, raised_at: DateTime<Utc>) -> Lifecycle {
        Lifecycle {
            due_at: sla.due(severity, raised_at),
            ..Lifecycle::default()
        }
    }

    /// Applies `action` by user `by` at `now`, or says why not (and changes nothing).
    pub fn apply(
        &mut self,
        action: &Action,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LifecycleError> {
        let (status, assignee, note) = match action {
            Action::Acknowledge => {
                if self.status != Status::New {
                    return Err(LifecycleError::CannotAcknowledge(self.status.as_str()));
                }
                (Status::Acknowledged, None, None)
            }
            Action::Assign { to } => {
                let to = to.trim();
                if self.status == Status::Handled {
                    return Err(LifecycleError::AlreadyHandled);
                }
                if to.is_empty() {
                    return Err(LifecycleError::NoAssignee);
                }
                (Status::Assigned, Some(to.to_owned()), None)
            }
            Action::Handle { note } => {
                if self.status == Status::Handled {
                    return Err(LifecycleError::AlreadyHandled);
                }
                let note = note
                    .as_deref()
                    .map(str::trim)
                    .filter(|note| !note.is_empty());
                if note.is_some_and(|note| note.chars().count() > MAX_NOTE_CHARS) {
                    return Err(LifecycleError::NoteTooLong);
                }
                (Status::Handled, None, note.map(str::to_owned))
            }
        };
        self.status = status;
        if assignee.is_some() {
            self.assignee.clone_from(&assignee);
        }
        self.history.push(Transition {
            status,
            by: by.to_owned(),
            at: now,
            assignee,
            note,
        });
        Ok(())
    }

    /// Marks the SLA breached when `now` is past the due time of an alert not handled;
    /// true only the first time.
    pub fn check_sla(&mut self, now: DateTime<Utc>) -> bool {
        let overdue = self.due_at.is_some_and(|due| now > due);
        if overdue && !self.sla_breached && self.status != Status::Handled {
            self.sla_breached = true;
            return true;
        }
        false
    }
}

/// How long an alert of each severity may stay unhandled. `None`: no SLA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaPolicy {
    pub low: Option<Duration>,
    pub medium: Option<Duration>,
    pub high: Option<Duration>,
    pub urgent: Option<Duration>,
}

impl SlaPolicy {
    /// When an alert of `severity` raised at `raised_at` must be handled by.
    pub fn due(&self, severity: Severity, raised_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let limit = match severity {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Urgent => self.urgent,
        }?;
        let limit = chrono::Duration::from_std(limit).ok()?;
        raised_at.checked_add_signed(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::instant;

    fn sla() -> SlaPolicy {
        SlaPolicy {
            high: Some(Duration::from_secs(3600)),
            urgent: Some(Duration::from_secs(900)),
            ..SlaPolicy::default()
        }
    }

    #[test]
    fn moves_forward_and_records_who_and_when() {
        let mut lifecycle = Lifecycle::started(&sla(), Severity::High, instant(0));
        assert_eq!(lifecycle.due_at, Some(instant(3600)));
        lifecycle
            .apply(&Action::Acknowledge, "camille", instant(10))
            .expect("ack");
        lifecycle
            .apply(
                &Action::Assign {
                    to: " sam ".to_owned(),
                },
                "camille",
                instant(20),
            )
            .expect("assign");
        lifecycle
            .apply(
                &Action::Handle {
                    note: Some("Replied with the outage page".to_owned()),
                },
                "sam",
                instant(30),
            )
            .expect("handle");
        assert_eq!(lifecycle.status, Status::Handled);
        assert_eq!(lifecycle.assignee.as_deref(), Some("sam"));
        let steps: Vec<(Status, &str, DateTime<Utc>)> = lifecycle
            .history
            .iter()
            .map(|step| (step.status, step.by.as_str(), step.at))
            .collect();
        assert_eq!(
            steps,
            [
                (Status::Acknowledged, "camille", instant(10)),
                (Status::Assigned, "camille", instant(20)),
                (Status::Handled, "sam", instant(30)),
            ]
        );
        assert_eq!(
            lifecycle.history[2].note.as_deref(),
            Some("Replied with the outage page")
        );
    }

    #[test]
    fn refuses_to_go_back_and_changes_nothing() {
        let mut lifecycle = Lifecycle::default();
        lifecycle
            .apply(&Action::Acknowledge, "a", instant(1))
            .expect("ack");
        let before = lifecycle.clone();
        assert_eq!(
            lifecycle.apply(&Action::Acknowledge, "b", instant(2)),
            Err(LifecycleError::CannotAcknowledge("acknowledged"))
        );
        assert_eq!(
            lifecycle.apply(&Action::Assign { to: " ".to_owned() }, "b", instant(2)),
            Err(LifecycleError::NoAssignee)
        );
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            lifecycle.apply(&Action::Handle { note: Some(long) }, "b", instant(2)),
            Err(LifecycleError::NoteTooLong)
        );
        assert_eq!(lifecycle, before);
        lifecycle
            .apply(&Action::Handle { note: None }, "b", instant(3))
            .expect("handle");
        assert_eq!(
            lifecycle.apply(&Action::Handle { note: None }, "b", instant(4)),
            Err(LifecycleError::AlreadyHandled)
        );
    }

    #[test]
    fn sla_timers_follow_the_severity_and_breach_once() {
        let policy = sla();
        assert_eq!(policy.due(Severity::Low, instant(0)), None);
        let mut urgent = Lifecycle::started(&policy, Severity::Urgent, instant(0));
        assert!(
            !urgent.check_sla(instant(900)),
            "due at 900 s: not late yet"
        );
        assert!(urgent.check_sla(instant(901)));
        assert!(urgent.sla_breached);
        assert!(!urgent.check_sla(instant(2000)), "breached once");

        let mut handled_in_time = Lifecycle::started(&policy, Severity::High, instant(0));
        handled_in_time
            .apply(&Action::Handle { note: None }, "sam", instant(100))
            .expect("handle");
        assert!(!handled_in_time.check_sla(instant(10_000)));

        let mut no_sla = Lifecycle::started(&policy, Severity::Low, instant(0));
        assert!(!no_sla.check_sla(instant(1_000_000)));
    }

    #[test]
    fn actions_read_from_json() {
        let action: Action =
            serde_json::from_str(r#"{"action":"assign","to":"sam"}"#).expect("assign");
        assert_eq!(
            action,
            Action::Assign {
                to: "sam".to_owned()
            }
        );
        let action: Action = serde_json::from_str(r#"{"action":"handle"}"#).expect("handle");
        assert_eq!(action, Action::Handle { note: None });
    }
}
