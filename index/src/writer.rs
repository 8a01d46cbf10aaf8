//! [`PostWriter`]: the one tantivy `IndexWriter`, which adds, replaces and deletes posts and
//! commits them together with the source checkpoints they make valid.
//!
//! In: [`AnalysedPost`]s, deletions by [`PostId`], retention cutoffs, and [`Checkpoint`]s.
//! Out: commits, each named by the [`CommitTrigger`] that fired it; after each commit the
//! [`SearchIndex`] is reloaded so searches see it at once.
//!
//! Promises:
//! * upsert: a post is stored once per id; adding it again replaces it, and a post whose
//!   `change` is `Delete` removes the stored one;
//! * a staged checkpoint is written in the payload of the next commit (a JSON map
//!   source → cursor, merged over the committed ones), the same commit that holds every
//!   post added before it; nothing is saved until [`PostWriter::commit`];
//! * crash safety: if the process dies before a commit, its adds are lost *and* its
//!   checkpoints are not saved, so [`PostWriter::open`] reads back the previous checkpoints
//!   and the sources re-deliver the lost posts (idempotently, by id).
//!
//! Everything here is blocking: run it on a dedicated or `spawn_blocking` thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use collector::{Change, Checkpoint, PostId};
use nlp::AnalysedPost;
use serde::{Deserialize, Serialize};
use tantivy::directory::{Directory, MmapDirectory, RamDirectory};
use tantivy::{IndexWriter, TantivyDocument, TantivyError};

use crate::error::IndexError;
use crate::retention;
use crate::schema::{self, Fields};
use crate::search::SearchIndex;

/// Memory the writer may use for documents not yet flushed, over all its threads.
const MEMORY_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// Segments of this many posts or more are not merged further: a merge holds buffers in
/// proportion to the posts it merges (about 300 bytes of anonymous memory per post), so
/// unbounded merges of millions of posts pushed the process over 1.3 GB at 10M posts.
const MERGE_MAX_DOCS: usize = 200_000;
/// At most this many indexing threads (the service shares the machine with NLP).
const MAX_THREADS: usize = 2;
/// Version of the commit payload layout. Changing the layout also needs a
/// [`schema::SCHEMA_VERSION`] bump, so an older veille never misreads a payload.
const PAYLOAD_VERSION: u32 = 1;

/// Why a commit happens; logged with it to diagnose indexing lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitTrigger {
    /// Enough documents are pending.
    DocLimit,
    /// The commit interval elapsed with documents pending.
    Timeout,
    /// The input channel closed (shutdown): last commit.
    InputClosed,
    /// A retention pass deleted old posts.
    Retention,
    /// Another stage asked for a commit (the influence tracker, before its snapshot).
    Requested,
}

impl CommitTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitTrigger::DocLimit => "doc_limit",
            CommitTrigger::Timeout => "timeout",
            CommitTrigger::InputClosed => "input_closed",
            CommitTrigger::Retention => "retention",
            CommitTrigger::Requested => "requested",
        }
    }
}

/// The commit payload: source name → cursor.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CommitPayload {
    v: u32,
    checkpoints: BTreeMap<String, serde_json::Value>,
}

/// The index writer. Exactly one per index directory (tantivy locks it).
pub struct PostWriter {
    writer: IndexWriter<TantivyDocument>,
    fields: Fields,
    search: SearchIndex,
    location: PathBuf,
    committed: BTreeMap<String, Checkpoint>,
    staged: BTreeMap<String, Checkpoint>,
    pending: usize,
}

