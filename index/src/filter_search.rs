//! Searches without text (the dashboard's feeds: a brand, a sentiment, a category, a time
//! window), answered from bitsets of the `labels` terms ([`crate::label_bits`]).
//!
//! In: the facets every post must carry, an optional `created` window, the parents whose
//! children to count and how deep the newest-first page goes. Out: the total, the newest
//! posts' addresses and the children's counts: what tantivy's collectors (`Count`,
//! `TopDocs` by `created`, `FacetCollector`) give for a boolean query of the same term
//! filters, ties broken the same way (lower address first).
//!
//! Per segment, on the search threads: the matches are the AND of the filters' bitsets
//! (and of the live documents); the total is their population count, the facet counts
//! those of intersections ([`crate::facet_tally`]), 64 posts per word; only the page visits
//! matches one by one, reading `created`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::columnar::Column;
use tantivy::schema::{Facet, Field};
use tantivy::{DateTime, DocAddress, DocId, Searcher, SegmentReader};

use crate::facet_tally::{self, ChildCounts, SegmentMatches};
use crate::label_bits::{self, LabelBits};

/// What a search without text asks.
pub(crate) struct Filters<'a> {
    /// Facets of the `labels` field every match carries.
    pub(crate) facets: &'a [Facet],
    /// Matches were created at or after this time.
    pub(crate) since: Option<DateTime>,
    /// Matches were created strictly before this time.
    pub(crate) until: Option<DateTime>,
}

/// Where the search reads.
pub(crate) struct Fields<'a> {
    /// The facet field of the filters and counts.
    pub(crate) labels: Field,
    /// The name of the date fast field the page is sorted by.
    pub(crate) created: &'a str,
}

/// What one search found.
pub(crate) struct Found {
    pub(crate) total: usize,
    /// The first `depth` matches, newest first.
    pub(crate) newest: Vec<DocAddress>,
    /// Per parent (in the order given), each child's count; children no match carries are
    /// absent.
    pub(crate) counts: ChildCounts,
}

/// Runs the search on every segment (on the index's search threads) and merges.
pub(crate) fn search(
    searcher: &Searcher,
    bits: &LabelBits,
    fields: &Fields<'_>,
    filters: &Filters<'_>,
    parents: &[Facet],
    depth: usize,
) -> tantivy::Result<Found> {
    let segments = searcher.segment_readers();
    let per_segment = searcher.index().search_executor().map(
        |(ordinal, segment)| {
            let ordinal = u32::try_from(ordinal).unwrap_or(u32::MAX);
            search_segment(bits, fields, filters, depth, ordinal, segment)
        },
        segments.iter().enumerate(),
    )?;

    let mut total = 0;
    let mut newest = Vec::new();
    let mut matches = Vec::with_capacity(per_segment.len());
    for segment in per_segment {
        total += segment.total;
        newest.extend(segment.newest.into_iter().map(|Newer(candidate)| candidate));
        matches.push(segment.matches);
    }
    let counts = facet_tally::count(searcher, bits, fields.labels, parents, &matches)?;
    newest.sort_by(|a, b| a.rank(b));
    Ok(Found {
        total,
        newest: newest
            .into_iter()
            .take(depth)
            .map(|candidate| candidate.address)
            .collect(),
        counts,
    })
}

/// One segment's share of the answer.
struct SegmentFound {
    matches: SegmentMatches,
    total: usize,
    newest: Vec<Newer>,
}

