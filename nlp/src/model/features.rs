//! Feature extraction for the linear models: stemmed [`Token`]s in, a sparse vector of
//! hashed features out.
//!
//! Features, each hashed into one of `2^bits` buckets with its own namespace so that a word
//! and the same letters as a character n-gram never share a key by construction:
//! * word unigrams and bigrams on the folded text (no accents, elongations collapsed);
//!   handles become `@user`, links `<url>`, numbers `<num>`, e-mails `<email>`;
//! * negation scope: a word after a negator ("not", "never", "n't", "pas", "jamais",
//!   "sans"...) up to the next punctuation, contrast word or [`NEGATION_REACH`] words is a
//!   different feature from the same word outside it;
//! * character n-grams (`char_min..=char_max`) of each word with boundary marks, which
//!   carry morphology and spelling variants across languages;
//! * emoji and emoticons (by their key), elongations (`soooo`), exclamation and question
//!   marks, words in capitals;
//! * the v0 lexicon scorer's verdict ([`crate::sentiment::score`]), as two graded
//!   features: general-purpose prior knowledge that carries over to brands and products
//!   the training data never saw;
//! * optionally ([`FeatureConfig::prior_sentiment`]), the embedded default sentiment
//!   model's three margins: a custom model (trained on a few thousand posts of one domain)
//!   stacked on the 47,000 tweets the default model learnt from.
//!
//! Promises: the same tokens always give the same vector (the hash is FNV-1a, written
//! here, stable across platforms and releases); the vector is sorted by bucket, without
//! repeats, and L2-normalised after the optional IDF weighting. Never panics.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::LinearModel;
use super::bucket_set::BucketSet;
use crate::sentiment;
use crate::tokens::{Token, TokenKind};

/// How far a negation reaches, in words.
pub const NEGATION_REACH: usize = 5;

/// Words that open a negation scope (folded).
const NEGATORS: &[&str] = &[
    "not", "no", "never", "nothing", "nobody", "none", "nor", "cannot", "cant", "dont", "doesnt",
    "didnt", "isnt", "wasnt", "wont", "aint", "without", "neither", "ne", "n'", "pas", "jamais",
    "rien", "aucun", "aucune", "sans", "ni", "nul", "nulle",
];

/// Words that close a negation scope.
const CONTRASTS: &[&str] = &["but", "however", "mais", "pourtant", "cependant"];

/// Which features a model uses; stored in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// `2^bits` hash buckets.
    pub bits: u8,
    /// Word bigrams besides unigrams.
    pub word_bigrams: bool,
    /// Smallest and largest character n-gram; `char_max = 0` for none.
    pub char_min: u8,
    pub char_max: u8,
    /// Negation scope marking.
    pub negation: bool,
    /// The lexicon scorer's verdict as features.
    pub lexicon: bool,
    /// Inverse document frequency weighting (learnt at training, stored in the model).
    pub idf: bool,
    /// Word unigrams and bigrams also conjoined with the post's language, and the
    /// language itself as a feature: per-language corrections of the shared weights
    /// ("frustratingly easy" domain adaptation, Daumé III 2007). Absent in older models.
    #[serde(default)]
    pub language_words: bool,
    /// Each handle's own name as a feature besides `@user` (who is addressed: a brand's
    /// support account, a competitor...). Absent in older models.
    #[serde(default)]
    pub handles: bool,
    /// Weight of the embedded default sentiment model's margins (one feature per label,
    /// value `weight × margin`) in this model's features; 0 for none. Transfer for custom
    /// models (stacking); ignored in a model that is itself the default one. Absent in
    /// older models.
    #[serde(default)]
    pub prior_sentiment: u8,
    /// In a French post, each French word of the built-in bridge (`fr-en.txt`) also adds the
    /// English word's feature: cross-lingual transfer of the weights learnt from English
    /// posts. Absent in older models.
    #[serde(default)]
    pub translations: bool,
}

