//! Normalisation and tokenisation: text in, [`Token`]s out.
//!
//! The [`Tokenizer`] runs the `tokenizers` crate's normalizers (`Nmt` for control and odd
//! space characters, `NFKC`, curly apostrophes made straight, `Lowercase`) and one `Split`
//! pre-tokenizer whose pattern keeps social-media units whole: URLs, e-mail addresses,
//! `@handles` (Mastodon's `@user@host` too), `#hashtags`, words (with inner apostrophes),
//! numbers, emoji and emoticons; any other non-space character becomes a punctuation token.
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

use std::ops::Range;

use rust_stemmers::{Algorithm, Stemmer};
use tokenizers::normalizers::{Lowercase, NFD, NFKC, Nmt, Replace, Sequence, StripAccents};
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    SplitDelimiterBehavior,
};

use crate::error::NlpError;

/// The pre-tokenizer pattern, tried left to right at each position (run on normalised,
/// lowercased text). Whatever it does not match (white space) is dropped.
const TOKEN_PATTERN: &str = concat!(
    r"https?://\S+|www\.\S+",
    r"|[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+",
    r"|@[\p{L}\p{N}_]+(?:[.@\-][\p{L}\p{N}_]+)*",
    r"|#[\p{L}\p{M}\p{N}_]+",
    r"|\p{N}+(?:[.,:]\p{N}+)+",
    r"|[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:'[\p{L}\p{N}][\p{L}\p{M}\p{N}]*)*",
    r"|\p{Extended_Pictographic}[\x{FE0F}\x{20E3}\p{Emoji_Modifier}]*",
    r"|\p{Regional_Indicator}{1,2}",
    r"|[:;=]-?[()/|\[\]]|<3",
    r"|\S",
);

/// French elided articles and pronouns, split off the word they lean on.
const ELISIONS: [&str; 13] = [
    "c'", "d'", "j'", "l'", "m'", "n'", "s'", "t'", "qu'", "jusqu'", "lorsqu'", "puisqu'",
    "quoiqu'",
];

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
    /// URLs keep their original case.
    pub text: String,
    /// `text` without accents and with elongations collapsed: the key for exact matching.
    pub folded: String,
    /// `folded`, stemmed for words ([`stem_tokens`]); equal to `folded` for other kinds.
    pub stem: String,
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

/// Stems the words of `tokens` (`stem` was the folded text until now).
pub fn stem_tokens(tokens: &mut [Token], algorithm: Algorithm) {
    let stemmer = Stemmer::create(algorithm);
    for token in tokens
        .iter_mut()
        .filter(|token| token.kind == TokenKind::Word)
    {
        let stemmed = stemmer.stem(&token.folded);
        if stemmed != token.stem {
            token.stem = stemmed.into_owned();
        }
    }
}

/// Stems one folded word.
pub fn stem_word(stemmer: &Stemmer, folded: &str) -> String {
    stemmer.stem(folded).into_owned()
}

/// Normaliser and pre-tokenizer, built once and shared (`Send + Sync`).
pub struct Tokenizer {
    normalizer: Sequence,
    pre_tokenizer: Split,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer").finish_non_exhaustive()
    }
}

impl Tokenizer {
    pub fn new() -> Result<Tokenizer, NlpError> {
        let matcher_error = |what: &str, error| NlpError::Matcher {
            what: what.to_owned(),
            error,
        };
        let apostrophe =
            Replace::new("\u{2019}", "'").map_err(|error| matcher_error("apostrophe", error))?;
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
        Ok(Tokenizer {
            normalizer,
            pre_tokenizer,
        })
    }

