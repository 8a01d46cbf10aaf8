//! Builds the live collector of each configured network source: credentials read from the
//! environment variables the config names, X stream rules and brand terms derived from the
//! brands. One explicit `match` over the kinds.

use std::sync::Arc;

use anyhow::Context;
use collector::bluesky::{BlueskyConfig, Jetstream};
use collector::discourse::{DiscourseConfig, DiscoursePoller};
use collector::feed::{FeedConfig, FeedPoller};
use collector::mastodon::{MastodonConfig, MastodonStreaming};
use collector::reddit::{RedditConfig, RedditPoller};
use collector::runner::run_source;
use collector::x::{XConfig, XRule, XStream};
use collector::{Batch, Checkpoint, CollectError, Secret, Source, SourceStats};
use futures::future::BoxFuture;
use nlp::Brand;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{NetworkSource, SourceParams};

/// The running loop of a built collector, ready to spawn.
pub(super) type SourceRun = BoxFuture<'static, Result<(), CollectError>>;

/// Builds the collector of `source` and returns its run loop.
pub(super) fn build(
    source: &NetworkSource,
    brands: &[Brand],
    resume: Option<&Checkpoint>,
    stats: &Arc<SourceStats>,
    out: mpsc::Sender<Batch>,
    stop: CancellationToken,
) -> anyhow::Result<SourceRun> {
    let name = source.name.clone();
    let secret = |variable: &str| {
        Secret::from_env(&name, variable).with_context(|| format!("cannot start source `{name}`"))
    };
    let user_agent = source
        .user_agent
        .clone()
        .unwrap_or_else(|| collector::http::DEFAULT_USER_AGENT.to_owned());
    let stats = Arc::clone(stats);
    let context = || format!("cannot start source `{name}`");
    let run = match &source.params {
        SourceParams::X {
            bearer_token_env,
            idle_timeout,
        } => {
            let config = XConfig {
                name: name.clone(),
                base_url: source.base_url.clone(),
                token: secret(bearer_token_env)?,
                rules: x_rules(brands),
                idle_timeout: *idle_timeout,
                user_agent,
            };
            boxed(
                XStream::new(config, resume, Arc::clone(&stats)).with_context(context)?,
                out,
                stop,
                stats,
            )
        }
        SourceParams::Bluesky {
            appview_url,
            rewind,
        } => {
            let mut config =
                BlueskyConfig::new(&name, &source.base_url, appview_url, brand_terms(brands));
            config.rewind = *rewind;
            config.user_agent = user_agent;
            boxed(
                Jetstream::new(config, resume, Arc::clone(&stats)).with_context(context)?,
                out,
                stop,
                stats,
            )
        }
        SourceParams::Mastodon {
            token_env,
            streaming_url,
            streams,
        } => {
            let config = MastodonConfig {
                name: name.clone(),
                base_url: source.base_url.clone(),
                streaming_url: streaming_url.clone(),
                token: secret(token_env)?,
                streams: streams.clone(),
                keywords: brand_terms(brands),
                ping_interval: std::time::Duration::from_secs(30),
                user_agent,
            };
            boxed(
                MastodonStreaming::new(config, resume, Arc::clone(&stats)).with_context(context)?,
                out,
                stop,
                stats,
            )
        }
        SourceParams::Reddit {
            auth_url,
            client_id_env,
            client_secret_env,
            subreddits,
            queries,
            poll,
        } => {
            let config = RedditConfig {
                name: name.clone(),
                base_url: source.base_url.clone(),
                auth_url: auth_url.clone(),
                client_id: secret(client_id_env)?,
                client_secret: secret(client_secret_env)?,
                subreddits: subreddits.clone(),
                queries: queries.clone(),
                interval: *poll,
                user_agent,
            };
            boxed(
                RedditPoller::new(config, resume, Arc::clone(&stats)).with_context(context)?,
                out,
                stop,
                stats,
            )
        }
        SourceParams::Discourse {
            api_key_env,
            api_username,
            poll,
        } => {
            let api_key = match api_key_env {
                Some(variable) => Some((secret(variable)?, api_username.clone())),
                None => None,
            };
            let config = DiscourseConfig {
                name: name.clone(),
                base_url: source.base_url.clone(),
                api_key,
                interval: *poll,
                user_agent,
            };
            boxed(
                DiscoursePoller::new(config, resume, Arc::clone(&stats)).with_context(context)?,
                out,
                stop,
                stats,
            )
        }
        SourceParams::Feed { urls, poll } => {
            let config = FeedConfig {
                name: name.clone(),
                urls: urls.clone(),
                interval: *poll,
                user_agent,
            };
            boxed(
                FeedPoller::new(config, resume, Arc::clone(&stats)).with_context(context)?,
                out,
                stop,
                stats,
            )
        }
    };
    Ok(run)
}

fn boxed<S: Source>(
    source: S,
    out: mpsc::Sender<Batch>,
    stop: CancellationToken,
    stats: Arc<SourceStats>,
) -> SourceRun {
    Box::pin(run_source(source, out, stop, stats))
}

/// One X stream rule per brand: its aliases (quoted when they hold a space), handles and
/// hashtags joined by `OR`, minus its exclusions, tagged `brand:<name>`.
pub(super) fn x_rules(brands: &[Brand]) -> Vec<XRule> {
    brands
        .iter()
        .map(|brand| {
            let terms: Vec<String> = brand
                .aliases
                .iter()
                .map(|alias| quoted(alias))
                .chain(brand.handles.iter().cloned())
                .chain(brand.hashtags.iter().cloned())
                .collect();
            let mut value = format!("({})", terms.join(" OR "));
            for exclusion in &brand.exclusions {
                value.push_str(&format!(" -{}", quoted(exclusion)));
            }
            XRule {
                value,
                tag: format!("brand:{}", brand.name),
            }
        })
        .collect()
}

fn quoted(term: &str) -> String {
    if term.contains(char::is_whitespace) {
        format!("\"{}\"", term.replace('"', ""))
    } else {
        term.to_owned()
    }
}

/// Every alias, handle and hashtag of every brand, for sources matched on our side.
pub(super) fn brand_terms(brands: &[Brand]) -> Vec<String> {
    brands
        .iter()
        .flat_map(|brand| {
            brand
                .aliases
                .iter()
                .chain(&brand.handles)
                .chain(&brand.hashtags)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brand_becomes_one_tagged_rule() {
        let brand = Brand {
            name: "Lumio".to_owned(),
            aliases: vec!["lumio".to_owned(), "lumio fibre".to_owned()],
            handles: vec!["@lumio".to_owned()],
            hashtags: vec!["#lumiofail".to_owned()],
            exclusions: vec!["lumio lamp".to_owned()],
            context: Vec::new(),
            context_window: 0,
        };
        let rules = x_rules(std::slice::from_ref(&brand));
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].value,
            "(lumio OR \"lumio fibre\" OR @lumio OR #lumiofail) -\"lumio lamp\""
        );
        assert_eq!(rules[0].tag, "brand:Lumio");
        assert_eq!(
            brand_terms(&[brand]),
            ["lumio", "lumio fibre", "@lumio", "#lumiofail"]
        );
    }
}
