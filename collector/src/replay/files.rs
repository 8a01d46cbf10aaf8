//! Recorded files: loading them from disk, picking the wire format of each, and decoding
//! them into an ordered list of posts plus the failures met on the way.
//!
//! Layout: `<dir>/<source>/<file>`; `x/*.jsonl` is an X API v2 stream body, `feed/*.xml`
//! (also `.rss`, `.atom`) an RSS or Atom document, `bluesky/*.jsonl` Jetstream event lines,
//! `mastodon/*.jsonl` streaming events, `reddit/*.json` a listing, `discourse/<host>.json` a
//! `/posts.json` body. Other files are skipped with a warning.
//!
//! Promises: files are decoded in name order, items in file order; decoding never panics;
//! every malformed item becomes one [`DecodeFailure`] naming its file and line.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{feed, social, x_stream};
use crate::error::CollectError;
use crate::post::Post;

/// One recorded file: its path relative to the replay folder (`x/stream.jsonl`), and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayFile {
    pub name: String,
    pub contents: String,
}

/// The wire format of a recorded file, picked from its folder and extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    XStream,
    Feed,
    Jetstream,
    MastodonStream,
    RedditListing,
    DiscoursePosts,
}

impl FileFormat {
    /// `x/….jsonl` → X stream, `feed/….xml|rss|atom` → feed, anything else → `None`.
    pub fn of(name: &str) -> Option<FileFormat> {
        let (folder, file) = name.split_once('/')?;
        match folder {
            "x" if file.ends_with(".jsonl") => Some(FileFormat::XStream),
            "bluesky" if file.ends_with(".jsonl") => Some(FileFormat::Jetstream),
            "mastodon" if file.ends_with(".jsonl") => Some(FileFormat::MastodonStream),
            "reddit" if file.ends_with(".json") => Some(FileFormat::RedditListing),
            "discourse" if file.ends_with(".json") => Some(FileFormat::DiscoursePosts),
            "feed"
                if [".xml", ".rss", ".atom"]
                    .iter()
                    .any(|ext| file.ends_with(ext)) =>
            {
                Some(FileFormat::Feed)
            }
            _ => None,
        }
    }
}

/// Why one recorded item could not become a post.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid xml: {0}")]
    Xml(String),
    #[error("{0}")]
    Invalid(&'static str),
}

/// A malformed item, where it was.
#[derive(Debug)]
pub struct DecodeFailure {
    pub file: String,
    /// 1-based line where the item (or the XML error) is.
    pub line: usize,
    pub error: DecodeError,
}

/// A decoded post with its stable key (the part of its id after `<source>:`) and origin.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedPost {
    pub key: String,
    /// 1-based line where the item starts.
    pub line: usize,
    pub post: Post,
}

/// What decoding one file produced.
#[derive(Debug, Default)]
pub struct DecodedFile {
    pub posts: Vec<DecodedPost>,
    pub failures: Vec<DecodeFailure>,
    /// X `{"errors":[...]}` notices met (not posts, not failures).
    pub stream_errors: u64,
}

/// Decodes one recorded file, or returns `None` when its format is unknown.
pub fn decode_file(file: &ReplayFile, observed_at: DateTime<Utc>) -> Option<DecodedFile> {
    let decoded = match FileFormat::of(&file.name)? {
        FileFormat::XStream => x_stream::decode_stream(&file.name, &file.contents, observed_at),
        FileFormat::Feed => feed::decode_feed(&file.name, &file.contents, observed_at),
        FileFormat::Jetstream => social::decode_jetstream(&file.name, &file.contents, observed_at),
        FileFormat::MastodonStream => {
            social::decode_mastodon(&file.name, &file.contents, observed_at)
        }
        FileFormat::RedditListing => social::decode_reddit(&file.name, &file.contents, observed_at),
        FileFormat::DiscoursePosts => {
            social::decode_discourse(&file.name, &file.contents, observed_at)
        }
    };
    Some(decoded)
}

/// Reads `<dir>/<source>/<file>` for every source folder, sorted by name. Files directly in
/// `dir` (README, EXPECTED.json...) and deeper folders are ignored. Blocking: call it at
/// startup or from `spawn_blocking`.
pub fn load_dir(dir: &Path) -> Result<Vec<ReplayFile>, CollectError> {
    let io_error = |path: &Path, error: std::io::Error| CollectError::Io {
        source_name: "replay".to_owned(),
        path: path.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for source in std::fs::read_dir(dir).map_err(|error| io_error(dir, error))? {
        let source = source.map_err(|error| io_error(dir, error))?;
        let source_path = source.path();
        if !source_path.is_dir() {
            continue;
        }
        let Some(source_name) = source.file_name().to_str().map(str::to_owned) else {
            tracing::warn!(path = %source_path.display(), "replay folder name is not utf-8, skipped");
            continue;
        };
        let entries =
            std::fs::read_dir(&source_path).map_err(|error| io_error(&source_path, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| io_error(&source_path, error))?;
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::warn!(path = %path.display(), "replay file name is not utf-8, skipped");
                continue;
            };
            let contents =
                std::fs::read_to_string(&path).map_err(|error| io_error(&path, error))?;
            files.push(ReplayFile {
                name: format!("{source_name}/{file_name}"),
                contents,
            });
        }
    }
    files.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_folder_and_extension() {
        assert_eq!(FileFormat::of("x/stream.jsonl"), Some(FileFormat::XStream));
        assert_eq!(FileFormat::of("feed/blog.xml"), Some(FileFormat::Feed));
        assert_eq!(
            FileFormat::of("feed/forum.atom.xml"),
            Some(FileFormat::Feed)
        );
        assert_eq!(FileFormat::of("x/stream.json"), None);
        assert_eq!(
            FileFormat::of("mastodon/public.jsonl"),
            Some(FileFormat::MastodonStream)
        );
        assert_eq!(
            FileFormat::of("bluesky/jetstream.jsonl"),
            Some(FileFormat::Jetstream)
        );
        assert_eq!(
            FileFormat::of("reddit/r-france.json"),
            Some(FileFormat::RedditListing)
        );
        assert_eq!(
            FileFormat::of("discourse/forum.example.json"),
            Some(FileFormat::DiscoursePosts)
        );
        assert_eq!(FileFormat::of("mastodon/public.txt"), None);
        assert_eq!(FileFormat::of("stream.jsonl"), None);
        let unknown = ReplayFile {
            name: "README.md".to_owned(),
            contents: String::new(),
        };
        assert!(decode_file(&unknown, Utc::now()).is_none());
    }

    #[test]
    fn load_dir_reads_one_level_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("x/deeper")).unwrap();
        std::fs::create_dir_all(dir.path().join("feed")).unwrap();
        std::fs::write(dir.path().join("README.md"), "top level").unwrap();
        std::fs::write(dir.path().join("x/b.jsonl"), "b").unwrap();
        std::fs::write(dir.path().join("x/a.jsonl"), "a").unwrap();
        std::fs::write(dir.path().join("x/deeper/c.jsonl"), "c").unwrap();
        std::fs::write(dir.path().join("feed/blog.xml"), "<rss/>").unwrap();
        let names: Vec<String> = load_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|file| file.name)
            .collect();
        assert_eq!(names, ["feed/blog.xml", "x/a.jsonl", "x/b.jsonl"]);
    }

    #[test]
    fn load_dir_on_a_missing_folder_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = load_dir(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(error, CollectError::Io { .. }));
    }
}
