//! Influence: finds each brand's **mass connectors** (the fewest authors who together make
//! the configured share, 80 % by default, of the impressions of posts about the brand) and
//! **mass mavens** (the fewest who make that share of the brand-relevant posts, weighted by
//! expertise), live, and says why each author is one.
//!
//! In: analysed posts, in stream order ([`InfluenceTracker::assign`], or its two halves
//! [`InfluenceTracker::assign_uncounted`] and [`InfluenceTracker::count_post`] while the
//! tracker is shared read-only for a snapshot). Out: the post's [`InfluenceBadge`]s (per
//! brand and kind, with rank, score and explanation), and [`Leaderboards`] of the leading
//! members of each set.
//!
//! The tracker is stateful and must run once (one task owns it). Promises:
//! * **bounded memory**: per brand, two Space-Saving summaries ([`space_saving`]) of a
//!   capacity derived from the memory budget, exact [`profile::Profile`]s only for the
//!   authors holding a counter, and fixed-size sketches of the active authors; the long
//!   tail is only counted in the totals. [`InfluenceTracker::memory_bytes`] accounts for
//!   it; the capacity is sized so that it stays within the budget;
//! * **sliding window**: weights decay exponentially with the window as time constant
//!   ([`window`]), driven by post times, never the wall clock, so a replay gives the same
//!   result;
//! * **explained**: every badge and leader names its figures ([`explain`]);
//! * **exact when it fits**: while a brand has fewer distinct authors than the capacity,
//!   counters are exact and each set is exactly the smallest one covering the share
//!   ([`selection`]);
//! * **survives restarts**: [`InfluenceTracker::snapshot`] / [`InfluenceTracker::restore`]
//!   ([`snapshot`]).
//!
//! Authors are keyed by source and id, and linked across sources only when a handle or a
//! profile URL says so ([`profile::identities`]). An edited post is not counted again.

mod brand;
pub mod explain;
pub mod leaderboard;
pub mod profile;
pub mod selection;
pub mod snapshot;
pub mod space_saving;
pub mod window;

#[cfg(test)]
mod tests;

use collector::Change;

use crate::analysis::{AnalysedPost, InfluenceBadge};
use brand::{BrandTracker, Earned};
pub use leaderboard::{BrandLeaderboard, InfluenceKind, KindBoard, Leader, Leaderboards};
pub use profile::Observation;
pub use snapshot::InfluenceError;

/// The brands `post` names, each once (a post naming a brand twice counts once), in the
/// order of their first match.
fn distinct_brands(post: &AnalysedPost) -> impl Iterator<Item = &str> + '_ {
    let brands = &post.analysis.brands;
    brands
        .iter()
        .enumerate()
        .filter_map(move |(position, matched)| {
            let first = !brands[..position]
                .iter()
                .any(|earlier| earlier.brand == matched.brand);
            first.then_some(matched.brand.as_str())
        })
}

/// Estimated bytes per counter slot of a brand (a counter in each summary, up to two
/// profiles with their texts and links, growth slack of the hash tables); the capacity is
/// the budget over this. `veille bench influence` checks the estimate.
pub const BYTES_PER_SLOT: usize = 1_100;

/// Fewest counters per summary, whatever the budget.
const MIN_CAPACITY: usize = 16;

/// The tracker's settings (`[influence]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InfluenceConfig {
    /// Share of the total each set must make, in `(0, 1]` (default 0.8).
    pub share: f64,
    /// Length of the sliding window, in days (default 30).
    pub window_days: u32,
    /// Memory the tracker may use, in bytes (default 256 MiB).
    pub memory_budget: usize,
}

impl Default for InfluenceConfig {
    fn default() -> Self {
        InfluenceConfig {
            share: 0.8,
            window_days: 30,
            memory_budget: 256 * 1024 * 1024,
        }
    }
}

impl InfluenceConfig {
    /// Counters per summary for each of `brands` brands.
    pub fn capacity(&self, brands: usize) -> usize {
        (self.memory_budget / brands.max(1) / BYTES_PER_SLOT).max(MIN_CAPACITY)
    }
}

/// Mass connectors and mass mavens of every configured brand.
#[derive(Debug, Clone)]
pub struct InfluenceTracker {
    config: InfluenceConfig,
    brands: Vec<BrandTracker>,
}

impl InfluenceTracker {
    /// An empty tracker for the brands called `brands` (the configured names).
    pub fn new<Name: Into<String>>(
        config: InfluenceConfig,
        brands: impl IntoIterator<Item = Name>,
    ) -> InfluenceTracker {
        let names: Vec<String> = brands.into_iter().map(Into::into).collect();
        let capacity = config.capacity(names.len());
        let share = config.share.clamp(f64::MIN_POSITIVE, 1.0);
        let brands = names
            .into_iter()
            .map(|name| BrandTracker::new(name, capacity, config.window_days, share))
            .collect();
        InfluenceTracker { config, brands }
    }

    /// A tracker with the state saved by [`InfluenceTracker::snapshot`], for the brands
    /// configured now.
    pub fn restore<Name: Into<String>>(
        config: InfluenceConfig,
        brands: impl IntoIterator<Item = Name>,
        bytes: &[u8],
    ) -> Result<InfluenceTracker, InfluenceError> {
        let mut tracker = InfluenceTracker::new(config, brands);
        snapshot::restore(&mut tracker.brands, bytes)?;
        Ok(tracker)
    }

    /// The state, as bytes for [`InfluenceTracker::restore`].
    pub fn snapshot(&self) -> Result<Vec<u8>, InfluenceError> {
        snapshot::encode(&self.brands)
    }

    pub fn config(&self) -> &InfluenceConfig {
        &self.config
    }

