//! The whole pipeline on the fixtures: two WebSocket clients each receive exactly the
//! alerts routed to their team; a known post is found by a word and by its category; and
//! after an abrupt kill mid-stream and a restart on the same data directory, every
//! fixture post is in the index exactly once, with its influence badges as a run without a
//! kill would give them (so are the alerts of rules on `connector` and `maven`); a clean
//! restart keeps the influencer leaderboards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use collector::replay::{Replay, ReplayConfig, load_dir};
use collector::{Source, SourceStats};
use dashboard::alerts::AlertEngine;
use nlp::influence::InfluenceTracker;
use nlp::{Analyzer, Outcome};
use veille::config::{self, Config};
use veille::pipeline::{self, RunningPipeline};

use crate::util::{
    LiveClient, create_accounts, get_json, sign_in, wait_until, workspace_root, write_test_config,
};

const DEADLINE: Duration = Duration::from_secs(120);

/// What the pipeline should end with, computed here by running the same stages directly
/// over the fixture files: the relevant post ids, and the alert ids per team.
pub(crate) struct Expected {
    pub(crate) post_ids: BTreeSet<String>,
    pub(crate) alerts_by_team: BTreeMap<String, BTreeSet<String>>,
}

pub(crate) async fn expected_outcome(config: &Config) -> Expected {
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
    let mut engine = AlertEngine::new(config.rules.clone(), config.teams.clone());
    let mut expected = Expected {
        post_ids: BTreeSet::new(),
        alerts_by_team: BTreeMap::new(),
    };
    while let Some(batch) = replay.next_batch().await.expect("fixtures replay") {
        for post in batch.posts {
            // Deletions pass the NLP stage untouched and remove the post from the index.
            if post.change == collector::Change::Delete {
                expected.post_ids.remove(post.id.as_str());
                continue;
            }
            if let Outcome::Relevant(mut analysed) = analyzer.analyse(post) {
                tracker.assign(&mut analysed);
                expected.post_ids.insert(analysed.post.id.to_string());
                for alert in engine.evaluate(&analysed, chrono::Utc::now()) {
                    expected
                        .alerts_by_team
                        .entry(alert.team.clone())
                        .or_default()
                        .insert(alert.id);
                }
            }
        }
    }
    expected
}

async fn searchable(running: &RunningPipeline) -> u64 {
    // Open to operators: no session needed.
    let health = get_json(running.address, "/api/health", None).await;
    health["stages"]["index"]["searchable"]
        .as_u64()
        .unwrap_or(0)
}

