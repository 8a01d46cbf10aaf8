//! The fixtures embedded in the binary, so `veille demo` runs from any folder: the sample
//! configuration and the recorded streams under `fixtures/posts/`.

use collector::replay::ReplayFile;
use include_dir::{Dir, include_dir};

static POSTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/posts");

/// The commented sample configuration (`fixtures/veille.toml`).
pub const SAMPLE_CONFIG: &str = include_str!("../fixtures/veille.toml");

/// Every recorded stream file, named `<source>/<file>` and sorted by name, as a replay
/// source reads them.
pub fn replay_files() -> Vec<ReplayFile> {
    let mut files = Vec::new();
    for source_dir in POSTS.dirs() {
        for file in source_dir.files() {
            let Some(contents) = file.contents_utf8() else {
                tracing::warn!(file = %file.path().display(), "embedded fixture is not utf-8; skipped");
                continue;
            };
            let name = file.path().to_string_lossy().replace('\\', "/");
            files.push(ReplayFile {
                name,
                contents: contents.to_string(),
            });
        }
    }
    files.sort_by(|left, right| left.name.cmp(&right.name));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_fixtures_hold_x_and_feed_streams() {
        let files = replay_files();
        assert!(
            files
                .iter()
                .any(|file| file.name.starts_with("x/") && file.name.ends_with(".jsonl"))
        );
        assert!(
            files
                .iter()
                .any(|file| file.name.starts_with("feed/") && file.name.ends_with(".xml"))
        );
    }

    #[test]
    fn sample_config_is_valid() {
        let config = crate::config::load_str(SAMPLE_CONFIG, &crate::config::Origin::Embedded);
        assert!(
            config.is_ok(),
            "{}",
            config.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }
}