fn search_segment(
    bits: &LabelBits,
    fields: &Fields<'_>,
    filters: &Filters<'_>,
    depth: usize,
    ordinal: u32,
    segment: &SegmentReader,
) -> tantivy::Result<SegmentFound> {
    let inverted = segment.inverted_index(fields.labels)?;
    let max_doc = segment.max_doc();

    // The matches: live documents carrying every filter facet, in the window.
    let mut matches: Vec<u64> = match bits.alive(segment) {
        Some(alive) => alive.to_vec(),
        None => all_documents(max_doc),
    };
    let every_document = filters.facets.is_empty()
        && filters.since.is_none()
        && filters.until.is_none()
        && !segment.has_deletes();
    for facet in filters.facets {
        let key = facet.encoded_str().as_bytes();
        let Some(info) = inverted.terms().get(key)? else {
            matches.fill(0);
            break;
        };
        let carried = bits.term(segment, &inverted, key, &info)?;
        for (word, with) in matches.iter_mut().zip(carried.iter()) {
            *word &= with;
        }
    }
    let created = segment.fast_fields().date(fields.created)?;
    if filters.since.is_some() || filters.until.is_some() {
        keep_window(&mut matches, &created, filters);
    }
    let matches = SegmentMatches {
        segment: ordinal,
        bits: matches,
        every_document,
    };
    let total = matches.count();
    let newest = if total == 0 {
        Vec::new()
    } else {
        newest(&matches.bits, &created, depth, ordinal)
    };
    Ok(SegmentFound {
        matches,
        total,
        newest,
    })
}

/// Every document of a segment of `max_doc`, as a bitset.
fn all_documents(max_doc: DocId) -> Vec<u64> {
    let mut words = vec![u64::MAX; label_bits::words_for(max_doc)];
    let tail = max_doc % 64;
    if tail != 0
        && let Some(last) = words.last_mut()
    {
        *last = (1u64 << tail) - 1;
    }
    words
}

/// Clears the matches created outside the filters' window (or with no `created` value).
fn keep_window(matches: &mut [u64], created: &Column<DateTime>, filters: &Filters<'_>) {
    for (index, word) in matches.iter_mut().enumerate() {
        let mut rest = *word;
        while rest != 0 {
            let bit = rest.trailing_zeros();
            rest &= rest - 1;
            let doc = doc_at(index, bit);
            let inside = created.first(doc).is_some_and(|at| {
                filters.since.is_none_or(|since| at >= since)
                    && filters.until.is_none_or(|until| at < until)
            });
            if !inside {
                *word &= !(1u64 << bit);
            }
        }
    }
}

/// The document at `bit` of word `index`.
fn doc_at(index: usize, bit: u32) -> DocId {
    u32::try_from(index * 64).unwrap_or(DocId::MAX) + bit
}

/// A match for the page: when it was created and where it is.
#[derive(Clone, Copy)]
struct Candidate {
    created: Option<DateTime>,
    address: DocAddress,
}

impl Candidate {
    /// `Less` when `self` comes first on the page: newer, then the lower address.
    fn rank(&self, other: &Candidate) -> Ordering {
        other
            .created
            .cmp(&self.created)
            .then_with(|| self.address.cmp(&other.address))
    }
}

/// A candidate ordered so that a max-heap keeps the one leaving the page first on top.
struct Newer(Candidate);

impl PartialEq for Newer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Newer {}
impl PartialOrd for Newer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Newer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank(&other.0)
    }
}

/// The segment's `depth` newest matches. Visited from the last document down: posts are
/// mostly added in date order, so the first ones seen fill the page and most later ones
/// are turned away by one comparison.
fn newest(matches: &[u64], created: &Column<DateTime>, depth: usize, ordinal: u32) -> Vec<Newer> {
    let mut page: BinaryHeap<Newer> = BinaryHeap::with_capacity(depth + 1);
    if depth == 0 {
        return Vec::new();
    }
    for (index, word) in matches.iter().enumerate().rev() {
        let mut rest = *word;
        while rest != 0 {
            let bit = 63 - rest.leading_zeros();
            rest &= !(1u64 << bit);
            let doc = doc_at(index, bit);
            let candidate = Newer(Candidate {
                created: created.first(doc),
                address: DocAddress::new(ordinal, doc),
            });
            if page.len() < depth {
                page.push(candidate);
            } else if let Some(mut last) = page.peek_mut()
                && candidate < *last
            {
                *last = candidate;
            }
        }
    }
    page.into_vec()
}
