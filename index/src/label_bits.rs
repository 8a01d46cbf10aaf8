//! [`LabelBits`]: each segment's `labels` terms as bitsets (one bit per document), kept
//! across searches for the terms many posts carry.
//!
//! A search without text is a conjunction of label filters, its total and its facet counts
//! are counts of intersections: with bitsets, 64 posts per machine word instead of a visit
//! per match ([`crate::filter_search`]). A segment never changes once written (only its
//! deletions do, kept apart by [`LabelBits::alive`]), so a term's bitset stays true as long
//! as its segment is searched; those of merged-away segments are dropped.
//!
//! Only *dense* terms are kept (at least one document in [`DENSE_RATIO`]: their bitset is
//! no larger than a few times their postings), and only up to a byte budget; any other term
//! is read from its postings on each search, which is what it costs anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::index::SegmentId;
use tantivy::postings::TermInfo;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, InvertedIndexReader, Opstamp, SegmentReader};

/// A term is kept when at least one document of its segment in this many carries it.
pub(crate) const DENSE_RATIO: u64 = 64;

/// Bytes of bitsets kept at most, all segments together (64 MiB: the dense terms of a
/// ten-million-post index, about 1.2 MiB each, with room to spare).
pub(crate) const DEFAULT_BUDGET: usize = 64 << 20;

/// One bit per document of a segment, document `d` at bit `d % 64` of word `d / 64`.
pub(crate) type Bits = Arc<[u64]>;

/// Number of 64-bit words holding one bit per document of a segment of `max_doc`.
pub(crate) fn words_for(max_doc: DocId) -> usize {
    (max_doc as usize).div_ceil(64)
}

/// Sets the bit of document `doc` (documents beyond the bitset are ignored).
pub(crate) fn set_bit(words: &mut [u64], doc: DocId) {
    if let Some(word) = words.get_mut(doc as usize / 64) {
        *word |= 1 << (doc % 64);
    }
}

/// Calls `each` with every document of a term's postings (deleted ones included), in order.
pub(crate) fn for_each_posting(
    inverted: &InvertedIndexReader,
    info: &TermInfo,
    mut each: impl FnMut(DocId),
) -> std::io::Result<()> {
    let mut postings =
        inverted.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
    loop {
        let docs = postings.docs();
        if docs.is_empty() {
            return Ok(());
        }
        docs.iter().copied().for_each(&mut each);
        postings.advance();
    }
}

/// Whether a term of `info` in a segment of `max_doc` documents is dense enough to keep.
pub(crate) fn is_dense(info: &TermInfo, max_doc: DocId) -> bool {
    u64::from(info.doc_freq) * DENSE_RATIO >= u64::from(max_doc)
}

/// The bitsets kept, shared by every search of one [`crate::SearchIndex`].
pub(crate) struct LabelBits {
    budget: usize,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// A term's documents (deleted ones included), by segment and encoded facet path.
    terms: HashMap<(SegmentId, Vec<u8>), Bits>,
    /// A segment's live documents, for the deletions it had (segments with deletions only).
    alive: HashMap<(SegmentId, Option<Opstamp>, DocId), Bits>,
    bytes: usize,
}

impl Kept {
    fn keep<K: std::hash::Hash + Eq>(
        map: &mut HashMap<K, Bits>,
        bytes: &mut usize,
        budget: usize,
        key: K,
        bits: &Bits,
    ) {
        let size = bits.len() * 8;
        if *bytes + size <= budget && !map.contains_key(&key) {
            *bytes += size;
            map.insert(key, Arc::clone(bits));
        }
    }

    /// Drops the entries whose key `stays` refuses, and their bytes.
    fn forget<K>(map: &mut HashMap<K, Bits>, bytes: &mut usize, stays: impl Fn(&K) -> bool) {
        map.retain(|key, bits| {
            let keep = stays(key);
            if !keep {
                *bytes -= bits.len() * 8;
            }
            keep
        });
    }
}

impl LabelBits {
    pub(crate) fn new(budget: usize) -> LabelBits {
        LabelBits {
            budget,
            kept: Mutex::new(Kept::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // The map is consistent after any panic (inserts and removes are single calls).
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the segments no longer searched (merged away or deleted).
    pub(crate) fn retain(&self, searched: &[SegmentId]) {
        let mut kept = self.lock();
        let Kept {
            terms,
            alive,
            bytes,
        } = &mut *kept;
        Kept::forget(terms, bytes, |(segment, _)| searched.contains(segment));
        Kept::forget(alive, bytes, |(segment, _, _)| searched.contains(segment));
    }

    /// The documents of `segment` that carry the term `key` (an encoded facet path of the
    /// field `inverted` reads), deleted ones included.
    pub(crate) fn term(
        &self,
        segment: &SegmentReader,
        inverted: &InvertedIndexReader,
        key: &[u8],
        info: &TermInfo,
    ) -> std::io::Result<Bits> {
        let id = (segment.segment_id(), key.to_vec());
        if let Some(bits) = self.lock().terms.get(&id) {
            return Ok(Arc::clone(bits));
        }
        let mut words = vec![0u64; words_for(segment.max_doc())];
        for_each_posting(inverted, info, |doc| set_bit(&mut words, doc))?;
        let bits: Bits = words.into();
        if is_dense(info, segment.max_doc()) {
            let mut kept = self.lock();
            let Kept { terms, bytes, .. } = &mut *kept;
            Kept::keep(terms, bytes, self.budget, id, &bits);
        }
        Ok(bits)
    }

    /// The live documents of `segment`; `None` when it has no deletions (all are live).
    pub(crate) fn alive(&self, segment: &SegmentReader) -> Option<Bits> {
        let alive_set = segment.alive_bitset().filter(|_| segment.has_deletes())?;
        let id = (
            segment.segment_id(),
            segment.delete_opstamp(),
            segment.num_deleted_docs(),
        );
        if let Some(bits) = self.lock().alive.get(&id) {
            return Some(Arc::clone(bits));
        }
        let mut words = vec![0u64; words_for(segment.max_doc())];
        for doc in alive_set.iter_alive() {
            set_bit(&mut words, doc);
        }
        let bits: Bits = words.into();
        let mut kept = self.lock();
        let Kept { alive, bytes, .. } = &mut *kept;
        // The segment's live documents before its latest deletions are out of date.
        Kept::forget(alive, bytes, |(segment, _, _)| *segment != id.0);
        Kept::keep(alive, bytes, self.budget, id, &bits);
        Some(bits)
    }

    /// Bytes of bitsets kept now.
    #[cfg(test)]
    pub(crate) fn kept_bytes(&self) -> usize {
        self.lock().bytes
    }
}
