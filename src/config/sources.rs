//! The `[[sources]]` section: one entry per source instance, tagged by `kind`.
//!
//! Every network source has a `base-url` that defaults to the real service and may point
//! at any `http://`/`https://` (or `ws://`/`wss://` for streaming sources) address, which
//! tests use to talk to local servers. Credentials are never written in the file: the
//! config names the environment variables that hold them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::network;
pub use super::network::{NetworkSource, SourceParams};

use super::Origin;

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speedup {
    /// Recorded time runs this many times faster.
    Factor(f64),
    /// No pacing: as fast as the pipeline takes them.
    Max,
}

/// Where a replay source reads its recorded files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayFiles {
    /// A folder laid out as `<source>/<file>`.
    Dir(PathBuf),
    /// The fixtures embedded in the binary (`veille demo`).
    Embedded,
}

/// A validated replay source.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySource {
    pub name: String,
    pub files: ReplayFiles,
    pub speedup: Speedup,
    pub loop_forever: bool,
    pub batch_size: usize,
}

/// A validated source entry.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceConfig {
    Replay(ReplaySource),
    /// A live network source; its collector is chosen by its kind.
    Network(NetworkSource),
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Replay(replay) => &replay.name,
            SourceConfig::Network(network) => &network.name,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSpeedup {
    Factor(f64),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(super) enum RawSource {
    Replay(RawReplay),
    X(network::RawX),
    Bluesky(network::RawBluesky),
    Mastodon(network::RawMastodon),
    Reddit(network::RawReddit),
    Discourse(network::RawDiscourse),
    Feed(network::RawFeed),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawReplay {
    name: String,
    dir: String,
    speedup: Option<RawSpeedup>,
    #[serde(default, rename = "loop")]
    loop_forever: bool,
    batch_size: Option<usize>,
}

/// Default replay batch size when running unpaced.
const DEFAULT_REPLAY_BATCH: usize = 256;

pub(super) fn validate(
    raw: Vec<(usize, RawSource)>,
    base_dir: &Path,
    origin: &Origin,
    problems: &mut Vec<String>,
) -> Vec<SourceConfig> {
    let mut names = BTreeSet::new();
    let mut sources = Vec::with_capacity(raw.len());
    for (position, source) in raw {
        let path = format!("sources[{position}]");
        let resolved = match source {
            RawSource::Replay(replay) => validate_replay(replay, &path, base_dir, origin, problems),
            other => network::validate(other, &path, problems).map(SourceConfig::Network),
        };
        let Some(resolved) = resolved else { continue };
        if resolved.name().trim().is_empty() {
            problems.push(format!("{path}.name: must not be empty"));
        } else if !names.insert(resolved.name().to_string()) {
            problems.push(format!(
                "{path}.name: `{}` is defined twice",
                resolved.name()
            ));
        }
        sources.push(resolved);
    }
    sources
}

fn validate_replay(
    replay: RawReplay,
    path: &str,
    base_dir: &Path,
    origin: &Origin,
    problems: &mut Vec<String>,
) -> Option<SourceConfig> {
    let before = problems.len();
    let speedup = match replay.speedup {
        None => Speedup::Max,
        Some(RawSpeedup::Word(word)) if word == "max" => Speedup::Max,
        Some(RawSpeedup::Factor(factor)) if factor.is_finite() && factor > 0.0 => {
            Speedup::Factor(factor)
        }
        Some(_) => {
            problems.push(format!(
                "{path}.speedup: must be a positive number or \"max\""
            ));
            Speedup::Max
        }
    };
    let batch_size = replay.batch_size.unwrap_or(DEFAULT_REPLAY_BATCH);
    if batch_size == 0 {
        problems.push(format!("{path}.batch-size: must be at least 1"));
    }
    let files = match origin {
        Origin::Embedded => ReplayFiles::Embedded,
        Origin::File(_) => {
            let dir = base_dir.join(&replay.dir);
            if !dir.is_dir() {
                problems.push(format!("{path}.dir: `{}` is not a folder", dir.display()));
            }
            ReplayFiles::Dir(dir)
        }
    };
    if problems.len() > before {
        return None;
    }
    Some(SourceConfig::Replay(ReplaySource {
        name: replay.name,
        files,
        speedup,
        loop_forever: replay.loop_forever,
        batch_size,
    }))
}
