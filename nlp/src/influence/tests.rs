//! Tests of the whole tracker: exact sets on small populations, the laws of the scores and
//! sets (property tests), time decay, links across sources, and snapshots.

use collector::SourceKind;
use proptest::prelude::*;

use super::*;

const BRAND: &str = "Lumio";
const DAY: i64 = 86_400;
const START: i64 = 1_750_000_000;

struct Post {
    source: SourceKind,
    author: String,
    handle: Option<String>,
    profile_url: Option<String>,
    followers: Option<u64>,
    trust_level: Option<u8>,
    at: i64,
}

fn post(author: &str, followers: u64) -> Post {
    Post {
        source: SourceKind::X,
        author: author.to_owned(),
        handle: None,
        profile_url: None,
        followers: Some(followers),
        trust_level: None,
        at: START,
    }
}

impl Post {
    fn observation(&self) -> Observation<'_> {
        Observation {
            source: self.source,
            author_id: &self.author,
            handle: self.handle.as_deref(),
            name: None,
            profile_url: self.profile_url.as_deref(),
            followers: self.followers,
            engagement: 0,
            trust_level: self.trust_level,
            forum_posts: None,
            blog_author: false,
            text_chars: 40,
            answering: false,
            at: self.at,
        }
    }
}

fn tracker(capacity_budget: usize) -> InfluenceTracker {
    let config = InfluenceConfig {
        memory_budget: capacity_budget * BYTES_PER_SLOT,
        ..InfluenceConfig::default()
    };
    InfluenceTracker::new(config, [BRAND])
}

fn feed(tracker: &mut InfluenceTracker, posts: &[Post]) -> Vec<Vec<InfluenceBadge>> {
    posts
        .iter()
        .map(|post| tracker.observe(&post.observation(), &[BRAND]))
        .collect()
}

fn member_names(tracker: &InfluenceTracker, kind: InfluenceKind, names: &[&str]) -> Vec<String> {
    let members = tracker.members(BRAND, kind);
    let mut found: Vec<String> = names
        .iter()
        .filter(|name| members.contains(&profile::author_key(SourceKind::X, name)))
        .map(|name| (*name).to_owned())
        .collect();
    found.sort();
    found
}

/// a: 1000 followers × 3 posts, b: 100 × 2, c: 10 × 5 (forum trust level 4), d: 0 × 1.
fn small_population() -> Vec<Post> {
    let mut posts = Vec::new();
    for _ in 0..3 {
        posts.push(post("a", 1_000));
    }
    for _ in 0..2 {
        posts.push(post("b", 100));
    }
    for _ in 0..5 {
        posts.push(Post {
            trust_level: Some(4),
            ..post("c", 10)
        });
    }
    posts.push(post("d", 0));
    posts
}

#[test]
fn exact_sets_on_a_small_population() {
    let mut tracker = tracker(100);
    let badges = feed(&mut tracker, &small_population());
    tracker.refresh();
    let names = ["a", "b", "c", "d"];
    // Impressions: a 3000, b 200, c 50, d 0; 80 % of 3250 is 2600: a alone.
    assert_eq!(
        member_names(&tracker, InfluenceKind::Connector, &names),
        ["a"]
    );
    // Expert posts: c 5 × 2 = 10, a 3, b 2, d 1; 80 % of 16 is 12.8: c and a.
    assert_eq!(
        member_names(&tracker, InfluenceKind::Maven, &names),
        ["a", "c"]
    );

    let last_of_c = &badges[9];
    assert_eq!(last_of_c.len(), 1, "{last_of_c:?}");
    assert_eq!(last_of_c[0].kind, "maven");
    assert_eq!(last_of_c[0].rank, 1);
    assert_eq!(last_of_c[0].brand, BRAND);
    assert!(badges[10].is_empty(), "d is neither");

    let boards = tracker.leaderboards();
    let brand = boards.brand("lumio").expect("configured brand");
    assert_eq!(brand.active_authors, 4);
    assert_eq!(brand.connectors.members, 1);
    assert!((brand.connectors.share_of_authors - 0.25).abs() < 1e-9);
    assert!((brand.connectors.covered - 3_000.0 / 3_250.0).abs() < 1e-9);
    let leader = &brand.connectors.leaders[0];
    assert_eq!((leader.author.as_str(), leader.rank), ("a", 1));
    assert_eq!(
        leader.explanation,
        "top 25% (#1 of ~4 authors) by impressions: 1.0k followers × 3 posts in 30 days \
         ≈ 3.0k impressions"
    );
    let mavens: Vec<&str> = brand
        .mavens
        .leaders
        .iter()
        .map(|l| l.author.as_str())
        .collect();
    assert_eq!(mavens, ["c", "a"]);
    assert_eq!(
        brand.mavens.leaders[0].explanation,
        "top 25% (#1 of ~4 authors) by expert posts: 5 posts in 30 days, weighing 10 \
         (forum trust level 4)"
    );
}

