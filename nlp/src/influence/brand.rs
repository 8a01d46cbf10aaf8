//! [`BrandTracker`]: the influence state of one brand: two Space-Saving summaries (reach and
//! expertise) over decayed weights, the exact profiles of their candidates, the links
//! between sources, the count of active authors, and the two chosen sets.
//!
//! Every brand-relevant post updates both summaries in `O(log capacity)`. The sets are
//! chosen again ([`BrandTracker::refresh`]) once as many posts as there are candidates have
//! arrived since the last choice (so the sorting cost stays `O(log capacity)` a post); in
//! between, an author is a member when its counter reaches the last member's at the last
//! choice. A profile is kept exactly while its author holds a counter in either summary,
//! and dropped with its links when it holds none.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::explain::{self, Figures, Standing};
use super::leaderboard::{BrandLeaderboard, InfluenceKind, KindBoard, Leader};
use super::profile::{
    Observation, Profile, author_key, expertise_weight, identities, reach_weight,
};
use super::selection::{smallest_covering, sort_descending};
use super::space_saving::SpaceSaving;
use super::window::{ActiveAuthors, Decay};

/// Leaders kept per set for the leaderboards.
pub(crate) const LEADERS: usize = 20;

/// The set of one kind as last chosen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChosenSet {
    /// Counter of the last member (stored units); `f64::INFINITY` when the set is empty.
    pub(crate) cutoff: f64,
    /// Members' counters, largest first (for ranks).
    pub(crate) scores: Vec<f64>,
    /// Keys of the first [`LEADERS`] members.
    pub(crate) leaders: Vec<u64>,
    /// Share of the total the set makes.
    pub(crate) covered: f64,
    pub(crate) complete: bool,
}

impl ChosenSet {
    fn empty() -> ChosenSet {
        ChosenSet {
            cutoff: f64::INFINITY,
            complete: true,
            ..ChosenSet::default()
        }
    }

    /// 1-based rank of a counter in the set, if it is a member.
    fn rank(&self, count: f64) -> Option<u64> {
        if self.scores.is_empty() || count < self.cutoff {
            return None;
        }
        let above = self.scores.partition_point(|&score| score > count);
        Some(above as u64 + 1)
    }
}

/// A badge earned by one post: kind, rank, score and explanation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Earned {
    pub(crate) kind: InfluenceKind,
    pub(crate) rank: u64,
    pub(crate) score: f64,
    pub(crate) explanation: String,
}

/// The influence state of one brand.
#[derive(Debug, Clone)]
pub(crate) struct BrandTracker {
    pub(crate) name: String,
    pub(crate) decay: Decay,
    /// Latest post time seen (Unix seconds).
    pub(crate) now: i64,
    /// Stored totals of every post's weights.
    pub(crate) total_reach: f64,
    pub(crate) total_expertise: f64,
    pub(crate) connectors: SpaceSaving,
    pub(crate) mavens: SpaceSaving,
    pub(crate) profiles: FxHashMap<u64, Profile>,
    /// Identity (handle or profile URL) → key of the candidate it names.
    links: FxHashMap<u64, u64>,
    pub(crate) active: ActiveAuthors,
    pub(crate) window_days: u32,
    /// Share of the total each set must make, in `(0, 1]`.
    pub(crate) share: f64,
    profile_text_bytes: usize,
    pub(crate) sets: [ChosenSet; 2],
    /// Active authors, estimated when the sets were chosen.
    pub(crate) active_estimate: f64,
    /// Posts since the sets were chosen.
    pub(crate) since_refresh: usize,
}

impl BrandTracker {
    pub(crate) fn new(name: String, capacity: usize, window_days: u32, share: f64) -> BrandTracker {
        let window_seconds = f64::from(window_days.max(1)) * 86_400.0;
        BrandTracker {
            name,
            decay: Decay::new(window_seconds, 0),
            now: 0,
            total_reach: 0.0,
            total_expertise: 0.0,
            connectors: SpaceSaving::new(capacity),
            mavens: SpaceSaving::new(capacity),
            profiles: FxHashMap::default(),
            links: FxHashMap::default(),
            active: ActiveAuthors::new(window_days),
            window_days: window_days.max(1),
            share,
            profile_text_bytes: 0,
            sets: [ChosenSet::empty(), ChosenSet::empty()],
            active_estimate: 0.0,
            since_refresh: 0,
        }
    }

    /// Rebuilds the derived state (links, text bytes) after a restore.
    pub(crate) fn rebuild(&mut self) {
        self.links.clear();
        self.profile_text_bytes = 0;
        let keys: Vec<u64> = self.profiles.keys().copied().collect();
        for key in keys {
            if let Some(profile) = self.profiles.get(&key) {
                self.profile_text_bytes += profile.heap_bytes();
                for identity in profile.identities().into_iter().flatten() {
                    self.links.insert(identity, key);
                }
            }
        }
    }

