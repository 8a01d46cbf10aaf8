//! Author lookups for Jetstream posts: `app.bsky.actor.getProfiles` on the AppView, 25
//! actors a call, cached by DID for a TTL and invalidated by `identity` events.
//!
//! Promises: a failed lookup never holds a post back (its author stays unnamed) and is not
//! cached, so it is tried again with the next batch; the cache is bounded.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Client;
use serde::Deserialize;
use tokio::time::Instant;

use crate::backoff::ResetHeader;
use crate::http;

/// Actors per `getProfiles` call (the AppView's maximum).
const PER_CALL: usize = 25;
/// Profiles kept at most; the cache is cleared when it is full.
const CAPACITY: usize = 50_000;

/// What veille keeps of a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub did: String,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    pub followers_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Profiles {
    #[serde(default)]
    profiles: Vec<Profile>,
}

/// The profile cache.
#[derive(Debug)]
pub(super) struct ProfileCache {
    appview: String,
    ttl: Duration,
    entries: HashMap<String, (Profile, Instant)>,
    /// Calls made (for tests and health).
    pub(super) calls: u64,
}

impl ProfileCache {
    pub(super) fn new(appview: &str, ttl: Duration) -> ProfileCache {
        ProfileCache {
            appview: appview.trim_end_matches('/').to_owned(),
            ttl,
            entries: HashMap::new(),
            calls: 0,
        }
    }

    pub(super) fn invalidate(&mut self, did: &str) {
        self.entries.remove(did);
    }

    /// Profiles of `dids`, looking up those not cached (or expired).
    pub(super) async fn get(
        &mut self,
        source: &str,
        client: &Client,
        dids: &[String],
    ) -> HashMap<String, Profile> {
        let mut missing: Vec<&String> = dids
            .iter()
            .filter(|did| {
                self.entries
                    .get(*did)
                    .is_none_or(|(_, at)| at.elapsed() >= self.ttl)
            })
            .collect();
        missing.sort();
        missing.dedup();
        if self.entries.len() + missing.len() > CAPACITY {
            self.entries.clear();
        }
        for chunk in missing.chunks(PER_CALL) {
            let actors: Vec<(&str, &str)> =
                chunk.iter().map(|did| ("actors", did.as_str())).collect();
            let request = client
                .get(format!("{}/xrpc/app.bsky.actor.getProfiles", self.appview))
                .query(&actors);
            self.calls += 1;
            let answer = match http::send(source, "look up profiles", request, ResetHeader::None)
                .await
            {
                Ok(response) => http::json::<Profiles>(source, "look up profiles", response).await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(found) => {
                    let now = Instant::now();
                    for profile in found.profiles {
                        self.entries.insert(profile.did.clone(), (profile, now));
                    }
                }
                Err(error) => {
                    tracing::debug!(source, %error, "profiles unavailable, posts go on unnamed")
                }
            }
        }
        dids.iter()
            .filter_map(|did| Some((did.clone(), self.entries.get(did)?.0.clone())))
            .collect()
    }
}