    /// Splits `text` into tokens whose `stem` is still the folded text (see [`stem_tokens`]).
    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        let mut tokens = Vec::new();
        let mut pre_tokenized = PreTokenizedString::from(text);
        let prepared = pre_tokenized
            .normalize(|normalized| self.normalizer.normalize(normalized))
            .and_then(|()| self.pre_tokenizer.pre_tokenize(&mut pre_tokenized));
        if let Err(error) = prepared {
            tracing::debug!(%error, "text could not be tokenized");
            return tokens;
        }
        let splits = pre_tokenized.get_splits(OffsetReferential::Original, OffsetType::Byte);
        tokens.reserve(splits.len());
        for (normalized, (start, end), _) in splits {
            let original = text.get(start..end).unwrap_or(normalized);
            self.push_split(&mut tokens, normalized, original, start..end);
        }
        tokens
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
            tokens.push(plain_token(url.to_owned(), TokenKind::Url, url_span));
        } else if first == '@' && has_tail {
            let folded = self.fold(normalized);
            tokens.push(Token::new(
                normalized.to_owned(),
                folded,
                TokenKind::Handle,
                span,
            ));
        } else if first == '#' && has_tail {
            let folded = self.fold(normalized);
            tokens.push(Token::new(
                normalized.to_owned(),
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
                normalized.to_owned(),
                folded,
                TokenKind::Email,
                span,
            ));
        } else if first.is_alphanumeric() {
            self.push_word(tokens, normalized, original, span, false);
        } else if is_emoji(first) || is_emoticon(normalized) {
            let key = emoji_key(normalized);
            tokens.push(Token::new(
                normalized.to_owned(),
                key,
                TokenKind::Emoji,
                span,
            ));
        } else {
            tokens.push(plain_token(normalized.to_owned(), TokenKind::Punct, span));
        }
    }

    /// Pushes a word, or an elided clitic and its word (`l'internet`). `original` is the
    /// text of `span` before normalisation.
    fn push_word(
        &self,
        tokens: &mut Vec<Token>,
        word: &str,
        original: &str,
        span: Range<usize>,
        in_hashtag: bool,
    ) {
        let elision = ELISIONS
            .iter()
            .find(|elision| word.len() > elision.len() && word.starts_with(**elision));
        let apostrophe_end = original
            .char_indices()
            .find(|&(_, c)| matches!(c, '\'' | '\u{2019}' | '\u{FF07}'))
            .map(|(at, c)| span.start + at + c.len_utf8());
        match (elision, apostrophe_end) {
            (Some(elision), Some(split_at)) => {
                tokens.push(self.word_token(elision, span.start..split_at, in_hashtag));
                let rest = &word[elision.len()..];
                tokens.push(self.word_token(rest, split_at..span.end, in_hashtag));
            }
            _ => tokens.push(self.word_token(word, span, in_hashtag)),
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
        let mut token = Token::new(word.to_owned(), folded, kind, span);
        token.in_hashtag = in_hashtag;
        token.elongated = elongated;
        token
    }

    /// Pushes the parts of a hashtag body, split on the original (cased) text.
    fn push_hashtag_parts(&self, tokens: &mut Vec<Token>, body: &str, body_start: usize) {
        for part in hashtag_parts(body) {
            let original = &body[part.clone()];
            let span = body_start + part.start..body_start + part.end;
            let normalized = if original.bytes().all(|byte| byte.is_ascii_graphic()) {
                original.to_ascii_lowercase()
            } else {
                let mut normalized = NormalizedString::from(original);
                if self.normalizer.normalize(&mut normalized).is_err() {
                    continue;
                }
                normalized.get().to_owned()
            };
            if !normalized.is_empty() {
                self.push_word(tokens, &normalized, original, span, true);
            }
        }
    }

    /// Removes accents: see [`fold`].
    pub fn fold(&self, text: &str) -> String {
        fold(text)
    }
}

/// Removes accents (`é` → `e`, `œ` → `oe`) with the NFD and StripAccents normalizers;
/// ASCII text is returned as is.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let mut normalized = NormalizedString::from(text);
    let stripped = NFD
        .normalize(&mut normalized)
        .and_then(|()| StripAccents.normalize(&mut normalized))
        .and_then(|()| NFKC.normalize(&mut normalized));
    let stripped = match stripped {
        Ok(()) => normalized.get(),
        Err(_) => text,
    };
    let mut folded = String::with_capacity(stripped.len());
    for c in stripped.chars() {
        match c {
            'œ' => folded.push_str("oe"),
            'æ' => folded.push_str("ae"),
            'ß' => folded.push_str("ss"),
            'ø' => folded.push('o'),
            'ł' => folded.push('l'),
            'đ' => folded.push('d'),
            _ => folded.push(c),
        }
    }
    folded
}

impl Token {
    fn new(text: String, folded: String, kind: TokenKind, span: Range<usize>) -> Token {
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

    /// A word the author wrote (not a hashtag part).
    pub fn is_word(&self) -> bool {
        self.kind == TokenKind::Word
    }
}

fn plain_token(text: String, kind: TokenKind, span: Range<usize>) -> Token {
    let folded = text.clone();
    Token::new(text, folded, kind, span)
}

/// Collapses runs of three or more identical letters to one (`soooo` → `so`).
fn collapse_elongation(word: &str) -> (std::borrow::Cow<'_, str>, bool) {
    let mut previous = None;
    let mut run = 0;
    let mut elongated = false;
    for c in word.chars() {
        run = if Some(c) == previous { run + 1 } else { 1 };
        previous = Some(c);
        if run >= 3 && c.is_alphabetic() {
            elongated = true;
            break;
        }
    }
    if !elongated {
        return (std::borrow::Cow::Borrowed(word), false);
    }
    let chars: Vec<char> = word.chars().collect();
    let mut collapsed = String::with_capacity(word.len());
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let mut run_end = index + 1;
        while run_end < chars.len() && chars[run_end] == c {
            run_end += 1;
        }
        let run_length = run_end - index;
        let keep = if run_length >= 3 && c.is_alphabetic() {
            1
        } else {
            run_length
        };
        collapsed.extend(std::iter::repeat_n(c, keep));
        index = run_end;
    }
    (std::borrow::Cow::Owned(collapsed), true)
}

