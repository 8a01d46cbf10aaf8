//! What travels with a batch through the stages so that its producer learns when the batch
//! is safely stored: the seam that lets the same stage loops run over tokio channels or
//! over a message broker.
//!
//! * [`Progress::Checkpoint`] (embedded pipeline): the source's cursor; the index writer
//!   stages it after the batch's posts and stores it in the commit that holds them.
//! * [`Progress::Notify`] (a transport such as NATS): the index writer, or whichever stage
//!   ends the batch's journey in this process, signals once the batch's downstream write
//!   succeeded; the transport then acknowledges the messages the batch came from. The
//!   signal is never sent for a batch that was not fully written: the sender is dropped,
//!   and the transport lets its messages be delivered again.

use collector::{Batch, Checkpoint, Post};
use tokio::sync::oneshot;

/// How a batch's producer learns that the batch is stored.
#[derive(Debug)]
pub(crate) enum Progress {
    Checkpoint(Checkpoint),
    Notify(oneshot::Sender<()>),
}

impl Progress {
    /// A progress whose receiver resolves once the batch is stored.
    pub(crate) fn notify() -> (Progress, oneshot::Receiver<()>) {
        let (done, stored) = oneshot::channel();
        (Progress::Notify(done), stored)
    }
}

/// Posts for the NLP stage, with what tells their producer they are stored.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) posts: Vec<Post>,
    pub(crate) progress: Progress,
}

impl From<Batch> for Collected {
    fn from(batch: Batch) -> Collected {
        Collected {
            posts: batch.posts,
            progress: Progress::Checkpoint(batch.checkpoint),
        }
    }
}