impl Default for FeatureConfig {
    fn default() -> FeatureConfig {
        FeatureConfig {
            bits: 18,
            word_bigrams: true,
            char_min: 2,
            char_max: 5,
            negation: true,
            lexicon: true,
            idf: true,
            language_words: false,
            handles: false,
            prior_sentiment: 0,
            translations: false,
        }
    }
}

impl FeatureConfig {
    /// Number of hash buckets.
    pub fn buckets(&self) -> usize {
        1usize << self.bits.clamp(8, 24)
    }
}

/// A sparse feature vector: `(bucket, value)` sorted by bucket, no bucket twice.
pub type SparseVector = Vec<(u32, f32)>;

/// Feature namespaces: the first byte hashed.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Space {
    Word = 1,
    NegatedWord = 2,
    Bigram = 3,
    Char = 4,
    Signal = 5,
    LanguageWord = 6,
    LanguageBigram = 7,
    Domain = 8,
}

impl Space {
    /// The hash every key of this namespace continues: FNV-1a of its byte.
    fn seed(self) -> u64 {
        fnv(FNV_OFFSET, &[self as u8])
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Collects hashed features: binary ones (value 1) into the post's bucket set, which
/// merges repeats as they come, graded ones (the few signals with another value) apart.
struct Sink<'b> {
    mask: u64,
    set: &'b mut BucketSet,
    graded: &'b mut SparseVector,
}

impl Sink<'_> {
    fn add(&mut self, space: Space, key: &[u8], value: f32) {
        let hash = fnv(space.seed(), key);
        self.push(hash, value);
    }

    fn add_pair(&mut self, space: Space, first: &[u8], second: &[u8], value: f32) {
        let hash = fnv(fnv(space.seed(), first), &[0]);
        self.push(fnv(hash, second), value);
    }

    fn add_triple(&mut self, space: Space, first: &str, second: &str, third: &str, value: f32) {
        let mut hash = space.seed();
        for part in [first, second] {
            hash = fnv(fnv(hash, part.as_bytes()), &[0]);
        }
        self.push(fnv(hash, third.as_bytes()), value);
    }

    fn push(&mut self, hash: u64, value: f32) {
        self.push_mixed(mix(hash), value);
    }

    fn push_mixed(&mut self, mixed: u64, value: f32) {
        let bucket = u32::try_from(mixed & self.mask).unwrap_or(0);
        if value == 1.0 {
            self.set.insert(bucket);
        } else {
            self.graded.push((bucket, value));
        }
    }
}

/// Folds the high bits of a hash in: FNV's low bits alone mix poorly.
fn mix(hash: u64) -> u64 {
    hash ^ (hash >> 29) ^ (hash >> 47)
}

/// The key a token contributes as a word, if any.
fn word_key(token: &Token) -> Option<&str> {
    match token.kind {
        TokenKind::Word | TokenKind::Hashtag | TokenKind::Emoji | TokenKind::Punct => {
            Some(token.folded.as_str())
        }
        TokenKind::Handle => Some("@user"),
        TokenKind::Url => Some("<url>"),
        TokenKind::Number => Some("<num>"),
        TokenKind::Email => Some("<email>"),
    }
}

fn is_negator(token: &Token) -> bool {
    token.kind == TokenKind::Word
        && (NEGATORS.contains(&token.folded.as_str()) || token.folded.ends_with("n't"))
}

fn ends_scope(token: &Token) -> bool {
    match token.kind {
        TokenKind::Punct => matches!(
            token.folded.as_str(),
            "." | "," | "!" | "?" | ";" | ":" | "(" | ")" | "\""
        ),
        TokenKind::Word => CONTRASTS.contains(&token.folded.as_str()),
        TokenKind::Emoji => true,
        _ => false,
    }
}

