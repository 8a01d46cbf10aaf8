//! The alerting keys of `veille.toml`: `[alerts.sla]`, `[spikes]`, the noise keys of each
//! rule (`dedupe-key`, `cooldown`, `group-threads`), the notification keys of each team
//! (`digest`, `quiet-hours`, `webhook-url`, `webhook-secret-env`) and
//! `[dashboard] secure-cookies`. Every problem is reported with its key path.
//!
//! Durations are written `30s`, `15m`, `4h` or `2d`. Webhook secrets are never in the file:
//! `webhook-secret-env` names the environment variable that holds one.

use std::collections::BTreeMap;
use std::time::Duration;

use dashboard::alerts::notify::{QuietHours, TeamNotify};
use dashboard::alerts::{DedupeKey, NoisePolicy, Severity, SlaPolicy, SpikeConfig, Team};
use dashboard::webhooks::{Secret, WebhookTarget};
use serde::Deserialize;

/// `[alerts]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAlerts {
    #[serde(default)]
    pub(super) sla: RawSla,
}

/// `[alerts.sla]`: how long an alert of each severity may stay unhandled.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSla {
    low: Option<String>,
    medium: Option<String>,
    high: Option<String>,
    urgent: Option<String>,
}

/// `[spikes]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSpikes {
    team: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    alpha: Option<f64>,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    min_count: Option<u64>,
    #[serde(default)]
    warmup: Option<u32>,
}

/// The noise keys of a `[[rules]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawRuleNoise {
    pub(super) dedupe_key: Option<String>,
    pub(super) cooldown: Option<String>,
    pub(super) group_threads: Option<bool>,
}

/// The notification keys of a `[[teams]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawTeamNotify {
    pub(super) digest: Option<String>,
    pub(super) quiet_hours: Option<String>,
    pub(super) webhook_url: Option<String>,
    pub(super) webhook_secret_env: Option<String>,
}

/// Reads `30s`, `15m`, `4h`, `2d` (a positive whole number and a unit).
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok().filter(|number| *number > 0)?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    number.checked_mul(seconds).map(Duration::from_secs)
}

fn duration(path: &str, text: &str, problems: &mut Vec<String>) -> Option<Duration> {
    let parsed = parse_duration(text);
    if parsed.is_none() {
        problems.push(format!(
            "{path}: `{text}` is not a duration such as 30s, 15m, 4h or 2d"
        ));
    }
    parsed
}

pub(super) fn validate_sla(raw: RawSla, problems: &mut Vec<String>) -> SlaPolicy {
    let mut read = |key: &str, value: Option<String>| {
        value.and_then(|text| duration(&format!("alerts.sla.{key}"), &text, problems))
    };
    SlaPolicy {
        low: read("low", raw.low),
        medium: read("medium", raw.medium),
        high: read("high", raw.high),
        urgent: read("urgent", raw.urgent),
    }
}

pub(super) fn validate_spikes(
    raw: RawSpikes,
    teams: &[Team],
    problems: &mut Vec<String>,
) -> Option<SpikeConfig> {
    let before = problems.len();
    if !teams.iter().any(|team| team.name == raw.team) {
        problems.push(format!(
            "spikes.team: `{}` is not a configured team",
            raw.team
        ));
    }
    let severity = match raw.severity.as_deref() {
        None => Severity::High,
        Some(name) => Severity::parse(name).unwrap_or_else(|| {
            problems.push(format!(
                "spikes.severity: `{name}` is not a severity; use low, medium, high or urgent"
            ));
            Severity::High
        }),
    };
    let window = match raw.window {
        Some(text) => duration("spikes.window", &text, problems),
        None => Some(Duration::from_secs(300)),
    };
    let alpha = raw.alpha.unwrap_or(0.3);
    if !(alpha > 0.0 && alpha <= 1.0) {
        problems.push(format!(
            "spikes.alpha: {alpha} must be above 0 and at most 1"
        ));
    }
    let threshold = raw.threshold.unwrap_or(3.0);
    if !(threshold.is_finite() && threshold > 0.0) {
        problems.push(format!(
            "spikes.threshold: {threshold} must be a positive number of standard deviations"
        ));
    }
    let min_count = raw.min_count.unwrap_or(10);
    if min_count == 0 {
        problems.push("spikes.min-count: must be at least 1".to_owned());
    }
    if problems.len() > before {
        return None;
    }
    Some(SpikeConfig {
        window: window?,
        alpha,
        threshold,
        min_count,
        warmup: raw.warmup.unwrap_or(6),
        team: raw.team,
        severity,
    })
}

pub(super) fn validate_rule_noise(
    path: &str,
    raw: RawRuleNoise,
    problems: &mut Vec<String>,
) -> NoisePolicy {
    let dedupe = match raw.dedupe_key.as_deref() {
        None => DedupeKey::Post,
        Some(name) => DedupeKey::parse(name).unwrap_or_else(|| {
            problems.push(format!(
                "{path}.dedupe-key: `{name}` is not a dedupe key; use post, author or thread"
            ));
            DedupeKey::Post
        }),
    };
    let cooldown = raw
        .cooldown
        .and_then(|text| duration(&format!("{path}.cooldown"), &text, problems));
    NoisePolicy {
        dedupe,
        cooldown,
        group_threads: raw.group_threads.unwrap_or(true),
    }
}

/// A team's notification settings and webhook target.
pub(super) fn validate_team_notify(
    path: &str,
    team: &str,
    raw: RawTeamNotify,
    webhooks: &mut BTreeMap<String, WebhookTarget>,
    problems: &mut Vec<String>,
) -> TeamNotify {
    let digest = raw
        .digest
        .and_then(|text| duration(&format!("{path}.digest"), &text, problems));
    let quiet_hours = raw.quiet_hours.and_then(|text| {
        let parsed = QuietHours::parse(&text);
        if parsed.is_none() {
            problems.push(format!(
                "{path}.quiet-hours: `{text}` is not a span such as 22:00-07:00 (UTC)"
            ));
        }
        parsed
    });
    match (raw.webhook_url, raw.webhook_secret_env) {
        (None, None) => {}
        (Some(_), None) => problems.push(format!(
            "{path}.webhook-secret-env: a webhook needs the name of the environment variable \
             holding its signing secret"
        )),
        (None, Some(_)) => problems.push(format!(
            "{path}.webhook-url: `webhook-secret-env` is set but there is no webhook-url"
        )),
        (Some(url), Some(variable)) => {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok {
                problems.push(format!(
                    "{path}.webhook-url: must start with https:// (or http:// for a local receiver)"
                ));
            }
            match std::env::var(&variable) {
                Ok(secret) if !secret.trim().is_empty() => {
                    if scheme_ok {
                        webhooks.insert(
                            team.to_owned(),
                            WebhookTarget {
                                url,
                                secret: Secret::new(secret.trim()),
                            },
                        );
                    }
                }
                _ => problems.push(format!(
                    "{path}.webhook-secret-env: environment variable `{variable}` is not set"
                )),
            }
        }
    }
    TeamNotify {
        digest,
        quiet_hours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_a_unit() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("4h"), Some(Duration::from_secs(14_400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        for bad in ["", "15", "0m", "-1h", "1w", "1.5h", "m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
