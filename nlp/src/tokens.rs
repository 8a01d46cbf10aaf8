//! Normalisation and tokenisation: text in, [`Token`]s out.
//!
//! The [`Tokenizer`] runs the `tokenizers` crate's normalizers (`Nmt` for control and odd
//! space characters, `NFKC`, curly apostrophes made straight, `Lowercase`) and one `Split`
//! pre-tokenizer whose pattern keeps social-media units whole: URLs, e-mail addresses,
//! `@handles` (Mastodon's `@user@host` too), `#hashtags`, words (with inner apostrophes),
//! numbers, emoji and emoticons; any other non-space character becomes a punctuation token.
//!
//! Text on which those normalizers only lowercase without changing a character's length
//! (printable ASCII, Latin-1 letters, punctuation, symbols, emoji: `is_simple`), plus
//! wide spaces, curly apostrophes and ellipses (99.9 % of the real tweets), takes a fast
//! path: the same pattern over a lowercased copy whose byte offsets are those of the
//! original, matched by hand where the token's run of non-space characters is ASCII and by
//! `regex-automata` (one anchored search) elsewhere; it yields exactly the tokens of the
//! general path (tested).
//!
//! Promises:
//! * Never panics and never fails on any input: a normalisation error yields no tokens.
//! * Tokens come in text order; [`Token::span`] is a byte range of the *original* text.
//! * A hashtag is followed by its parts (`#LumioFail` → `#lumiofail`, then `lumio`, `fail`,
//!   marked [`Token::in_hashtag`]), split at camel case, digits and underscores.
//! * French elisions are split off (`l'internet` → `l'`, `internet`).
//! * [`Token::folded`] has no accents (`résiliation` → `resiliation`) and letters repeated
//!   three times or more collapsed (`nuuuul` → `nul`); [`Token::stem`] is the folded text
//!   stemmed (words only). Folding comes *before* stemming, so a word and its unaccented
//!   spelling always share their stem.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

use compact_str::CompactString;
use regex_automata::{Anchored, Input, meta};
use rust_stemmers::{Algorithm, Stemmer};
use tokenizers::normalizers::{Lowercase, NFKC, Nmt, Replace, Sequence};
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    SplitDelimiterBehavior,
};

use crate::error::NlpError;
use crate::fasthash::CacheMap;

mod ascii_token;
mod chars;

use ascii_token::ascii_token_len;
use chars::{collapse_elongation, emoji_key, hashtag_parts, is_emoticon};
pub use chars::{fold, is_emoji};

/// The pre-tokenizer pattern, tried left to right at each position (run on normalised,
/// lowercased text), with `$apostrophe` the character class of an inner apostrophe.
/// Whatever it does not match (white space) is dropped.
macro_rules! token_pattern {
    ($apostrophe:literal) => {
        concat!(
            r"https?://\S+|www\.\S+",
            r"|[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+",
            r"|@[\p{L}\p{N}_]+(?:[.@\-][\p{L}\p{N}_]+)*",
            r"|#[\p{L}\p{M}\p{N}_]+",
            r"|\p{N}+(?:[.,:]\p{N}+)+",
            r"|[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:",
            $apostrophe,
            r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*)*",
            r"|\p{Extended_Pictographic}[\x{FE0F}\x{20E3}\p{Emoji_Modifier}]*",
            r"|\p{Regional_Indicator}{1,2}",
            r"|[:;=]-?[()/|\[\]]|<3",
            r"|\S",
        )
    };
}

/// The pattern of the general path, where curly apostrophes are already straight.
const TOKEN_PATTERN: &str = token_pattern!("'");

/// The pattern of the fast path, whose text keeps its curly apostrophes (so that its
/// byte offsets stay those of the original).
const FAST_TOKEN_PATTERN: &str = token_pattern!("['\u{2019}]");

/// The curly apostrophe that the normalizer makes straight.
const CURLY_APOSTROPHE: char = '\u{2019}';

