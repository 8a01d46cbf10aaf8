//! The shared loop that drives any [`Source`]: it asks for batches, sends them downstream,
//! backs off on retryable errors and stops on shutdown.
//!
//! In: a source, a bounded `mpsc::Sender<Batch>`, the shutdown [`CancellationToken`].
//! Out: every non-empty batch, in the order the source produced it.
//!
//! Promises:
//! * back-pressure: a full channel pauses the source (the send is awaited, never dropped);
//! * shutdown is prompt: waiting for a batch, for channel room or for a backoff is cancelled
//!   by the token; a batch not yet sent then is lost here, but its checkpoint was never
//!   committed, so the source re-delivers it after a restart;
//! * a retryable error is counted in `errors` and `reconnects`, logged, and retried after
//!   the pause its [`FailureClass`] asks for (see [`crate::backoff`]), jittered; a fatal
//!   error is counted and returned; an exhausted source or a closed receiver ends the loop
//!   with `Ok`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::{self, FailureClass};
use crate::error::CollectError;
use crate::source::{Batch, Source};
use crate::stats::SourceStats;

/// Healthy flow needed before the failure count is forgotten, so that connect-then-drop
/// loops keep backing off.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

/// Counts consecutive failures of one class, forgetting them after
/// [`BACKOFF_RESET_AFTER`] of health, and turns them into pauses by the policy of
/// [`crate::backoff`].
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    class: Option<FailureClass>,
    healthy_since: Option<Instant>,
}

impl Backoff {
    /// Records a failure and returns how long to wait before retrying (`None`: do not).
    /// `unit` in [0, 1) picks the jitter; a wait the server asked for is never shortened.
    pub fn on_failure(
        &mut self,
        class: FailureClass,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        if self.class != Some(class) {
            self.failures = 0;
            self.class = Some(class);
        }
        let delay = backoff::base_delay(class, self.failures, retry_after)?;
        self.failures = self.failures.saturating_add(1);
        self.healthy_since = None;
        let floor = match retry_after {
            Some(_) => delay,
            None => Duration::ZERO,
        };
        Some(backoff::jittered(delay, unit, floor))
    }

    /// Records a successful batch at `now`.
    pub fn on_success(&mut self, now: Instant) {
        if self.failures == 0 {
            return;
        }
        match self.healthy_since {
            None => self.healthy_since = Some(now),
            Some(since) if now.duration_since(since) >= BACKOFF_RESET_AFTER => {
                self.failures = 0;
                self.class = None;
                self.healthy_since = None;
            }
            Some(_) => {}
        }
    }

