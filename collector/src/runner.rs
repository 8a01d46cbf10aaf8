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
//! * a retryable error is counted in `errors`, logged, and retried after
//!   [`backoff_delay`]; a fatal error is counted and returned; an exhausted source or a
//!   closed receiver ends the loop with `Ok`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::CollectError;
use crate::source::{Batch, Source};
use crate::stats::SourceStats;

/// First pause after a failure.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest pause between retries.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Healthy flow needed before the failure count is forgotten, so that connect-then-drop
/// loops keep backing off.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

/// The pause before retry number `attempt` (0 for the first retry): the source's own
/// `retry_after` when it gave one, else 1 s doubled per attempt, capped at 60 s.
pub fn backoff_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(asked) = retry_after {
        return asked;
    }
    let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
    BACKOFF_INITIAL.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Counts consecutive failures, forgetting them after [`BACKOFF_RESET_AFTER`] of health.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    healthy_since: Option<Instant>,
}

impl Backoff {
    /// Records a failure and returns how long to wait before retrying.
    pub fn on_failure(&mut self, retry_after: Option<Duration>) -> Duration {
        let delay = backoff_delay(self.failures, retry_after);
        self.failures = self.failures.saturating_add(1);
        self.healthy_since = None;
        delay
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
                SourceStats::add(&stats.errors, 1);
                let delay = backoff.on_failure(error.retry_after());
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
                SourceStats::add(&stats.errors, 1);
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

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute() {
        let delays: Vec<u64> = (0..9)
            .map(|attempt| backoff_delay(attempt, None).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff_delay(u32::MAX, None), BACKOFF_MAX);
    }

    #[test]
    fn backoff_honours_retry_after() {
        let asked = Duration::from_secs(900);
        assert_eq!(backoff_delay(0, Some(asked)), asked);
        assert_eq!(backoff_delay(5, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn failures_are_forgotten_only_after_a_minute_of_health() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.on_failure(None), Duration::from_secs(1));
        assert_eq!(backoff.on_failure(None), Duration::from_secs(2));
        backoff.on_success(start);
        backoff.on_success(start + Duration::from_secs(30));
        assert_eq!(backoff.failures(), 2);
        backoff.on_success(start + Duration::from_secs(60));
        assert_eq!(backoff.failures(), 0);
        assert_eq!(backoff.on_failure(None), Duration::from_secs(1));
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

    fn transient(retry_after: Option<Duration>) -> CollectError {
        CollectError::Transient {
            source_name: "scripted".to_owned(),
            reason: "boom".to_owned(),
            retry_after,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_after_backoff_and_skips_empty_batches() {
        let source = Scripted {
            script: VecDeque::from([
                Ok(Some(batch(1))),
                Err(transient(None)),
                Err(transient(Some(Duration::from_secs(30)))),
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
        assert_eq!(stats.snapshot().errors, 2);
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
