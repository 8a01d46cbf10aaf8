//! [`Leaderboards`]: what the tracker publishes for people: per brand, the leading mass
//! connectors and mass mavens with their figures and explanation, and the size of each set.
//! Plain data (serde), cheap to share, and what `GET /api/influencers` answers.

use collector::SourceKind;
use serde::{Deserialize, Serialize};

/// The two kinds of influential authors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InfluenceKind {
    /// Huge reach: among the fewest authors who make the configured share of impressions.
    Connector,
    /// Expertise: among the fewest authors who make that share of expert-weighted posts.
    Maven,
}

impl InfluenceKind {
    pub const ALL: [InfluenceKind; 2] = [InfluenceKind::Connector, InfluenceKind::Maven];

    pub fn as_str(self) -> &'static str {
        match self {
            InfluenceKind::Connector => "connector",
            InfluenceKind::Maven => "maven",
        }
    }

    pub fn parse(name: &str) -> Option<InfluenceKind> {
        InfluenceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }
}

/// One leading author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leader {
    /// 1 for the first.
    pub rank: u64,
    /// `@handle`, else the name, else the id.
    pub author: String,
    pub source: SourceKind,
    pub author_id: String,
    pub profile_url: Option<String>,
    pub followers: u64,
    /// Posts about the brand in the window (decayed).
    pub posts: f64,
    /// Estimated impressions in the window (decayed).
    pub impressions: f64,
    /// Expert-weighted posts in the window (decayed).
    pub expert_posts: f64,
    /// The score the set is chosen on (impressions or expert posts), as the tracker's
    /// summary counts it.
    pub score: f64,
    /// Unix seconds of the last post seen.
    pub last_seen: i64,
    pub explanation: String,
}

/// One kind of set for one brand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindBoard {
    /// Authors in the set.
    pub members: u64,
    /// `members` over the authors active in the window (Forrester: 6.3 % of users are mass
    /// connectors, 13.8 % mass mavens).
    pub share_of_authors: f64,
    /// Share of the total the set makes (at least the configured share when `complete`).
    pub covered: f64,
    /// False when the tracker's candidates together make less than the configured share.
    pub complete: bool,
    /// The leading members, best first.
    pub leaders: Vec<Leader>,
}

/// Both sets of one brand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrandLeaderboard {
    pub brand: String,
    /// Distinct authors active in the window (estimated).
    pub active_authors: u64,
    pub connectors: KindBoard,
    pub mavens: KindBoard,
}

impl BrandLeaderboard {
    pub fn board(&self, kind: InfluenceKind) -> &KindBoard {
        match kind {
            InfluenceKind::Connector => &self.connectors,
            InfluenceKind::Maven => &self.mavens,
        }
    }
}

/// Every brand's leaderboards, as of `updated_at`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Leaderboards {
    /// Unix seconds of the latest post the tracker saw (0 before any).
    pub updated_at: i64,
    /// Configured share and window, for the page's captions.
    pub share: f64,
    pub window_days: u32,
    pub brands: Vec<BrandLeaderboard>,
}

impl Leaderboards {
    /// The leaderboard of `brand` (names compare ignoring ASCII case).
    pub fn brand(&self, brand: &str) -> Option<&BrandLeaderboard> {
        self.brands
            .iter()
            .find(|board| board.brand.eq_ignore_ascii_case(brand))
    }
}
