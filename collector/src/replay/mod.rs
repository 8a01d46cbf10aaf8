//! Replay source: streams recorded files (in the platforms' real wire formats) as if they
//! were arriving live. It powers `veille demo` and the end-to-end tests.
//!
//! In: [`ReplayFile`]s (`x/*.jsonl` X stream bodies, `feed/*.xml` RSS/Atom documents,
//! `bluesky/*.jsonl` Jetstream events, `mastodon/*.jsonl` streaming events, `reddit/*.json`
//! listings, `discourse/<host>.json` `/posts.json` bodies), read
//! from disk with [`load_dir`] or embedded in the binary. Out: [`Batch`]es through
//! [`Source::next_batch`].
//!
//! Promises:
//! * every file is decoded up front into one ordered list of records (files by name, items
//!   by position); each malformed item is counted in `decode_failures` and warned about once,
//!   with its file and line, then skipped;
//! * records are emitted in that order; with a speedup, the gap between two posts' recorded
//!   times is replayed divided by the speedup and clamped to [0, 2 s];
//! * the checkpoint of a batch is `{"v":1,"round":r,"next":n}`: the round and the index of
//!   the next record, i.e. the position after the batch; resuming from it continues at
//!   exactly that record;
//! * round 0 keeps the recorded ids and times; when looping, round r ≥ 1 gives every post the
//!   id `<recorded key>~r<r>` (also in its url) and the current time as `created_at`, so
//!   each round looks like new posts.

pub(crate) mod feed;
mod feed_item;
mod files;
pub(crate) mod html;
mod social;
pub mod x_stream;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

pub use files::{
    DecodeError, DecodeFailure, DecodedFile, DecodedPost, FileFormat, ReplayFile, decode_file,
    load_dir,
};

use crate::error::CollectError;
use crate::post::{Post, PostId};
use crate::source::{Batch, Checkpoint, Source};
use crate::stats::SourceStats;

/// The longest pause between two replayed posts, so gaps in a recording never stall a demo.
pub const MAX_PACING_DELAY: Duration = Duration::from_secs(2);

/// Version of the cursor this source writes and reads.
const CURSOR_VERSION: u64 = 1;

/// How to replay a set of recorded files.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Name of the configured source instance; the key of its checkpoints.
    pub name: String,
    pub files: Vec<ReplayFile>,
    /// Recorded time runs this many times faster; `None` replays as fast as possible.
    pub speedup: Option<f64>,
    /// Start again, with fresh post ids, when the files are exhausted.
    pub loop_forever: bool,
    /// Most posts per batch (at least 1).
    pub batch_size: usize,
}

/// The replay source (see the module header).
#[derive(Debug)]
pub struct Replay {
    name: String,
    records: Vec<DecodedPost>,
    speedup: Option<f64>,
    loop_forever: bool,
    batch_size: usize,
    round: u64,
    next: usize,
    /// Whether this instance emitted a post yet: the first one is never delayed.
    started: bool,
    stream_errors: u64,
    stats: Arc<SourceStats>,
}

impl Replay {
    /// Decodes every file and positions the replay at `resume` (or at the start).
    pub fn new(
        config: ReplayConfig,
        resume: Option<&Checkpoint>,
        stats: Arc<SourceStats>,
    ) -> Result<Replay, CollectError> {
        let fatal = |reason: &str| CollectError::Fatal {
            source_name: config.name.clone(),
            reason: reason.to_owned(),
        };
        if let Some(speedup) = config.speedup
            && !(speedup.is_finite() && speedup > 0.0)
        {
            return Err(fatal("speedup must be a positive number"));
        }
        if config.batch_size == 0 {
            return Err(fatal("batch size must be at least 1"));
        }

        let mut files = config.files;
        files.sort_by(|left, right| left.name.cmp(&right.name));
        let decoded_at = Utc::now();
        let mut records = Vec::new();
        let mut stream_errors = 0;
        for file in &files {
            let Some(decoded) = decode_file(file, decoded_at) else {
                if file.name.contains('/') {
                    tracing::warn!(source = %config.name, file = %file.name, "replay file of unknown format skipped");
                } else {
                    // README.md, EXPECTED.json... beside the source folders.
                    tracing::debug!(source = %config.name, file = %file.name, "not a recording, skipped");
                }
                continue;
            };
            for failure in &decoded.failures {
                tracing::warn!(
                    source = %config.name,
                    file = %failure.file,
                    line = failure.line,
                    error = %failure.error,
                    "malformed recorded item skipped"
                );
                SourceStats::add(&stats.decode_failures, 1);
            }
            stream_errors += decoded.stream_errors;
            records.extend(decoded.posts);
        }
        if records.is_empty() {
            tracing::warn!(source = %config.name, "replay has no posts to emit");
        }

        let (round, next) = match resume {
            Some(checkpoint) => resume_position(&config.name, checkpoint, records.len()),
            None => (0, 0),
        };
        tracing::info!(
            source = %config.name,
            records = records.len(),
            round,
            next,
            "replay ready"
        );
        Ok(Replay {
            name: config.name,
            records,
            speedup: config.speedup,
            loop_forever: config.loop_forever,
            batch_size: config.batch_size,
            round,
            next,
            started: false,
            stream_errors,
            stats,
        })
    }

