//! The French → English word bridge (`fr-en.txt`, compiled in): for a French post, the
//! English word matching each French word, so that what a model learnt about the English
//! word from a large English training set also applies to its French equivalent
//! ([`super::FeatureConfig::translations`]). Cross-lingual transfer for a language with
//! little training data of its own.
//!
//! Built once, on first use: each French entry is folded and stemmed with the French
//! stemmer, the stemmer French tokens go through, so one entry covers a word's inflections
//! and its unaccented spelling; the first entry of a stem wins.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::fasthash::FastMap;
use crate::tokens::fold;

const PAIRS: &str = include_str!("fr-en.txt");

static FRENCH_TO_ENGLISH: LazyLock<FastMap<String, &'static str>> = LazyLock::new(|| {
    let stemmer = Stemmer::create(Algorithm::French);
    let mut bridge = FastMap::default();
    for line in PAIRS.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        if let (Some(french), Some(english)) = (parts.next(), parts.next()) {
            let stem = stemmer.stem(&fold(&french.to_lowercase())).into_owned();
            bridge.entry(stem).or_insert(english);
        }
    }
    bridge
});

/// The English word for the French word whose stem (as in its token) is `stem`.
pub(crate) fn english_for(stem: &str) -> Option<&'static str> {
    FRENCH_TO_ENGLISH.get(stem).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tokenizer, stem_algorithm};

    #[test]
    fn inflected_and_unaccented_french_words_reach_their_english_word() {
        let tokenizer = Tokenizer::new().unwrap();
        let tokens = tokenizer.tokenize_stemmed("Très déçue, vraiment decu", stem_algorithm("fr"));
        let english: Vec<Option<&str>> = tokens.iter().map(|t| english_for(&t.stem)).collect();
        // The comma is a token of its own, with no English word.
        assert_eq!(
            english,
            [
                Some("very"),
                Some("disappointed"),
                None,
                Some("really"),
                Some("disappointed")
            ]
        );
        assert!(FRENCH_TO_ENGLISH.len() > 300);
    }
}
