//! Tests of [`SearchIndex`]: words, phrases, accent folding, filters, facets, sorting,
//! paging and bad queries, over an in-memory index.

use chrono::{TimeDelta, TimeZone};
use collector::SourceKind;
use nlp::{BrandMatch, SentimentLabel};

use super::*;
use crate::schema::tests::analysed;
use crate::writer::{CommitTrigger, PostWriter};
use tantivy::collector::Count;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// Four posts, created one hour apart in this order.
fn sample_posts() -> Vec<AnalysedPost> {
    let mut posts = vec![
        analysed(
            "1",
            "Impossible de joindre le service client, Résiliation en cours !",
            SentimentLabel::Negative,
            &[("topic", "billing"), ("topic", "support"), ("team", "care")],
        ),
        analysed(
            "2",
            "Super nouvelle box, le débit est top",
            SentimentLabel::Positive,
            &[("topic", "product"), ("team", "marketing")],
        ),
        analysed(
            "3",
            "Network outage again in Paris, nothing works",
            SentimentLabel::Negative,
            &[("topic", "outage"), ("team", "care")],
        ),
        analysed(
            "4",
            "Le service client a été au top, merci",
            SentimentLabel::Positive,
            &[("topic", "support"), ("team", "care")],
        ),
    ];
    posts[2].post.source = SourceKind::X;
    posts[2].post.id = collector::PostId::new(SourceKind::X, "3");
    posts[2].analysis.language = "en".into();
    posts[2].analysis.brands.push(BrandMatch {
        brand: "Other Net".into(),
        matched: "othernet".into(),
    });
    posts[0].analysis.brands.push(BrandMatch {
        brand: "Acme Telecom".into(),
        matched: "#acme".into(),
    });
    posts[3].post.author.handle = Some("@marc".into());
    posts[3].post.author.name = Some("Marc".into());
    for (hour, post) in posts.iter_mut().enumerate() {
        let hour = i64::try_from(hour).expect("small");
        post.post.created_at = base_time() + TimeDelta::hours(hour);
    }
    posts
}

fn sample_index() -> (PostWriter, SearchIndex) {
    let (mut writer, search) = PostWriter::open_in_ram().expect("opens");
    for post in sample_posts() {
        writer.add(&post).expect("add");
    }
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    (writer, search)
}

fn text(text: &str) -> SearchQuery {
    SearchQuery {
        text: Some(text.to_string()),
        ..SearchQuery::default()
    }
}

fn sorted_ids(results: &SearchResults) -> Vec<String> {
    let mut ids: Vec<String> = results.hits.iter().map(|hit| hit.id.clone()).collect();
    ids.sort();
    ids
}

fn facet(results: &SearchResults, key: &str) -> Vec<(String, u64)> {
    results.facets[key]
        .iter()
        .map(|count| (count.value.clone(), count.count))
        .collect()
}

#[test]
fn finds_a_word() {
    let (_writer, search) = sample_index();
    let results = search.search(&text("box")).expect("search");
    assert_eq!(results.total, 1);
    assert_eq!(results.hits[0].id, "mastodon:2");
    assert!(results.hits[0].score > 0.0);
    assert_eq!(
        results.hits[0].post,
        sample_posts()[1],
        "hit carries the stored post"
    );
}

#[test]
fn words_are_combined_with_and() {
    let (_writer, search) = sample_index();
    let results = search.search(&text("service merci")).expect("search");
    assert_eq!(sorted_ids(&results), ["mastodon:4"]);
    let either = search.search(&text("box OR outage")).expect("search");
    assert_eq!(sorted_ids(&either), ["mastodon:2", "x:3"]);
}

#[test]
fn finds_a_phrase() {
    let (_writer, search) = sample_index();
    let results = search.search(&text("\"service client\"")).expect("search");
    assert_eq!(sorted_ids(&results), ["mastodon:1", "mastodon:4"]);
    let reversed = search.search(&text("\"client service\"")).expect("search");
    assert_eq!(reversed.total, 0);
}