    /// Counters per summary, per brand.
    pub fn capacity(&self) -> usize {
        self.brands
            .first()
            .map_or(0, |brand| brand.connectors.capacity())
    }

    /// Counts an analysed post (unless it is an edit of a post already counted) and sets its
    /// badges: one per brand of the post for which its author is a mass connector or maven.
    pub fn assign(&mut self, post: &mut AnalysedPost) {
        let observation = Observation::of(&post.post);
        let count_it = post.post.change != Change::Edit;
        let mut badges = Vec::new();
        for brand_name in distinct_brands(post) {
            let Some(brand) = self.brands.iter_mut().find(|b| b.name == brand_name) else {
                continue;
            };
            let earned = if count_it {
                brand.observe(&observation)
            } else {
                brand.badges_of(&observation)
            };
            badges.extend(earned.into_iter().map(|earned| badge(brand_name, earned)));
        }
        post.analysis.influence = badges;
    }

    /// [`InfluenceTracker::assign`] in two steps, for when the tracker is shared read-only
    /// for a while (while a snapshot is encoded): sets the badges the author holds before
    /// this post is counted, without counting it; [`InfluenceTracker::count_post`] counts it
    /// later. The badges differ from `assign`'s only when this very post would move its
    /// author into or out of a set, or change their rank.
    pub fn assign_uncounted(&self, post: &mut AnalysedPost) {
        let observation = Observation::of(&post.post);
        let mut badges = Vec::new();
        for brand_name in distinct_brands(post) {
            if let Some(brand) = self.brands.iter().find(|b| b.name == brand_name) {
                let earned = brand.badges_of(&observation);
                badges.extend(earned.into_iter().map(|earned| badge(brand_name, earned)));
            }
        }
        post.analysis.influence = badges;
    }

    /// Counts an analysed post as [`InfluenceTracker::assign`] would (edits are not counted),
    /// leaving its badges as they are.
    pub fn count_post(&mut self, post: &AnalysedPost) {
        if post.post.change == Change::Edit {
            return;
        }
        let observation = Observation::of(&post.post);
        for brand_name in distinct_brands(post) {
            if let Some(brand) = self.brands.iter_mut().find(|b| b.name == brand_name) {
                brand.count(&observation);
            }
        }
    }

    /// Counts one post about `brands` and returns its author's badges (the hot path,
    /// without building an [`AnalysedPost`]).
    pub fn observe(
        &mut self,
        observation: &Observation<'_>,
        brands: &[&str],
    ) -> Vec<InfluenceBadge> {
        let mut badges = Vec::new();
        for brand in &mut self.brands {
            if brands.contains(&brand.name.as_str()) {
                let earned = brand.observe(observation);
                let name = brand.name.as_str();
                badges.extend(earned.into_iter().map(|earned| badge(name, earned)));
            }
        }
        badges
    }

    /// Counts one post about `brands` and returns how many badges its author holds: the
    /// hot path, which builds no text (badges with explanations: [`InfluenceTracker::observe`]
    /// or [`InfluenceTracker::badges`]).
    pub fn count(&mut self, observation: &Observation<'_>, brands: &[&str]) -> usize {
        let mut held = 0;
        for brand in &mut self.brands {
            if brands.contains(&brand.name.as_str()) {
                let key = brand.count(observation);
                held += InfluenceKind::ALL
                    .into_iter()
                    .filter(|&kind| brand.holds(key, kind))
                    .count();
            }
        }
        held
    }

    /// The badges, with their explanations, that the author of `observation` holds for
    /// `brands` now, without counting the post.
    pub fn badges(&self, observation: &Observation<'_>, brands: &[&str]) -> Vec<InfluenceBadge> {
        let mut badges = Vec::new();
        for brand in &self.brands {
            if brands.contains(&brand.name.as_str()) {
                let name = brand.name.as_str();
                let earned = brand.badges_of(observation);
                badges.extend(earned.into_iter().map(|earned| badge(name, earned)));
            }
        }
        badges
    }

    /// Chooses every set again now (it is otherwise done as posts arrive).
    pub fn refresh(&mut self) {
        for brand in &mut self.brands {
            brand.refresh();
        }
    }

    /// Every brand's leaderboards, as of the last choice of the sets.
    pub fn leaderboards(&self) -> Leaderboards {
        Leaderboards {
            updated_at: self.brands.iter().map(|brand| brand.now).max().unwrap_or(0),
            share: self.config.share,
            window_days: self.config.window_days,
            brands: self.brands.iter().map(BrandTracker::leaderboard).collect(),
        }
    }

    /// Author keys ([`profile::author_key`]) of every member of a brand's set, sorted.
    pub fn members(&self, brand: &str, kind: InfluenceKind) -> Vec<u64> {
        self.brands
            .iter()
            .find(|tracked| tracked.name == brand)
            .map(|tracked| tracked.member_keys(kind))
            .unwrap_or_default()
    }

    /// The counter of an author in a brand's summary (decayed to the brand's latest post
    /// time); 0 when the author holds none.
    pub fn score(&self, brand: &str, kind: InfluenceKind, observation: &Observation<'_>) -> f64 {
        self.brands
            .iter()
            .find(|tracked| tracked.name == brand)
            .map_or(0.0, |tracked| tracked.score(observation, kind))
    }

    /// Bytes the tracker holds, by its own accounting.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<InfluenceTracker>()
            + self
                .brands
                .iter()
                .map(BrandTracker::memory_bytes)
                .sum::<usize>()
    }
}

fn badge(brand: &str, earned: Earned) -> InfluenceBadge {
    InfluenceBadge {
        kind: earned.kind.as_str().to_owned(),
        explanation: earned.explanation,
        brand: brand.to_owned(),
        rank: earned.rank,
        score: earned.score.round() as u64,
    }
}
