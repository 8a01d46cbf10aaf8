//! The token pattern's match on ASCII text, by hand: the fast path's regex search cost
//! about a tenth of a whole analysis, and nearly every token of a real post is ASCII.
//!
//! Every alternative of the pattern takes non-space characters only, so the match at a
//! position depends on the run of non-space characters that starts there and on nothing
//! else. When that run is ASCII, [`ascii_token_len`] walks the alternatives in the
//! pattern's order with its greedy repetitions (each of them stops at a byte its class
//! does not hold, and the byte that follows a repetition can never be in its class, so
//! no backtracking ever finds another match) and returns the length of the regex's
//! leftmost-first match; otherwise it returns `None` and the caller runs the regex. The
//! tests compare the two on every alternative's edges and on generated texts.

/// Length in bytes of the token pattern's match at the start of `text`, a fast-path
/// lowercased text starting with a non-space character, when the run of non-space
/// characters there is ASCII; `None` otherwise (or for an empty `text`).
pub(super) fn ascii_token_len(text: &[u8]) -> Option<usize> {
    // Most tokens: letters and digits up to a space or the end, which only the word
    // alternative takes whole (the others need a `:`, `.`, `@`, `#` or separator).
    let letters = count(text, 0, is_alphanumeric);
    if letters > 0 && text.get(letters).is_none_or(|&byte| is_space(byte)) {
        return Some(letters);
    }
    let run_end = text
        .iter()
        .position(|&byte| is_space(byte))
        .unwrap_or(text.len());
    let run = &text[..run_end];
    if run.is_empty() || !run.is_ascii() {
        return None;
    }
    let len = url(run)
        .or_else(|| email(run))
        .or_else(|| handle(run))
        .or_else(|| hashtag(run))
        .or_else(|| number(run))
        .or_else(|| word(run))
        .or_else(|| emoticon(run))
        .unwrap_or(1);
    Some(len)
}

/// ASCII white space as the pattern's `\S` sees it (Unicode `White_Space`).
fn is_space(byte: u8) -> bool {
    matches!(byte, b'\t'..=b'\r' | b' ')
}

/// `[\p{L}\p{N}]` on ASCII.
fn is_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// `[\p{L}\p{N}_]` on ASCII.
fn is_handle_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// `[\p{L}\p{N}\-]` on ASCII (an e-mail domain's label).
fn is_label_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

/// `[\p{L}\p{N}._%+\-]` on ASCII (an e-mail address's local part).
fn is_local_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// How many bytes from `at` are in `class`.
fn count(run: &[u8], at: usize, class: fn(u8) -> bool) -> usize {
    run.get(at..).map_or(0, |rest| {
        rest.iter().take_while(|&&byte| class(byte)).count()
    })
}

/// From `end`, as many `separator class+` groups as follow: `(end, groups)` after them.
fn groups(
    run: &[u8],
    mut end: usize,
    separator: fn(u8) -> bool,
    class: fn(u8) -> bool,
) -> (usize, usize) {
    let mut groups = 0;
    while run.get(end).is_some_and(|&byte| separator(byte)) {
        let length = count(run, end + 1, class);
        if length == 0 {
            break;
        }
        end += 1 + length;
        groups += 1;
    }
    (end, groups)
}

/// `https?://\S+|www\.\S+`: the whole run.
fn url(run: &[u8]) -> Option<usize> {
    let prefixed = |prefix: &[u8]| run.starts_with(prefix) && run.len() > prefix.len();
    (prefixed(b"https://") || prefixed(b"http://") || prefixed(b"www.")).then_some(run.len())
}

/// `[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+`.
fn email(run: &[u8]) -> Option<usize> {
    let local = count(run, 0, is_local_char);
    if local == 0 || run.get(local) != Some(&b'@') {
        return None;
    }
    let label = count(run, local + 1, is_label_char);
    if label == 0 {
        return None;
    }
    let (end, labels) = groups(run, local + 1 + label, |byte| byte == b'.', is_label_char);
    (labels > 0).then_some(end)
}

/// `@[\p{L}\p{N}_]+(?:[.@\-][\p{L}\p{N}_]+)*`.
fn handle(run: &[u8]) -> Option<usize> {
    if run.first() != Some(&b'@') {
        return None;
    }
    let name = count(run, 1, is_handle_char);
    if name == 0 {
        return None;
    }
    let separator = |byte: u8| matches!(byte, b'.' | b'@' | b'-');
    Some(groups(run, 1 + name, separator, is_handle_char).0)
}

