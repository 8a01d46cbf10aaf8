//! Facet counts from bitsets: among a search's matches, given per segment as a bitset (one
//! bit per document), how many carry each child of a few parent facets of the `labels`
//! field (`/sentiment` → `negative`, `neutral`...; `/axis/topic` → its categories).
//!
//! A child's count is the population count of the matches AND the child's bitset (kept by
//! [`LabelBits`] when many posts carry it): 64 posts per machine word, however many
//! matches. A child few posts carry is counted from its postings instead. A post counts
//! once per child, whatever the depth of its facets under it (tantivy indexes every
//! ancestor of a facet as a term: the child's term holds every post under it).

use std::collections::BTreeMap;

use tantivy::postings::TermInfo;
use tantivy::schema::{Facet, Field};
use tantivy::{InvertedIndexReader, Searcher, SegmentOrdinal};

use crate::label_bits::{self, Bits, LabelBits};

/// What separates the components of an encoded facet path (tantivy's encoding).
const FACET_SEP_BYTE: u8 = 0;

/// Per parent (in the order given), each child's name and how many matches carry it;
/// children no match carries are absent.
pub(crate) type ChildCounts = Vec<BTreeMap<String, u64>>;

/// One segment's matches.
pub(crate) struct SegmentMatches {
    pub(crate) segment: SegmentOrdinal,
    /// One bit per document of the segment, live matches only.
    pub(crate) bits: Vec<u64>,
    /// Whether every document of the segment is a match (and none is deleted): each child's
    /// count is then its document frequency.
    pub(crate) every_document: bool,
}

impl SegmentMatches {
    /// How many matches the segment has.
    pub(crate) fn count(&self) -> usize {
        self.bits
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }
}

/// Counts the children of `parents` in the facet field `labels` among the matches of every
/// segment (on the index's search threads) and adds them up.
pub(crate) fn count(
    searcher: &Searcher,
    bits: &LabelBits,
    labels: Field,
    parents: &[Facet],
    matches: &[SegmentMatches],
) -> tantivy::Result<ChildCounts> {
    let parents: Vec<Vec<u8>> = parents
        .iter()
        .map(|parent| parent.encoded_str().as_bytes().to_vec())
        .collect();
    let per_segment = searcher.index().search_executor().map(
        |matches| count_segment(searcher, bits, labels, &parents, matches),
        matches
            .iter()
            .filter(|matches| matches.bits.iter().any(|word| *word != 0)),
    )?;
    let mut counts: ChildCounts = vec![BTreeMap::new(); parents.len()];
    for segment in per_segment {
        for (into, children) in counts.iter_mut().zip(segment) {
            for (child, count) in children {
                *into.entry(child).or_insert(0) += count;
            }
        }
    }
    Ok(counts)
}

fn count_segment(
    searcher: &Searcher,
    bits: &LabelBits,
    labels: Field,
    parents: &[Vec<u8>],
    matches: &SegmentMatches,
) -> tantivy::Result<ChildCounts> {
    let segment = searcher.segment_reader(matches.segment);
    let inverted = segment.inverted_index(labels)?;
    let mut counts: ChildCounts = vec![BTreeMap::new(); parents.len()];
    for (parent, counts) in parents.iter().zip(counts.iter_mut()) {
        for (child, info) in children(&inverted, parent)? {
            let count = if matches.every_document {
                u64::from(info.doc_freq)
            } else if label_bits::is_dense(&info, segment.max_doc()) {
                let carried = bits.term(segment, &inverted, &child.key, &info)?;
                intersection_count(&matches.bits, &carried)
            } else {
                postings_count(&inverted, &info, &matches.bits)?
            };
            if count > 0 {
                *counts.entry(child.name).or_insert(0) += count;
            }
        }
    }
    Ok(counts)
}

/// A child of a parent in one segment's term dictionary.
struct Child {
    /// Its encoded path (the term).
    key: Vec<u8>,
    name: String,
}

/// The children of `parent` (an encoded path) present in the segment, with their postings.
fn children(
    inverted: &InvertedIndexReader,
    parent: &[u8],
) -> std::io::Result<Vec<(Child, TermInfo)>> {
    let mut prefix = parent.to_vec();
    if !prefix.is_empty() {
        prefix.push(FACET_SEP_BYTE);
    }
    let mut range = inverted.terms().range().ge(&prefix);
    let mut end = parent.to_vec();
    if !end.is_empty() {
        end.push(FACET_SEP_BYTE + 1);
        range = range.lt(&end);
    }
    let mut stream = range.into_stream()?;
    let mut found = Vec::new();
    while stream.advance() {
        let key = stream.key();
        let rest = key.get(prefix.len()..).unwrap_or_default();
        if rest.is_empty() || rest.contains(&FACET_SEP_BYTE) {
            continue;
        }
        found.push((
            Child {
                key: key.to_vec(),
                name: String::from_utf8_lossy(rest).into_owned(),
            },
            stream.value().clone(),
        ));
    }
    Ok(found)
}

/// How many documents both bitsets hold.
fn intersection_count(matches: &[u64], carried: &Bits) -> u64 {
    matches
        .iter()
        .zip(carried.iter())
        .map(|(a, b)| u64::from((a & b).count_ones()))
        .sum()
}

