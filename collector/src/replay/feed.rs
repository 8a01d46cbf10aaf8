//! RSS 2.0 (and RSS 1.0/RDF) and Atom 1.0 documents → posts, one per item or entry.
//!
//! In: one XML document; the format is picked from its root element (`rss`/`RDF` or `feed`).
//! Out: a [`DecodedFile`] with one post per item, in document order, and the failures.
//!
//! Promises:
//! * the key of an item is its guid / Atom id, else its link, else a hash of title + date
//!   (never of the content, which changes on edits), namespaced by the feed's own link,
//!   else by the file name: `feed:<namespace>#<item key>`;
//! * text is `title + "\n" + content` in plain text: HTML (escaped, CDATA, or escaped twice)
//!   is stripped and its entities decoded;
//! * no entity is ever resolved from a DTD (no XXE, no entity expansion); unknown entities
//!   stay literal;
//! * malformed XML stops the document at that point: the items before it are kept and one
//!   failure names the line; an item with neither text nor any key is a failure.

use chrono::{DateTime, Utc};
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::feed_item::{Entry, Feed, build_post, name_of_email_form};
use super::html::{html_to_text, normalize_whitespace};
use super::{DecodeError, DecodeFailure, DecodedFile, DecodedPost};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
}

/// How a captured element's text must be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    /// Plain text: only whitespace is normalised.
    Text,
    /// HTML source (escaped in the XML, or in CDATA).
    Html,
    /// XHTML child elements (Atom `type="xhtml"`).
    Xhtml,
}

/// The element whose text is being captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    FeedTitle,
    FeedLink,
    FeedLang,
    FeedAuthorName,
    Title,
    Link,
    Guid,
    Body,
    Content,
    AuthorName,
    AuthorUri,
    AuthorEmailForm,
    Published,
    Updated,
    Lang,
    Comments,
}

struct Capture {
    target: Target,
    kind: TextKind,
    /// Number of open elements outside the captured one.
    depth: usize,
    buf: String,
}

/// Decodes one feed document. `file` names it in failures and is the key namespace when
/// the feed has no link of its own.
pub(crate) fn decode_feed(file: &str, contents: &str, observed_at: DateTime<Utc>) -> DecodedFile {
    let lines = LineIndex::new(contents);
    let mut parser = Parser::default();
    let mut failures = Vec::new();
    let mut reader = Reader::from_str(contents);
    reader.config_mut().allow_dangling_amp = true;

    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let line = lines.line_at(reader.error_position());
                failures.push((line, DecodeError::Xml(error.to_string())));
                break;
            }
        };
        let line = lines.line_at(reader.buffer_position().saturating_sub(1));
        let outcome = match event {
            Event::Start(start) => parser.start(&start, false, line),
            Event::Empty(start) => parser.start(&start, true, line),
            Event::End(_) => {
                parser.end();
                Ok(())
            }
            Event::Text(text) => {
                parser.text(&String::from_utf8_lossy(&text.into_inner()));
                Ok(())
            }
            Event::CData(cdata) => {
                parser.text(&String::from_utf8_lossy(&cdata.into_inner()));
                Ok(())
            }
            Event::GeneralRef(reference) => {
                parser.reference(&reference);
                Ok(())
            }
            Event::Eof => {
                if parser.format.is_none() {
                    failures.push((line, DecodeError::Invalid("document has no root element")));
                } else if !parser.stack.is_empty() {
                    failures.push((
                        line,
                        DecodeError::Invalid("document ends inside an element"),
                    ));
                }
                break;
            }
            // Declarations, doctypes (never resolved), comments, processing instructions.
            _ => Ok(()),
        };
        if let Err(error) = outcome {
            failures.push((line, error));
            break;
        }
    }

    let mut decoded = DecodedFile::default();
    let namespace = parser
        .feed
        .link
        .clone()
        .or_else(|| parser.feed.self_link.clone())
        .unwrap_or_else(|| file.to_owned());
    for entry in parser.entries {
        let line = entry.line;
        match build_post(entry, &parser.feed, &namespace, observed_at) {
            Ok((key, post)) => decoded.posts.push(DecodedPost { key, line, post }),
            Err(error) => failures.push((line, error)),
        }
    }
    failures.sort_by_key(|(line, _)| *line);
    for (line, error) in failures {
        decoded.failures.push(DecodeFailure {
            file: file.to_owned(),
            line,
            error,
        });
    }
    decoded
}

#[derive(Default)]
struct Parser {
    format: Option<Format>,
    feed: Feed,
    entries: Vec<Entry>,
    current: Option<Entry>,
    capture: Option<Capture>,
    /// Local names of the open elements.
    stack: Vec<String>,
}

