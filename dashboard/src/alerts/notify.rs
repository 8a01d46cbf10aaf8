//! Noise control at notification time: when a team's outbound notifications (webhooks) go
//! out. Every alert still reaches the team's inbox live at once; this decides only about
//! pushing it to the team's chat.
//!
//! * **Quiet hours** (`22:00-07:00`, UTC): notifications below `urgent` are held, then sent
//!   as one digest when the quiet hours end. Urgent alerts always go out at once.
//! * **Digest mode** (`digest = "15m"`): notifications below `urgent` are held and sent as
//!   one digest per period, counted from the first alert held.
//!
//! Promises: nothing held is lost while the process runs (held alerts go out in order of
//! arrival, in the first digest due); decisions depend only on the `now` passed in.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use super::{Alert, Severity};

/// A daily span of quiet time in UTC, `start` inclusive, `end` exclusive, in minutes after
/// midnight. `start > end` spans midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: u32,
    pub end: u32,
}

impl QuietHours {
    /// Reads `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Option<QuietHours> {
        let (start, end) = text.trim().split_once('-')?;
        let minutes = |part: &str| -> Option<u32> {
            let (hours, minutes) = part.trim().split_once(':')?;
            let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
            (hours < 24 && minutes < 60 && part.trim().len() == 5).then_some(hours * 60 + minutes)
        };
        let quiet = QuietHours {
            start: minutes(start)?,
            end: minutes(end)?,
        };
        (quiet.start != quiet.end).then_some(quiet)
    }

    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let minute = now.hour() * 60 + now.minute();
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// A team's notification settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamNotify {
    pub digest: Option<Duration>,
    pub quiet_hours: Option<QuietHours>,
}

/// What goes out to a team.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notification {
    Alert { team: String, alert: Box<Alert> },
    Digest { team: String, alerts: Vec<Alert> },
    SlaBreached { team: String, alert: Box<Alert> },
}

impl Notification {
    pub fn team(&self) -> &str {
        match self {
            Notification::Alert { team, .. }
            | Notification::Digest { team, .. }
            | Notification::SlaBreached { team, .. } => team,
        }
    }
}

#[derive(Debug, Default)]
struct Held {
    alerts: Vec<Alert>,
    /// When the digest of what is held goes out (digest mode).
    digest_at: Option<DateTime<Utc>>,
}

/// Decides when each team's notifications go out.
#[derive(Debug, Default)]
pub struct Notifier {
    teams: BTreeMap<String, TeamNotify>,
    held: BTreeMap<String, Held>,
}

impl Notifier {
    pub fn new(teams: impl IntoIterator<Item = (String, TeamNotify)>) -> Notifier {
        Notifier {
            teams: teams.into_iter().collect(),
            held: BTreeMap::new(),
        }
    }

    /// A new alert for `alert.team` at `now`: the notification to send now, or `None` when
    /// it is held for a digest.
    pub fn offer(&mut self, alert: &Alert, now: DateTime<Utc>) -> Option<Notification> {
        let settings = self.teams.get(&alert.team).cloned().unwrap_or_default();
        let quiet = settings
            .quiet_hours
            .is_some_and(|quiet| quiet.contains(now));
        if alert.severity == Severity::Urgent || (!quiet && settings.digest.is_none()) {
            return Some(Notification::Alert {
                team: alert.team.clone(),
                alert: Box::new(alert.clone()),
            });
        }
        let held = self.held.entry(alert.team.clone()).or_default();
        if held.digest_at.is_none()
            && let Some(period) = settings.digest
        {
            held.digest_at = chrono::Duration::from_std(period)
                .ok()
                .and_then(|period| now.checked_add_signed(period));
        }
        held.alerts.push(alert.clone());
        None
    }

