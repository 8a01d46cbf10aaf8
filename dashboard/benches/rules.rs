//! Cost of routing rules per post: the sample config's rules plus rules on followers, words
//! and influence badges, evaluated on a small mix of analysed posts.
//!
//! `cargo bench -p dashboard --bench rules` prints the time to evaluate every rule on one
//! post (`all rules / post`) and the time of the costliest single rule (`words`).

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{TimeZone, Utc};
use collector::{Author, Post, PostId, SourceKind};
use criterion::{Criterion, criterion_group, criterion_main};
use dashboard::routing::{Rule, parse};
use nlp::{AnalysedPost, Analysis, BrandMatch, InfluenceBadge, Sentiment, SentimentLabel};

const RULES: [&str; 7] = [
    "sentiment = negative and topic in [outage, billing]",
    "sentiment = negative and not topic in [outage, billing]",
    "sentiment = positive",
    "topic = cancellation",
    "sentiment = positive and followers >= 10_000",
    "words in [refund, scam, \"no signal\", résiliation] and brand = lumio",
    "badge = connector or (badge = maven and sentiment != positive)",
];

fn post(
    number: u64,
    text: &str,
    label: SentimentLabel,
    topic: &str,
    badge: Option<&str>,
) -> AnalysedPost {
    let time = Utc
        .timestamp_opt(1_750_000_000, 0)
        .single()
        .expect("valid time");
    let mut categories = BTreeMap::new();
    categories.insert("topic".to_owned(), vec![topic.to_owned()]);
    AnalysedPost {
        post: Post {
            id: PostId::from_raw(format!("x:{number}")),
            source: SourceKind::X,
            url: None,
            text: text.to_owned(),
            lang: Some("en".to_owned()),
            created_at: time,
            observed_at: time,
            author: Author {
                id: number.to_string(),
                followers: Some(number * 1_000),
                ..Author::default()
            },
            relation: Default::default(),
            engagement: Default::default(),
            change: Default::default(),
        },
        analysis: Analysis {
            language: "en".to_owned(),
            brands: vec![BrandMatch {
                brand: "Lumio".to_owned(),
                matched: "lumio".to_owned(),
            }],
            categories,
            sentiment: Sentiment { label, score: 0.5 },
            intents: Vec::new(),
            privacy: Default::default(),
            influence: badge
                .map(|kind| InfluenceBadge {
                    kind: kind.to_owned(),
                    brand: "Lumio".to_owned(),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
        },
    }
}

fn posts() -> Vec<AnalysedPost> {
    vec![
        post(
            1,
            "Is anyone else's Lumio fibre down in Manchester? Router lights all red since 8:45 and no internet at all. #lumiofail",
            SentimentLabel::Negative,
            "outage",
            None,
        ),
        post(
            2,
            "Lumio billed me twice this month, I want a refund now or I cancel",
            SentimentLabel::Negative,
            "billing",
            Some("maven"),
        ),
        post(
            3,
            "Honestly the new Lumio fibre box is fantastic, 900 Mb/s all evening",
            SentimentLabel::Positive,
            "support",
            Some("connector"),
        ),
        post(
            4,
            "Lumio annonce une nouvelle offre fibre pour les entreprises à partir de janvier, avec une installation gratuite et un débit symétrique.",
            SentimentLabel::Neutral,
            "cancellation",
            None,
        ),
    ]
}

fn bench(criterion: &mut Criterion) {
    let rules: Vec<Rule> = RULES
        .iter()
        .map(|rule| parse(rule).expect("valid rule"))
        .collect();
    let posts = posts();
    criterion.bench_function("all rules / post", |bencher| {
        let mut next = 0;
        bencher.iter(|| {
            let post = &posts[next % posts.len()];
            next += 1;
            rules
                .iter()
                .filter(|rule| rule.matches(black_box(post)))
                .count()
        });
    });
    let words = &rules[5];
    criterion.bench_function("words rule / post", |bencher| {
        let mut next = 0;
        bencher.iter(|| {
            let post = &posts[next % posts.len()];
            next += 1;
            words.matches(black_box(post))
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