impl Parser {
    fn start(&mut self, start: &BytesStart, empty: bool, line: usize) -> Result<(), DecodeError> {
        let name = String::from_utf8_lossy(start.local_name().into_inner()).into_owned();
        if let Some(capture) = self.capture.as_mut() {
            // Markup inside a captured element: XHTML content, or HTML left unescaped.
            capture.buf.push('<');
            capture.buf.push_str(&name);
            capture.buf.push_str(if empty { "/>" } else { ">" });
            if !empty {
                self.stack.push(name);
            }
            return Ok(());
        }
        let format = match self.format {
            Some(format) => format,
            None => {
                let format = match name.as_str() {
                    "rss" | "RDF" => Format::Rss,
                    "feed" => Format::Atom,
                    _ => return Err(DecodeError::Invalid("root element is not rss or feed")),
                };
                self.format = Some(format);
                if format == Format::Atom {
                    self.feed.lang = attribute(start, b"xml:lang");
                }
                format
            }
        };
        let target = match format {
            Format::Rss => self.start_rss(start, &name, line),
            Format::Atom => self.start_atom(start, &name, line),
        };
        if empty {
            if name == entry_element(format) {
                self.end_entry();
            }
            return Ok(());
        }
        if let Some((target, kind)) = target {
            self.capture = Some(Capture {
                target,
                kind,
                depth: self.stack.len(),
                buf: String::new(),
            });
        }
        self.stack.push(name);
        Ok(())
    }

    fn start_rss(
        &mut self,
        start: &BytesStart,
        name: &str,
        line: usize,
    ) -> Option<(Target, TextKind)> {
        let prefix = start
            .name()
            .prefix()
            .map(|prefix| prefix.into_inner().to_vec());
        let plain = prefix.is_none();
        let prefixed = |wanted: &[u8]| prefix.as_deref() == Some(wanted);
        let parent = self.stack.last().map(String::as_str);
        if name == "item" && self.current.is_none() {
            self.current = Some(Entry {
                line,
                ..Entry::default()
            });
            return None;
        }
        if parent == Some("channel") {
            return match name {
                "title" if plain => Some((Target::FeedTitle, TextKind::Html)),
                "link" if plain => Some((Target::FeedLink, TextKind::Text)),
                "language" => Some((Target::FeedLang, TextKind::Text)),
                _ => None,
            };
        }
        if parent != Some("item") || self.current.is_none() {
            return None;
        }
        match name {
            "title" if plain => Some((Target::Title, TextKind::Html)),
            "link" if plain => Some((Target::Link, TextKind::Text)),
            "guid" if plain => {
                let permalink = attribute(start, b"isPermaLink");
                if let Some(entry) = self.current.as_mut() {
                    entry.guid_is_permalink = permalink.as_deref() != Some("false");
                }
                Some((Target::Guid, TextKind::Text))
            }
            "description" if plain => Some((Target::Body, TextKind::Html)),
            "encoded" => Some((Target::Content, TextKind::Html)),
            "creator" => Some((Target::AuthorName, TextKind::Text)),
            "author" if plain => Some((Target::AuthorEmailForm, TextKind::Text)),
            "pubDate" => Some((Target::Published, TextKind::Text)),
            "date" if prefixed(b"dc") => Some((Target::Updated, TextKind::Text)),
            "language" => Some((Target::Lang, TextKind::Text)),
            "comments" if prefixed(b"slash") => Some((Target::Comments, TextKind::Text)),
            _ => None,
        }
    }

    fn start_atom(
        &mut self,
        start: &BytesStart,
        name: &str,
        line: usize,
    ) -> Option<(Target, TextKind)> {
        let parent = self.stack.last().map(String::as_str);
        let grandparent = self
            .stack
            .len()
            .checked_sub(2)
            .map(|index| self.stack[index].as_str());
        if name == "entry" && self.current.is_none() {
            self.current = Some(Entry {
                line,
                lang: attribute(start, b"xml:lang"),
                ..Entry::default()
            });
            return None;
        }
        let in_entry = parent == Some("entry") && self.current.is_some();
        match (name, parent) {
            ("title", Some("feed")) => Some((Target::FeedTitle, atom_kind(start))),
            ("link", Some("feed")) => {
                let href = attribute(start, b"href");
                match attribute(start, b"rel").as_deref() {
                    None | Some("alternate") => set_once(&mut self.feed.link, href),
                    Some("self") => set_once(&mut self.feed.self_link, href),
                    Some(_) => {}
                }
                None
            }
            ("name", Some("author")) if grandparent == Some("feed") => {
                Some((Target::FeedAuthorName, TextKind::Text))
            }
            ("name", Some("author")) if grandparent == Some("entry") => {
                Some((Target::AuthorName, TextKind::Text))
            }
            ("uri", Some("author")) if grandparent == Some("entry") => {
                Some((Target::AuthorUri, TextKind::Text))
            }
            (_, _) if !in_entry => None,
            ("id", _) => Some((Target::Guid, TextKind::Text)),
            ("title", _) => Some((Target::Title, atom_kind(start))),
            ("summary", _) => Some((Target::Body, atom_kind(start))),
            // Out-of-line content (`src=`) has no text here.
            ("content", _) if attribute(start, b"src").is_none() => {
                Some((Target::Content, atom_kind(start)))
            }
            ("published", _) => Some((Target::Published, TextKind::Text)),
            ("updated", _) => Some((Target::Updated, TextKind::Text)),
            ("link", _) => {
                if let Some(entry) = self.current.as_mut()
                    && matches!(
                        attribute(start, b"rel").as_deref(),
                        None | Some("alternate")
                    )
                {
                    set_once(&mut entry.link, attribute(start, b"href"));
                }
                None
            }
            ("in-reply-to", _) => {
                if let Some(entry) = self.current.as_mut() {
                    set_once(&mut entry.in_reply_to, attribute(start, b"ref"));
                }
                None
            }
            _ => None,
        }
    }