/// French elided articles and pronouns, split off the word they lean on.
const ELISIONS: [&str; 13] = [
    "c'", "d'", "j'", "l'", "m'", "n'", "s'", "t'", "qu'", "jusqu'", "lorsqu'", "puisqu'",
    "quoiqu'",
];

/// Shorter hashtag prefixes are ignored, and so are shorter remainders.
const MIN_HASHTAG_PREFIX: usize = 3;
const MIN_HASHTAG_REMAINDER: usize = 2;

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{FF07}')
}

/// Characters trimmed from the end of a URL (sentence punctuation glued to it).
const URL_TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '»'];

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Word,
    Number,
    /// `#lumiofail`, with its `#`.
    Hashtag,
    /// `@lumio_help`, with its `@`.
    Handle,
    /// A link, kept whole and in its original case.
    Url,
    Email,
    /// An emoji (with its modifiers) or an emoticon such as `:(`.
    Emoji,
    /// Any other single character: punctuation, symbols.
    Punct,
}

/// One unit of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// NFKC-normalised and lowercased, accents kept (`résiliation`, `#lumiofail`);
    /// URLs keep their original case. (The three texts are stored inline up to 24 bytes:
    /// most words cost no heap allocation.)
    pub text: CompactString,
    /// `text` without accents and with elongations collapsed: the key for exact matching.
    pub folded: CompactString,
    /// `folded`, stemmed for words ([`stem_tokens`]); equal to `folded` for other kinds.
    pub stem: CompactString,
    pub kind: TokenKind,
    /// Byte range in the original text.
    pub span: Range<usize>,
    /// A part of the preceding hashtag, not a word the author wrote on its own.
    pub in_hashtag: bool,
    /// A letter was repeated three times or more (`soooo`).
    pub elongated: bool,
}

/// The stemming algorithm used for a language: French for `fr`, English for anything else
/// (including `und`), since configured keywords are English or French.
pub fn stem_algorithm(language: &str) -> Algorithm {
    if language == "fr" {
        Algorithm::French
    } else {
        Algorithm::English
    }
}

thread_local! {
    /// Stems already computed by this thread, for English and for French.
    static STEMS: RefCell<[CacheMap<CompactString, CompactString>; 2]> =
        RefCell::new(Default::default());
}

/// Stems the words of `tokens` (`stem` was the folded text until now). Stems are cached
/// per thread: stemming is a pure function of the algorithm and the word.
pub fn stem_tokens(tokens: &mut [Token], algorithm: Algorithm) {
    let stemmer = Stemmer::create(algorithm);
    let slot = match algorithm {
        Algorithm::English => 0,
        Algorithm::French => 1,
        _ => {
            for token in tokens
                .iter_mut()
                .filter(|token| token.kind == TokenKind::Word)
            {
                token.stem = CompactString::from(stemmer.stem(&token.folded));
            }
            return;
        }
    };
    STEMS.with_borrow_mut(|caches| {
        let cache = &mut caches[slot];
        for token in tokens
            .iter_mut()
            .filter(|token| token.kind == TokenKind::Word)
        {
            if let Some(stemmed) = cache.get(token.folded.as_str()) {
                if *stemmed != token.stem {
                    token.stem.clone_from(stemmed);
                }
                continue;
            }
            let stemmed = CompactString::from(stemmer.stem(&token.folded));
            if cache.len() >= chars::CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(token.folded.clone(), stemmed.clone());
            if stemmed != token.stem {
                token.stem = stemmed;
            }
        }
    });
}

/// Stems one folded word.
pub fn stem_word(stemmer: &Stemmer, folded: &str) -> String {
    stemmer.stem(folded).into_owned()
}