impl PostWriter {
    /// Opens the index in `dir`, creating it (and `dir`) if needed, and reads the checkpoints
    /// of its last commit. Returns the writer and the [`SearchIndex`] it keeps fresh.
    pub fn open(dir: &Path) -> Result<(PostWriter, SearchIndex), IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let directory = MmapDirectory::open(dir).map_err(|error| IndexError::Tantivy {
            context: "opening the index directory",
            source: error.into(),
        })?;
        PostWriter::open_directory(directory, dir)
    }

    /// An index in memory, for tests and demos: lost when dropped.
    pub fn open_in_ram() -> Result<(PostWriter, SearchIndex), IndexError> {
        PostWriter::open_directory(RamDirectory::create(), Path::new("<memory>"))
    }

    /// Opens the index in any tantivy directory; `location` names it in errors and logs.
    pub(crate) fn open_directory<D>(
        directory: D,
        location: &Path,
    ) -> Result<(PostWriter, SearchIndex), IndexError>
    where
        D: Directory + Clone,
    {
        let (index, fields) = schema::open_or_create(directory, location)?;
        let threads = std::thread::available_parallelism()
            .map(|cores| cores.get())
            .unwrap_or(1)
            .clamp(1, MAX_THREADS);
        let writer = index
            .writer_with_num_threads(threads, MEMORY_BUDGET_BYTES)
            .map_err(|source| match source {
                TantivyError::LockFailure(..) => IndexError::Locked {
                    path: location.to_path_buf(),
                    source,
                },
                source => IndexError::Tantivy {
                    context: "creating the index writer",
                    source,
                },
            })?;
        let mut merge_policy = tantivy::indexer::LogMergePolicy::default();
        merge_policy.set_max_docs_before_merge(MERGE_MAX_DOCS);
        writer.set_merge_policy(Box::new(merge_policy));
        let metas = index
            .load_metas()
            .map_err(IndexError::tantivy("reading the last commit"))?;
        let committed = decode_payload(metas.payload.as_deref(), location)?;
        let search = SearchIndex::new(index, fields)?;
        tracing::info!(
            path = %location.display(),
            threads,
            checkpoints = committed.len(),
            "index opened"
        );
        let post_writer = PostWriter {
            writer,
            fields,
            search: search.clone(),
            location: location.to_path_buf(),
            committed,
            staged: BTreeMap::new(),
            pending: 0,
        };
        Ok((post_writer, search))
    }

    /// The checkpoints saved by the last commit, by source name.
    pub fn committed_checkpoints(&self) -> &BTreeMap<String, Checkpoint> {
        &self.committed
    }

    /// Adds a post, replacing any stored post with the same id; a deletion tombstone
    /// (`change: Delete`) removes the stored post instead. Visible after the next commit.
    pub fn add(&mut self, post: &AnalysedPost) -> Result<(), IndexError> {
        if post.post.change == Change::Delete {
            return self.delete(&post.post.id);
        }
        let document = schema::to_document(&self.fields, post)?;
        self.writer
            .delete_term(schema::id_term(&self.fields, post.post.id.as_str()));
        self.writer
            .add_document(document)
            .map_err(IndexError::tantivy("adding a post"))?;
        self.pending += 1;
        tracing::trace!(id = %post.post.id, "post added");
        Ok(())
    }

    /// Deletes the post with this id, if stored. Visible after the next commit.
    pub fn delete(&mut self, id: &PostId) -> Result<(), IndexError> {
        self.writer
            .delete_term(schema::id_term(&self.fields, id.as_str()));
        self.pending += 1;
        tracing::trace!(id = %id, "post deleted");
        Ok(())
    }

    /// Deletes every post created strictly before `cutoff` (see [`retention::cutoff`]).
    /// Applied at the next commit.
    pub fn delete_older_than(&mut self, cutoff: DateTime<Utc>) -> Result<(), IndexError> {
        let query = retention::older_than(&self.fields, cutoff);
        self.writer
            .delete_query(Box::new(query))
            .map_err(IndexError::tantivy("deleting old posts"))?;
        self.pending += 1;
        tracing::debug!(cutoff = %cutoff, "retention deletion staged");
        Ok(())
    }

    /// Stages a checkpoint: saved by the next commit, together with every post added before.
    /// A later checkpoint of the same source replaces it.
    pub fn stage_checkpoint(&mut self, checkpoint: Checkpoint) {
        self.staged.insert(checkpoint.source.clone(), checkpoint);
    }

    /// Operations (adds, deletes, retention passes) since the last commit.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Commits pending operations and staged checkpoints, then reloads the [`SearchIndex`].
    /// Does nothing when there is neither.
    pub fn commit(&mut self, trigger: CommitTrigger) -> Result<(), IndexError> {
        if self.pending == 0 && self.staged.is_empty() {
            return Ok(());
        }
        let mut checkpoints = self.committed.clone();
        for (source, checkpoint) in &self.staged {
            checkpoints.insert(source.clone(), checkpoint.clone());
        }
        let payload = CommitPayload {
            v: PAYLOAD_VERSION,
            checkpoints: checkpoints
                .iter()
                .map(|(source, checkpoint)| (source.clone(), checkpoint.cursor.clone()))
                .collect(),
        };
        let payload = serde_json::to_string(&payload).map_err(|source| IndexError::Encode {
            what: "commit payload".to_string(),
            source,
        })?;

        let mut prepared = self
            .writer
            .prepare_commit()
            .map_err(IndexError::tantivy("preparing a commit"))?;
        prepared.set_payload(&payload);
        prepared
            .commit()
            .map_err(IndexError::tantivy("committing"))?;

        tracing::debug!(
            trigger = trigger.as_str(),
            operations = self.pending,
            checkpoints = self.staged.len(),
            "index committed"
        );
        self.committed = checkpoints;
        self.staged.clear();
        self.pending = 0;
        self.search.reload()
    }

    /// Waits for background segment merges to finish, then releases the index lock.
    /// Operations not committed are dropped: commit first.
    pub fn close(self) -> Result<(), IndexError> {
        if self.pending > 0 || !self.staged.is_empty() {
            tracing::warn!(
                path = %self.location.display(),
                pending = self.pending,
                staged_checkpoints = self.staged.len(),
                "index writer closed with uncommitted work"
            );
        }
        self.writer
            .wait_merging_threads()
            .map_err(IndexError::tantivy("waiting for segment merges"))
    }
}

/// Reads the checkpoints from a commit payload (none before the first commit).
fn decode_payload(
    payload: Option<&str>,
    location: &Path,
) -> Result<BTreeMap<String, Checkpoint>, IndexError> {
    let Some(payload) = payload.filter(|payload| !payload.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let decoded: CommitPayload =
        serde_json::from_str(payload).map_err(|source| IndexError::Corrupt {
            what: format!("commit payload of the index at {}", location.display()),
            source,
        })?;
    let checkpoints = decoded
        .checkpoints
        .into_iter()
        .map(|(source, cursor)| {
            let checkpoint = Checkpoint {
                source: source.clone(),
                cursor,
            };
            (source, checkpoint)
        })
        .collect();
    Ok(checkpoints)
}

#[cfg(test)]
mod tests;
