//! Fan-out by subscription: one task reads the pipeline's live events once and passes each
//! to the channel of every subscription that wants it, so a socket wakes only for its own
//! events.
//!
//! The pipeline publishes every analysed post; a socket of one team wants a tenth of them.
//! Read straight from the pipeline's channel, each socket would take and drop every event
//! (1,000 sockets × 6,000 events/s is six million wake-ups and checks a second). Here the
//! check runs once per event and subscription, and the sockets of one subscription (same
//! teams, same role) share one channel.
//!
//! Promises: an event reaches a subscription's channel in the order it was published; a
//! channel nobody reads any more is dropped; when this task itself falls behind the
//! pipeline's channel, every subscription is sent the `lagged` notice (and the lag is
//! counted once in [`LiveStats`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{LiveEvent, LiveStats, SharedEvent, Subscription};

/// Events one subscription's channel holds for its slowest socket before that socket lags.
pub(crate) const SUBSCRIPTION_CAPACITY: usize = 4096;

/// The channels of the subscriptions that have sockets, and whether the task feeding them
/// runs.
#[derive(Debug, Default)]
pub(crate) struct Fanout {
    state: Arc<Mutex<FanoutState>>,
}

#[derive(Debug, Default)]
struct FanoutState {
    started: bool,
    channels: Vec<(Subscription, broadcast::Sender<SharedEvent>)>,
}

impl Fanout {
    /// A receiver of the events `subscription` wants, from now on. The first call also
    /// subscribes to `source` and hands back the task to run, which feeds every channel
    /// until `source` closes or `shutdown`.
    pub(crate) fn subscribe(
        &self,
        subscription: &Subscription,
        source: &broadcast::Sender<SharedEvent>,
        shutdown: &CancellationToken,
        stats: &Arc<LiveStats>,
    ) -> (
        broadcast::Receiver<SharedEvent>,
        Option<impl Future<Output = ()> + Send + 'static + use<>>,
    ) {
        let mut state = lock(&self.state);
        let task = (!state.started).then(|| {
            state.started = true;
            feed(
                Arc::clone(&self.state),
                source.subscribe(),
                shutdown.clone(),
                Arc::clone(stats),
            )
        });
        let receiver = match state
            .channels
            .iter()
            .find(|(known, _)| known == subscription)
        {
            Some((_, sender)) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(SUBSCRIPTION_CAPACITY);
                state.channels.push((subscription.clone(), sender));
                receiver
            }
        };
        (receiver, task)
    }
}

impl FanoutState {
    /// Passes `event` to every channel that wants it; drops the channels nobody reads.
    fn publish(&mut self, event: &SharedEvent) {
        self.channels.retain(|(subscription, sender)| {
            if sender.receiver_count() == 0 {
                return false;
            }
            if subscription.wants(event) {
                // No receiver left between the check and now: dropped next time.
                let _ = sender.send(event.clone());
            }
            true
        });
    }
}

/// The channels, also after a panic elsewhere (they stay consistent: a send or a push).
fn lock(state: &Mutex<FanoutState>) -> MutexGuard<'_, FanoutState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads `source` until it closes or `shutdown`, publishing each event to the channels.
async fn feed(
    fanout: Arc<Mutex<FanoutState>>,
    mut source: broadcast::Receiver<SharedEvent>,
    shutdown: CancellationToken,
    stats: Arc<LiveStats>,
) {
    loop {
        let received = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            received = source.recv() => received,
        };
        match received {
            Ok(event) => lock(&fanout).publish(&event),
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the dashboards' fan-out fell behind the pipeline");
                stats.count_lag(missed);
                lock(&fanout).publish(&SharedEvent::new(LiveEvent::Lagged { missed }));
            }
            Err(RecvError::Closed) => break,
        }
    }
    // Closing the channels ends their sockets as the pipeline's end would have.
    let mut state = lock(&fanout);
    state.channels.clear();
    state.started = false;
}