    fn end(&mut self) {
        let name = self.stack.pop().unwrap_or_default();
        if let Some(capture) = self.capture.as_mut() {
            if self.stack.len() > capture.depth {
                capture.buf.push_str("</");
                capture.buf.push_str(&name);
                capture.buf.push('>');
                return;
            }
            if let Some(done) = self.capture.take() {
                self.finish_capture(done);
            }
            return;
        }
        if let Some(format) = self.format
            && name == entry_element(format)
        {
            self.end_entry();
        }
    }

    fn end_entry(&mut self) {
        if let Some(entry) = self.current.take() {
            self.entries.push(entry);
        }
    }

    fn text(&mut self, text: &str) {
        let Some(capture) = self.capture.as_mut() else {
            return;
        };
        if capture.kind == TextKind::Xhtml {
            capture
                .buf
                .push_str(&text.replace('&', "&amp;").replace('<', "&lt;"));
        } else {
            capture.buf.push_str(text);
        }
    }

    fn reference(&mut self, reference: &BytesRef) {
        if self.capture.is_none() {
            return;
        }
        let name = String::from_utf8_lossy(reference).into_owned();
        let resolved = match reference.resolve_char_ref() {
            Ok(Some(c)) => Some(c.to_string()),
            Ok(None) => resolve_xml_entity(&name).map(str::to_owned),
            Err(_) => None,
        };
        match resolved {
            Some(text) => self.text(&text),
            // Never expanded from a DTD: kept as written (HTML decoding may still know it).
            None => {
                if let Some(capture) = self.capture.as_mut() {
                    capture.buf.push_str(&format!("&{name};"));
                }
            }
        }
    }

    fn finish_capture(&mut self, capture: Capture) {
        let value = match capture.kind {
            TextKind::Html | TextKind::Xhtml => html_to_text(&capture.buf),
            TextKind::Text => normalize_whitespace(&capture.buf),
        };
        let value = Some(value).filter(|value| !value.is_empty());
        let feed = &mut self.feed;
        let Some(entry) = self.current.as_mut() else {
            match capture.target {
                Target::FeedTitle => set_once(&mut feed.title, value),
                Target::FeedLink => set_once(&mut feed.link, value),
                Target::FeedLang => set_once(&mut feed.lang, value),
                Target::FeedAuthorName => set_once(&mut feed.author, value),
                _ => {}
            }
            return;
        };
        match capture.target {
            Target::Title => set_once(&mut entry.title, value),
            Target::Link => set_once(&mut entry.link, value),
            Target::Guid => set_once(&mut entry.guid, value),
            Target::Body => set_once(&mut entry.body, value),
            Target::Content => set_once(&mut entry.content, value),
            Target::AuthorName => set_once(&mut entry.author_name, value),
            Target::AuthorUri => set_once(&mut entry.author_uri, value),
            Target::AuthorEmailForm => {
                let name = value.as_deref().and_then(name_of_email_form);
                set_once(&mut entry.author_name, name);
            }
            Target::Published => set_once(&mut entry.published, value),
            Target::Updated => set_once(&mut entry.updated, value),
            Target::Lang => set_once(&mut entry.lang, value),
            Target::Comments => {
                let count = value.and_then(|count| count.parse().ok());
                set_once(&mut entry.comments, count);
            }
            _ => {}
        }
    }
}

fn entry_element(format: Format) -> &'static str {
    match format {
        Format::Rss => "item",
        Format::Atom => "entry",
    }
}

fn atom_kind(start: &BytesStart) -> TextKind {
    match attribute(start, b"type").as_deref() {
        Some("html" | "text/html") => TextKind::Html,
        Some("xhtml" | "application/xhtml+xml") => TextKind::Xhtml,
        _ => TextKind::Text,
    }
}

/// The value of attribute `name` (qualified, e.g. `xml:lang`), trimmed, if present.
fn attribute(start: &BytesStart, name: &[u8]) -> Option<String> {
    let attribute = start.try_get_attribute(name).ok().flatten()?;
    let value = match attribute.unescape_value() {
        Ok(value) => value.into_owned(),
        Err(_) => String::from_utf8_lossy(&attribute.value).into_owned(),
    };
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn set_once<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// Byte offset → 1-based line number.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        LineIndex { starts }
    }

    fn line_at(&self, offset: u64) -> usize {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        self.starts.partition_point(|&start| start <= offset).max(1)
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
