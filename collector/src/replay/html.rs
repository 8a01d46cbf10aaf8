//! HTML fragment → plain text, for feed descriptions, summaries and content.
//!
//! In: an HTML fragment as a feed carries it (already XML-unescaped once by the XML reader).
//! Out: plain text: tags removed (with `<script>`/`<style>` bodies and comments dropped),
//! character references decoded, whitespace collapsed, one line per block element.
//!
//! Promises: never panics on any input; decoded `&lt;` never becomes a tag again within a
//! pass; HTML escaped twice (`&amp;lt;p&amp;gt;`) is recognised and decoded once more.
//! Unknown entities are kept literally.

/// Elements whose start or end begins a new line of text.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Elements whose whole content is dropped.
const SKIPPED_TAGS: &[&str] = &["script", "style", "template", "noscript"];

/// Common tags, used to tell double-escaped HTML from text that merely contains `<`.
const KNOWN_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "iframe",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "script",
    "small",
    "span",
    "strong",
    "style",
    "sub",
    "sup",
    "table",
    "td",
    "tr",
    "u",
    "ul",
];

/// How many extra passes are made over text that still looks like HTML after decoding.
const MAX_EXTRA_PASSES: usize = 2;

/// Turns an HTML fragment into plain text (see the module header).
pub(crate) fn html_to_text(html: &str) -> String {
    let mut text = strip_once(html);
    for _ in 0..MAX_EXTRA_PASSES {
        if !looks_like_html(&text) {
            break;
        }
        text = strip_once(&text);
    }
    text
}

/// One pass: strip tags and decode references.
fn strip_once(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(special) = rest.find(['<', '&']) {
        out.push_str(&rest[..special]);
        rest = &rest[special..];
        if rest.starts_with('&') {
            let (decoded, consumed) = decode_entity(rest);
            out.push_str(&decoded);
            rest = &rest[consumed..];
            continue;
        }
        match parse_markup(rest) {
            Markup::Literal => {
                out.push('<');
                rest = &rest[1..];
            }
            Markup::Comment { len } | Markup::Other { len } => {
                out.push(' ');
                rest = &rest[len..];
            }
            Markup::Tag { name, closing, len } => {
                rest = &rest[len..];
                if !closing && SKIPPED_TAGS.contains(&name.as_str()) {
                    rest = skip_element_body(rest, &name);
                    out.push(' ');
                } else if BLOCK_TAGS.contains(&name.as_str()) {
                    out.push('\n');
                }
            }
        }
    }
    out.push_str(rest);
    normalize_whitespace(&out)
}

enum Markup {
    /// A `<` that does not open markup.
    Literal,
    Comment {
        len: usize,
    },
    /// `<!DOCTYPE ...>`, `<?...?>`, `<![CDATA[` remnants...
    Other {
        len: usize,
    },
    Tag {
        name: String,
        closing: bool,
        len: usize,
    },
}

/// Reads the markup at the start of `input` (which starts with `<`).
fn parse_markup(input: &str) -> Markup {
    let after = &input[1..];
    if after.starts_with("!--") {
        let len = after.find("-->").map_or(input.len(), |end| 1 + end + 3);
        return Markup::Comment { len };
    }
    if after.starts_with('!') || after.starts_with('?') {
        let len = after.find('>').map_or(input.len(), |end| 1 + end + 1);
        return Markup::Other { len };
    }
    let (closing, name_start) = match after.strip_prefix('/') {
        Some(stripped) => (true, stripped),
        None => (false, after),
    };
    if !name_start.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Markup::Literal;
    }
    let name_len = name_start
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
        .unwrap_or(name_start.len());
    let name = name_start[..name_len].to_ascii_lowercase();
    let Some(tag_len) = tag_end(input) else {
        // An unterminated tag: drop the rest rather than leak attribute soup.
        return Markup::Tag {
            name,
            closing,
            len: input.len(),
        };
    };
    Markup::Tag {
        name,
        closing,
        len: tag_len,
    }
}

/// Length of the tag at the start of `input`, up to and including its `>`, honouring quoted
/// attribute values.
fn tag_end(input: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (index, c) in input.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(index + 1),
            (None, _) => {}
        }
    }
    None
}

/// Skips to just after `</name>` (ASCII case-insensitive), or to the end.
fn skip_element_body<'a>(input: &'a str, name: &str) -> &'a str {
    let mut search_from = 0;
    while let Some(found) = input[search_from..].find("</") {
        let after = &input[search_from + found + 2..];
        let candidate = after.as_bytes().get(..name.len());
        if candidate.is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes())) {
            return match after.find('>') {
                Some(end) => &after[end + 1..],
                None => "",
            };
        }
        search_from += found + 2;
    }
    ""
}

