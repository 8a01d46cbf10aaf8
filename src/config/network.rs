//! Network sources in `[[sources]]`: X, Bluesky, Mastodon, Reddit, Discourse, feeds.
//!
//! Each kind has a `base-url` that defaults to the real service and may point at any
//! `http(s)://` address (`ws(s)://` for Bluesky), which tests use to reach local servers.
//! Credentials are never in the file: keys ending in `-env` name the environment variables
//! that hold them; the variables are read when the source starts, never logged.

use std::time::Duration;

use collector::SourceKind;
use collector::mastodon::MastodonStream;
use serde::Deserialize;

use super::sources::RawSource;

/// A validated network source.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSource {
    pub name: String,
    pub base_url: String,
    /// User-Agent sent with every request; a descriptive default when absent.
    pub user_agent: Option<String>,
    pub params: SourceParams,
}

/// What each kind needs beyond a name and a base URL.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceParams {
    /// Stream rules are derived from the brands.
    X {
        bearer_token_env: String,
        idle_timeout: Duration,
    },
    /// Posts are matched against the brands' terms on our side.
    Bluesky {
        appview_url: String,
        rewind: Duration,
    },
    Mastodon {
        token_env: String,
        streaming_url: Option<String>,
        streams: Vec<MastodonStream>,
    },
    Reddit {
        auth_url: String,
        client_id_env: String,
        client_secret_env: String,
        subreddits: Vec<String>,
        queries: Vec<String>,
        poll: Duration,
    },
    Discourse {
        api_key_env: Option<String>,
        api_username: String,
        poll: Duration,
    },
    /// `base-url` is the first feed; `urls` adds more.
    Feed { urls: Vec<String>, poll: Duration },
}

impl NetworkSource {
    pub fn kind(&self) -> SourceKind {
        match self.params {
            SourceParams::X { .. } => SourceKind::X,
            SourceParams::Bluesky { .. } => SourceKind::Bluesky,
            SourceParams::Mastodon { .. } => SourceKind::Mastodon,
            SourceParams::Reddit { .. } => SourceKind::Reddit,
            SourceParams::Discourse { .. } => SourceKind::Discourse,
            SourceParams::Feed { .. } => SourceKind::Feed,
        }
    }

