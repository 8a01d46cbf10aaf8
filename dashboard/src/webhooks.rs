//! Outbound webhooks: each team's notifications POSTed as Slack-compatible JSON to the
//! team's URL, signed, retried with backoff, and their failures shown on the status panel.
//!
//! * Body: `{"text": "...", "veille": {...}}`: Slack (and Mattermost, Discord's Slack
//!   endpoint...) show `text` and ignore the rest; other receivers read `veille`.
//! * Signature: `X-Veille-Timestamp: <unix seconds>` and
//!   `X-Veille-Signature: v1=<hex HMAC-SHA256(secret, "v1:<timestamp>:<body>")>`. A receiver
//!   recomputes it with the shared secret ([`signature`]) and should refuse old timestamps.
//! * Delivery: one worker per team, in order; a failed attempt (network error or non-2xx)
//!   is retried after `first_backoff`, doubling each time, up to `max_attempts`; then the
//!   notification is given up and counted. Each team's queue holds [`TEAM_QUEUE`]
//!   notifications; more are dropped and counted.
//! * [`WebhookStatus`] holds per team: delivered, failed attempts, given up, dropped, the last
//!   error and when. URLs and secrets are never shown or logged.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::alerts::Alert;
use crate::alerts::notify::Notification;

/// Notifications waiting per team, at most.
pub const TEAM_QUEUE: usize = 64;
/// Notifications waiting for the dispatcher, at most.
pub const QUEUE: usize = 256;
pub const SIGNATURE_HEADER: &str = "x-veille-signature";
pub const TIMESTAMP_HEADER: &str = "x-veille-timestamp";

/// A secret whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(***)")
    }
}

/// Where a team's notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: Secret,
}

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// `v1=<hex>`: the signature of `body` sent at `timestamp` with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("v1={hex}")
}

fn alert_line(alert: &Alert) -> String {
    let who = alert
        .post
        .author_handle
        .as_deref()
        .or(alert.post.author_name.as_deref())
        .unwrap_or("someone");
    let text: String = alert.post.text.chars().take(280).collect();
    format!(
        "[{}] {} ({}): {who}: {text}",
        alert.severity.as_str(),
        alert.rule,
        alert.lifecycle.status.as_str()
    )
}

/// The JSON body of a notification.
pub fn payload(notification: &Notification) -> Value {
    let text = match notification {
        Notification::Alert { team, alert } => {
            format!(
                "veille alert for {team}: {}\n{}",
                alert_line(alert),
                alert.reason
            )
        }
        Notification::Digest { team, alerts } => {
            let mut text = format!("veille digest for {team}: {} alert(s)", alerts.len());
            for alert in alerts.iter().take(20) {
                text.push('\n');
                text.push_str(&alert_line(alert));
            }
            text
        }
        Notification::SlaBreached { team, alert } => {
            format!("veille SLA breached for {team}: {}", alert_line(alert))
        }
    };
    json!({ "text": text, "veille": notification })
}

/// Delivery figures of one team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TeamDelivery {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub given_up: u64,
    pub dropped: u64,
    pub last_error: Option<String>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// Delivery figures of every team with a webhook.
#[derive(Debug, Default)]
pub struct WebhookStatus {
    teams: Mutex<BTreeMap<String, TeamDelivery>>,
}

impl WebhookStatus {
    fn update(&self, team: &str, change: impl FnOnce(&mut TeamDelivery)) {
        let mut teams = self.teams.lock().unwrap_or_else(PoisonError::into_inner);
        change(teams.entry(team.to_owned()).or_default());
    }

    /// A copy of the figures, per team.
    pub fn snapshot(&self) -> BTreeMap<String, TeamDelivery> {
        self.teams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Delivers the notifications of `input` to each team's target until `input` closes.
/// Notifications of teams without a target are skipped.
pub async fn run(
    targets: BTreeMap<String, WebhookTarget>,
    policy: RetryPolicy,
    mut input: mpsc::Receiver<Notification>,
    status: Arc<WebhookStatus>,
) {
    let client = match reqwest::Client::builder().timeout(policy.timeout).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook client; webhooks are off");
            return;
        }
    };
    let mut workers = BTreeMap::new();
    let mut handles = Vec::new();
    for (team, target) in targets {
        status.update(&team, |_| {});
        let (sender, receiver) = mpsc::channel(TEAM_QUEUE);
        handles.push(tokio::spawn(team_worker(
            team.clone(),
            target,
            policy,
            client.clone(),
            receiver,
            Arc::clone(&status),
        )));
        workers.insert(team, sender);
    }
    while let Some(notification) = input.recv().await {
        let team = notification.team().to_owned();
        let Some(worker) = workers.get(&team) else {
            continue;
        };
        if worker.try_send(notification).is_err() {
            status.update(&team, |delivery| delivery.dropped += 1);
            tracing::warn!(%team, "webhook queue full, notification dropped");
        }
    }
    drop(workers);
    for handle in handles {
        let _ = handle.await;
    }
}

async fn team_worker(
    team: String,
    target: WebhookTarget,
    policy: RetryPolicy,
    client: reqwest::Client,
    mut input: mpsc::Receiver<Notification>,
    status: Arc<WebhookStatus>,
) {
    while let Some(notification) = input.recv().await {
        let body = match serde_json::to_vec(&payload(&notification)) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(%error, %team, "notification could not be encoded, skipped");
                continue;
            }
        };
        deliver(&team, &target, policy, &client, body, &status).await;
    }
}

/// One notification, with retries; true once delivered.
async fn deliver(
    team: &str,
    target: &WebhookTarget,
    policy: RetryPolicy,
    client: &reqwest::Client,
    body: Vec<u8>,
    status: &WebhookStatus,
) -> bool {
    let mut backoff = policy.first_backoff;
    for attempt in 1..=policy.max_attempts.max(1) {
        let timestamp = Utc::now().timestamp();
        let sent = client
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(target.secret.expose(), timestamp, &body),
            )
            .body(body.clone())
            .send()
            .await;
        let error = match sent {
            Ok(response) if response.status().is_success() => {
                status.update(team, |delivery| {
                    delivery.delivered += 1;
                    delivery.last_success_at = Some(Utc::now());
                });
                return true;
            }
            Ok(response) => format!("the receiver answered {}", response.status()),
            // Without the URL: it may hold a secret (Slack's do).
            Err(error) if error.is_timeout() => "the receiver did not answer in time".to_owned(),
            Err(error) if error.is_connect() => "cannot connect to the receiver".to_owned(),
            Err(_) => "the request failed".to_owned(),
        };
        status.update(team, |delivery| {
            delivery.failed_attempts += 1;
            delivery.last_error = Some(error.clone());
            delivery.last_failure_at = Some(Utc::now());
        });
        tracing::warn!(%team, attempt, %error, "webhook delivery failed");
        if attempt < policy.max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    status.update(team, |delivery| delivery.given_up += 1);
    false
}

#[cfg(test)]
mod tests;