#[test]
fn old_posts_fade_with_the_window() {
    let mut tracker = tracker(100);
    let old = Post {
        at: START - 60 * DAY,
        ..post("old", 1_000)
    };
    let new = post("new", 100);
    feed(&mut tracker, &[old, new]);
    let old_score = tracker.score(
        BRAND,
        InfluenceKind::Connector,
        &post("old", 0).observation(),
    );
    let expected = 1_000.0 * (-2.0f64).exp();
    assert!((old_score - expected).abs() < 1e-6, "{old_score}");
    tracker.refresh();
    assert_eq!(
        member_names(&tracker, InfluenceKind::Connector, &["old", "new"]),
        ["new", "old"],
        "135 of 235 decayed impressions is less than 80 %"
    );
}

#[test]
fn a_profile_url_links_an_author_across_sources() {
    let mut tracker = tracker(100);
    let on_x = Post {
        handle: Some("tom".to_owned()),
        ..post("4400", 50_000)
    };
    let on_blog = Post {
        source: SourceKind::Feed,
        profile_url: Some("https://x.com/Tom".to_owned()),
        followers: None,
        ..post("Tom's blog", 0)
    };
    let stranger = Post {
        source: SourceKind::Feed,
        followers: None,
        ..post("someone", 0)
    };
    feed(&mut tracker, &[on_x, on_blog, stranger]);
    tracker.refresh();
    let boards = tracker.leaderboards();
    let mavens = &boards.brands[0].mavens;
    assert_eq!(mavens.leaders[0].author, "@tom");
    assert!(
        (mavens.leaders[0].posts - 2.0).abs() < 1e-9,
        "both posts count for @tom"
    );
}

/// An analysed post by `author` (X id) naming the brand `matches` times.
fn analysed(author: &str, followers: u64, at: i64, matches: usize) -> crate::AnalysedPost {
    use crate::analysis::{AnalysedPost, Analysis, BrandMatch, Sentiment, SentimentLabel};
    let author = collector::Author {
        id: author.to_owned(),
        followers: Some(followers),
        ..collector::Author::default()
    };
    let at = chrono::DateTime::from_timestamp(at, 0).expect("valid time");
    AnalysedPost {
        post: collector::Post {
            id: collector::PostId::from_raw("x:1"),
            source: SourceKind::X,
            url: None,
            text: "Lumio is down".to_owned(),
            lang: None,
            created_at: at,
            observed_at: at,
            author,
            relation: collector::Relation::Original,
            engagement: collector::Engagement::default(),
            change: Change::New,
        },
        analysis: Analysis {
            language: "en".to_owned(),
            brands: vec![
                BrandMatch {
                    brand: BRAND.to_owned(),
                    matched: "lumio".to_owned(),
                };
                matches
            ],
            categories: Default::default(),
            sentiment: Sentiment {
                label: SentimentLabel::Negative,
                score: -0.5,
            },
            intents: Vec::new(),
            privacy: Default::default(),
            influence: Vec::new(),
        },
    }
}

#[test]
fn edits_are_not_counted_twice_but_keep_their_badges() {
    let mut tracker = tracker(100);
    let mut analysed = analysed("9", 5_000, START, 2);
    tracker.assign(&mut analysed);
    let kinds: Vec<&str> = analysed
        .analysis
        .influence
        .iter()
        .map(|b| b.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["connector", "maven"],
        "one author: both sets, once per brand"
    );
    analysed.post.change = Change::Edit;
    tracker.assign(&mut analysed);
    assert_eq!(analysed.analysis.influence.len(), 2);
    let boards = tracker.leaderboards();
    assert!((boards.brands[0].connectors.leaders[0].posts - 1.0).abs() < 1e-9);
}

#[test]
fn a_restored_tracker_publishes_the_same_leaderboards() {
    let mut tracker = tracker(3);
    let mut posts = small_population();
    posts.extend((0..40).map(|n| post(&format!("tail-{n}"), n)));
    feed(&mut tracker, &posts);
    tracker.refresh();
    let bytes = tracker.snapshot().expect("encodes");
    let restored =
        InfluenceTracker::restore(*tracker.config(), [BRAND, "Other"], &bytes).expect("decodes");
    assert_eq!(
        restored.leaderboards().brands[0],
        tracker.leaderboards().brands[0]
    );
    assert_eq!(restored.leaderboards().brands.len(), 2);
    // The restored tracker goes on exactly as the saved one would have.
    let mut saved = tracker.clone();
    let mut restored = restored;
    for round in 0..20u64 {
        let next = post(&format!("late-{}", round % 4), round * 50);
        let expected = saved.observe(&next.observation(), &[BRAND]);
        assert_eq!(restored.observe(&next.observation(), &[BRAND]), expected);
    }
    assert_eq!(
        restored.leaderboards().brands[0],
        saved.leaderboards().brands[0]
    );
    assert!(InfluenceTracker::restore(*tracker.config(), [BRAND], &bytes[..9]).is_err());
}

#[test]
fn memory_stays_within_the_budget() {
    let budget = 2_000;
    let mut tracker = tracker(budget);
    assert_eq!(tracker.capacity(), budget);
    for round in 0..30_000u64 {
        let author = format!("author-{}", round % 7_919 * 31 % 10_007);
        let mut one = post(&author, round % 1_000);
        one.handle = Some(author.clone());
        one.at = START + round as i64;
        tracker.observe(&one.observation(), &[BRAND]);
    }
    let used = tracker.memory_bytes();
    assert!(used <= budget * BYTES_PER_SLOT, "{used} bytes");
}