    /// Names of the environment variables holding this source's credentials.
    pub fn credential_vars(&self) -> Vec<&str> {
        match &self.params {
            SourceParams::X {
                bearer_token_env, ..
            } => vec![bearer_token_env],
            SourceParams::Mastodon { token_env, .. } => vec![token_env],
            SourceParams::Reddit {
                client_id_env,
                client_secret_env,
                ..
            } => vec![client_id_env, client_secret_env],
            SourceParams::Discourse { api_key_env, .. } => {
                api_key_env.iter().map(String::as_str).collect()
            }
            SourceParams::Bluesky { .. } | SourceParams::Feed { .. } => Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawX {
    name: String,
    base_url: Option<String>,
    bearer_token_env: String,
    user_agent: Option<String>,
    idle_timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawBluesky {
    name: String,
    base_url: Option<String>,
    appview_url: Option<String>,
    user_agent: Option<String>,
    rewind_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawMastodon {
    name: String,
    base_url: String,
    streaming_url: Option<String>,
    token_env: String,
    user_agent: Option<String>,
    #[serde(default)]
    streams: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawReddit {
    name: String,
    base_url: Option<String>,
    auth_url: Option<String>,
    client_id_env: String,
    client_secret_env: String,
    user_agent: Option<String>,
    #[serde(default)]
    subreddits: Vec<String>,
    #[serde(default)]
    queries: Vec<String>,
    poll_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawDiscourse {
    name: String,
    base_url: String,
    api_key_env: Option<String>,
    api_username: Option<String>,
    user_agent: Option<String>,
    poll_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawFeed {
    name: String,
    base_url: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
    user_agent: Option<String>,
    poll_secs: Option<u64>,
}

const HTTP: &[&str] = &["http", "https"];
const WS: &[&str] = &["ws", "wss"];

/// Validates a network source entry (`path` is its key path in problems).
pub(super) fn validate(
    raw: RawSource,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<NetworkSource> {
    let before = problems.len();
    let mut check = Checker { path, problems };
    let source = match raw {
        RawSource::Replay(_) => return None,
        RawSource::X(x) => NetworkSource {
            base_url: check.url("base-url", x.base_url, "https://api.x.com", HTTP),
            params: SourceParams::X {
                bearer_token_env: check.var(x.bearer_token_env),
                idle_timeout: check.seconds("idle-timeout-secs", x.idle_timeout_secs, 30),
            },
            name: x.name,
            user_agent: x.user_agent,
        },
        RawSource::Bluesky(bluesky) => NetworkSource {
            base_url: check.url(
                "base-url",
                bluesky.base_url,
                "wss://jetstream2.us-east.bsky.network",
                WS,
            ),
            params: SourceParams::Bluesky {
                appview_url: check.url(
                    "appview-url",
                    bluesky.appview_url,
                    "https://public.api.bsky.app",
                    HTTP,
                ),
                rewind: check.seconds("rewind-secs", bluesky.rewind_secs, 5),
            },
            name: bluesky.name,
            user_agent: bluesky.user_agent,
        },
        RawSource::Mastodon(mastodon) => {
            if mastodon.streams.is_empty() {
                check.problem("streams: list at least one stream");
            }
            let mut streams = Vec::new();
            for spec in &mastodon.streams {
                match MastodonStream::parse(spec) {
                    Some(stream) => streams.push(stream),
                    None => check.problem(&format!("streams: `{spec}` is not `public`, `public:local`, `hashtag:NAME` or `list:ID`")),
                }
            }
            let streaming_url = mastodon
                .streaming_url
                .map(|url| check.url("streaming-url", Some(url), "", WS));
            NetworkSource {
                base_url: check.url("base-url", Some(mastodon.base_url), "", HTTP),
                params: SourceParams::Mastodon {
                    token_env: check.var(mastodon.token_env),
                    streaming_url,
                    streams,
                },
                name: mastodon.name,
                user_agent: mastodon.user_agent,
            }
        }
        RawSource::Reddit(reddit) => {
            if reddit.subreddits.is_empty() && reddit.queries.is_empty() {
                check.problem("subreddits: list at least one subreddit or query");
            }
            match &reddit.user_agent {
                Some(agent) if agent.contains("/u/") => {}
                _ => check.problem(
                    "user-agent: Reddit needs `<platform>:<app id>:<version> (by /u/<username>)`",
                ),
            }
            NetworkSource {
                base_url: check.url(
                    "base-url",
                    reddit.base_url,
                    "https://oauth.reddit.com",
                    HTTP,
                ),
                params: SourceParams::Reddit {
                    auth_url: check.url(
                        "auth-url",
                        reddit.auth_url,
                        "https://www.reddit.com",
                        HTTP,
                    ),
                    client_id_env: check.var(reddit.client_id_env),
                    client_secret_env: check.var(reddit.client_secret_env),
                    subreddits: reddit.subreddits,
                    queries: reddit.queries,
                    poll: check.seconds("poll-secs", reddit.poll_secs, 60),
                },
                name: reddit.name,
                user_agent: reddit.user_agent,
            }
        }
        RawSource::Discourse(discourse) => {
            if discourse.api_key_env.is_some() && discourse.api_username.is_none() {
                check.problem("api-username: needed with api-key-env");
            }
            NetworkSource {
                base_url: check.url("base-url", Some(discourse.base_url), "", HTTP),
                params: SourceParams::Discourse {
                    api_key_env: discourse.api_key_env.map(|var| check.var(var)),
                    api_username: discourse
                        .api_username
                        .unwrap_or_else(|| "system".to_owned()),
                    poll: check.seconds("poll-secs", discourse.poll_secs, 60),
                },
                name: discourse.name,
                user_agent: discourse.user_agent,
            }
        }
        RawSource::Feed(feed) => {
            let mut urls: Vec<String> = feed.base_url.into_iter().chain(feed.urls).collect();
            if urls.is_empty() {
                check.problem("urls: give `base-url` or `urls`");
            }
            urls = urls
                .into_iter()
                .map(|url| check.url("urls", Some(url), "", HTTP))
                .collect();
            NetworkSource {
                base_url: urls.first().cloned().unwrap_or_default(),
                params: SourceParams::Feed {
                    urls,
                    poll: check.seconds("poll-secs", feed.poll_secs, 900),
                },
                name: feed.name,
                user_agent: feed.user_agent,
            }
        }
    };
    (problems.len() == before).then_some(source)
}

struct Checker<'a> {
    path: &'a str,
    problems: &'a mut Vec<String>,
}

impl Checker<'_> {
    fn problem(&mut self, text: &str) {
        self.problems.push(format!("{}.{text}", self.path));
    }

    fn url(&mut self, key: &str, value: Option<String>, default: &str, schemes: &[&str]) -> String {
        let url = value.unwrap_or_else(|| default.to_owned());
        let valid = matches!(url.split_once("://"), Some((scheme, rest)) if schemes.contains(&scheme) && !rest.is_empty());
        if !valid {
            let allowed: Vec<String> = schemes
                .iter()
                .map(|scheme| format!("{scheme}://"))
                .collect();
            self.problem(&format!(
                "{key}: `{url}` must start with {}",
                allowed.join(" or ")
            ));
        }
        url.trim_end_matches('/').to_owned()
    }

    fn var(&mut self, variable: String) -> String {
        let valid = !variable.is_empty()
            && variable
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.problems.push(format!(
                "{}: `{variable}` is not an environment variable name (credentials are read from the environment, never written in the file)",
                self.path
            ));
        }
        variable
    }

    fn seconds(&mut self, key: &str, value: Option<u64>, default: u64) -> Duration {
        let seconds = value.unwrap_or(default);
        if seconds == 0 {
            self.problem(&format!("{key}: must be at least 1"));
        }
        Duration::from_secs(seconds.max(1))
    }
}