/// `#[\p{L}\p{M}\p{N}_]+`.
fn hashtag(run: &[u8]) -> Option<usize> {
    if run.first() != Some(&b'#') {
        return None;
    }
    let name = count(run, 1, is_handle_char);
    (name > 0).then_some(1 + name)
}

/// `\p{N}+(?:[.,:]\p{N}+)+`.
fn number(run: &[u8]) -> Option<usize> {
    let digits = count(run, 0, |byte| byte.is_ascii_digit());
    if digits == 0 {
        return None;
    }
    let separator = |byte: u8| matches!(byte, b'.' | b',' | b':');
    let (end, parts) = groups(run, digits, separator, |byte| byte.is_ascii_digit());
    (parts > 0).then_some(end)
}

/// `[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:['’][\p{L}\p{N}][\p{L}\p{M}\p{N}]*)*`.
fn word(run: &[u8]) -> Option<usize> {
    let letters = count(run, 0, is_alphanumeric);
    if letters == 0 {
        return None;
    }
    Some(groups(run, letters, |byte| byte == b'\'', is_alphanumeric).0)
}

/// `[:;=]-?[()/|\[\]]|<3`.
fn emoticon(run: &[u8]) -> Option<usize> {
    let is_mouth = |byte: u8| matches!(byte, b'(' | b')' | b'/' | b'|' | b'[' | b']');
    match *run {
        [b':' | b';' | b'=', b'-', mouth, ..] if is_mouth(mouth) => Some(3),
        [b':' | b';' | b'=', mouth, ..] if is_mouth(mouth) => Some(2),
        [b'<', b'3', ..] => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_automata::{Anchored, Input, meta};

    /// The regex's match length at every non-space character of `text`, against the
    /// scanner's where it answers.
    fn compare(text: &str) {
        let regex = meta::Regex::new(super::super::FAST_TOKEN_PATTERN).unwrap();
        for (start, c) in text.char_indices().filter(|(_, c)| !c.is_whitespace()) {
            let Some(len) = ascii_token_len(&text.as_bytes()[start..]) else {
                let mut run = text.as_bytes()[start..]
                    .iter()
                    .take_while(|&&b| !is_space(b));
                assert!(!run.all(u8::is_ascii), "no answer in {text:?} at {start}");
                continue;
            };
            let input = Input::new(text).range(start..).anchored(Anchored::Yes);
            let found = regex.find(input).map(|found| found.len());
            assert_eq!(Some(len), found, "{text:?} at {start} ({c:?})");
        }
    }

    #[test]
    fn every_alternative_matches_as_the_regex_does() {
        for text in [
            "https://lumio.fr/a?b=1). http:// https:// http://x https:/x www. www.x",
            "a.b@ex.com a@b a@b. a@b.c. a@b..c a@-.- x_y@a.b %+@a-b.c-d.e @a@b.c",
            "@lumio_help @a.b @a. @a-b-c @ @@ @a@ @_ #tag #a_b # ## #é",
            "12 12.5 12.a 1,2:3 10:30 1. .5 4g 5g's it's l'internet don't 'tis o''k",
            ":) :-) :-x ;] =| :( <3 <4 :- :-- x:) ... !!! ?! - _ ' \" *",
            "lumio's LUMIO Lumio_fibre abc_def@x.com a:b a.b a'b' ",
            "caf\u{e9} na\u{ef}ve \u{2019}tis l\u{2019}internet \u{1f621}x a\u{a0}b",
        ] {
            compare(text);
        }
    }

    #[test]
    fn non_ascii_runs_are_left_to_the_regex() {
        assert_eq!(ascii_token_len("caf\u{e9} x".as_bytes()), None);
        assert_eq!(ascii_token_len(b"cafe\xc3\xa9"), None);
        assert_eq!(ascii_token_len(b""), None);
        assert_eq!(ascii_token_len(b"cafe \xc3\xa9"), Some(4));
    }

    /// Pieces that exercise every alternative and its edges.
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "0",
        "7",
        "_",
        "-",
        ".",
        ",",
        ":",
        ";",
        "=",
        "@",
        "#",
        "%",
        "+",
        "'",
        "(",
        ")",
        "[",
        "]",
        "/",
        "|",
        "<",
        "3",
        "!",
        "?",
        "\"",
        " ",
        "\t",
        "\n",
        "http",
        "https",
        "://",
        "www",
        "www.",
        "lumio",
        "\u{e9}",
        "\u{2019}",
        "\u{a0}",
        "\u{1f621}",
    ];

    proptest! {
        #[test]
        fn generated_texts_match_as_the_regex_does(
            pieces in prop::collection::vec(prop::sample::select(PIECES), 0..16)
        ) {
            compare(&pieces.concat());
        }
    }
}