/// Extracts the features of stemmed `tokens` of `text` (the original text, for capitals)
/// written in `language`, into `out` (cleared first). `idf`, when given, has one weight per
/// bucket.
pub fn extract(
    config: &FeatureConfig,
    text: &str,
    tokens: &[Token],
    language: &str,
    idf: Option<&[f32]>,
    out: &mut SparseVector,
) {
    // First, as it extracts the default model's own features with these buffers.
    let prior = if config.prior_sentiment > 0 {
        prior_margins(text, tokens, language)
    } else {
        None
    };
    let bits = u32::from(config.bits.clamp(8, 24));
    FINISHING.with_borrow_mut(|(set, graded)| {
        set.reserve(bits);
        graded.clear();
        let mut sink = Sink {
            mask: (config.buckets() - 1) as u64,
            set,
            graded,
        };
        collect(config, text, tokens, language, &mut sink);
        if let Some((model, margins)) = &prior {
            add_prior_sentiment(config.prior_sentiment, model, margins, &mut sink);
        }
        finish(out, set, graded);
    });
    if let Some(idf) = idf {
        apply_idf(out, idf);
    }
    normalise(out);
}

/// Every feature of the tokens and the signals, into `sink`.
fn collect(
    config: &FeatureConfig,
    text: &str,
    tokens: &[Token],
    language: &str,
    sink: &mut Sink<'_>,
) {
    let mut negated_words_left = 0usize;
    let mut previous: Option<&str> = None;
    let mut exclamations = 0u32;
    let mut questions = 0u32;
    let by_language = config.language_words && language != crate::language::UNDETERMINED;
    if by_language {
        sink.add_pair(Space::Signal, b"language", language.as_bytes(), 1.0);
    }
    let translate = config.translations && language == "fr";
    for token in tokens {
        let Some(key) = word_key(token) else {
            continue;
        };
        if ends_scope(token) {
            negated_words_left = 0;
        }
        match token.folded.as_str() {
            "!" => exclamations += 1,
            "?" => questions += 1,
            _ => {}
        }
        let negated = config.negation && negated_words_left > 0 && token.kind == TokenKind::Word;
        let space = if negated {
            Space::NegatedWord
        } else {
            Space::Word
        };
        sink.add(space, key.as_bytes(), 1.0);
        if translate
            && token.kind == TokenKind::Word
            && let Some(english) = super::bridge::english_for(&token.stem)
        {
            sink.add(space, english.as_bytes(), 1.0);
        }
        if config.handles && token.kind == TokenKind::Handle {
            sink.add(Space::Word, token.folded.as_bytes(), 1.0);
        }
        if by_language {
            let space = if negated { "!" } else { "" };
            sink.add_triple(Space::LanguageWord, language, space, key, 1.0);
        }
        if config.word_bigrams && !token.in_hashtag {
            let first = previous.unwrap_or("<s>");
            sink.add_pair(Space::Bigram, first.as_bytes(), key.as_bytes(), 1.0);
            if by_language {
                sink.add_triple(Space::LanguageBigram, language, first, key, 1.0);
            }
            previous = Some(key);
        }
        if token.kind == TokenKind::Word {
            if config.char_max > 0 {
                add_char_grams(config, &token.folded, sink);
            }
            if token.elongated {
                sink.add(Space::Signal, b"elongated", 1.0);
            }
            let original = text.get(token.span.clone()).unwrap_or("");
            // `all` stops at the first lowercase letter: most words never count theirs.
            if original.chars().all(char::is_uppercase) && original.chars().nth(2).is_some() {
                sink.add(Space::Signal, b"capitals", 1.0);
            }
        }
        if negated {
            negated_words_left -= 1;
        }
        if config.negation && is_negator(token) {
            negated_words_left = NEGATION_REACH;
        }
    }
    if exclamations > 0 {
        sink.add(Space::Signal, b"exclamation", 1.0);
    }
    if exclamations > 1 {
        sink.add(Space::Signal, b"exclamations", 1.0);
    }
    if questions > 0 {
        sink.add(Space::Signal, b"question", 1.0);
    }
    if config.lexicon {
        let verdict = sentiment::score(tokens, language);
        if verdict.score > 0.0 {
            sink.add(Space::Signal, b"lexicon+", 2.0 * verdict.score);
        } else if verdict.score < 0.0 {
            sink.add(Space::Signal, b"lexicon-", -2.0 * verdict.score);
        } else {
            sink.add(Space::Signal, b"lexicon0", 1.0);
        }
    }
}