/// Normaliser and pre-tokenizer, built once and shared (`Send + Sync`).
#[derive(Debug)]
pub struct Tokenizer {
    normalizer: Sequence,
    pre_tokenizer: Split,
    /// [`FAST_TOKEN_PATTERN`] for the fast path ([`simple_lowercase`]).
    fast_pattern: meta::Regex,
    /// Known words a lowercase hashtag part may start with, longest first.
    hashtag_prefixes: Vec<String>,
}

impl Tokenizer {
    pub fn new() -> Result<Tokenizer, NlpError> {
        let matcher_error = |what: &str, error| NlpError::Matcher {
            what: what.to_owned(),
            error,
        };
        let apostrophe = Replace::new(CURLY_APOSTROPHE.to_string(), "'")
            .map_err(|error| matcher_error("apostrophe", error))?;
        let normalizer = Sequence::new(vec![
            Nmt.into(),
            NFKC.into(),
            apostrophe.into(),
            Lowercase.into(),
        ]);
        let pre_tokenizer = Split::new(
            SplitPattern::Regex(TOKEN_PATTERN.to_owned()),
            SplitDelimiterBehavior::Removed,
            true,
        )
        .map_err(|error| matcher_error("token pattern", error))?;
        let fast_pattern =
            meta::Regex::new(FAST_TOKEN_PATTERN).map_err(|error| NlpError::Matcher {
                what: "token pattern".to_owned(),
                error: Box::new(error),
            })?;
        Ok(Tokenizer {
            normalizer,
            pre_tokenizer,
            fast_pattern,
            hashtag_prefixes: Vec::new(),
        })
    }

    /// Also splits hashtag parts that start with one of `prefixes` (lowercase ASCII words
    /// such as brand names): with `lumio`, `#lumiofail` has the parts `lumio`, `fail`.
    pub fn with_hashtag_prefixes(
        mut self,
        prefixes: impl IntoIterator<Item = String>,
    ) -> Tokenizer {
        let usable = |prefix: &String| {
            prefix.len() >= MIN_HASHTAG_PREFIX && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        self.hashtag_prefixes = prefixes.into_iter().filter(usable).collect();
        self.hashtag_prefixes
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.hashtag_prefixes.dedup();
        self
    }

    /// Splits `text` into tokens whose `stem` is still the folded text (see [`stem_tokens`]).
    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        let mut tokens = Vec::new();
        self.tokenize_into(text, &mut tokens);
        tokens
    }

    /// [`Tokenizer::tokenize`] into `tokens` (cleared first), whose capacity a caller may
    /// reuse from text to text.
    pub fn tokenize_into(&self, text: &str, tokens: &mut Vec<Token>) {
        tokens.clear();
        match simple_lowercase(text) {
            Some(lowercase) => self.tokenize_simple(text, &lowercase, tokens),
            None => self.tokenize_general(text, tokens),
        }
    }