    /// The key this observation counts under: the author's own, or the candidate a handle or
    /// profile URL links it to.
    fn resolve(&self, observation: &Observation<'_>) -> u64 {
        let key = author_key(observation.source, observation.author_id);
        if self.links.is_empty() || self.profiles.contains_key(&key) {
            return key;
        }
        let linked = identities(
            observation.source,
            observation.handle,
            observation.profile_url,
        );
        linked
            .into_iter()
            .flatten()
            .find_map(|identity| self.links.get(&identity).copied())
            .unwrap_or(key)
    }

    /// Counts one post about this brand and returns the badges its author holds.
    pub(crate) fn observe(&mut self, observation: &Observation<'_>) -> Vec<Earned> {
        let key = self.count(observation);
        InfluenceKind::ALL
            .into_iter()
            .filter_map(|kind| self.badge(key, kind))
            .collect()
    }

    /// Counts one post about this brand (the hot path: no text is built) and returns the
    /// key it counted under.
    pub(crate) fn count(&mut self, observation: &Observation<'_>) -> u64 {
        let at = observation.at;
        if self.decay.needs_rescale(at) {
            self.rescale(at);
        }
        self.now = self.now.max(at);
        let unit = self.decay.stored(at);
        let reach = reach_weight(observation) * unit;
        let expertise = expertise_weight(observation) * unit;
        self.total_reach += reach;
        self.total_expertise += expertise;
        let key = self.resolve(observation);
        self.active.insert(key, at);

        if reach > 0.0
            && let Some(evicted) = self.connectors.add(key, reach).evicted
            && !self.mavens.contains(evicted)
        {
            self.forget(evicted);
        }
        if let Some(evicted) = self.mavens.add(key, expertise).evicted
            && !self.connectors.contains(evicted)
        {
            self.forget(evicted);
        }
        self.record(key, observation, unit);

        self.since_refresh += 1;
        if self.since_refresh >= self.connectors.len().max(self.mavens.len()) {
            self.refresh();
        }
        key
    }

    /// Whether the author of `key` is in the set of `kind`.
    pub(crate) fn holds(&self, key: u64, kind: InfluenceKind) -> bool {
        self.summary(kind)
            .get(key)
            .is_some_and(|counter| self.set(kind).rank(counter.count).is_some())
    }

    /// The badges the author of this observation holds, without counting it.
    pub(crate) fn badges_of(&self, observation: &Observation<'_>) -> Vec<Earned> {
        let key = self.resolve(observation);
        InfluenceKind::ALL
            .into_iter()
            .filter_map(|kind| self.badge(key, kind))
            .collect()
    }

    fn record(&mut self, key: u64, observation: &Observation<'_>, unit: f64) {
        let is_new = !self.profiles.contains_key(&key);
        let profile = self
            .profiles
            .entry(key)
            .or_insert_with(|| Profile::new(observation));
        let before = if is_new { 0 } else { profile.heap_bytes() };
        let old_identities = if is_new {
            [None, None]
        } else {
            profile.identities_if(observation)
        };
        let identity_changed = profile.record(observation, unit);
        self.profile_text_bytes = self.profile_text_bytes + profile.heap_bytes() - before;
        if is_new || identity_changed {
            let new_identities = profile.identities();
            for identity in old_identities.into_iter().flatten() {
                if self.links.get(&identity) == Some(&key) {
                    self.links.remove(&identity);
                }
            }
            for identity in new_identities.into_iter().flatten() {
                self.links.insert(identity, key);
            }
        }
    }

    /// Drops the profile and links of an author who holds no counter any more.
    fn forget(&mut self, key: u64) {
        let Some(profile) = self.profiles.remove(&key) else {
            return;
        };
        self.profile_text_bytes -= profile.heap_bytes();
        for identity in profile.identities().into_iter().flatten() {
            if self.links.get(&identity) == Some(&key) {
                self.links.remove(&identity);
            }
        }
    }

    fn rescale(&mut self, now: i64) {
        let factor = self.decay.rescale_factor(now);
        self.connectors.scale(factor);
        self.mavens.scale(factor);
        for profile in self.profiles.values_mut() {
            profile.scale(factor);
        }
        self.total_reach *= factor;
        self.total_expertise *= factor;
        for set in &mut self.sets {
            set.cutoff *= factor;
            set.scores.iter_mut().for_each(|score| *score *= factor);
        }
        self.decay.move_landmark(now);
    }

    fn summary(&self, kind: InfluenceKind) -> &SpaceSaving {
        match kind {
            InfluenceKind::Connector => &self.connectors,
            InfluenceKind::Maven => &self.mavens,
        }
    }

    fn total(&self, kind: InfluenceKind) -> f64 {
        match kind {
            InfluenceKind::Connector => self.total_reach,
            InfluenceKind::Maven => self.total_expertise,
        }
    }

    pub(crate) fn set(&self, kind: InfluenceKind) -> &ChosenSet {
        &self.sets[kind as usize]
    }

