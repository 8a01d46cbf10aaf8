//! Alert lifecycle actions over NATS request/reply on [`ACTIONS_SUBJECT`]: a serve node's
//! dashboard hands each command to its local alert-actions channel as usual; [`forward`]
//! turns it into a request, the index node's [`answer`] applies it through the one alert
//! task and replies with the updated alert or the reason it was refused. So the HTTP reply
//! on the serve node carries the result, exactly as in the embedded pipeline.
//!
//! Promises: an action is applied at most once (a request is never sent again once it may
//! have been delivered; only "no responders", which means nobody received it, is retried
//! until [`FORWARD_DEADLINE`]); a request without an answer in time fails with
//! [`LifecycleError::EngineStopped`], never hangs the HTTP request. Requests that do not
//! decode are answered with an error and counted in the log, never fatal.

use std::time::Duration;

use async_nats::Client;
use async_nats::client::RequestErrorKind;
use dashboard::alerts::service::{AlertHandle, Command};
use dashboard::alerts::{Action, Alert, LifecycleError, Status};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{ACTIONS_SUBJECT, RETRY_PAUSE};

/// The queue group of the answering index node.
const ANSWER_GROUP: &str = "alert-task";
/// How long a serve node keeps trying to reach an index node for one action.
pub(super) const FORWARD_DEADLINE: Duration = Duration::from_secs(20);

/// A lifecycle action, as sent by a serve node.
#[derive(Debug, Serialize, Deserialize)]
struct ActionRequest {
    alert_id: String,
    action: Action,
    by: String,
}

/// The answer: the updated alert, or why the action was refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ActionReply {
    Updated(Box<Alert>),
    Refused(WireError),
}

/// [`LifecycleError`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
enum WireError {
    CannotAcknowledge { status: String },
    AlreadyHandled,
    NoAssignee,
    NoteTooLong,
    UnknownAlert { id: String },
    EngineStopped,
}

impl From<LifecycleError> for WireError {
    fn from(error: LifecycleError) -> WireError {
        match error {
            LifecycleError::CannotAcknowledge(status) => WireError::CannotAcknowledge {
                status: status.to_string(),
            },
            LifecycleError::AlreadyHandled => WireError::AlreadyHandled,
            LifecycleError::NoAssignee => WireError::NoAssignee,
            LifecycleError::NoteTooLong => WireError::NoteTooLong,
            LifecycleError::UnknownAlert(id) => WireError::UnknownAlert { id },
            LifecycleError::EngineStopped => WireError::EngineStopped,
        }
    }
}

impl From<WireError> for LifecycleError {
    fn from(error: WireError) -> LifecycleError {
        match error {
            WireError::CannotAcknowledge { status } => {
                let known = [
                    Status::New,
                    Status::Acknowledged,
                    Status::Assigned,
                    Status::Handled,
                ];
                let status = known
                    .iter()
                    .map(|known| known.as_str())
                    .find(|known| *known == status)
                    .unwrap_or("in another state");
                LifecycleError::CannotAcknowledge(status)
            }
            WireError::AlreadyHandled => LifecycleError::AlreadyHandled,
            WireError::NoAssignee => LifecycleError::NoAssignee,
            WireError::NoteTooLong => LifecycleError::NoteTooLong,
            WireError::UnknownAlert { id } => LifecycleError::UnknownAlert(id),
            WireError::EngineStopped => LifecycleError::EngineStopped,
        }
    }
}

/// Serve node: sends each command of the local alert-actions channel to the index node and
/// hands its answer back to the waiting HTTP request. Commands are served concurrently.
pub(crate) async fn forward(
    client: Client,
    mut commands: mpsc::Receiver<Command>,
    stop: CancellationToken,
) {
    loop {
        let command = tokio::select! {
            _ = stop.cancelled() => return,
            command = commands.recv() => command,
        };
        let Some(Command::Lifecycle {
            alert_id,
            action,
            by,
            reply,
        }) = command
        else {
            return;
        };
        let client = client.clone();
        tokio::spawn(async move {
            let request = ActionRequest {
                alert_id,
                action,
                by,
            };
            let _ = reply.send(request_once(&client, &request).await);
        });
    }
}

async fn request_once(client: &Client, request: &ActionRequest) -> Result<Alert, LifecycleError> {
    let Ok(payload) = serde_json::to_vec(request) else {
        return Err(LifecycleError::EngineStopped);
    };
    let started = tokio::time::Instant::now();
    loop {
        match client
            .request(ACTIONS_SUBJECT, payload.clone().into())
            .await
        {
            Ok(message) => {
                return match serde_json::from_slice::<ActionReply>(&message.payload) {
                    Ok(ActionReply::Updated(alert)) => Ok(*alert),
                    Ok(ActionReply::Refused(error)) => Err(error.into()),
                    Err(error) => {
                        tracing::warn!(%error, "undecodable answer to a lifecycle action");
                        Err(LifecycleError::EngineStopped)
                    }
                };
            }
            // Nobody received it: safe to ask again while the index node comes back.
            Err(error)
                if error.kind() == RequestErrorKind::NoResponders
                    && started.elapsed() < FORWARD_DEADLINE =>
            {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(error) => {
                tracing::warn!(%error, "lifecycle action not answered by the index node");
                return Err(LifecycleError::EngineStopped);
            }
        }
    }
}

/// Index node: answers every lifecycle request through the alert task, until `stop`.
pub(crate) async fn answer(client: Client, alerts: AlertHandle, stop: CancellationToken) {
    let mut requests = loop {
        match client
            .queue_subscribe(ACTIONS_SUBJECT, ANSWER_GROUP.to_string())
            .await
        {
            Ok(requests) => break requests,
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to lifecycle actions; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
        }
    };
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return,
            message = requests.next() => message,
        };
        let Some(message) = message else { return };
        let Some(reply_to) = message.reply.clone() else {
            tracing::debug!("lifecycle action without a reply subject, skipped");
            continue;
        };
        let answer = match serde_json::from_slice::<ActionRequest>(&message.payload) {
            Ok(request) => {
                match alerts
                    .act(&request.alert_id, request.action, &request.by)
                    .await
                {
                    Ok(alert) => ActionReply::Updated(Box::new(alert)),
                    Err(error) => ActionReply::Refused(error.into()),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "undecodable lifecycle action refused");
                ActionReply::Refused(WireError::EngineStopped)
            }
        };
        match serde_json::to_vec(&answer) {
            Ok(payload) => {
                if let Err(error) = client.publish(reply_to, payload.into()).await {
                    tracing::warn!(%error, "cannot answer a lifecycle action");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot encode an answer"),
        }
    }
}