    /// The digests due at `now`: a team's held alerts go out when it is not in quiet hours
    /// and, in digest mode, its digest time has come.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Notification> {
        let mut out = Vec::new();
        for (team, held) in &mut self.held {
            if held.alerts.is_empty() {
                continue;
            }
            let settings = self.teams.get(team).cloned().unwrap_or_default();
            if settings
                .quiet_hours
                .is_some_and(|quiet| quiet.contains(now))
            {
                continue;
            }
            if settings.digest.is_some() && held.digest_at.is_some_and(|at| now < at) {
                continue;
            }
            held.digest_at = None;
            out.push(Notification::Digest {
                team: team.clone(),
                alerts: std::mem::take(&mut held.alerts),
            });
        }
        out
    }

    /// How many alerts are held for `team`.
    pub fn held(&self, team: &str) -> usize {
        self.held.get(team).map_or(0, |held| held.alerts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::tests::sample_alert;
    use crate::test_support::instant;

    /// `instant(0)` is 2025-06-15T15:06:40Z.
    fn at(hours: u32, minutes: u32) -> DateTime<Utc> {
        instant(0)
            .with_hour(hours)
            .and_then(|time| time.with_minute(minutes))
            .expect("valid time")
    }

    fn alert(id: &str, team: &str, severity: Severity) -> Alert {
        let mut alert = sample_alert(id);
        alert.team = team.to_owned();
        alert.severity = severity;
        alert
    }

    fn ids(notification: &Notification) -> Vec<&str> {
        match notification {
            Notification::Digest { alerts, .. } => alerts.iter().map(|a| a.id.as_str()).collect(),
            Notification::Alert { alert, .. } | Notification::SlaBreached { alert, .. } => {
                vec![alert.id.as_str()]
            }
        }
    }

    #[test]
    fn quiet_hours_parse_and_span_midnight() {
        let night = QuietHours::parse("22:00-07:30").expect("valid");
        assert!(night.contains(at(23, 10)) && night.contains(at(3, 0)));
        assert!(night.contains(at(7, 29)) && !night.contains(at(7, 30)));
        assert!(!night.contains(at(12, 0)) && night.contains(at(22, 0)));
        let lunch = QuietHours::parse("12:00-13:00").expect("valid");
        assert!(lunch.contains(at(12, 30)) && !lunch.contains(at(13, 0)));
        for bad in [
            "",
            "22:00",
            "25:00-07:00",
            "22:00-7:00",
            "08:00-08:00",
            "a-b",
        ] {
            assert_eq!(QuietHours::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn without_settings_every_alert_goes_out_at_once() {
        let mut notifier = Notifier::new([]);
        let sent = notifier.offer(&alert("a", "care", Severity::Low), at(3, 0));
        assert_eq!(sent.as_ref().map(ids), Some(vec!["a"]));
        assert!(notifier.due(at(3, 1)).is_empty());
    }

    #[test]
    fn quiet_hours_hold_all_but_urgent_until_they_end() {
        let quiet = TeamNotify {
            digest: None,
            quiet_hours: QuietHours::parse("22:00-07:00"),
        };
        let mut notifier = Notifier::new([("care".to_owned(), quiet)]);
        assert!(
            notifier
                .offer(&alert("a", "care", Severity::High), at(23, 0))
                .is_none()
        );
        assert!(
            notifier
                .offer(&alert("b", "care", Severity::Low), at(2, 0))
                .is_none()
        );
        let urgent = notifier.offer(&alert("u", "care", Severity::Urgent), at(2, 5));
        assert_eq!(urgent.as_ref().map(ids), Some(vec!["u"]));
        assert_eq!(notifier.held("care"), 2);
        assert!(notifier.due(at(6, 59)).is_empty(), "still quiet");
        let digests = notifier.due(at(7, 0));
        assert_eq!(digests.iter().map(ids).collect::<Vec<_>>(), [["a", "b"]]);
        assert_eq!(notifier.held("care"), 0);
        let day = notifier.offer(&alert("c", "care", Severity::Low), at(9, 0));
        assert!(day.is_some(), "outside quiet hours alerts go out at once");
    }

    #[test]
    fn digest_mode_sends_one_message_per_period() {
        let digest = TeamNotify {
            digest: Some(Duration::from_secs(15 * 60)),
            quiet_hours: None,
        };
        let mut notifier = Notifier::new([("care".to_owned(), digest)]);
        assert!(
            notifier
                .offer(&alert("a", "care", Severity::High), at(10, 0))
                .is_none()
        );
        assert!(
            notifier
                .offer(&alert("b", "care", Severity::Low), at(10, 5))
                .is_none()
        );
        let other_team = notifier.offer(&alert("m", "marketing", Severity::Low), at(10, 5));
        assert!(other_team.is_some(), "other teams are not in digest mode");
        assert!(notifier.due(at(10, 14)).is_empty());
        let digests = notifier.due(at(10, 15));
        assert_eq!(digests.len(), 1);
        assert_eq!(digests[0].team(), "care");
        assert_eq!(ids(&digests[0]), ["a", "b"]);
        assert!(
            notifier.due(at(10, 31)).is_empty(),
            "nothing held, nothing sent"
        );
        assert!(
            notifier
                .offer(&alert("c", "care", Severity::Low), at(11, 0))
                .is_none()
        );
        assert!(
            notifier.due(at(11, 14)).is_empty(),
            "a new period starts at 11:00"
        );
        assert_eq!(notifier.due(at(11, 15)).len(), 1);
    }
}