thread_local! {
    /// The default model's raw vector while a stacked model's features are extracted.
    static PRIOR_RAW: RefCell<SparseVector> = const { RefCell::new(Vec::new()) };
}

/// The embedded default sentiment model and its margins for the post, when there is a
/// default model that does not stack on itself.
fn prior_margins(
    text: &str,
    tokens: &[Token],
    language: &str,
) -> Option<(&'static LinearModel, Vec<f32>)> {
    let prior = crate::model::default_sentiment()?;
    let prior_config = prior.meta.features;
    if prior_config.prior_sentiment > 0 {
        return None;
    }
    let mut margins = [0.0f32; crate::model::MAX_LABELS];
    let labels = PRIOR_RAW.with_borrow_mut(|raw| {
        extract(&prior_config, text, tokens, language, None, raw);
        prior.margins_raw(raw, &mut margins)
    });
    Some((prior, margins[..labels].to_vec()))
}

/// The default model's margins as features `prior:<label>` of value `weight × margin`.
fn add_prior_sentiment(weight: u8, prior: &LinearModel, margins: &[f32], sink: &mut Sink<'_>) {
    for (label, margin) in prior.labels().iter().zip(margins) {
        sink.add_pair(
            Space::Signal,
            b"prior",
            label.as_bytes(),
            f32::from(weight) * margin,
        );
    }
}