    /// Consecutive failures not yet forgotten.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Drives `source` until it is exhausted, fails fatally, the receiver goes away, or `stop`
/// is cancelled.
pub async fn run_source<S: Source>(
    mut source: S,
    out: mpsc::Sender<Batch>,
    stop: CancellationToken,
    stats: Arc<SourceStats>,
) -> Result<(), CollectError> {
    let name = source.name().to_owned();
    let mut backoff = Backoff::default();
    tracing::info!(source = %name, "source started");
    loop {
        let result = tokio::select! {
            biased;
            () = stop.cancelled() => {
                tracing::info!(source = %name, "source stopping");
                return Ok(());
            }
            result = source.next_batch() => result,
        };
        match result {
            Ok(Some(batch)) => {
                backoff.on_success(Instant::now());
                if batch.posts.is_empty() {
                    // Nothing new yet; let other tasks run even if the source answers at once.
                    tokio::task::yield_now().await;
                    continue;
                }
                let sent = tokio::select! {
                    biased;
                    () = stop.cancelled() => {
                        tracing::info!(source = %name, "source stopping");
                        return Ok(());
                    }
                    sent = out.send(batch) => sent,
                };
                if sent.is_err() {
                    tracing::info!(source = %name, "receiver closed, source stopping");
                    return Ok(());
                }
            }
            Ok(None) => {
                tracing::info!(source = %name, "source exhausted");
                return Ok(());
            }
            Err(error) if error.is_retryable() => {
                let class = error.class();
                let Some(delay) = backoff.on_failure(class, error.retry_after(), fastrand::f64())
                else {
                    stats.failed(class, false);
                    tracing::error!(source = %name, error = %error, "source failed for good");
                    return Err(error);
                };
                stats.failed(class, true);
                if backoff::at_cap(class, delay) {
                    tracing::error!(source = %name, error = %error, retry_in = ?delay, "source degraded: backoff at its cap");
                }
                tracing::warn!(
                    source = %name,
                    error = %error,
                    attempt = backoff.failures(),
                    retry_in = ?delay,
                    "source failed, retrying"
                );
                tokio::select! {
                    biased;
                    () = stop.cancelled() => {
                        tracing::info!(source = %name, "source stopping");
                        return Ok(());
                    }
                    () = tokio::time::sleep(delay) => {}
                }
            }
            Err(error) => {
                stats.failed(error.class(), false);
                tracing::error!(source = %name, error = %error, "source failed for good");
                return Err(error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use serde_json::json;

    use super::*;
    use crate::source::Checkpoint;

    const NO_JITTER: f64 = 1.0;

    #[test]
    fn backoff_follows_the_class_and_honours_retry_after() {
        let mut backoff = Backoff::default();
        let server = |backoff: &mut Backoff| {
            backoff
                .on_failure(FailureClass::Server, None, NO_JITTER)
                .unwrap()
        };
        assert_eq!(server(&mut backoff), Duration::from_secs(5));
        assert_eq!(server(&mut backoff), Duration::from_secs(10));
        // Another class starts its own sequence.
        let asked =
            backoff.on_failure(FailureClass::RateLimited, Some(Duration::from_secs(9)), 0.0);
        assert_eq!(
            asked,
            Some(Duration::from_secs(10)),
            "asked wait + 1 s, never jittered down"
        );
        assert_eq!(
            backoff.on_failure(FailureClass::BadRequest, None, NO_JITTER),
            None
        );
        let jittered = backoff.on_failure(FailureClass::Server, None, 0.0).unwrap();
        assert_eq!(jittered, Duration::from_millis(2500));
    }

    #[test]
    fn failures_are_forgotten_only_after_a_minute_of_health() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        let network = |backoff: &mut Backoff| {
            backoff
                .on_failure(FailureClass::Network, None, NO_JITTER)
                .unwrap()
        };
        assert_eq!(network(&mut backoff), Duration::ZERO);
        assert_eq!(network(&mut backoff), Duration::from_millis(250));
        backoff.on_success(start);
        backoff.on_success(start + Duration::from_secs(30));
        assert_eq!(backoff.failures(), 2);
        backoff.on_success(start + Duration::from_secs(60));
        assert_eq!(backoff.failures(), 0);
        assert_eq!(network(&mut backoff), Duration::ZERO);
    }

    /// A source that plays back a script of results, then waits forever.
    struct Scripted {
        script: VecDeque<Result<Option<Batch>, CollectError>>,
    }

    impl Source for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }

        async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
            match self.script.pop_front() {
                Some(result) => result,
                None => std::future::pending().await,
            }
        }
    }

    fn batch(posts: usize) -> Batch {
        let at = chrono::Utc::now();
        let post = crate::post::Post::deletion(
            crate::post::PostId::new(crate::post::SourceKind::X, "1"),
            crate::post::SourceKind::X,
            at,
        );
        Batch {
            posts: vec![post; posts],
            checkpoint: Checkpoint {
                source: "scripted".to_owned(),
                cursor: json!({"v": 1}),
            },
        }
    }

    fn transient(class: FailureClass, retry_after: Option<Duration>) -> CollectError {
        CollectError::Transient {
            source_name: "scripted".to_owned(),
            class,
            reason: "boom".to_owned(),
            retry_after,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_after_backoff_and_skips_empty_batches() {
        let source = Scripted {
            script: VecDeque::from([
                Ok(Some(batch(1))),
                Err(transient(FailureClass::Network, None)),
                Err(transient(
                    FailureClass::RateLimited,
                    Some(Duration::from_secs(30)),
                )),
                Ok(Some(batch(0))),
                Ok(Some(batch(2))),
                Ok(None),
            ]),
        };
        let (sender, mut receiver) = mpsc::channel(8);
        let stats = Arc::new(SourceStats::default());
        let started = Instant::now();
        run_source(source, sender, CancellationToken::new(), stats.clone())
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(31));
        assert_eq!(receiver.recv().await.unwrap().posts.len(), 1);
        assert_eq!(receiver.recv().await.unwrap().posts.len(), 2);
        assert!(receiver.recv().await.is_none());
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.errors, snapshot.reconnects), (2, 2));
    }

    #[tokio::test]
    async fn fatal_errors_are_returned() {
        let fatal = CollectError::Fatal {
            source_name: "scripted".to_owned(),
            reason: "bad token".to_owned(),
        };
        let source = Scripted {
            script: VecDeque::from([Err(fatal)]),
        };
        let (sender, _receiver) = mpsc::channel(1);
        let stats = Arc::new(SourceStats::default());
        let result = run_source(source, sender, CancellationToken::new(), stats.clone()).await;
        assert!(matches!(result, Err(CollectError::Fatal { .. })));
        assert_eq!(stats.snapshot().errors, 1);
    }

    #[tokio::test]
    async fn closed_receiver_ends_the_loop() {
        let source = Scripted {
            script: VecDeque::from([Ok(Some(batch(1)))]),
        };
        let (sender, receiver) = mpsc::channel(1);
        drop(receiver);
        let stats = Arc::new(SourceStats::default());
        run_source(source, sender, CancellationToken::new(), stats)
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn stop_cancels_a_waiting_source_and_a_blocked_send() {
        let stop = CancellationToken::new();
        let stats = Arc::new(SourceStats::default());

        let waiting = Scripted {
            script: VecDeque::new(),
        };
        let (sender, _receiver) = mpsc::channel(1);
        let task = tokio::spawn(run_source(waiting, sender, stop.clone(), stats.clone()));

        // The second batch finds the channel full and nobody reading.
        let blocked = Scripted {
            script: VecDeque::from([Ok(Some(batch(1))), Ok(Some(batch(1)))]),
        };
        let (full_sender, _full_receiver) = mpsc::channel(1);
        let blocked_task = tokio::spawn(run_source(blocked, full_sender, stop.clone(), stats));

        tokio::time::sleep(Duration::from_secs(5)).await;
        stop.cancel();
        task.await.unwrap().unwrap();
        blocked_task.await.unwrap().unwrap();
    }
}