    /// The fast path, for a text that [`simple_lowercase`] could lowercase: `lowercase` has
    /// the byte length of the original and the general path's normalised characters at the
    /// same offsets, except the curly apostrophes it keeps (the fast pattern takes them for
    /// straight ones) and the dots of an ellipsis, which all point at the ellipsis (a match
    /// is widened to whole characters of the original, as the general path's alignments do).
    ///
    /// Every alternative of the pattern starts with a non-space character and the last
    /// one takes any, so the leftmost match is always at the next non-space character:
    /// the hand-written matcher finds it when the token is ASCII, one anchored forward
    /// search otherwise (without the reverse search an unanchored one needs to find where
    /// a match starts).
    fn tokenize_simple(&self, text: &str, lowercase: &str, tokens: &mut Vec<Token>) {
        tokens.reserve(text.len() / 4);
        let mut at = 0;
        while let Some(skipped) = lowercase
            .get(at..)
            .and_then(|rest| rest.find(|c: char| !c.is_whitespace()))
        {
            let start = at + skipped;
            let end = match ascii_token_len(&lowercase.as_bytes()[start..]) {
                Some(length) => start + length,
                None => {
                    let input = Input::new(lowercase).range(start..).anchored(Anchored::Yes);
                    let Some(found) = self.fast_pattern.find(input) else {
                        break;
                    };
                    found.end()
                }
            };
            at = end;
            let Some(matched) = lowercase.get(start..end) else {
                break;
            };
            let normalized: Cow<'_, str> = if matched.contains(CURLY_APOSTROPHE) {
                Cow::Owned(matched.replace(CURLY_APOSTROPHE, "'"))
            } else {
                Cow::Borrowed(matched)
            };
            let span = whole_characters(text, start..end);
            let original = text.get(span.clone()).unwrap_or(matched);
            self.push_split(tokens, &normalized, original, span);
        }
    }

    /// The general path, through the `tokenizers` normalizers and pre-tokenizer.
    fn tokenize_general(&self, text: &str, tokens: &mut Vec<Token>) {
        let mut pre_tokenized = PreTokenizedString::from(text);
        let prepared = pre_tokenized
            .normalize(|normalized| self.normalizer.normalize(normalized))
            .and_then(|()| self.pre_tokenizer.pre_tokenize(&mut pre_tokenized));
        if let Err(error) = prepared {
            tracing::debug!(%error, "text could not be tokenized");
            return;
        }
        let splits = pre_tokenized.get_splits(OffsetReferential::Original, OffsetType::Byte);
        tokens.reserve(splits.len());
        for (normalized, (start, end), _) in splits {
            let original = text.get(start..end).unwrap_or(normalized);
            self.push_split(tokens, normalized, original, start..end);
        }
    }

    /// Tokenizes and stems in one go (for configured terms and tests).
    pub fn tokenize_stemmed(&self, text: &str, algorithm: Algorithm) -> Vec<Token> {
        let mut tokens = self.tokenize(text);
        stem_tokens(&mut tokens, algorithm);
        tokens
    }

    fn push_split(
        &self,
        tokens: &mut Vec<Token>,
        normalized: &str,
        original: &str,
        span: Range<usize>,
    ) {
        let Some(first) = normalized.chars().next() else {
            return;
        };
        let has_tail = normalized.len() > first.len_utf8();
        if normalized.starts_with("http://")
            || normalized.starts_with("https://")
            || normalized.starts_with("www.")
        {
            let url = original.trim_end_matches(URL_TRAILING);
            let url_span = span.start..span.start + url.len();
            tokens.push(plain_token(url, TokenKind::Url, url_span));
        } else if first == '@' && has_tail {
            let folded = self.fold(normalized);
            tokens.push(Token::new(
                CompactString::new(normalized),
                folded,
                TokenKind::Handle,
                span,
            ));
        } else if first == '#' && has_tail {
            let folded = self.fold(normalized);
            tokens.push(Token::new(
                CompactString::new(normalized),
                folded,
                TokenKind::Hashtag,
                span.clone(),
            ));
            let sign_length = original.chars().next().map_or(1, char::len_utf8);
            let body = original.get(sign_length..).unwrap_or("");
            self.push_hashtag_parts(tokens, body, span.start + sign_length);
        } else if first.is_alphanumeric() && normalized.contains('@') {
            let folded = self.fold(normalized);
            tokens.push(Token::new(
                CompactString::new(normalized),
                folded,
                TokenKind::Email,
                span,
            ));
        } else if first.is_alphanumeric() {
            self.push_word(tokens, normalized, original, span, false);
        } else if is_emoji(first) || is_emoticon(normalized) {
            let key = emoji_key(normalized);
            tokens.push(Token::new(
                CompactString::new(normalized),
                key,
                TokenKind::Emoji,
                span,
            ));
        } else {
            tokens.push(plain_token(normalized, TokenKind::Punct, span));
        }
    }

    /// Pushes a word, after splitting off French elisions (`l'internet` → `l'`, `internet`)
    /// and the English `'s` (`lumio's` → `lumio`, `'s`). `original` is the text of `span`
    /// before normalisation.
    fn push_word(
        &self,
        tokens: &mut Vec<Token>,
        word: &str,
        original: &str,
        span: Range<usize>,
        in_hashtag: bool,
    ) {
        let (mut word, mut original, mut start) = (word, original, span.start);
        // Elisions and possessives end in an apostrophe: most words have none to split.
        if !word.as_bytes().contains(&b'\'') {
            tokens.push(self.word_token(word, start..span.end, in_hashtag));
            return;
        }
        while let Some(elision) = ELISIONS
            .iter()
            .find(|elision| word.len() > elision.len() && word.starts_with(**elision))
        {
            let Some((at, apostrophe)) = original.char_indices().find(|&(_, c)| is_apostrophe(c))
            else {
                break;
            };
            let split_at = at + apostrophe.len_utf8();
            tokens.push(self.word_token(elision, start..start + split_at, in_hashtag));
            word = &word[elision.len()..];
            original = original.get(split_at..).unwrap_or(word);
            start += split_at;
        }
        let possessive = word.strip_suffix("'s").filter(|owner| !owner.is_empty());
        let apostrophe = original
            .char_indices()
            .rev()
            .find(|&(_, c)| is_apostrophe(c));
        match (possessive, apostrophe) {
            (Some(owner), Some((at, _))) => {
                tokens.push(self.word_token(owner, start..start + at, in_hashtag));
                tokens.push(self.word_token("'s", start + at..span.end, in_hashtag));
            }
            _ => tokens.push(self.word_token(word, start..span.end, in_hashtag)),
        }
    }

    fn word_token(&self, word: &str, span: Range<usize>, in_hashtag: bool) -> Token {
        let is_number = word
            .chars()
            .all(|c| c.is_numeric() || matches!(c, '.' | ',' | ':'));
        let kind = if is_number {
            TokenKind::Number
        } else {
            TokenKind::Word
        };
        let (collapsed, elongated) = collapse_elongation(word);
        let folded = self.fold(&collapsed);
        let mut token = Token::new(CompactString::new(word), folded, kind, span);
        token.in_hashtag = in_hashtag;
        token.elongated = elongated;
        token
    }

    /// Pushes the parts of a hashtag body, split on the original (cased) text, then after
    /// a known prefix.
    fn push_hashtag_parts(&self, tokens: &mut Vec<Token>, body: &str, body_start: usize) {
        for part in hashtag_parts(body) {
            let original = &body[part.clone()];
            let span = body_start + part.start..body_start + part.end;
            if original.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
                let lowercase = original.to_ascii_lowercase();
                let prefix = self.hashtag_prefixes.iter().find(|prefix| {
                    lowercase.len() >= prefix.len() + MIN_HASHTAG_REMAINDER
                        && lowercase.starts_with(prefix.as_str())
                });
                if let Some(prefix) = prefix {
                    let split_at = span.start + prefix.len();
                    tokens.push(self.word_token(prefix, span.start..split_at, true));
                    let rest = &lowercase[prefix.len()..];
                    tokens.push(self.word_token(rest, split_at..span.end, true));
                } else {
                    tokens.push(self.word_token(&lowercase, span, true));
                }
                continue;
            }
            if let Some(lowercase) = simple_lowercase(original) {
                if !lowercase.is_empty() {
                    self.push_word(tokens, &lowercase, original, span, true);
                }
                continue;
            }
            let mut normalized = NormalizedString::from(original);
            if self.normalizer.normalize(&mut normalized).is_ok() && !normalized.is_empty() {
                self.push_word(tokens, normalized.get(), original, span, true);
            }
        }
    }

    /// Removes accents: see [`fold`].
    pub fn fold(&self, text: &str) -> CompactString {
        chars::fold_compact(text)
    }
}