thread_local! {
    /// A word with its boundary marks, reused from word to word.
    static GRAM_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The character n-grams of one folded word ([`gram_hashes`]).
fn add_char_grams(config: &FeatureConfig, word: &str, sink: &mut Sink<'_>) {
    let range = (config.char_min.max(1), config.char_max);
    GRAM_BUFFER.with_borrow_mut(|buffer| {
        gram_hashes(range, word, buffer, |mixed| {
            sink.push_mixed(u64::from(mixed), 1.0);
        });
    });
}

/// The mixed hashes (low 32 bits) of the character n-grams (`min..=max` characters) of one
/// folded word, with `<` and `>` marking its ends, each given to `each`. The grams starting
/// at one character are hashed incrementally (FNV-1a is a left fold, so each longer gram
/// continues the shorter one's hash): the same hashes as hashing each alone.
fn gram_hashes(range: (u8, u8), word: &str, buffer: &mut Vec<u8>, each: impl FnMut(u32)) {
    buffer.clear();
    buffer.push(b'<');
    buffer.extend_from_slice(word.as_bytes());
    buffer.push(b'>');
    if word.is_ascii() {
        ascii_gram_hashes(range, buffer, each);
    } else {
        utf8_gram_hashes(range, buffer, each);
    }
}

/// [`gram_hashes`] of a marked ASCII word: one byte per character.
fn ascii_gram_hashes((min, max): (u8, u8), marked: &[u8], mut each: impl FnMut(u32)) {
    let (min, max) = (usize::from(min), usize::from(max));
    let (seed, whole) = (Space::Char.seed(), marked.len());
    for start in 0..whole {
        let mut hash = seed;
        for (length, &byte) in marked[start..whole.min(start + max)].iter().enumerate() {
            hash = fnv(hash, &[byte]);
            let length = length + 1;
            // The whole word is already a word feature.
            if length >= min && length != whole {
                // Truncation intended: masks keep at most the low 24 bits.
                each(mix(hash) as u32);
            }
        }
    }
}

/// [`gram_hashes`] of any marked word: n-grams start and end on character boundaries.
fn utf8_gram_hashes((min, max): (u8, u8), marked: &[u8], mut each: impl FnMut(u32)) {
    let (min, max) = (usize::from(min), usize::from(max));
    let seed = Space::Char.seed();
    let is_start = |at: usize| (marked[at] & 0xC0) != 0x80;
    for start in (0..marked.len()).filter(|&at| is_start(at)) {
        let mut hash = seed;
        let mut length = 0;
        let mut at = start;
        while length < max && at < marked.len() {
            // One more character: its lead byte and continuation bytes.
            let mut end = at + 1;
            while end < marked.len() && !is_start(end) {
                end += 1;
            }
            hash = fnv(hash, &marked[at..end]);
            length += 1;
            at = end;
            // The whole word is already a word feature.
            if length >= min && !(start == 0 && end == marked.len()) {
                // Truncation intended: masks keep at most the low 24 bits.
                each(mix(hash) as u32);
            }
        }
    }
}

thread_local! {
    /// The bucket set and the graded features a post's extraction fills ([`Sink`]) and [`finish`]
    /// reads back, reused from post to post.
    static FINISHING: RefCell<(BucketSet, SparseVector)> = RefCell::new(Default::default());
}

/// The features of `set` (binary presence) and `graded` (a repeated bucket keeps its
/// largest value; a bucket also in the set, the larger of 1 and its value) into `out`,
/// sorted by bucket; `set` is left empty.
fn finish(out: &mut SparseVector, set: &mut BucketSet, graded: &[(u32, f32)]) {
    out.clear();
    set.drain(|bucket| out.push((bucket, 1.0)));
    for &(bucket, value) in graded {
        match out.binary_search_by_key(&bucket, |&(kept, _)| kept) {
            Ok(at) => out[at].1 = out[at].1.max(value),
            Err(at) => out.insert(at, (bucket, value)),
        }
    }
}

/// Scales each value by its bucket's IDF weight (1 for a bucket beyond `idf`).
pub(crate) fn apply_idf(vector: &mut [(u32, f32)], idf: &[f32]) {
    for (bucket, value) in vector.iter_mut() {
        *value *= idf.get(*bucket as usize).copied().unwrap_or(1.0);
    }
}

/// Divides the values by their L2 norm (a zero or non-finite norm leaves them as they are).
pub(crate) fn normalise(vector: &mut [(u32, f32)]) {
    let norm = vector.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for (_, value) in vector.iter_mut() {
            *value /= norm;
        }
    }
}

