//! Character-level helpers of the tokenizer: accent folding, elongations, hashtag parts,
//! emoji. Pure functions of their input; none of them panics.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

use compact_str::CompactString;

use tokenizers::normalizers::{NFD, NFKC, StripAccents};
use tokenizers::{NormalizedString, Normalizer};

use crate::fasthash::CacheMap;

/// Distinct texts a thread's fold and stem caches hold before they are emptied.
pub(super) const CACHE_CAPACITY: usize = 20_000;

thread_local! {
    /// Folded forms of non-ASCII texts already seen by this thread.
    static FOLDED: RefCell<CacheMap<CompactString, CompactString>> = RefCell::new(CacheMap::default());
}

/// Removes accents (`é` → `e`, `œ` → `oe`) with the NFD and StripAccents normalizers;
/// ASCII text is returned as is. Non-ASCII results are cached per thread (a pure function,
/// so the cache changes nothing but the time).
pub fn fold(text: &str) -> String {
    fold_compact(text).into_string()
}

/// [`fold`] into a [`CompactString`] (no heap allocation for short words).
pub(crate) fn fold_compact(text: &str) -> CompactString {
    if text.is_ascii() {
        return CompactString::new(text);
    }
    if let Some(folded) = FOLDED.with_borrow(|cache| cache.get(text).cloned()) {
        return folded;
    }
    let folded = CompactString::from(fold_uncached(text));
    FOLDED.with_borrow_mut(|cache| {
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(CompactString::new(text), folded.clone());
    });
    folded
}

/// [`fold`] without the cache.
fn fold_uncached(text: &str) -> String {
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

/// Collapses runs of three or more identical letters to one (`soooo` → `so`).
pub(super) fn collapse_elongation(word: &str) -> (Cow<'_, str>, bool) {
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
        return (Cow::Borrowed(word), false);
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
    (Cow::Owned(collapsed), true)
}

/// Byte ranges of the parts of a hashtag body: split at `_`, at lower→upper case changes,
/// at letter↔digit changes, and before the last capital of an acronym (`HTTPServer`).
pub(super) fn hashtag_parts(body: &str) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut previous: Option<char> = None;
    let mut chars = body.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let before = previous.replace(c);
        if c == '_' || !(c.is_alphanumeric() || is_mark(c)) {
            if let Some(start) = part_start.take() {
                parts.push(start..offset);
            }
            continue;
        }
        let (Some(start), Some(previous)) = (part_start, before) else {
            part_start = Some(offset);
            continue;
        };
        let next = chars.peek().map(|&(_, next)| next);
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

pub(super) fn is_emoticon(text: &str) -> bool {
    text == "<3"
        || (text.len() >= 2
            && text.starts_with([':', ';', '='])
            && text.ends_with(['(', ')', '/', '|', '[', ']']))
}

/// The key an emoji is looked up by: its first character (modifiers, variation selectors
/// and skin tones dropped); emoticons are their own key.
pub(super) fn emoji_key(text: &str) -> CompactString {
    match text.chars().next() {
        Some(first) if is_emoji(first) || ('\u{1F1E6}'..='\u{1F1FF}').contains(&first) => {
            if ('\u{1F1E6}'..='\u{1F1FF}').contains(&first) {
                CompactString::new(text)
            } else {
                let mut buffer = [0u8; 4];
                CompactString::new(first.encode_utf8(&mut buffer))
            }
        }
        _ => CompactString::new(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn folding_removes_accents_and_splits_ligatures() {
        assert_eq!(fold("Résiliation élevée"), "Resiliation elevee");
        assert_eq!(fold("cœur Straße"), "coeur Strasse");
        assert_eq!(fold("plain"), "plain");
    }

    #[test]
    fn elongations_collapse_to_one_letter() {
        assert_eq!(
            collapse_elongation("soooo"),
            (Cow::Owned("so".to_owned()), true)
        );
        assert_eq!(collapse_elongation("good"), (Cow::Borrowed("good"), false));
        assert_eq!(collapse_elongation("1000"), (Cow::Borrowed("1000"), false));
    }
}