impl Token {
    fn new(
        text: CompactString,
        folded: CompactString,
        kind: TokenKind,
        span: Range<usize>,
    ) -> Token {
        Token {
            stem: folded.clone(),
            text,
            folded,
            kind,
            span,
            in_hashtag: false,
            elongated: false,
        }
    }
}

/// Characters that `Nmt`, `NFKC` and the apostrophe rule leave alone, whose lowercase is one
/// character of the same UTF-8 length, and that never compose with a neighbour: printable
/// ASCII and ASCII white space (which `Nmt` makes a space: white space either way), Latin-1
/// letters and the Latin-1 signs NFKC keeps, `œ`, the dashes, quotes and bullets of General
/// Punctuation, currency signs, arrows, technical and geometric symbols, the emoji blocks,
/// regional indicators (flags) and the emoji variation selector. (The test
/// `every_simple_character_is_left_alone_by_the_normalizers` checks every one of them.)
fn is_simple(c: char) -> bool {
    c.is_ascii_graphic()
        || c.is_ascii_whitespace()
        || matches!(c, '\u{A1}'..='\u{A7}' | '\u{A9}' | '\u{AB}'..='\u{AE}' | '\u{B0}' | '\u{B1}'
            | '\u{B6}' | '\u{B7}' | '\u{BB}' | '\u{BF}'..='\u{FF}' | '\u{152}' | '\u{153}'
            | '\u{2010}' | '\u{2012}'..='\u{2016}' | '\u{2018}' | '\u{201A}'..='\u{2023}'
            | '\u{2027}' | '\u{2030}'..='\u{2032}' | '\u{2035}' | '\u{2038}'..='\u{203B}'
            | '\u{203D}' | '\u{203F}'..='\u{2046}' | '\u{20A0}'..='\u{20A7}'
            | '\u{20A9}'..='\u{20C0}' | '\u{2190}'..='\u{21FF}' | '\u{2300}'..='\u{2328}'
            | '\u{232B}'..='\u{23FF}' | '\u{25A0}'..='\u{27BF}' | '\u{2900}'..='\u{297F}'
            | '\u{2B00}'..='\u{2BFF}' | '\u{FE0F}' | '\u{1F1E6}'..='\u{1F1FF}'
            | '\u{1F300}'..='\u{1FAFF}')
}

