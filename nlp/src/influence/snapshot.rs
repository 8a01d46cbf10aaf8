//! Saving and restoring the tracker's state: a compact binary snapshot (postcard) of each
//! brand's counters, profiles, totals, decay landmark and active-author sketches.
//!
//! The chosen sets are saved with the posts counted since they were chosen, so a restored
//! tracker publishes the same leaderboards and badges the next posts as the saved one
//! would have. What is derived (links between sources, memory accounting) is rebuilt. A snapshot of another format version, or bytes that do not
//! decode, are an [`InfluenceError`]; the caller then starts from an empty tracker.

use serde::{Deserialize, Serialize};

use super::brand::{BrandTracker, ChosenSet};
use super::profile::Profile;
use super::space_saving::{Counter, SpaceSaving};
use super::window::{ActiveAuthors, Decay};

/// Format version of the snapshot; bump when its shape changes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why a snapshot could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum InfluenceError {
    #[error("cannot encode the influence snapshot: {0}")]
    Encode(#[source] postcard::Error),
    #[error("the influence snapshot does not decode (start from an empty tracker): {0}")]
    Decode(#[source] postcard::Error),
    #[error("the influence snapshot has format version {found}, this build reads {expected}")]
    Version { found: u32, expected: u32 },
}

#[derive(Serialize)]
struct SnapshotRef<'state> {
    version: u32,
    brands: Vec<BrandRef<'state>>,
}

#[derive(Serialize)]
struct BrandRef<'state> {
    name: &'state str,
    window_days: u32,
    decay: Decay,
    now: i64,
    total_reach: f64,
    total_expertise: f64,
    connectors: &'state [Counter],
    mavens: &'state [Counter],
    profiles: Vec<(u64, &'state Profile)>,
    active: &'state ActiveAuthors,
    sets: &'state [ChosenSet; 2],
    active_estimate: f64,
    since_refresh: usize,
}

#[derive(Deserialize)]
struct Snapshot {
    version: u32,
    brands: Vec<BrandState>,
}

#[derive(Deserialize)]
struct BrandState {
    name: String,
    window_days: u32,
    decay: Decay,
    now: i64,
    total_reach: f64,
    total_expertise: f64,
    connectors: Vec<Counter>,
    mavens: Vec<Counter>,
    profiles: Vec<(u64, Profile)>,
    active: ActiveAuthors,
    sets: [ChosenSet; 2],
    active_estimate: f64,
    since_refresh: usize,
}

/// Encodes the brands' state.
pub(crate) fn encode(brands: &[BrandTracker]) -> Result<Vec<u8>, InfluenceError> {
    let brands = brands
        .iter()
        .map(|brand| BrandRef {
            name: &brand.name,
            window_days: brand.window_days,
            decay: brand.decay,
            now: brand.now,
            total_reach: brand.total_reach,
            total_expertise: brand.total_expertise,
            connectors: brand.connectors.counters(),
            mavens: brand.mavens.counters(),
            profiles: brand
                .profiles
                .iter()
                .map(|(key, profile)| (*key, profile))
                .collect(),
            active: &brand.active,
            sets: &brand.sets,
            active_estimate: brand.active_estimate,
            since_refresh: brand.since_refresh,
        })
        .collect();
    let snapshot = SnapshotRef {
        version: SNAPSHOT_VERSION,
        brands,
    };
    postcard::to_allocvec(&snapshot).map_err(InfluenceError::Encode)
}

/// Restores into `brands` (fresh trackers of the configured brands) the saved state of the
/// brands of the same name; saved brands no longer configured are left out.
pub(crate) fn restore(brands: &mut [BrandTracker], bytes: &[u8]) -> Result<(), InfluenceError> {
    let snapshot: Snapshot = postcard::from_bytes(bytes).map_err(InfluenceError::Decode)?;
    if snapshot.version != SNAPSHOT_VERSION {
        return Err(InfluenceError::Version {
            found: snapshot.version,
            expected: SNAPSHOT_VERSION,
        });
    }
    for saved in snapshot.brands {
        let Some(brand) = brands.iter_mut().find(|brand| brand.name == saved.name) else {
            tracing::info!(brand = %saved.name, "influence state of a brand no longer configured dropped");
            continue;
        };
        let capacity = brand.connectors.capacity();
        brand.now = saved.now;
        brand.total_reach = saved.total_reach;
        brand.total_expertise = saved.total_expertise;
        // A changed window keeps the counts; the landmark is the saved one.
        brand.decay = Decay::new(brand.decay.window_seconds, saved.decay.landmark);
        brand.connectors = SpaceSaving::from_counters(capacity, saved.connectors);
        brand.mavens = SpaceSaving::from_counters(capacity, saved.mavens);
        if saved.window_days == brand.window_days {
            brand.active = saved.active;
        }
        brand.profiles = saved
            .profiles
            .into_iter()
            .filter(|(key, _)| brand.connectors.contains(*key) || brand.mavens.contains(*key))
            .collect();
        // The sets as they were chosen, and when, so the restored tracker badges the next
        // posts exactly as the saved one would have.
        brand.sets = saved.sets;
        brand.active_estimate = saved.active_estimate;
        brand.since_refresh = saved.since_refresh;
        brand.rebuild();
    }
    Ok(())
}