#[test]
fn accents_and_case_are_folded() {
    let (_writer, search) = sample_index();
    for spelling in ["resiliation", "RÉSILIATION", "Résiliation"] {
        let results = search.search(&text(spelling)).expect("search");
        assert_eq!(sorted_ids(&results), ["mastodon:1"], "{spelling}");
    }
    let results = search.search(&text("debit")).expect("search");
    assert_eq!(sorted_ids(&results), ["mastodon:2"]);
}

#[test]
fn searches_the_author() {
    let (_writer, search) = sample_index();
    let results = search.search(&text("marc")).expect("search");
    assert_eq!(sorted_ids(&results), ["mastodon:4"]);
}

#[test]
fn filters_by_category_sentiment_source_language_and_brand() {
    let (_writer, search) = sample_index();
    let by_category = SearchQuery {
        categories: vec![
            ("topic".into(), "support".into()),
            ("team".into(), "care".into()),
        ],
        ..SearchQuery::default()
    };
    let results = search.search(&by_category).expect("search");
    assert_eq!(sorted_ids(&results), ["mastodon:1", "mastodon:4"]);

    let negative = SearchQuery {
        sentiment: Some(SentimentLabel::Negative),
        ..SearchQuery::default()
    };
    assert_eq!(
        sorted_ids(&search.search(&negative).expect("search")),
        ["mastodon:1", "x:3"]
    );

    let negative_service = SearchQuery {
        sentiment: Some(SentimentLabel::Negative),
        ..text("service")
    };
    assert_eq!(
        sorted_ids(&search.search(&negative_service).expect("search")),
        ["mastodon:1"]
    );

    let from_x = SearchQuery {
        source: Some(SourceKind::X),
        ..SearchQuery::default()
    };
    assert_eq!(
        sorted_ids(&search.search(&from_x).expect("search")),
        ["x:3"]
    );

    let english = SearchQuery {
        language: Some("en".into()),
        ..SearchQuery::default()
    };
    assert_eq!(
        sorted_ids(&search.search(&english).expect("search")),
        ["x:3"]
    );

    let other_brand = SearchQuery {
        brand: Some("Other Net".into()),
        ..SearchQuery::default()
    };
    assert_eq!(
        sorted_ids(&search.search(&other_brand).expect("search")),
        ["x:3"]
    );
}

#[test]
fn facet_counts_cover_every_match_not_just_the_page() {
    let (_writer, search) = sample_index();
    let query = SearchQuery {
        limit: 1,
        ..SearchQuery::default()
    };
    let results = search.search(&query).expect("search");
    assert_eq!(results.total, 4);
    assert_eq!(results.hits.len(), 1);
    assert_eq!(
        facet(&results, "sentiment"),
        [("negative".to_string(), 2), ("positive".to_string(), 2)]
    );
    assert_eq!(
        facet(&results, "source"),
        [("mastodon".to_string(), 3), ("x".to_string(), 1)]
    );
    assert_eq!(
        facet(&results, "language"),
        [("fr".to_string(), 3), ("en".to_string(), 1)]
    );
    assert_eq!(
        facet(&results, "brand"),
        [
            ("Acme Telecom".to_string(), 4),
            ("Other Net".to_string(), 1)
        ]
    );
    assert_eq!(
        facet(&results, "topic"),
        [
            ("support".to_string(), 2),
            ("billing".to_string(), 1),
            ("outage".to_string(), 1),
            ("product".to_string(), 1),
        ]
    );
    assert_eq!(
        facet(&results, "team"),
        [("care".to_string(), 3), ("marketing".to_string(), 1)]
    );

    // Facets follow the filters.
    let negative = SearchQuery {
        sentiment: Some(SentimentLabel::Negative),
        ..SearchQuery::default()
    };
    let results = search.search(&negative).expect("search");
    assert_eq!(facet(&results, "sentiment"), [("negative".to_string(), 2)]);
    assert_eq!(facet(&results, "team"), [("care".to_string(), 2)]);
}