    /// Chooses both sets again from the current counters.
    pub(crate) fn refresh(&mut self) {
        let share = self.share;
        for kind in InfluenceKind::ALL {
            let summary = self.summary(kind);
            let mut entries: Vec<(f64, u64)> = summary
                .counters()
                .iter()
                .map(|counter| (counter.count, counter.key))
                .collect();
            sort_descending(&mut entries);
            let scores: Vec<f64> = entries.iter().map(|(score, _)| *score).collect();
            let total = self.total(kind);
            let selection = smallest_covering(&scores, total, share);
            let mut members = scores;
            members.truncate(selection.members);
            members.shrink_to_fit();
            let set = ChosenSet {
                cutoff: members.last().copied().unwrap_or(f64::INFINITY),
                leaders: entries
                    .iter()
                    .take(selection.members.min(LEADERS))
                    .map(|(_, key)| *key)
                    .collect(),
                scores: members,
                covered: if total > 0.0 {
                    selection.covered / total
                } else {
                    0.0
                },
                complete: selection.complete,
            };
            self.sets[kind as usize] = set;
        }
        self.active_estimate = self.active.estimate(self.now).round();
        self.since_refresh = 0;
    }

    fn figures(&self, profile: &Profile) -> Figures {
        let value = |stored: f64| self.decay.value_at(stored, self.now);
        Figures {
            posts: value(profile.posts_stored),
            impressions: value(profile.impressions_stored),
            engagement: value(profile.engagement_stored),
            expert_posts: value(profile.expertise_stored),
        }
    }

    fn standing(&self, rank: u64) -> Standing {
        Standing {
            rank,
            active_authors: self.active_estimate,
            window_days: self.window_days,
        }
    }

    fn badge(&self, key: u64, kind: InfluenceKind) -> Option<Earned> {
        let count = self.summary(kind).get(key)?.count;
        let rank = self.set(kind).rank(count)?;
        let profile = self.profiles.get(&key)?;
        let figures = self.figures(profile);
        let standing = self.standing(rank);
        let explanation = match kind {
            InfluenceKind::Connector => explain::connector(profile, &figures, &standing),
            InfluenceKind::Maven => explain::maven(profile, &figures, &standing),
        };
        Some(Earned {
            kind,
            rank,
            score: self.decay.value_at(count, self.now),
            explanation,
        })
    }

    /// The leaderboard of this brand as of the last choice of the sets.
    pub(crate) fn leaderboard(&self) -> BrandLeaderboard {
        let active = self.active_estimate;
        let board = |kind: InfluenceKind| {
            let set = self.set(kind);
            let leaders = set
                .leaders
                .iter()
                .filter_map(|&key| self.leader(key, kind))
                .collect();
            let members = set.scores.len() as u64;
            KindBoard {
                members,
                share_of_authors: if active > 0.0 {
                    (members as f64 / active).min(1.0)
                } else {
                    0.0
                },
                covered: set.covered,
                complete: set.complete,
                leaders,
            }
        };
        BrandLeaderboard {
            brand: self.name.clone(),
            active_authors: active.round() as u64,
            connectors: board(InfluenceKind::Connector),
            mavens: board(InfluenceKind::Maven),
        }
    }

    fn leader(&self, key: u64, kind: InfluenceKind) -> Option<Leader> {
        let badge = self.badge(key, kind)?;
        let profile = self.profiles.get(&key)?;
        let figures = self.figures(profile);
        Some(Leader {
            rank: badge.rank,
            author: profile.display_name(),
            source: profile.source,
            author_id: profile.id.to_string(),
            profile_url: profile.profile_url.as_deref().map(str::to_owned),
            followers: profile.followers,
            posts: figures.posts,
            impressions: figures.impressions,
            expert_posts: figures.expert_posts,
            score: badge.score,
            last_seen: profile.last_seen,
            explanation: badge.explanation,
        })
    }

    /// The decayed counter of the author of `observation`, 0 when it holds none.
    pub(crate) fn score(&self, observation: &Observation<'_>, kind: InfluenceKind) -> f64 {
        let key = self.resolve(observation);
        self.summary(kind)
            .get(key)
            .map_or(0.0, |counter| self.decay.value_at(counter.count, self.now))
    }

    /// Keys of every member of a set (for measurements).
    pub(crate) fn member_keys(&self, kind: InfluenceKind) -> Vec<u64> {
        let cutoff = self.set(kind).cutoff;
        let mut keys: Vec<u64> = self
            .summary(kind)
            .counters()
            .iter()
            .filter(|counter| counter.count >= cutoff)
            .map(|counter| counter.key)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Bytes this brand's state holds.
    pub(crate) fn memory_bytes(&self) -> usize {
        let profile_entry = std::mem::size_of::<(u64, Profile)>() + 1;
        let link_entry = std::mem::size_of::<(u64, u64)>() + 1;
        let sets: usize = self
            .sets
            .iter()
            .map(|set| set.scores.capacity() * 8 + set.leaders.capacity() * 8)
            .sum();
        std::mem::size_of::<BrandTracker>()
            + self.connectors.memory_bytes()
            + self.mavens.memory_bytes()
            + self.profiles.capacity() * profile_entry
            + self.profile_text_bytes
            + self.links.capacity() * link_entry
            + self.active.memory_bytes()
            + sets
    }
}
