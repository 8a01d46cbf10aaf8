//! [`PhraseSet`]: finds configured phrases (sequences of token keys) in a token stream.
//!
//! A phrase is a sequence of keys (folded words, or stems); it matches where the stream has
//! exactly those keys, consecutively: whole tokens only, so `lumio` never matches inside
//! `lumiosity`. One Aho-Corasick automaton over `" key key "` patterns is searched once per
//! stream (the stream is joined with single spaces; keys never contain white space), and
//! every match is reported, overlapping ones included. Several payloads may share a phrase.

use std::cell::RefCell;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::fasthash::FastMap;

use crate::error::NlpError;

/// The most phrases a set compiles into a full DFA.
const DFA_MAX_PATTERNS: usize = 2_000;

thread_local! {
    /// The joined stream and its key starts, reused from search to search (no allocation
    /// per post once warm).
    static STREAM: RefCell<(String, Vec<usize>)> = const { RefCell::new((String::new(), Vec::new())) };
}

/// A phrase found in a stream: its payloads and the range of stream positions it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhraseMatch<'a, T> {
    pub(crate) payloads: &'a [T],
    pub(crate) positions: Range<usize>,
}

/// Collects phrases before building a [`PhraseSet`].
#[derive(Debug)]
pub(crate) struct PhraseSetBuilder<T> {
    patterns: Vec<String>,
    lengths: Vec<usize>,
    payloads: Vec<Vec<T>>,
    index: FastMap<String, usize>,
}

impl<T> Default for PhraseSetBuilder<T> {
    fn default() -> Self {
        PhraseSetBuilder {
            patterns: Vec::new(),
            lengths: Vec::new(),
            payloads: Vec::new(),
            index: FastMap::default(),
        }
    }
}

impl<T: PartialEq> PhraseSetBuilder<T> {
    /// Adds a phrase; empty phrases and empty keys are ignored (they could match nowhere or
    /// everywhere). Returns whether the phrase was usable.
    pub(crate) fn add<S: AsRef<str>>(&mut self, keys: &[S], payload: T) -> bool {
        if keys.is_empty() || keys.iter().any(|key| key.as_ref().is_empty()) {
            return false;
        }
        let mut pattern = String::from(" ");
        for key in keys {
            pattern.push_str(key.as_ref());
            pattern.push(' ');
        }
        let slot = match self.index.get(&pattern) {
            Some(&slot) => slot,
            None => {
                let slot = self.patterns.len();
                self.index.insert(pattern.clone(), slot);
                self.patterns.push(pattern);
                self.lengths.push(keys.len());
                self.payloads.push(Vec::new());
                slot
            }
        };
        if !self.payloads[slot].contains(&payload) {
            self.payloads[slot].push(payload);
        }
        true
    }

    pub(crate) fn build(self, what: &str) -> Result<PhraseSet<T>, NlpError> {
        // Every pattern starts with a space, as every key of the stream does: a prefilter
        // looking for the patterns' first bytes would stop at each key for nothing. Sets of
        // up to DFA_MAX_PATTERNS phrases (the built-in ones and usual configurations: the
        // process's peak memory did not move) get a full DFA, one table lookup per byte;
        // larger ones let the crate pick a more compact automaton.
        let kind = (self.patterns.len() <= DFA_MAX_PATTERNS).then_some(AhoCorasickKind::DFA);
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .kind(kind)
            .build(&self.patterns)
            .map_err(|error| NlpError::Matcher {
                what: what.to_owned(),
                error: Box::new(error),
            })?;
        Ok(PhraseSet {
            automaton,
            lengths: self.lengths,
            payloads: self.payloads,
        })
    }
}

/// Phrases compiled into one automaton.
#[derive(Debug, Clone)]
pub(crate) struct PhraseSet<T> {
    automaton: AhoCorasick,
    lengths: Vec<usize>,
    payloads: Vec<Vec<T>>,
}

impl<T> PhraseSet<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    /// Every phrase occurring in `keys`, in order of where it ends.
    pub(crate) fn find<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<PhraseMatch<'_, T>> {
        let mut found = Vec::new();
        if self.is_empty() {
            return found;
        }
        STREAM.with_borrow_mut(|(stream, starts)| {
            stream.clear();
            starts.clear();
            stream.push(' ');
            for key in keys {
                starts.push(stream.len());
                stream.push_str(key);
                stream.push(' ');
            }
            for hit in self.automaton.find_overlapping_iter(stream.as_str()) {
                let pattern = hit.pattern().as_usize();
                let Ok(first) = starts.binary_search(&(hit.start() + 1)) else {
                    continue;
                };
                found.push(PhraseMatch {
                    payloads: &self.payloads[pattern],
                    positions: first..first + self.lengths[pattern],
                });
            }
        });
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(phrases: &[&str]) -> PhraseSet<usize> {
        let mut builder = PhraseSetBuilder::default();
        for (id, phrase) in phrases.iter().enumerate() {
            let keys: Vec<&str> = phrase.split(' ').collect();
            builder.add(&keys, id);
        }
        builder.build("test").unwrap()
    }

    fn found(set: &PhraseSet<usize>, stream: &str) -> Vec<(usize, Range<usize>)> {
        set.find(stream.split(' '))
            .into_iter()
            .flat_map(|hit| {
                hit.payloads
                    .iter()
                    .map(move |&id| (id, hit.positions.clone()))
            })
            .collect()
    }

    #[test]
    fn matches_whole_keys_and_overlaps() {
        let set = set(&["lumio", "lumio fibre", "fibre"]);
        assert_eq!(
            found(&set, "my lumio fibre"),
            [(0, 1..2), (1, 1..3), (2, 2..3)]
        );
        assert!(found(&set, "lumiosity fibres").is_empty());
    }

    #[test]
    fn shared_phrases_keep_every_payload() {
        let mut builder = PhraseSetBuilder::default();
        builder.add(&["no", "signal"], 1);
        builder.add(&["no", "signal"], 2);
        builder.add(&["no", "signal"], 2);
        assert!(!builder.add::<&str>(&[], 3));
        assert!(!builder.add(&["", "x"], 3));
        let set = builder.build("test").unwrap();
        let hits = set.find(["still", "no", "signal"].into_iter());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].payloads, [1, 2]);
        assert_eq!(hits[0].positions, 1..3);
    }

    #[test]
    fn large_sets_match_like_small_ones() {
        let words: Vec<String> = (0..=DFA_MAX_PATTERNS).map(|n| format!("w{n}")).collect();
        let phrases: Vec<&str> = words.iter().map(String::as_str).collect();
        let large = set(&phrases);
        assert_eq!(
            found(&large, "x w7 w2000 y"),
            [(7, 1..2), (DFA_MAX_PATTERNS, 2..3)]
        );
    }

    #[test]
    fn empty_set_and_stream() {
        let empty: PhraseSet<usize> = PhraseSetBuilder::default().build("test").unwrap();
        assert!(empty.find(["a"].into_iter()).is_empty());
        assert!(set(&["a"]).find(std::iter::empty()).is_empty());
    }
}