/// A stream of (author, followers, trust level) over few authors, so they repeat.
fn stream() -> impl Strategy<Value = Vec<(u8, u64, Option<u8>)>> {
    prop::collection::vec((0u8..12, 0u64..100_000, prop::option::of(0u8..5)), 1..60)
}

fn to_posts(stream: &[(u8, u64, Option<u8>)]) -> Vec<Post> {
    stream
        .iter()
        .enumerate()
        .map(|(position, (author, followers, trust_level))| Post {
            trust_level: *trust_level,
            at: START + position as i64 * 3_600,
            ..post(&format!("a{author}"), *followers)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn badging_then_counting_ends_where_assign_does(
        stream in stream(),
        edits in prop::collection::vec(any::<bool>(), 60),
    ) {
        let mut whole = tracker(8);
        let mut split = tracker(8);
        for (position, (author, followers, _)) in stream.iter().enumerate() {
            let at = START + position as i64 * 3_600;
            let mut post = analysed(&format!("a{author}"), *followers, at, 1 + position % 2);
            if edits[position] {
                post.post.change = Change::Edit;
            }
            let mut early = post.clone();
            split.assign_uncounted(&mut early);
            prop_assert_eq!(
                &early.analysis.influence,
                &whole.badges(&Observation::of(&post.post), &[BRAND]),
                "the badges held before the post is counted"
            );
            split.count_post(&early);
            whole.assign(&mut post);
        }
        prop_assert_eq!(split.snapshot().expect("encodes"), whole.snapshot().expect("encodes"));
    }

    #[test]
    fn more_followers_never_lowers_a_connector_score(
        stream in stream(),
        chosen in 0u8..12,
        extra in 0u64..1_000_000,
    ) {
        let posts = to_posts(&stream);
        let mut more = to_posts(&stream);
        for (one, original) in more.iter_mut().zip(&stream) {
            if original.0 == chosen {
                one.followers = one.followers.map(|followers| followers + extra);
            }
        }
        let mut base = tracker(100);
        let mut boosted = tracker(100);
        feed(&mut base, &posts);
        feed(&mut boosted, &more);
        let author = post(&format!("a{chosen}"), 0);
        let before = base.score(BRAND, InfluenceKind::Connector, &author.observation());
        let after = boosted.score(BRAND, InfluenceKind::Connector, &author.observation());
        prop_assert!(after >= before * (1.0 - 1e-12), "{after} < {before}");
    }

    #[test]
    fn the_chosen_set_covers_the_share_and_is_smallest(
        stream in stream(),
        share in 0.05f64..=1.0,
    ) {
        let config = InfluenceConfig {
            share,
            memory_budget: 100 * BYTES_PER_SLOT,
            ..InfluenceConfig::default()
        };
        let mut tracker = InfluenceTracker::new(config, [BRAND]);
        let posts = to_posts(&stream);
        feed(&mut tracker, &posts);
        tracker.refresh();
        let authors: Vec<Post> = (0..12).map(|n| post(&format!("a{n}"), 0)).collect();
        for kind in InfluenceKind::ALL {
            let members = tracker.members(BRAND, kind);
            let scores: Vec<(bool, f64)> = authors
                .iter()
                .map(|author| {
                    let key = profile::author_key(SourceKind::X, &author.author);
                    let score = tracker.score(BRAND, kind, &author.observation());
                    (members.contains(&key), score)
                })
                .collect();
            let total: f64 = scores.iter().map(|(_, score)| score).sum();
            let covered: f64 = scores.iter().filter(|(member, _)| *member).map(|(_, s)| s).sum();
            prop_assert!(covered >= share * total * (1.0 - 1e-9), "{kind:?}: {covered} of {total}");
            let smallest_member = scores
                .iter()
                .filter(|(member, _)| *member)
                .map(|(_, score)| *score)
                .fold(f64::INFINITY, f64::min);
            // Authors tied with the last member are all members; without them the share
            // is not reached.
            let above: f64 = scores
                .iter()
                .filter(|(member, score)| *member && *score > smallest_member)
                .map(|(_, score)| score)
                .sum();
            if total > 0.0 {
                prop_assert!(above < share * total, "{kind:?}: a smaller set would do");
            }
        }
    }

    #[test]
    fn a_bounded_tracker_still_covers_the_share_by_its_counters(
        stream in stream(),
        capacity in 2usize..6,
    ) {
        let mut tracker = tracker(capacity);
        feed(&mut tracker, &to_posts(&stream));
        tracker.refresh();
        let boards = tracker.leaderboards();
        for kind in InfluenceKind::ALL {
            let board = boards.brands[0].board(kind);
            prop_assert!(board.complete, "counters always sum to the total");
            prop_assert!(board.covered >= 0.8 * (1.0 - 1e-9), "{kind:?}: {}", board.covered);
        }
    }
}
