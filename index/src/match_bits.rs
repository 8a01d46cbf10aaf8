//! [`MatchBits`]: a search collector that gives each segment's matches as a bitset (one
//! bit per document), for [`crate::facet_tally`] to count facets by intersections.
//!
//! Collecting costs one bit set per match; the counting afterwards costs a population
//! count per 64 documents and child, instead of reading every match's facets.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::facet_tally::SegmentMatches;
use crate::label_bits;

/// Collects the matches of every segment as bitsets.
pub(crate) struct MatchBits;

/// One segment's collecting.
pub(crate) struct SegmentMatchBits(SegmentMatches);

impl Collector for MatchBits {
    type Fruit = Vec<SegmentMatches>;
    type Child = SegmentMatchBits;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentMatchBits> {
        Ok(SegmentMatchBits(SegmentMatches {
            segment,
            bits: vec![0; label_bits::words_for(reader.max_doc())],
            every_document: false,
        }))
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentMatches>) -> tantivy::Result<Vec<SegmentMatches>> {
        Ok(fruits)
    }
}

impl SegmentCollector for SegmentMatchBits {
    type Fruit = SegmentMatches;

    fn collect(&mut self, doc: DocId, _score: Score) {
        label_bits::set_bit(&mut self.0.bits, doc);
    }

    fn harvest(self) -> SegmentMatches {
        self.0
    }
}