/// Adds to `vector` (sorted, normalised, without IDF) a copy of each of its features
/// private to `domain`, scaled by `scale`, and normalises the result again: the
/// training-time half of "frustratingly easy" domain adaptation (Daumé III 2007). An example
/// of an auxiliary source then trains the shared weights and a correction of its own,
/// which no post seen at prediction ever has, so what is peculiar to that source stays in
/// its correction. `bits` is the model's hash width.
pub fn add_domain_copy(vector: &mut SparseVector, domain: usize, scale: f32, bits: u8) {
    let mask = (1u64 << bits.clamp(8, 24)) - 1;
    let domain = u64::try_from(domain).unwrap_or(u64::MAX);
    let space = fnv(Space::Domain.seed(), &domain.to_le_bytes());
    let copies: Vec<(u32, f32)> = vector
        .iter()
        .map(|&(bucket, value)| {
            let hash = mix(fnv(space, &bucket.to_le_bytes()));
            (u32::try_from(hash & mask).unwrap_or(0), value * scale)
        })
        .collect();
    vector.extend(copies);
    vector.sort_unstable_by_key(|&(bucket, _)| bucket);
    vector.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    normalise(vector);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tokenizer, stem_algorithm};

    fn features(text: &str, config: &FeatureConfig) -> SparseVector {
        let tokenizer = Tokenizer::new().unwrap();
        let tokens = tokenizer.tokenize_stemmed(text, stem_algorithm("en"));
        let mut out = Vec::new();
        extract(config, text, &tokens, "en", None, &mut out);
        out
    }

    #[test]
    fn vectors_are_sorted_unique_and_normalised() {
        let vector = features("Great great service!!! :)", &FeatureConfig::default());
        assert!(vector.windows(2).all(|pair| pair[0].0 < pair[1].0));
        let norm: f32 = vector.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_domain_copy_keeps_the_shared_features_and_adds_private_ones() {
        let config = FeatureConfig::default();
        let shared = features("Great service, thanks!", &config);
        let mut first = shared.clone();
        add_domain_copy(&mut first, 1, 1.0, config.bits);
        let mut second = shared.clone();
        add_domain_copy(&mut second, 2, 1.0, config.bits);
        for vector in [&first, &second] {
            assert!(vector.windows(2).all(|pair| pair[0].0 < pair[1].0));
            let norm: f32 = vector.iter().map(|(_, v)| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-4);
            let kept = shared
                .iter()
                .filter(|(bucket, _)| vector.iter().any(|(other, _)| other == bucket))
                .count();
            assert_eq!(kept, shared.len());
        }
        assert!(first.len() > shared.len() + shared.len() / 2);
        assert_ne!(first, second);
        let mut weak = shared.clone();
        add_domain_copy(&mut weak, 1, 0.5, config.bits);
        let share = |vector: &SparseVector| {
            let kept: f32 = vector
                .iter()
                .filter(|(bucket, _)| shared.iter().any(|(other, _)| other == bucket))
                .map(|(_, v)| v * v)
                .sum();
            kept
        };
        assert!(share(&weak) > share(&first));
    }

    #[test]
    fn negation_changes_the_features_of_the_words_it_reaches() {
        let config = FeatureConfig {
            char_max: 0,
            word_bigrams: false,
            lexicon: false,
            ..FeatureConfig::default()
        };
        let good = features("good", &config);
        let not_good = features("not good", &config);
        let not_then_good = features("not. good", &config);
        assert!(!not_good.iter().any(|(bucket, _)| *bucket == good[0].0));
        assert!(not_then_good.iter().any(|(bucket, _)| *bucket == good[0].0));
    }

    #[test]
    fn stacked_features_add_the_default_models_margins() {
        let plain = FeatureConfig::default();
        let stacked = FeatureConfig {
            prior_sentiment: 5,
            ..FeatureConfig::default()
        };
        let text = "worst service ever, no signal again";
        let (alone, with_prior) = (features(text, &plain), features(text, &stacked));
        assert_ne!(alone, with_prior);
        let buckets = |vector: &SparseVector| vector.iter().map(|&(bucket, _)| bucket).collect();
        let (alone, with_prior): (Vec<u32>, Vec<u32>) = (buckets(&alone), buckets(&with_prior));
        assert!(alone.iter().all(|bucket| with_prior.contains(bucket)));
        assert!(with_prior.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn the_same_text_always_gives_the_same_vector() {
        let config = FeatureConfig::default();
        let text = "Ma box est encore en panne 😡 #LumioFail";
        assert_eq!(features(text, &config), features(text, &config));
        assert!(features("", &config).len() <= 1);
    }

    #[test]
    fn language_words_add_features_that_depend_on_the_language() {
        let tokenizer = Tokenizer::new().unwrap();
        let tokens = tokenizer.tokenize_stemmed("super service", stem_algorithm("en"));
        let config = FeatureConfig {
            char_max: 0,
            lexicon: false,
            language_words: true,
            ..FeatureConfig::default()
        };
        let vector = |language: &str| {
            let mut out = Vec::new();
            extract(&config, "super service", &tokens, language, None, &mut out);
            out.into_iter()
                .map(|(bucket, _)| bucket)
                .collect::<Vec<_>>()
        };
        let (english, french, unknown) = (vector("en"), vector("fr"), vector("und"));
        assert_ne!(english, french);
        assert!(english.len() > unknown.len());
        // The shared features are the same whatever the language.
        assert!(unknown.iter().all(|bucket| french.contains(bucket)));
    }

    #[test]
    fn the_default_models_margins_are_stacked_as_features_scaled_by_their_weight() {
        let plain = FeatureConfig {
            char_max: 0,
            lexicon: false,
            idf: false,
            ..FeatureConfig::default()
        };
        let stacked = |weight: u8| FeatureConfig {
            prior_sentiment: weight,
            ..plain
        };
        let text = "what a terrible delay, worst airline ever";
        let without = features(text, &plain);
        assert_eq!(features(text, &stacked(0)), without);
        let once = features(text, &stacked(1));
        let labels = crate::model::default_sentiment().map_or(0, |model| model.labels().len());
        assert_eq!(labels, 3, "the build embeds the three-label default model");
        assert_eq!(once.len(), without.len() + labels);
        // Before normalisation the prior features are `weight × margin`: a larger weight
        // gives them a larger share of the vector.
        let share = |vector: &SparseVector| {
            vector
                .iter()
                .filter(|(bucket, _)| !without.iter().any(|(kept, _)| kept == bucket))
                .map(|(_, value)| value * value)
                .sum::<f32>()
        };
        assert!(share(&features(text, &stacked(8))) > share(&once));
        assert!(once.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    proptest::proptest! {
        #[test]
        fn grams_hashed_incrementally_are_the_grams_hashed_alone(
            word in "[a-z0-9'<>é日-]{0,12}",
            min in 1u8..=3,
            extra in 0u8..=3,
        ) {
            let range = (min, min + extra);
            let mut buffer = Vec::new();
            let mut found = Vec::new();
            gram_hashes(range, &word, &mut buffer, |hash| found.push(hash));
            let marked: Vec<char> = std::iter::once('<')
                .chain(word.chars())
                .chain(std::iter::once('>'))
                .collect();
            let mut alone = Vec::new();
            for start in 0..marked.len() {
                for length in usize::from(range.0)..=usize::from(range.1) {
                    if start + length <= marked.len() && length < marked.len() {
                        let gram: String = marked[start..start + length].iter().collect();
                        alone.push(mix(fnv(Space::Char.seed(), gram.as_bytes())) as u32);
                    }
                }
            }
            proptest::prop_assert_eq!(&found, &alone);
            // The ASCII path and the general one agree where both apply.
            let mut general = Vec::new();
            utf8_gram_hashes(range, &buffer, |hash| general.push(hash));
            proptest::prop_assert_eq!(&general, &alone);
        }
    }

    #[test]
    fn character_grams_respect_utf8() {
        let config = FeatureConfig::default();
        // Would panic on a slice inside a character.
        assert!(!features("résiliation 日本語 ça", &config).is_empty());
    }

    #[test]
    fn character_grams_do_not_depend_on_what_the_thread_saw_before() {
        let text = "Sooo slow again, the résiliation takes forever";
        let configs = [
            FeatureConfig::default(),
            FeatureConfig {
                char_min: 3,
                char_max: 4,
                ..FeatureConfig::default()
            },
            FeatureConfig {
                bits: 12,
                ..FeatureConfig::default()
            },
        ];
        let fresh: Vec<SparseVector> = configs
            .iter()
            .map(|config| {
                let config = *config;
                std::thread::spawn(move || features(text, &config))
                    .join()
                    .expect("extraction runs")
            })
            .collect();
        // One thread, its buffers used by each configuration in turn, twice over.
        for _ in 0..2 {
            for (config, expected) in configs.iter().zip(&fresh) {
                assert_eq!(&features(text, config), expected);
            }
        }
        assert_ne!(fresh[0], fresh[1], "the n-gram range matters");
    }
}
