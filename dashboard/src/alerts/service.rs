//! The alert task: the one place where alerts are raised, folded, moved through their
//! lifecycle, checked against their SLA and handed to notifications.
//!
//! In: analysed posts from the pipeline, [`Command`]s from any dashboard server (through an
//! [`AlertHandle`]), and a periodic tick. Out: every alert and every change recorded in the
//! [`AlertLog`] (the store) and pushed live (`alert`, `alert_updated`, and each `post` with
//! the teams it was routed to), and [`Notification`]s for the webhooks.
//!
//! [`AlertService`]'s methods take `now`, so the whole behaviour is tested on an injected
//! clock; [`run`] drives it with the wall clock, on blocking threads (the log writes to the
//! store).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nlp::AnalysedPost;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::notify::{Notification, Notifier};
use super::spike::SpikeDetector;
use super::{Action, Alert, AlertEngine, AlertLog, LifecycleError, Outcome, Status};
use crate::live::{LiveEvent, LivePost, SharedEvent};

/// Lifecycle commands waiting for the alert task, at most.
pub const COMMAND_CAPACITY: usize = 256;

/// Posts waiting for the alert task handled together, at most (one store write each time).
pub const MAX_POSTS_PER_BATCH: usize = 512;

/// A request to the alert task.
#[derive(Debug)]
pub enum Command {
    Lifecycle {
        alert_id: String,
        action: Action,
        by: String,
        reply: oneshot::Sender<Result<Alert, LifecycleError>>,
    },
}

/// How dashboard servers reach the alert task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertHandle {
    commands: mpsc::Sender<Command>,
}

impl AlertHandle {
    /// A handle and the receiving end for [`run`].
    pub fn channel() -> (AlertHandle, mpsc::Receiver<Command>) {
        let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
        (AlertHandle { commands }, receiver)
    }

    /// Applies a lifecycle action through the alert task; the updated alert.
    pub async fn act(
        &self,
        alert_id: &str,
        action: Action,
        by: &str,
    ) -> Result<Alert, LifecycleError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Lifecycle {
            alert_id: alert_id.to_owned(),
            action,
            by: by.to_owned(),
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| LifecycleError::EngineStopped)?;
        answer.await.map_err(|_| LifecycleError::EngineStopped)?
    }
}

/// Counters of the alert task, shown on `/api/health` and the status panel.
#[derive(Debug, Default)]
pub struct AlertStats {
    pub raised: AtomicU64,
    pub folded: AtomicU64,
    pub spikes: AtomicU64,
    pub lifecycle_changes: AtomicU64,
    pub sla_breaches: AtomicU64,
    pub log_errors: AtomicU64,
    pub notifications_dropped: AtomicU64,
}

impl AlertStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Value {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        json!({
            "raised": read(&self.raised),
            "folded": read(&self.folded),
            "spikes": read(&self.spikes),
            "lifecycle_changes": read(&self.lifecycle_changes),
            "sla_breaches": read(&self.sla_breaches),
            "log_errors": read(&self.log_errors),
            "notifications_dropped": read(&self.notifications_dropped),
        })
    }
}

/// The state of the alert task.
pub struct AlertService {
    engine: AlertEngine,
    spikes: Option<SpikeDetector>,
    notifier: Notifier,
    log: Arc<AlertLog>,
    live: broadcast::Sender<SharedEvent>,
    notifications: Option<mpsc::Sender<Notification>>,
    stats: Arc<AlertStats>,
    /// While a batch of posts is handled: alerts to persist and live events to push once
    /// the batch is done (one store write for the batch).
    pending: Option<Pending>,
}

/// Work deferred to the end of a batch of posts.
#[derive(Default)]
struct Pending {
    records: Vec<Alert>,
    live: Vec<LiveEvent>,
}

impl AlertService {
    /// The task's state; the engine is seeded from the log so a restart decides as before.
    pub fn new(
        mut engine: AlertEngine,
        log: Arc<AlertLog>,
        live: broadcast::Sender<SharedEvent>,
        stats: Arc<AlertStats>,
    ) -> AlertService {
        let mut logged = log.recent(None, super::ALERT_LOG_CAPACITY);
        logged.reverse();
        engine.remember_alerts(&logged);
        AlertService {
            engine,
            spikes: None,
            notifier: Notifier::default(),
            log,
            live,
            notifications: None,
            stats,
            pending: None,
        }
    }