/// Decodes the reference at the start of `input` (which starts with `&`). Returns the text
/// and how many bytes were consumed; an unknown or malformed reference is kept as `&`.
fn decode_entity(input: &str) -> (String, usize) {
    let body_end = input[1..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
        .map_or(input.len(), |end| end + 1);
    let has_semicolon = input[body_end..].starts_with(';');
    let name = &input[1..body_end];
    if !has_semicolon || name.is_empty() {
        return ("&".to_owned(), 1);
    }
    let consumed = body_end + 1;
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        let Some(code) = code else {
            return ("&".to_owned(), 1);
        };
        return match char::from_u32(code) {
            Some('\0') | None => ("\u{FFFD}".to_owned(), consumed),
            Some(c) => (c.to_string(), consumed),
        };
    }
    match named_entity(name) {
        Some(text) => (text.to_owned(), consumed),
        None => ("&".to_owned(), 1),
    }
}

/// The named references feeds actually use (English and French text).
fn named_entity(name: &str) -> Option<&'static str> {
    let text = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" | "ensp" | "emsp" | "thinsp" => " ",
        "hellip" => "…",
        "mdash" => "—",
        "ndash" => "–",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "bull" => "•",
        "middot" => "·",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "euro" => "€",
        "pound" => "£",
        "deg" => "°",
        "times" => "×",
        "agrave" => "à",
        "acirc" => "â",
        "ccedil" => "ç",
        "eacute" => "é",
        "egrave" => "è",
        "ecirc" => "ê",
        "euml" => "ë",
        "icirc" => "î",
        "iuml" => "ï",
        "ocirc" => "ô",
        "ugrave" => "ù",
        "ucirc" => "û",
        "uuml" => "ü",
        "oelig" => "œ",
        "Agrave" => "À",
        "Eacute" => "É",
        "Egrave" => "È",
        "Ecirc" => "Ê",
        "Ccedil" => "Ç",
        _ => return None,
    };
    Some(text)
}

/// Whether decoded text still holds markup, i.e. it was escaped twice: a known tag name
/// right after a `<`, with a `>` somewhere after it. Linear in the text.
fn looks_like_html(text: &str) -> bool {
    let Some(last_close) = text.rfind('>') else {
        return false;
    };
    for (index, _) in text.match_indices('<') {
        if index > last_close {
            break;
        }
        let after = &text[index + 1..];
        let after = after.strip_prefix('/').unwrap_or(after);
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let ends_name = matches!(
            after[name_len..].chars().next(),
            Some('>' | '/' | ' ' | '\t' | '\n')
        );
        if ends_name && KNOWN_TAGS.iter().any(|tag| tag.eq_ignore_ascii_case(name)) {
            return true;
        }
    }
    false
}

/// Collapses runs of spaces within lines, trims lines and drops empty ones.
pub(crate) fn normalize_whitespace(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words.is_empty() {
            lines.push(words.join(" "));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_keeps_blocks_as_lines() {
        let text = html_to_text("<p>Fibre is <b>fast</b>.</p><p>Second&nbsp;para</p>");
        assert_eq!(text, "Fibre is fast.\nSecond para");
    }

    #[test]
    fn drops_script_style_and_comments() {
        let text = html_to_text(
            "hi<script>alert(1)</script> <!-- x --> <style>p{}</style><img src=x onerror=alert(1)>there",
        );
        assert_eq!(text, "hi there");
    }

    #[test]
    fn decodes_named_and_numeric_references() {
        assert_eq!(
            html_to_text("caf&eacute; &#233; &#xE9; &amp; &rsquo;"),
            "café é é & ’"
        );
    }

    #[test]
    fn decoded_lt_is_not_a_tag() {
        assert_eq!(html_to_text("1 &lt; 2 &gt; 0"), "1 < 2 > 0");
        assert_eq!(html_to_text("x &lt;notatag&gt;"), "x <notatag>");
    }

    #[test]
    fn double_escaped_html_is_decoded() {
        let text = html_to_text("&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;");
        assert_eq!(text, "Hello & bye");
    }

    #[test]
    fn unknown_and_malformed_references_stay() {
        assert_eq!(
            html_to_text("AT&T &bogus; & x &#xZZ;"),
            "AT&T &bogus; & x &#xZZ;"
        );
        assert_eq!(html_to_text("&#0; &#99999999;"), "\u{FFFD} \u{FFFD}");
    }

    #[test]
    fn lone_angle_brackets_are_text() {
        assert_eq!(html_to_text("a < b > c <3"), "a < b > c <3");
    }

    #[test]
    fn unterminated_markup_never_panics() {
        for input in [
            "<",
            "<a",
            "<a href='x",
            "<!--",
            "<script>",
            "&",
            "&#",
            "<p>é<",
            "</",
        ] {
            let _ = html_to_text(input);
        }
        assert_eq!(html_to_text("ok <a href=\"x>y\">link</a>"), "ok link");
    }

    #[test]
    fn hostile_sizes_stay_linear() {
        let many_scripts = "<script>x".repeat(20_000);
        assert_eq!(html_to_text(&many_scripts), "");
        let unterminated = "&lt;a &lt;b ".repeat(20_000);
        assert!(html_to_text(&unterminated).starts_with("<a <b"));
        assert_eq!(html_to_text(&"<a <b title='x ".repeat(20_000)), "");
        let entities = "&aaaaaaaa".repeat(20_000);
        assert_eq!(html_to_text(&entities).len(), entities.len());
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(
            normalize_whitespace("  Tom  &\tJerry\n\n x "),
            "Tom & Jerry\nx"
        );
    }
}