    /// Number of records one round emits.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// X `{"errors":[...]}` notices met while decoding (skipped, not failures).
    pub fn stream_errors(&self) -> u64 {
        self.stream_errors
    }

    /// The checkpoint of the current position.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            source: self.name.clone(),
            cursor: json!({"v": CURSOR_VERSION, "round": self.round, "next": self.next}),
        }
    }

    /// End (exclusive) of the batch that starts at `self.next`, waiting for it to be due.
    async fn wait_for_batch_end(&self) -> usize {
        let start = self.next;
        let Some(speedup) = self.speedup else {
            return (start + self.batch_size).min(self.records.len());
        };
        if self.started && start > 0 {
            let delay = pacing_delay(
                self.records[start - 1].post.created_at,
                self.records[start].post.created_at,
                speedup,
            );
            tokio::time::sleep(delay).await;
        }
        let mut end = start + 1;
        while end < self.records.len() && end - start < self.batch_size {
            let delay = pacing_delay(
                self.records[end - 1].post.created_at,
                self.records[end].post.created_at,
                speedup,
            );
            if !delay.is_zero() {
                break;
            }
            end += 1;
        }
        end
    }
}

impl Source for Replay {
    fn name(&self) -> &str {
        &self.name
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, CollectError> {
        if self.records.is_empty() {
            return Ok(None);
        }
        if self.next >= self.records.len() {
            if !self.loop_forever {
                return Ok(None);
            }
            self.round += 1;
            self.next = 0;
            tracing::info!(source = %self.name, round = self.round, "replay starting a new round");
        }
        // Cancel-safe: nothing below changes state until the wait is over.
        let end = self.wait_for_batch_end().await;
        let now = Utc::now();
        let posts: Vec<Post> = self.records[self.next..end]
            .iter()
            .map(|record| post_for_round(record, self.round, now))
            .collect();
        self.next = end;
        self.started = true;
        SourceStats::add(&self.stats.posts, posts.len() as u64);
        SourceStats::add(&self.stats.batches, 1);
        Ok(Some(Batch {
            posts,
            checkpoint: self.checkpoint(),
        }))
    }
}

/// How long to wait between two posts recorded at `previous` and `current`.
pub fn pacing_delay(previous: DateTime<Utc>, current: DateTime<Utc>, speedup: f64) -> Duration {
    let gap = (current - previous).to_std().unwrap_or(Duration::ZERO);
    let scaled = gap.as_secs_f64() / speedup;
    Duration::try_from_secs_f64(scaled)
        .unwrap_or(MAX_PACING_DELAY)
        .min(MAX_PACING_DELAY)
}

/// The post a record becomes in `round`, observed at `now`.
fn post_for_round(record: &DecodedPost, round: u64, now: DateTime<Utc>) -> Post {
    let mut post = record.post.clone();
    post.observed_at = now;
    if round > 0 {
        let marker = format!("~r{round}");
        post.id = PostId::new(post.source, &format!("{}{marker}", record.key));
        post.url = post.url.map(|url| mark_url(&url, &marker));
        post.created_at = now;
    }
    post
}

/// Inserts `marker` at the end of the url's path (before any query or fragment).
fn mark_url(url: &str, marker: &str) -> String {
    let path_end = url.find(['?', '#']).unwrap_or(url.len());
    format!("{}{marker}{}", &url[..path_end], &url[path_end..])
}

/// Reads a checkpoint written by [`Replay::checkpoint`]; anything else restarts at 0.
fn resume_position(name: &str, checkpoint: &Checkpoint, records: usize) -> (u64, usize) {
    let cursor = &checkpoint.cursor;
    let version = cursor.get("v").and_then(serde_json::Value::as_u64);
    let round = cursor.get("round").and_then(serde_json::Value::as_u64);
    let next = cursor
        .get("next")
        .and_then(serde_json::Value::as_u64)
        .and_then(|next| usize::try_from(next).ok());
    let (Some(CURSOR_VERSION), Some(round), Some(next)) = (version, round, next) else {
        tracing::warn!(source = %name, cursor = %cursor, "unreadable replay checkpoint, starting over");
        return (0, 0);
    };
    if checkpoint.source != name {
        tracing::warn!(source = %name, checkpoint_source = %checkpoint.source, "checkpoint of another source, starting over");
        return (0, 0);
    }
    if next > records {
        tracing::warn!(source = %name, next, records, "checkpoint past the end of the recording");
        return (round, records);
    }
    (round, next)
}

#[cfg(test)]
mod tests;