#[test]
fn without_text_newest_come_first_and_pages_follow() {
    let (_writer, search) = sample_index();
    let results = search.search(&SearchQuery::default()).expect("search");
    let ids: Vec<&str> = results.hits.iter().map(|hit| hit.id.as_str()).collect();
    assert_eq!(ids, ["mastodon:4", "x:3", "mastodon:2", "mastodon:1"]);

    let second_page = SearchQuery {
        limit: 2,
        offset: 2,
        ..SearchQuery::default()
    };
    let results = search.search(&second_page).expect("search");
    let ids: Vec<&str> = results.hits.iter().map(|hit| hit.id.as_str()).collect();
    assert_eq!(ids, ["mastodon:2", "mastodon:1"]);
    assert_eq!(results.total, 4);
}

#[test]
fn time_window_is_since_inclusive_until_exclusive() {
    let (_writer, search) = sample_index();
    let window = SearchQuery {
        since: Some(base_time() + TimeDelta::hours(1)),
        until: Some(base_time() + TimeDelta::hours(3)),
        ..SearchQuery::default()
    };
    let results = search.search(&window).expect("search");
    assert_eq!(sorted_ids(&results), ["mastodon:2", "x:3"]);
}

#[test]
fn bad_query_is_a_clear_error_not_a_panic() {
    let (_writer, search) = sample_index();
    let error = search
        .search(&text("nosuchfield:box"))
        .expect_err("unknown field");
    assert!(error.is_bad_query(), "{error:?}");
    assert!(error.to_string().contains("nosuchfield"), "{error}");

    let error = search.search(&text("prix: trop cher")).expect_err("colon");
    assert!(error.to_string().contains("quotes"), "{error}");
    for broken in [
        "\"unclosed",
        "(box",
        "box)",
        "-",
        "text:",
        "[a TO",
        "created:>2025",
    ] {
        let error = search.search(&text(broken)).expect_err(broken);
        assert!(error.is_bad_query(), "{broken}: {error:?}");
    }
    for odd in [
        "AND",
        ":",
        "^^",
        "*",
        "-box",
        "a\"b",
        "box AND",
        "followers:>100",
    ] {
        match search.search(&text(odd)) {
            Ok(_) => {}
            Err(error) => assert!(error.is_bad_query(), "{odd}: {error:?}"),
        }
    }

    let too_many = SearchQuery {
        limit: MAX_LIMIT + 1,
        ..SearchQuery::default()
    };
    assert!(search.search(&too_many).expect_err("limit").is_bad_query());
    let too_deep = SearchQuery {
        offset: usize::MAX,
        ..SearchQuery::default()
    };
    assert!(search.search(&too_deep).expect_err("offset").is_bad_query());
}

#[test]
fn zero_limit_gives_totals_and_facets_only() {
    let (_writer, search) = sample_index();
    let query = SearchQuery {
        limit: 0,
        ..text("service")
    };
    let results = search.search(&query).expect("search");
    assert_eq!(results.total, 2);
    assert!(results.hits.is_empty());
    assert_eq!(facet(&results, "sentiment").len(), 2);
}

#[test]
fn blank_text_matches_everything() {
    let (_writer, search) = sample_index();
    assert_eq!(search.search(&text("   ")).expect("search").total, 4);
}

#[test]
fn empty_index_answers_empty() {
    let (_writer, search) = PostWriter::open_in_ram().expect("opens");
    let results = search.search(&text("box")).expect("search");
    assert_eq!(
        results,
        SearchResults {
            total: 0,
            hits: vec![],
            facets: results.facets.clone(),
        }
    );
    assert!(results.facets["sentiment"].is_empty());
    assert_eq!(search.count().expect("count"), 0);
    let missing = collector::PostId::new(SourceKind::X, "nope");
    assert_eq!(search.get(&missing).expect("get"), None);
}