/// How many documents of a term's postings are matches.
fn postings_count(
    inverted: &InvertedIndexReader,
    info: &TermInfo,
    matches: &[u64],
) -> std::io::Result<u64> {
    let mut count = 0;
    label_bits::for_each_posting(inverted, info, |doc| {
        let word = matches.get(doc as usize / 64).copied().unwrap_or(0);
        count += (word >> (doc % 64)) & 1;
    })?;
    Ok(count)
}

/// Tantivy's `FacetCollector` counts for `parents`, in the shape [`count`] gives (the
/// reference of the tests).
#[cfg(test)]
pub(crate) fn child_counts_of(
    counts: &tantivy::collector::FacetCounts,
    parents: &[Facet],
) -> ChildCounts {
    parents
        .iter()
        .map(|parent| {
            counts
                .get(parent.clone())
                .filter_map(|(facet, count)| {
                    facet
                        .to_path()
                        .last()
                        .map(|name| ((*name).to_owned(), count))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::match_bits::MatchBits;
    use tantivy::collector::FacetCollector;
    use tantivy::query::{AllQuery, TermQuery};
    use tantivy::schema::{FacetOptions, IndexRecordOption, Schema};
    use tantivy::{Index, TantivyDocument, Term};

    /// An index in memory, in four segments, whose documents carry facets at several
    /// depths: some twice under the same child, some under no parent asked for, some none.
    fn index() -> (Index, Field) {
        let mut builder = Schema::builder();
        let labels = builder.add_facet_field("labels", FacetOptions::default());
        let index = Index::create_in_ram(builder.build());
        let mut writer = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        let paths: [&[&str]; 9] = [
            &[
                "/sentiment/negative",
                "/axis/topic/outage",
                "/axis/topic/outage/fibre",
            ],
            &[
                "/sentiment/positive",
                "/axis/topic/billing",
                "/axis/topic/outage",
            ],
            &["/sentiment/negative", "/brand/Lumio", "/other/x"],
            &["/axis/intent/question", "/sentiment/neutral"],
            &[],
            &["/axis/topic/outage/mobile", "/axis/topic/outage/fibre"],
            &["/sentiment/negative", "/brand/Lumio", "/brand/Acme"],
            &["/axis/topic"],
            &["/sentiment/neutral", "/axis/topic/billing/late"],
        ];
        for (position, facets) in paths.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            for facet in *facets {
                doc.add_facet(labels, Facet::from(*facet));
            }
            writer.add_document(doc).expect("added");
            if position % 3 == 2 {
                writer.commit().expect("committed");
            }
        }
        writer.commit().expect("committed");
        // A larger segment where one brand is rare: counted from its postings.
        for position in 0..130 {
            let mut doc = TantivyDocument::default();
            doc.add_facet(labels, Facet::from("/sentiment/positive"));
            if position == 77 {
                doc.add_facet(labels, Facet::from("/brand/Rare"));
            }
            writer.add_document(doc).expect("added");
        }
        writer.commit().expect("committed");
        (index, labels)
    }

    fn parents() -> Vec<Facet> {
        [
            "/sentiment",
            "/brand",
            "/axis/topic",
            "/axis/intent",
            "/absent",
        ]
        .into_iter()
        .map(Facet::from)
        .collect()
    }

    /// What tantivy's `FacetCollector` counts for the same parents, in our shape.
    fn reference(searcher: &Searcher, query: &dyn tantivy::query::Query) -> ChildCounts {
        let mut collector = FacetCollector::for_field("labels");
        for parent in parents() {
            collector.add_facet(parent);
        }
        let counts = searcher.search(query, &collector).expect("searched");
        child_counts_of(&counts, &parents())
    }

    #[test]
    fn counts_are_the_facet_collectors_over_segments_and_depths() {
        let (index, labels) = index();
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 4);
        let negative = TermQuery::new(
            Term::from_facet(labels, &Facet::from("/sentiment/negative")),
            IndexRecordOption::Basic,
        );
        let queries: [&dyn tantivy::query::Query; 2] = [&AllQuery, &negative];
        // Every budget: all kept, none kept (each bitset built for its count).
        for budget in [label_bits::DEFAULT_BUDGET, 0] {
            let bits = LabelBits::new(budget);
            for query in queries {
                let matches = searcher.search(query, &MatchBits).expect("searched");
                let counted =
                    count(&searcher, &bits, labels, &parents(), &matches).expect("counted");
                assert_eq!(counted, reference(&searcher, query));
                if budget == 0 {
                    assert_eq!(bits.kept_bytes(), 0);
                }
            }
            let matches = searcher.search(&AllQuery, &MatchBits).expect("searched");
            let all = count(&searcher, &bits, labels, &parents(), &matches).expect("counted");
            assert_eq!(
                all[2].get("outage"),
                Some(&3),
                "a post counts once per child"
            );
            assert_eq!(all[1].get("Lumio"), Some(&2));
            assert_eq!(all[1].get("Rare"), Some(&1));
            assert!(all[4].is_empty(), "a parent no post has");
        }
    }
}