/// White space that `Nmt` or `NFKC` turn into a plain space: the fast path keeps it, since
/// the pattern takes it for white space either way.
fn is_wide_space(c: char) -> bool {
    matches!(
        c,
        '\u{A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}'
    )
}

/// `text` lowercased for the fast path, byte for byte aligned with it, if all its
/// characters are simple, wide spaces, curly apostrophes (kept) or ellipses (`…` becomes
/// `...`, as NFKC makes it).
fn simple_lowercase(text: &str) -> Option<String> {
    if text.is_ascii() {
        return text
            .bytes()
            .all(|byte| byte.is_ascii_graphic() || byte.is_ascii_whitespace())
            .then(|| text.to_ascii_lowercase());
    }
    let mut lowercase = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{2026}' {
            lowercase.push_str("...");
            continue;
        }
        if c == CURLY_APOSTROPHE || is_wide_space(c) {
            lowercase.push(c);
            continue;
        }
        if !is_simple(c) {
            return None;
        }
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(single), None) if single.len_utf8() == c.len_utf8() => lowercase.push(single),
            _ => return None,
        }
    }
    Some(lowercase)
}

/// `range` of `text` widened to whole characters.
fn whole_characters(text: &str, range: Range<usize>) -> Range<usize> {
    let (mut start, mut end) = (range.start.min(text.len()), range.end.min(text.len()));
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

fn plain_token(text: &str, kind: TokenKind, span: Range<usize>) -> Token {
    let text = CompactString::new(text);
    Token::new(text.clone(), text, kind, span)
}

#[cfg(test)]
mod tests;