#[test]
fn results_round_trip_as_json() {
    let (_writer, search) = sample_index();
    let results = search.search(&text("service")).expect("search");
    let json = serde_json::to_string(&results).expect("serialize");
    let back: SearchResults = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, results);

    let query: SearchQuery =
        serde_json::from_str(r#"{"text":"box","sentiment":"negative"}"#).expect("query");
    assert_eq!(query.limit, 20, "missing fields take the defaults");
    assert_eq!(query.sentiment, Some(SentimentLabel::Negative));
}

#[test]
fn search_index_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<SearchIndex>();
}

/// A reproducible stream of numbers in `0..bound` (xorshift), for varied posts.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// A varied post: sentiment, source, language (one rare), a second brand, topics, a team;
/// created in groups of three at the same minute (ties on the page's sort key).
fn varied_post(number: u64, dice: &mut Dice) -> AnalysedPost {
    let sentiment = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
    ][dice.roll(3) as usize];
    let topic = ["billing", "outage", "support", "product"][dice.roll(4) as usize];
    let mut categories = vec![("topic", topic)];
    if dice.roll(2) == 0 {
        categories.push(("team", "care"));
    }
    if dice.roll(5) == 0 {
        categories.push(("topic", "support"));
    }
    let mut post = analysed(&number.to_string(), "texte", sentiment, &categories);
    post.post.source = [
        SourceKind::Mastodon,
        SourceKind::X,
        SourceKind::Bluesky,
        SourceKind::Reddit,
    ][dice.roll(4) as usize];
    post.post.id = collector::PostId::new(SourceKind::Mastodon, &number.to_string());
    post.analysis.language = match dice.roll(100) {
        // One post in the whole index: a child counted from its postings.
        _ if number == 350 => "it",
        0..=59 => "en",
        60..=94 => "fr",
        95..=96 => "de",
        _ => "und",
    }
    .into();
    if dice.roll(10) < 3 {
        post.analysis.brands.push(BrandMatch {
            brand: "Other Net".into(),
            matched: "othernet".into(),
        });
    }
    let minutes = i64::try_from(number / 3).expect("small");
    post.post.created_at = base_time() + TimeDelta::minutes(minutes);
    post
}

/// What tantivy's own collectors answer: the text and term filters in a boolean query,
/// `Count`, `TopDocs` (by relevance with text, by `created` without), `FacetCollector`.
fn general_path(search: &SearchIndex, query: &SearchQuery) -> SearchResults {
    let searcher = search.reader.searcher();
    let axes = search.axis_names(&searcher).expect("axes");
    let parents = parents(&axes);
    let text = search.parse_text(query.text.as_deref()).expect("parsed");
    let has_text = text.is_some();
    let combined = search.combine(text, query);
    let top = TopDocs::with_limit(query.limit.max(1)).and_offset(query.offset);
    let mut facet_collector = tantivy::collector::FacetCollector::for_field("labels");
    for parent in &parents {
        facet_collector.add_facet(parent.clone());
    }
    let (total, found, facet_counts) = if has_text {
        searcher
            .search(&combined, &(Count, top, facet_collector))
            .expect("searched")
    } else {
        let newest = top.order_by_fast_field::<tantivy::DateTime>("created", tantivy::Order::Desc);
        let (total, newest, facet_counts) = searcher
            .search(&combined, &(Count, newest, facet_collector))
            .expect("searched");
        let newest = newest
            .into_iter()
            .map(|(_, address)| (0.0, address))
            .collect();
        (total, newest, facet_counts)
    };
    let counts = crate::facet_tally::child_counts_of(&facet_counts, &parents);
    let hits = found
        .into_iter()
        .take(query.limit)
        .map(|(score, address)| search.hit(&searcher, address, score).expect("hit"))
        .collect();
    SearchResults {
        total,
        hits,
        facets: facets(counts, axes),
    }
}

