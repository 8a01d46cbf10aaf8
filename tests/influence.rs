//! Influence end to end: the fixtures make at least one mass connector and one mass maven
//! of Lumio, posts carry their badges in the index, and a restart keeps the leaderboards
//! exactly (they equal those of a tracker fed the same posts directly).

use std::sync::Arc;

use collector::replay::{Replay, ReplayConfig, load_dir};
use collector::{Source, SourceStats};
use nlp::influence::{InfluenceKind, InfluenceTracker, Leaderboards};
use nlp::{Analyzer, Outcome};
use serde_json::Value;
use veille::config;
use veille::pipeline;

use crate::util::{
    create_accounts, get_json, sign_in, wait_until, workspace_root, write_test_config,
};

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// The leaderboards of a tracker fed every relevant fixture post in replay order.
pub(crate) async fn expected_leaderboards(config: &config::Config) -> Leaderboards {
    let files = load_dir(&workspace_root().join("fixtures/posts")).expect("fixtures are readable");
    let replay_config = ReplayConfig {
        name: "expected".into(),
        files,
        speedup: None,
        loop_forever: false,
        batch_size: 1000,
    };
    let mut replay =
        Replay::new(replay_config, None, Arc::new(SourceStats::default())).expect("replay builds");
    let analyzer = Analyzer::new(&config.nlp).expect("analyzer builds");
    let brands = config.nlp.brands.iter().map(|brand| brand.name.clone());
    let mut tracker = InfluenceTracker::new(config.influence, brands);
    while let Some(batch) = replay.next_batch().await.expect("fixtures replay") {
        for post in batch.posts {
            // Deletions never reach the tracker (the pipeline hands them to the index only).
            if post.change == collector::Change::Delete {
                continue;
            }
            if let Outcome::Relevant(mut analysed) = analyzer.analyse(post) {
                tracker.assign(&mut analysed);
            }
        }
    }
    tracker.leaderboards()
}

/// (author, explanation) of each leader of a board, from the API's JSON.
pub(crate) fn leaders(board: &Value) -> Vec<(String, String)> {
    board["leaders"]
        .as_array()
        .expect("leaders")
        .iter()
        .map(|leader| {
            let author = leader["author"].as_str().expect("author").to_owned();
            let explanation = leader["explanation"].as_str().expect("text").to_owned();
            (author, explanation)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_make_influencers_and_a_restart_keeps_the_leaderboards() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = write_test_config(dir.path(), "\"max\"");
    let config = config::load_file(&config_path).unwrap_or_else(|errors| panic!("{errors}"));
    let expected = expected_leaderboards(&config).await;
    let lumio = expected.brand("Lumio").expect("configured brand");
    assert!(!lumio.connectors.leaders.is_empty(), "a mass connector");
    assert!(!lumio.mavens.leaders.is_empty(), "a mass maven");

    create_accounts(&config.data_dir, &["morgan"]);
    let first = pipeline::start(&config, config.listen)
        .await
        .expect("starts");
    let morgan = sign_in(first.address, "morgan").await;
    wait_until("the replay to be drained", DEADLINE, || async {
        first.is_drained()
    })
    .await;
    let badged = get_json(first.address, "/api/search?limit=1000", Some(&morgan)).await;
    let badges: Vec<&Value> = badged["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .flat_map(|hit| {
            hit["post"]["analysis"]["influence"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .collect();
    for kind in ["connector", "maven"] {
        assert!(
            badges
                .iter()
                .any(|badge| badge["kind"] == kind && badge["brand"] == "Lumio"),
            "indexed posts carry {kind} badges"
        );
    }
    for kind in ["connector", "maven"] {
        let filtered = get_json(
            first.address,
            &format!("/api/search?influence={kind}&limit=1000"),
            Some(&morgan),
        )
        .await;
        let hits = filtered["hits"].as_array().expect("hits");
        assert!(!hits.is_empty(), "the influence facet finds {kind} posts");
        for hit in hits {
            let badges = hit["post"]["analysis"]["influence"]
                .as_array()
                .expect("badges");
            assert!(badges.iter().any(|badge| badge["kind"] == kind), "{hit}");
        }
    }
    first.shutdown().await;

    let second = pipeline::start(&config, config.listen)
        .await
        .expect("restarts");
    let morgan = sign_in(second.address, "morgan").await;
    let restored = get_json(
        second.address,
        "/api/influencers?brand=Lumio",
        Some(&morgan),
    )
    .await;
    let brand = &restored["brands"][0];
    for kind in InfluenceKind::ALL {
        let key = match kind {
            InfluenceKind::Connector => "connectors",
            InfluenceKind::Maven => "mavens",
        };
        let wanted = lumio.board(kind);
        let wanted_leaders: Vec<(String, String)> = wanted
            .leaders
            .iter()
            .map(|leader| (leader.author.clone(), leader.explanation.clone()))
            .collect();
        assert_eq!(
            leaders(&brand[key]),
            wanted_leaders,
            "{key} after a restart"
        );
        assert_eq!(brand[key]["members"].as_u64(), Some(wanted.members));
    }
    second.shutdown().await;
}
