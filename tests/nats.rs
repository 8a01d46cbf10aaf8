//! The pipeline over NATS JetStream, against a real `nats-server -js` started per test on a
//! free loopback port with a temporary store: two analyse worker processes share the load
//! and one is killed (SIGKILL) mid-stream and restarted, yet every post is indexed exactly
//! once; a serve node started late still receives new alerts, and a lifecycle action taken
//! on one serve node is applied by the index node's alert task, answered with the updated
//! alert, and reaches the other (each serve node with its own accounts); the index node's
//! influence tracker badges the posts and its leaderboards reach the serve nodes;
//! nats-server killed and restarted mid-stream, the pipeline resumes and loses nothing.
//!
//! Skipped, with the reason printed, when `nats-server` is not installed; under `CI=true`
//! that is a failure (`.ci/run` installs it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{DeliverPolicy, push};
use futures::StreamExt;
use index::SearchIndex;
use nlp::influence::InfluenceKind;
use veille::config::{self, Config};
use veille::pipeline::nats::local_server::{LocalNatsServer, find_program};
use veille::pipeline::nats::{self, Role, RoleHandle};

use crate::influence::{expected_leaderboards, leaders};
use crate::pipeline::expected_outcome;
use crate::util::{LiveClient, create_accounts, get_json, sign_in, wait_until, write_test_config};

const DEADLINE: Duration = Duration::from_secs(180);
/// Paced so that the replay lasts about 12 s: there is a "mid-stream".
const SPEEDUP: &str = "600.0";

/// A fresh nats-server, or `None` (after saying why) when it is not installed.
async fn nats_server(store: &Path) -> Option<LocalNatsServer> {
    if find_program().is_none() {
        let reason = "nats-server is not installed (apt-get install nats-server)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {reason}"
        );
        eprintln!("skipped: {reason}");
        return None;
    }
    Some(
        LocalNatsServer::start(store)
            .await
            .expect("nats-server starts"),
    )
}

fn test_config(dir: &Path) -> (PathBuf, Config) {
    let path = write_test_config(dir, SPEEDUP);
    let config = config::load_file(&path).unwrap_or_else(|errors| panic!("{errors}"));
    (path, config)
}

/// The config of a serve node: its own data directory (accounts, sessions) with an account
/// for `morgan` (a manager), and the index node's index.
fn serve_config(config: &Config, dir: &Path, name: &str) -> Config {
    let mut serve = config.clone();
    serve.data_dir = dir.join(name);
    serve.index_dir = config.data_dir.join("index");
    std::fs::create_dir_all(&serve.data_dir).expect("serve data dir");
    create_accounts(&serve.data_dir, &["morgan"]);
    serve
}

async fn role(role: Role, config: &Config, url: &str) -> RoleHandle {
    let listen = "127.0.0.1:0".parse().expect("address");
    nats::start_role(role, config, url, listen, "in-test")
        .await
        .unwrap_or_else(|error| panic!("{role:?} role starts: {error:#}"))
}

/// A `veille analyse` worker process.
fn spawn_worker(config: &Path, url: &str, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["analyse", "--config"])
        .arg(config)
        .args(["--nats", url, "--name", name])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("veille analyse starts")
}

/// The ids in the index, read as the serve nodes read it; `None` before it exists.
fn indexed_ids(config: &Config) -> Option<Vec<String>> {
    let search = SearchIndex::open_follower(&config.data_dir.join("index")).ok()??;
    search.reload().ok()?;
    search.ids().ok()
}

/// Waits until the index holds exactly the expected posts, and checks each is there once.
async fn assert_indexed_exactly_once(config: &Config, expected: &BTreeSet<String>) {
    wait_until("every expected post in the index", DEADLINE, || async {
        indexed_ids(config)
            .is_some_and(|ids| ids.iter().cloned().collect::<BTreeSet<_>>() == *expected)
    })
    .await;
    let ids = indexed_ids(config).expect("index readable");
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "a post is stored twice");
    assert_eq!(&distinct, expected);
}