/// Searches (most without text) checked against tantivy's own collectors.
fn filter_queries() -> Vec<SearchQuery> {
    let window = |from: i64, to: i64| SearchQuery {
        since: Some(base_time() + TimeDelta::minutes(from)),
        until: Some(base_time() + TimeDelta::minutes(to)),
        ..SearchQuery::default()
    };
    vec![
        SearchQuery::default(),
        SearchQuery {
            limit: 7,
            offset: 13,
            ..SearchQuery::default()
        },
        SearchQuery {
            limit: 0,
            sentiment: Some(SentimentLabel::Negative),
            ..SearchQuery::default()
        },
        SearchQuery {
            brand: Some("Other Net".into()),
            sentiment: Some(SentimentLabel::Positive),
            ..SearchQuery::default()
        },
        SearchQuery {
            language: Some("de".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            language: Some("it".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            language: Some("fr".into()),
            source: Some(SourceKind::X),
            limit: 50,
            ..SearchQuery::default()
        },
        SearchQuery {
            categories: vec![
                ("topic".into(), "support".into()),
                ("team".into(), "care".into()),
            ],
            ..SearchQuery::default()
        },
        SearchQuery {
            sentiment: Some(SentimentLabel::Neutral),
            ..window(20, 90)
        },
        window(-5, 1),
        SearchQuery {
            language: Some("zz".into()),
            ..SearchQuery::default()
        },
        SearchQuery {
            brand: Some("Nobody".into()),
            ..window(0, 1000)
        },
        // With text: the facet counts come from the matches' bitsets.
        text("texte"),
        SearchQuery {
            sentiment: Some(SentimentLabel::Negative),
            language: Some("fr".into()),
            ..text("texte")
        },
        SearchQuery {
            limit: 0,
            ..text("nothing")
        },
    ]
}

#[test]
fn searches_answer_what_tantivys_collectors_answer() {
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let (mut writer, mut search) = PostWriter::open_in_ram().expect("opens");
    // Several segments, then replaced and deleted posts (segments with deletions).
    for number in 0..700 {
        writer.add(&varied_post(number, &mut dice)).expect("add");
        if number % 97 == 96 {
            writer.commit(CommitTrigger::DocLimit).expect("commit");
        }
    }
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    let check = |search: &SearchIndex| {
        for query in filter_queries() {
            let expected = general_path(search, &query);
            // Twice: building the bitsets, then from those kept.
            for _ in 0..2 {
                assert_eq!(
                    search.search(&query).expect("search"),
                    expected,
                    "{query:?}"
                );
            }
        }
    };
    check(&search);
    assert!(search.bits.kept_bytes() > 0, "dense terms are kept");

    for number in (0..700).step_by(11) {
        writer.add(&varied_post(number, &mut dice)).expect("add");
    }
    for number in (5..700).step_by(23) {
        let id = collector::PostId::new(SourceKind::Mastodon, &number.to_string());
        writer.delete(&id).expect("delete");
    }
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    check(&search);

    // Every post deleted: the segments go, and their bitsets with them.
    assert!(search.bits.kept_bytes() > 0);
    for number in 0..700 {
        let id = collector::PostId::new(SourceKind::Mastodon, &number.to_string());
        writer.delete(&id).expect("delete");
    }
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    assert_eq!(
        search
            .search(&SearchQuery::default())
            .expect("search")
            .total,
        0
    );
    assert_eq!(search.bits.kept_bytes(), 0, "bitsets of dropped segments");

    // Nothing kept: every bitset is built for the search that needs it.
    for number in 0..300 {
        writer.add(&varied_post(number, &mut dice)).expect("add");
        if number % 97 == 96 {
            writer.commit(CommitTrigger::DocLimit).expect("commit");
        }
    }
    writer.commit(CommitTrigger::DocLimit).expect("commit");
    search.bits = Arc::new(LabelBits::new(0));
    check(&search);
    assert_eq!(search.bits.kept_bytes(), 0);
}