/// Byte ranges of the parts of a hashtag body: split at `_`, at lower→upper case changes,
/// at letter↔digit changes, and before the last capital of an acronym (`HTTPServer`).
fn hashtag_parts(body: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    for (position, &(offset, c)) in chars.iter().enumerate() {
        if c == '_' || !(c.is_alphanumeric() || is_mark(c)) {
            if let Some(start) = part_start.take() {
                parts.push(start..offset);
            }
            continue;
        }
        let Some(start) = part_start else {
            part_start = Some(offset);
            continue;
        };
        let previous = chars[position - 1].1;
        let next = chars.get(position + 1).map(|&(_, next)| next);
        let case_change = previous.is_lowercase() && c.is_uppercase();
        let acronym_end = previous.is_uppercase()
            && c.is_uppercase()
            && next.is_some_and(|next| next.is_lowercase());
        let digit_change =
            previous.is_numeric() != c.is_numeric() && !is_mark(c) && !is_mark(previous);
        if case_change || acronym_end || digit_change {
            parts.push(start..offset);
            part_start = Some(offset);
        }
    }
    if let Some(start) = part_start {
        parts.push(start..body.len());
    }
    parts
}

/// Combining marks (accents written as separate characters).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Characters that start an emoji token (pictographs, dingbats, flags, ©®).
pub fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{00A9}' | '\u{00AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
        | '\u{2194}'..='\u{21FF}' | '\u{2300}'..='\u{23FF}' | '\u{24C2}'
        | '\u{25A0}'..='\u{27BF}' | '\u{2900}'..='\u{297F}' | '\u{2B00}'..='\u{2BFF}'
        | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
        | '\u{1F000}'..='\u{1FAFF}')
}

fn is_emoticon(text: &str) -> bool {
    text == "<3"
        || (text.len() >= 2
            && text.starts_with([':', ';', '='])
            && text.ends_with(['(', ')', '/', '|', '[', ']']))
}

