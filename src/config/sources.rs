//! The `[[sources]]` section: one entry per source instance, tagged by `kind`.
//!
//! Every network source has a `base-url` that defaults to the real service and may point
//! at any `http://`/`https://` (or `ws://`/`wss://` for streaming sources) address, which
//! tests use to talk to local servers. Credentials are never written in the file: the
//! config names the environment variables that hold them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use collector::SourceKind;
use serde::Deserialize;

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
    /// A live network source; its collector is chosen by `kind`.
    Network {
        name: String,
        kind: SourceKind,
        base_url: String,
        /// Names of the environment variables holding its credentials.
        credential_vars: Vec<String>,
    },
}

impl SourceConfig {
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Replay(replay) => &replay.name,
            SourceConfig::Network { name, .. } => name,
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
    X(RawX),
    Bluesky(RawBluesky),
    Mastodon(RawMastodon),
    Reddit(RawReddit),
    Discourse(RawDiscourse),
    Feed(RawFeed),
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawX {
    name: String,
    base_url: Option<String>,
    bearer_token_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawBluesky {
    name: String,
    base_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawMastodon {
    name: String,
    base_url: String,
    token_env: String,
    #[serde(default)]
    streams: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawReddit {
    name: String,
    base_url: Option<String>,
    client_id_env: String,
    client_secret_env: String,
    #[serde(default)]
    subreddits: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawDiscourse {
    name: String,
    base_url: String,
    api_key_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawFeed {
    name: String,
    base_url: String,
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
            RawSource::X(x) => network(
                x.name,
                SourceKind::X,
                x.base_url,
                "https://api.x.com",
                &["http", "https"],
                vec![x.bearer_token_env],
                &path,
                problems,
            ),
            RawSource::Bluesky(bluesky) => network(
                bluesky.name,
                SourceKind::Bluesky,
                bluesky.base_url,
                "wss://jetstream2.us-east.bsky.network",
                &["ws", "wss"],
                Vec::new(),
                &path,
                problems,
            ),
            RawSource::Mastodon(mastodon) => {
                if mastodon.streams.is_empty() {
                    problems.push(format!("{path}.streams: list at least one stream"));
                }
                network(
                    mastodon.name,
                    SourceKind::Mastodon,
                    Some(mastodon.base_url),
                    "",
                    &["http", "https"],
                    vec![mastodon.token_env],
                    &path,
                    problems,
                )
            }
            RawSource::Reddit(reddit) => {
                if reddit.subreddits.is_empty() {
                    problems.push(format!("{path}.subreddits: list at least one subreddit"));
                }
                network(
                    reddit.name,
                    SourceKind::Reddit,
                    reddit.base_url,
                    "https://oauth.reddit.com",
                    &["http", "https"],
                    vec![reddit.client_id_env, reddit.client_secret_env],
                    &path,
                    problems,
                )
            }
            RawSource::Discourse(discourse) => network(
                discourse.name,
                SourceKind::Discourse,
                Some(discourse.base_url),
                "",
                &["http", "https"],
                discourse.api_key_env.into_iter().collect(),
                &path,
                problems,
            ),
            RawSource::Feed(feed) => network(
                feed.name,
                SourceKind::Feed,
                Some(feed.base_url),
                "",
                &["http", "https"],
                Vec::new(),
                &path,
                problems,
            ),
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

/// Checks a network source's base URL and credential variable names.
#[allow(clippy::too_many_arguments)]
fn network(
    name: String,
    kind: SourceKind,
    base_url: Option<String>,
    default_url: &str,
    schemes: &[&str],
    credential_vars: Vec<String>,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<SourceConfig> {
    let base_url = base_url.unwrap_or_else(|| default_url.to_string());
    match base_url.split_once("://") {
        Some((scheme, rest)) if schemes.contains(&scheme) && !rest.is_empty() => {}
        _ => {
            let allowed: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
            problems.push(format!(
                "{path}.base-url: `{base_url}` must start with {}",
                allowed.join(" or ")
            ));
            return None;
        }
    }
    for variable in &credential_vars {
        let valid = !variable.is_empty()
            && variable
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.push(format!(
                "{path}: `{variable}` is not an environment variable name (credentials are read from the environment, never written in the file)"
            ));
        }
    }
    Some(SourceConfig::Network {
        name,
        kind,
        base_url,
        credential_vars,
    })
}