/// Counts the analysed messages per worker (the `Veille-Worker` header) as they land.
fn count_by_worker(js: jetstream::Context) -> Arc<Mutex<BTreeMap<String, usize>>> {
    let counts = Arc::new(Mutex::new(BTreeMap::new()));
    let sink = Arc::clone(&counts);
    tokio::spawn(async move {
        let stream = loop {
            if let Ok(stream) = js.get_stream(nats::ANALYSED_STREAM).await {
                break stream;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let consumer = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: js.client().new_inbox(),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .expect("ordered consumer");
        let mut messages = consumer.messages().await.expect("messages");
        while let Some(Ok(message)) = messages.next().await {
            let worker = message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(nats::WORKER_HEADER))
                .map(|value| value.as_str().to_string())
                .unwrap_or_default();
            *sink
                .lock()
                .expect("no poisoning")
                .entry(worker)
                .or_insert(0) += 1;
        }
    });
    counts
}

fn count_of(counts: &Mutex<BTreeMap<String, usize>>, worker: &str) -> usize {
    counts
        .lock()
        .expect("no poisoning")
        .get(worker)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_load_and_a_killed_worker_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(server) = nats_server(&dir.path().join("nats")).await else {
        return;
    };
    let url = server.url();
    let (config_path, config) = test_config(dir.path());
    let expected = expected_outcome(&config).await.post_ids;

    let js = nats::connect(&url).await.expect("connects");
    nats::ensure_topology(&js).await.expect("topology");
    let counts = count_by_worker(js.clone());
    let index = role(Role::Index, &config, &url).await;
    let mut first = spawn_worker(&config_path, &url, "first");
    let mut second = spawn_worker(&config_path, &url, "second");
    // Both workers are waiting for posts before any is collected.
    wait_until("two analyse workers pulling", DEADLINE, || async {
        let Ok(stream) = js.get_stream(nats::RAW_STREAM).await else {
            return false;
        };
        stream
            .consumer_info(nats::ANALYSE_CONSUMER)
            .await
            .is_ok_and(|info| info.num_waiting >= 2)
    })
    .await;
    let collect = role(Role::Collect, &config, &url).await;

    wait_until("the first worker at work", DEADLINE, || async {
        count_of(&counts, "first") >= 2
    })
    .await;
    first.kill().expect("kill -9 the first worker");
    let _ = first.wait();
    let analysed_at_kill: usize = counts.lock().expect("no poisoning").values().sum();
    assert!(
        !collect.is_finished() || analysed_at_kill < expected.len(),
        "the stream ended before the kill: slow the replay down"
    );
    eprintln!(
        "killed the first worker after {analysed_at_kill} of {} posts were analysed",
        expected.len()
    );
    let mut restarted = spawn_worker(&config_path, &url, "first-restarted");

    assert_indexed_exactly_once(&config, &expected).await;
    let by_worker = counts.lock().expect("no poisoning").clone();
    eprintln!("analysed posts by worker: {by_worker:?}");
    assert!(count_of(&counts, "first") > 0, "{by_worker:?}");
    assert!(count_of(&counts, "second") > 0, "{by_worker:?}");

    for child in [&mut second, &mut restarted] {
        let _ = child.kill();
        let _ = child.wait();
    }
    collect.shutdown().await;
    index.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_nodes_fan_out_alerts_and_lifecycle_actions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(server) = nats_server(&dir.path().join("nats")).await else {
        return;
    };
    let url = server.url();
    let (_, config) = test_config(dir.path());
    let expected = expected_outcome(&config).await;
    let all_alerts: BTreeSet<String> = expected
        .alerts_by_team
        .values()
        .flatten()
        .cloned()
        .collect();
    let managers = "managers";

    let index = role(Role::Index, &config, &url).await;
    let analyse = role(Role::Analyse, &config, &url).await;
    let serve_a_config = serve_config(&config, dir.path(), "serve-a");
    let serve_a = role(Role::Serve, &serve_a_config, &url).await;
    let address_a = serve_a.address.expect("serve A listens");
    let morgan_a = sign_in(address_a, "morgan").await;
    let client_a = LiveClient::connect(address_a, managers, &morgan_a).await;
    let collect = role(Role::Collect, &config, &url).await;

    wait_until("a first alert on serve node A", DEADLINE, || async {
        !client_a.alerts().is_empty()
    })
    .await;
    let serve_b_config = serve_config(&config, dir.path(), "serve-b");
    let serve_b = role(Role::Serve, &serve_b_config, &url).await;
    let address_b = serve_b.address.expect("serve B listens");
    let morgan_b = sign_in(address_b, "morgan").await;
    let client_b = LiveClient::connect(address_b, managers, &morgan_b).await;
    let raised_before_b = client_a.alerts().len();
    eprintln!(
        "serve node B started after {raised_before_b} of {} alerts",
        all_alerts.len()
    );
    assert!(
        raised_before_b < all_alerts.len(),
        "every alert was raised before B started: slow the replay down"
    );

    wait_until("every alert on both serve nodes", DEADLINE, || async {
        client_a.alerts().keys().cloned().collect::<BTreeSet<_>>() == all_alerts
            && client_b.alerts().keys().cloned().collect::<BTreeSet<_>>() == all_alerts
    })
    .await;

    // A session of A is unknown to B: accounts and sessions are per serve node.
    let url_b = format!("http://{address_b}/api/session");
    let foreign = reqwest::Client::new()
        .get(&url_b)
        .header(reqwest::header::COOKIE, &morgan_a)
        .send()
        .await
        .expect("GET session");
    assert_eq!(foreign.status(), reqwest::StatusCode::UNAUTHORIZED);

    // A lifecycle action on A is applied by the alert task on the index node; the reply
    // carries the updated alert, and B sees the change.
    let alert_id = client_a.alerts().keys().next().cloned().expect("an alert");
    let session = get_json(address_a, "/api/session", Some(&morgan_a)).await;
    let csrf = session["csrf"].as_str().expect("a CSRF token").to_string();
    let response = reqwest::Client::new()
        .post(format!("http://{address_a}/api/alerts/{alert_id}/actions"))
        .header(reqwest::header::COOKIE, &morgan_a)
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"action": "acknowledge"}))
        .send()
        .await
        .expect("POST action");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let updated: serde_json::Value = response.json().await.expect("the alert as JSON");
    assert_eq!(updated["id"], alert_id.as_str());
    assert_eq!(updated["lifecycle"]["status"], "acknowledged");
    wait_until("the acknowledgement on serve node B", DEADLINE, || async {
        let messages = client_b.messages.lock().expect("no poisoning");
        messages.iter().any(|message| {
            message["type"] == "alert_updated"
                && message["id"] == alert_id.as_str()
                && message["lifecycle"]["status"] == "acknowledged"
        })
    })
    .await;
    // B's alert list holds the new state too, and acting again is refused by the engine.
    let listed = get_json(address_b, "/api/alerts?limit=1000", Some(&morgan_b)).await;
    let on_b = listed["alerts"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|alert| alert["id"] == alert_id.as_str())
        .cloned()
        .expect("the alert listed on B");
    assert_eq!(on_b["lifecycle"]["status"], "acknowledged");
    let csrf_b = get_json(address_b, "/api/session", Some(&morgan_b)).await["csrf"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let again = reqwest::Client::new()
        .post(format!("http://{address_b}/api/alerts/{alert_id}/actions"))
        .header(reqwest::header::COOKIE, &morgan_b)
        .header("x-csrf-token", &csrf_b)
        .json(&serde_json::json!({"action": "acknowledge"}))
        .send()
        .await
        .expect("POST action");
    assert!(
        again.status().is_client_error(),
        "acknowledged twice: {}",
        again.status()
    );
    eprintln!(
        "alert {alert_id} acknowledged on A, seen on B; a second acknowledgement on B: {}",
        again.status()
    );

    // Influence over NATS: the index node's tracker badges the posts it indexes, and its
    // leaderboards reach a serve node (the same as a tracker fed the fixtures directly:
    // one analyse worker keeps the stream's order).
    let wanted = expected_leaderboards(&config).await;
    let lumio = wanted.brand("Lumio").expect("configured brand");
    for kind in ["connector", "maven"] {
        let found = get_json(
            address_a,
            &format!("/api/search?influence={kind}&limit=1000"),
            Some(&morgan_a),
        )
        .await;
        let hits = found["hits"].as_array().map_or(0, Vec::len);
        assert!(hits > 0, "no {kind} post found on serve node A: {found}");
        eprintln!("serve node A: {hits} posts with a {kind} badge");
    }
    let wanted_leaders = |kind| -> Vec<(String, String)> {
        lumio
            .board(kind)
            .leaders
            .iter()
            .map(|leader| (leader.author.clone(), leader.explanation.clone()))
            .collect()
    };
    // Waits for the last version (published once the index node's input idles).
    let wanted_both = (
        wanted_leaders(InfluenceKind::Connector),
        wanted_leaders(InfluenceKind::Maven),
    );
    let started = tokio::time::Instant::now();
    let served_both = loop {
        let served = get_json(address_b, "/api/influencers?brand=Lumio", Some(&morgan_b)).await;
        let brand = &served["brands"][0];
        let served_both = (leaders(&brand["connectors"]), leaders(&brand["mavens"]));
        if served_both == wanted_both || started.elapsed() > DEADLINE {
            break served_both;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(served_both, wanted_both, "leaderboards on serve node B");
    eprintln!(
        "serve node B shows the expected leaderboards: {} connectors, {} mavens",
        lumio.connectors.leaders.len(),
        lumio.mavens.leaders.len()
    );

    for handle in [collect, analyse, index, serve_a, serve_b] {
        handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_nats_server_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut server) = nats_server(&dir.path().join("nats")).await else {
        return;
    };
    let url = server.url();
    let (_, config) = test_config(dir.path());
    let expected = expected_outcome(&config).await.post_ids;

    let listen = "127.0.0.1:0".parse().expect("address");
    let roles = nats::start_all(&config, &url, listen)
        .await
        .expect("every role starts");
    wait_until("some posts indexed", DEADLINE, || async {
        indexed_ids(&config).is_some_and(|ids| ids.len() >= 3)
    })
    .await;
    let indexed_before = indexed_ids(&config).map_or(0, |ids| ids.len());
    assert!(
        indexed_before < expected.len(),
        "every post was indexed before the restart: slow the replay down"
    );
    server.kill();
    eprintln!(
        "nats-server killed with {indexed_before} of {} posts indexed",
        expected.len()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.restart().await.expect("nats-server restarts");

    assert_indexed_exactly_once(&config, &expected).await;
    for handle in roles {
        handle.shutdown().await;
    }
}