async fn start(config: &Config) -> RunningPipeline {
    // After an abort, the old writer may take a moment to release the index lock.
    let started = tokio::time::Instant::now();
    loop {
        match pipeline::start(config, config.listen).await {
            Ok(running) => return running,
            Err(error) if started.elapsed() < Duration::from_secs(30) => {
                eprintln!("pipeline not started yet: {error:#}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("pipeline does not start: {error:#}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_travel_the_whole_way_and_survive_an_abrupt_kill() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Paced so that the replay lasts several seconds: there is a "mid-stream" to kill in.
    let config_path = write_test_config(dir.path(), "400.0");
    let config = config::load_file(&config_path).unwrap_or_else(|errors| panic!("{errors}"));
    let expected = expected_outcome(&config).await;
    assert!(
        expected.post_ids.len() >= 20,
        "fixtures hold too few relevant posts"
    );
    let service = "customer-service";
    let marketing = "marketing";
    // The sample's influence rules fire on the fixtures (badges set before alerts).
    for (team, rule) in [
        (service, "unhappy-connector:"),
        (marketing, "maven-praise:"),
    ] {
        let fired = expected
            .alerts_by_team
            .get(team)
            .is_some_and(|alerts| alerts.iter().any(|id| id.starts_with(rule)));
        assert!(fired, "no `{rule}` alert for {team}");
    }
    assert!(
        !expected
            .alerts_by_team
            .get(service)
            .is_none_or(BTreeSet::is_empty)
    );
    assert!(
        !expected
            .alerts_by_team
            .get(marketing)
            .is_none_or(BTreeSet::is_empty)
    );

    // Accounts in the store (members of the sample config's teams).
    create_accounts(&config.data_dir, &["camille", "lea", "morgan"]);

    // First run: killed abruptly once some posts are committed, before the end.
    let first = start(&config).await;
    let camille = sign_in(first.address, "camille").await;
    let first_service_client = LiveClient::connect(first.address, service, &camille).await;
    wait_until("some committed posts", DEADLINE, || async {
        searchable(&first).await >= 3
    })
    .await;
    assert!(
        !first.stats.sources_done(),
        "the replay ended before the kill: slow it down"
    );
    let committed_before_kill = searchable(&first).await;
    first.abort().await;
    eprintln!(
        "killed mid-stream with {committed_before_kill} of {} posts committed",
        expected.post_ids.len()
    );
    for (id, team) in first_service_client.alerts() {
        assert_eq!(
            team, service,
            "alert {id} of team {team} reached a {service} client"
        );
    }
    drop(first_service_client);

    // Second run on the same data directory: resumes from the committed checkpoint.
    // Sessions live in the store: the one opened before the kill is still valid.
    let second = start(&config).await;
    let lea = sign_in(second.address, "lea").await;
    let morgan = sign_in(second.address, "morgan").await;
    let service_client = LiveClient::connect(second.address, service, &camille).await;
    let marketing_client = LiveClient::connect(second.address, marketing, &lea).await;
    wait_until(
        "the replay to finish and be committed",
        DEADLINE,
        || async { second.is_drained() },
    )
    .await;
    let total = expected.post_ids.len() as u64;
    wait_until("every post searchable", DEADLINE, || async {
        searchable(&second).await == total
    })
    .await;
    assert!(committed_before_kill < total);

    // Exactly once: every expected id, no other, no duplicate.
    let everything = get_json(second.address, "/api/search?limit=1000", Some(&morgan)).await;
    assert_eq!(everything["total"].as_u64(), Some(total));
    let mut seen = BTreeMap::<String, usize>::new();
    for hit in everything["hits"].as_array().expect("hits") {
        *seen
            .entry(hit["id"].as_str().expect("hit id").to_string())
            .or_default() += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        duplicates.is_empty(),
        "stored more than once: {duplicates:?}"
    );
    let seen_ids: BTreeSet<String> = seen.into_keys().collect();
    assert_eq!(seen_ids, expected.post_ids);

    // Each client receives exactly its team's alerts (those raised before the kill come
    // from the persisted alert log, the rest live), and none of the other team's.
    for (client, team) in [(&service_client, service), (&marketing_client, marketing)] {
        let wanted = &expected.alerts_by_team[team];
        wait_until("every alert of the team", DEADLINE, || async {
            client.alerts().len() >= wanted.len()
        })
        .await;
        let received = client.alerts();
        for (id, alert_team) in &received {
            assert_eq!(
                alert_team, team,
                "alert {id} of team {alert_team} reached a {team} client"
            );
        }
        let received_ids: BTreeSet<String> = received.into_keys().collect();
        assert_eq!(
            &received_ids, wanted,
            "alerts received by the {team} client"
        );
        eprintln!("{team} client received exactly its {} alerts", wanted.len());
    }
    assert!(
        service_client.count_of_type("post") > 0,
        "live posts are pushed too"
    );

    // A known post, by a word of its text and by its category facet.
    let by_word = get_json(second.address, "/api/search?q=zanzibarquux", Some(&morgan)).await;
    assert_eq!(by_word["total"].as_u64(), Some(1), "{by_word}");
    let known_id = by_word["hits"][0]["id"]
        .as_str()
        .expect("hit id")
        .to_string();
    let topics = by_word["hits"][0]["post"]["analysis"]["categories"]["topic"].clone();
    assert!(
        topics
            .as_array()
            .is_some_and(|topics| topics.iter().any(|t| t == "outage")),
        "{topics}"
    );
    let by_category = get_json(
        second.address,
        "/api/search?topic=outage&limit=1000",
        Some(&morgan),
    )
    .await;
    let outage_ids: Vec<&str> = by_category["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|hit| hit["id"].as_str())
        .collect();
    assert!(outage_ids.contains(&known_id.as_str()));
    let outage_facet = by_category["facets"]["topic"]
        .as_array()
        .expect("topic facet")
        .iter()
        .find(|facet| facet["value"] == "outage")
        .and_then(|facet| facet["count"].as_u64());
    assert_eq!(outage_facet, by_category["total"].as_u64());

    second.shutdown().await;
}