    pub fn with_spikes(mut self, spikes: SpikeDetector) -> AlertService {
        self.spikes = Some(spikes);
        self
    }

    pub fn with_notifications(
        mut self,
        notifier: Notifier,
        out: mpsc::Sender<Notification>,
    ) -> AlertService {
        self.notifier = notifier;
        self.notifications = Some(out);
        self
    }

    fn record(&mut self, alert: &Alert) {
        if let Some(pending) = &mut self.pending {
            self.log.keep(alert.clone());
            pending.records.push(alert.clone());
            return;
        }
        if let Err(error) = self.log.record(alert.clone()) {
            AlertStats::bump(&self.stats.log_errors);
            tracing::error!(error = %error, alert = %alert.id, "cannot persist an alert");
        }
    }

    fn notify(&self, notification: Notification) {
        let Some(out) = &self.notifications else {
            return;
        };
        if out.try_send(notification).is_err() {
            AlertStats::bump(&self.stats.notifications_dropped);
            tracing::warn!("webhook queue full or closed, notification dropped");
        }
    }

    fn raise(&mut self, alert: Alert, now: DateTime<Utc>) {
        self.record(&alert);
        if let Some(notification) = self.notifier.offer(&alert, now) {
            self.notify(notification);
        }
        self.publish(LiveEvent::Alert(alert));
    }

    fn changed(&mut self, alert: Alert) {
        self.record(&alert);
        self.publish(LiveEvent::AlertUpdated(alert));
    }

    /// Pushes a live event now, or at the end of the batch being handled (after its
    /// alerts are persisted).
    fn publish(&mut self, event: LiveEvent) {
        match &mut self.pending {
            Some(pending) => pending.live.push(event),
            None => {
                let _ = self.live.send(event.into());
            }
        }
    }

    /// Evaluates a batch of posts as [`AlertService::on_post`] does each, with one store
    /// write for all the alerts they raise or change; their live events are pushed after
    /// that write, in order.
    pub fn on_posts(&mut self, posts: &[Arc<AnalysedPost>], now: DateTime<Utc>) {
        self.pending = Some(Pending::default());
        for post in posts {
            self.on_post(post, now);
        }
        let Some(pending) = self.pending.take() else {
            return;
        };
        // Pushed first, written right after: a dashboard sees an alert without waiting for
        // the store's commit (an fsync). The write itself is unchanged, so a crash loses
        // nothing more than before; a dashboard may just have shown an alert that such a
        // crash then kept out of the log.
        for event in pending.live {
            let _ = self.live.send(event.into());
        }
        if let Err(error) = self.log.persist(&pending.records) {
            self.stats
                .log_errors
                .fetch_add(pending.records.len() as u64, Ordering::Relaxed);
            tracing::error!(error = %error, alerts = pending.records.len(), "cannot persist alerts");
        }
    }