/// The key an emoji is looked up by: its first character (modifiers, variation selectors
/// and skin tones dropped); emoticons are their own key.
fn emoji_key(text: &str) -> String {
    match text.chars().next() {
        Some(first) if is_emoji(first) || ('\u{1F1E6}'..='\u{1F1FF}').contains(&first) => {
            if ('\u{1F1E6}'..='\u{1F1FF}').contains(&first) {
                text.to_owned()
            } else {
                first.to_string()
            }
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> Tokenizer {
        Tokenizer::new().unwrap()
    }

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|token| token.text.as_str()).collect()
    }

    fn kinds(tokens: &[Token]) -> Vec<TokenKind> {
        tokens.iter().map(|token| token.kind).collect()
    }

    #[test]
    fn words_are_lowercased_and_punctuation_is_separate() {
        let tokens = tokenizer().tokenize("Lumio is DOWN again!");
        assert_eq!(texts(&tokens), ["lumio", "is", "down", "again", "!"]);
        assert_eq!(tokens[4].kind, TokenKind::Punct);
        assert_eq!(tokens[2].span, 9..13);
    }

    #[test]
    fn social_units_stay_whole() {
        let text = "@Lumio_Help see https://lumio.fr/Offres?x=1). mail me: a.b@ex.com #LumioFail";
        let tokens = tokenizer().tokenize(text);
        let handle = &tokens[0];
        assert_eq!(
            (handle.text.as_str(), handle.kind),
            ("@lumio_help", TokenKind::Handle)
        );
        let url = tokens
            .iter()
            .find(|token| token.kind == TokenKind::Url)
            .unwrap();
        assert_eq!(url.text, "https://lumio.fr/Offres?x=1");
        assert_eq!(&text[url.span.clone()], url.text);
        let email = tokens
            .iter()
            .find(|token| token.kind == TokenKind::Email)
            .unwrap();
        assert_eq!(email.text, "a.b@ex.com");
        let hashtag = tokens
            .iter()
            .position(|token| token.kind == TokenKind::Hashtag)
            .unwrap();
        assert_eq!(texts(&tokens[hashtag..]), ["#lumiofail", "lumio", "fail"]);
        assert!(tokens[hashtag + 1].in_hashtag && tokens[hashtag + 2].in_hashtag);
        assert_eq!(&text[tokens[hashtag + 2].span.clone()], "Fail");
    }

    #[test]
    fn mastodon_handles_keep_their_instance() {
        let tokens = tokenizer().tokenize("cc @lumio@mastodon.social.");
        assert_eq!(texts(&tokens), ["cc", "@lumio@mastodon.social", "."]);
    }

    #[test]
    fn hashtag_parts_split_on_case_digits_and_underscores() {
        let parts = |body: &str| -> Vec<String> {
            hashtag_parts(body)
                .into_iter()
                .map(|range| body[range].to_owned())
                .collect()
        };
        assert_eq!(parts("LumioFail"), ["Lumio", "Fail"]);
        assert_eq!(parts("lumiofail"), ["lumiofail"]);
        assert_eq!(parts("Lumio5GDown"), ["Lumio", "5", "G", "Down"]);
        assert_eq!(parts("HTTPServer"), ["HTTP", "Server"]);
        assert_eq!(parts("lumio_fail"), ["lumio", "fail"]);
        assert_eq!(parts("PanneRéseau"), ["Panne", "Réseau"]);
    }

    #[test]
    fn accents_are_folded_and_elisions_split() {
        let tokens = tokenizer().tokenize("Résiliation de l'Internet aujourd'hui, cœur");
        assert_eq!(
            texts(&tokens),
            [
                "résiliation",
                "de",
                "l'",
                "internet",
                "aujourd'hui",
                ",",
                "cœur"
            ]
        );
        assert_eq!(tokens[0].folded, "resiliation");
        assert_eq!(tokens[6].folded, "coeur");
    }

    #[test]
    fn curly_apostrophes_and_compatibility_forms_are_normalised() {
        let tokens = tokenizer().tokenize("don\u{2019}t ＬＵＭＩＯ ﬁbre");
        assert_eq!(texts(&tokens), ["don't", "lumio", "fibre"]);
    }

    #[test]
    fn elongations_are_collapsed_in_the_folded_form() {
        let tokens = tokenizer().tokenize("soooo nuuuul good");
        assert_eq!(tokens[0].folded, "so");
        assert!(tokens[0].elongated);
        assert_eq!(tokens[1].folded, "nul");
        assert_eq!(tokens[2].folded, "good");
        assert!(!tokens[2].elongated);
    }

    #[test]
    fn emoji_and_emoticons_are_tokens() {
        let tokens = tokenizer().tokenize("bad 😡😡 ❤️ 👍🏽 :( <3");
        assert_eq!(
            kinds(&tokens),
            [
                TokenKind::Word,
                TokenKind::Emoji,
                TokenKind::Emoji,
                TokenKind::Emoji,
                TokenKind::Emoji,
                TokenKind::Emoji,
                TokenKind::Emoji
            ]
        );
        assert_eq!(tokens[3].folded, "❤");
        assert_eq!(tokens[4].folded, "👍");
    }

    #[test]
    fn numbers_and_alphanumerics() {
        let tokens = tokenizer().tokenize("5G costs 12,50 in 2024");
        assert_eq!(texts(&tokens), ["5g", "costs", "12,50", "in", "2024"]);
        assert_eq!(
            kinds(&tokens),
            [
                TokenKind::Word,
                TokenKind::Word,
                TokenKind::Number,
                TokenKind::Word,
                TokenKind::Number
            ]
        );
    }

    #[test]
    fn stems_are_accent_insensitive() {
        let tokenizer = tokenizer();
        let accented = tokenizer.tokenize_stemmed("résiliation", Algorithm::French);
        let plain = tokenizer.tokenize_stemmed("resiliation", Algorithm::French);
        assert_eq!(accented[0].stem, plain[0].stem);
        let cancelled = tokenizer.tokenize_stemmed("cancelled cancellation", Algorithm::English);
        assert_eq!(cancelled[0].stem, "cancel");
        assert_eq!(cancelled[1].stem, "cancel");
    }

    #[test]
    fn weird_input_never_panics() {
        let tokenizer = tokenizer();
        let long = "é#".repeat(10_000);
        let inputs = [
            "",
            " \t\n ",
            "\u{0}\u{1}\u{7f}lumio\u{200b}fail",
            "#",
            "@",
            "#_",
            "#\u{301}\u{301}",
            "l'",
            "http://",
            "\u{FEFF}\u{FFFD}\u{202E}abc",
            "👨\u{200D}👩\u{200D}👧",
            "İstanbul ǅ ﷺ",
            long.as_str(),
        ];
        for input in inputs {
            for token in tokenizer.tokenize(input) {
                assert!(
                    input.get(token.span.clone()).is_some(),
                    "bad span in {input:?}"
                );
            }
        }
    }
}