    /// Evaluates a post: alerts raised or folded, spikes, and the live post event with the
    /// teams it was routed to.
    pub fn on_post(&mut self, post: &AnalysedPost, now: DateTime<Utc>) {
        let outcomes = self.engine.process(post, now);
        let mut teams: Vec<String> = Vec::new();
        let mut raised = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Raised(alert) => {
                    AlertStats::bump(&self.stats.raised);
                    teams.push(alert.team.clone());
                    raised.push(*alert);
                }
                Outcome::Folded { into, post_id } => {
                    AlertStats::bump(&self.stats.folded);
                    if let Some(mut alert) = self.log.get(&into) {
                        teams.push(alert.team.clone());
                        if alert.fold(&post_id) {
                            self.changed(alert);
                        }
                    }
                }
            }
        }
        teams.sort();
        teams.dedup();
        self.publish(LiveEvent::Post(
            LivePost::from_analysed(post).routed_to(teams),
        ));
        for alert in raised {
            self.raise(alert, now);
        }
        let sla = self.engine.sla().clone();
        if let Some(spikes) = &mut self.spikes {
            let found = spikes.observe(post, now, &sla);
            for alert in found {
                AlertStats::bump(&self.stats.spikes);
                self.raise(alert, now);
            }
        }
    }

    /// Applies a command.
    pub fn on_command(&mut self, command: Command, now: DateTime<Utc>) {
        match command {
            Command::Lifecycle {
                alert_id,
                action,
                by,
                reply,
            } => {
                let result = self.apply(&alert_id, &action, &by, now);
                let _ = reply.send(result);
            }
        }
    }

    fn apply(
        &mut self,
        alert_id: &str,
        action: &Action,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Alert, LifecycleError> {
        let mut alert = self
            .log
            .get(alert_id)
            .ok_or_else(|| LifecycleError::UnknownAlert(alert_id.to_owned()))?;
        alert.lifecycle.apply(action, by, now)?;
        AlertStats::bump(&self.stats.lifecycle_changes);
        if alert.lifecycle.status == Status::Handled {
            self.engine.alert_handled(&alert);
        }
        self.changed(alert.clone());
        Ok(alert)
    }

    /// Periodic work: closes spike windows, sends due digests, flags SLA breaches.
    pub fn on_tick(&mut self, now: DateTime<Utc>) {
        let sla = self.engine.sla().clone();
        if let Some(spikes) = &mut self.spikes {
            let found = spikes.tick(now, &sla);
            for alert in found {
                AlertStats::bump(&self.stats.spikes);
                self.raise(alert, now);
            }
        }
        for digest in self.notifier.due(now) {
            self.notify(digest);
        }
        for mut alert in self.log.overdue(now) {
            if alert.lifecycle.check_sla(now) {
                AlertStats::bump(&self.stats.sla_breaches);
                self.notify(Notification::SlaBreached {
                    team: alert.team.clone(),
                    alert: Box::new(alert.clone()),
                });
                self.changed(alert);
            }
        }
    }
}

/// Runs the alert task: posts (all those waiting, up to [`MAX_POSTS_PER_BATCH`], with one
/// store write), each command and each tick are handled on a blocking thread, one at a
/// time. When the posts end (a replay that finished), lifecycle commands and ticks
/// are still served, until `stop` is cancelled (after the posts end) or every
/// [`AlertHandle`] is gone; later commands fail with [`LifecycleError::EngineStopped`].
pub async fn run(
    service: AlertService,
    mut posts: mpsc::Receiver<Arc<AnalysedPost>>,
    mut commands: mpsc::Receiver<Command>,
    tick: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    enum Work {
        Posts(Vec<Arc<AnalysedPost>>),
        Command(Command),
        Tick,
    }
    let mut service = Some(service);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut posts_open = true;
    loop {
        let work = tokio::select! {
            post = posts.recv(), if posts_open => match post {
                Some(post) => {
                    // Whatever else is waiting joins it: one store write per batch.
                    let mut batch = vec![post];
                    while batch.len() < MAX_POSTS_PER_BATCH {
                        match posts.try_recv() {
                            Ok(post) => batch.push(post),
                            Err(_) => break,
                        }
                    }
                    Work::Posts(batch)
                }
                None => {
                    posts_open = false;
                    continue;
                }
            },
            () = stop.cancelled(), if !posts_open => break,
            command = commands.recv() => match command {
                Some(command) => Work::Command(command),
                None if posts_open => continue,
                None => break,
            },
            _ = ticker.tick() => Work::Tick,
        };
        let Some(mut current) = service.take() else {
            break;
        };
        let done = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            match work {
                Work::Posts(batch) => current.on_posts(&batch, now),
                Work::Command(command) => current.on_command(command, now),
                Work::Tick => current.on_tick(now),
            }
            current
        })
        .await;
        match done {
            Ok(current) => service = Some(current),
            Err(error) => {
                tracing::error!(error = %error, "alert task failed; alerts are no longer raised");
                return;
            }
        }
    }
    tracing::info!("alert task stopped");
}

#[cfg(test)]
mod tests;
