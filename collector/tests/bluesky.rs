//! The Jetstream collector against a local WebSocket server speaking Jetstream v1, with
//! the AppView's `getProfiles` beside it (sources.md §2 and §8.6 items 1-3 and 6).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use collector::bluesky::{BlueskyConfig, Jetstream};
use collector::{Checkpoint, SourceStats};
use serde_json::{Value, json};

use crate::util::{self, Logs, Running};

const T: i64 = 1_790_000_000_000_000;
const SECOND: i64 = 1_000_000;

#[derive(Clone)]
enum Step {
    Send(String),
    Close(u16),
    /// Drop the socket without a close frame (the client sees 1006).
    Drop,
    /// Stop reading and writing: pings go unanswered.
    Deaf,
    /// Keep reading (answering pings) until the client leaves.
    Listen,
}

#[derive(Default)]
struct Jet {
    connections: Mutex<VecDeque<Vec<Step>>>,
    cursors: Mutex<Vec<Option<i64>>>,
    profile_calls: Mutex<Vec<Vec<String>>>,
}

async fn subscribe(
    State(jet): State<Arc<Jet>>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    assert_eq!(query["wantedCollections"], "app.bsky.feed.post");
    jet.cursors
        .lock()
        .unwrap()
        .push(query.get("cursor").map(|cursor| cursor.parse().unwrap()));
    let steps = jet
        .connections
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(vec![Step::Listen]);
    upgrade.on_upgrade(move |socket| play(socket, steps))
}

async fn play(mut socket: WebSocket, steps: Vec<Step>) {
    for step in steps {
        match step {
            Step::Send(text) => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            Step::Close(code) => {
                let frame = CloseFrame {
                    code,
                    reason: "bye".into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
            Step::Drop => return,
            Step::Deaf => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Step::Listen => while let Some(Ok(_)) = socket.recv().await {},
        }
    }
}

async fn profiles(State(jet): State<Arc<Jet>>, uri: axum::http::Uri) -> Json<Value> {
    let actors: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.strip_prefix("actors="))
        .map(|did| did.replace("%3A", ":"))
        .collect();
    jet.profile_calls.lock().unwrap().push(actors.clone());
    let profiles: Vec<Value> = actors
        .iter()
        .map(|did| {
            let (handle, followers) = if did == "did:plc:ana" { ("ana.test", 412) } else { ("bob.test", 7) };
            json!({"did": did, "handle": handle, "displayName": handle.trim_end_matches(".test").to_uppercase(), "followersCount": followers, "followsCount": 3, "postsCount": 9})
        })
        .collect();
    Json(json!({"profiles": profiles}))
}

fn create(did: &str, rkey: &str, cid: &str, time_us: i64, text: &str, tags: &[&str]) -> String {
    json!({"did": did, "time_us": time_us, "kind": "commit", "commit": {"rev": "3l", "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey, "cid": cid,
        "record": {"$type": "app.bsky.feed.post", "createdAt": "2026-11-20T10:15:01.902Z", "langs": ["en"], "text": text, "tags": tags}}})
    .to_string()
}

fn update(did: &str, rkey: &str, cid: &str, time_us: i64, text: &str) -> String {
    create(did, rkey, cid, time_us, text, &[]).replace("\"create\"", "\"update\"")
}

fn delete(did: &str, rkey: &str, time_us: i64) -> String {
    json!({"did": did, "time_us": time_us, "kind": "commit", "commit": {"rev": "3m", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey}}).to_string()
}

fn config(base: &str) -> BlueskyConfig {
    let mut config = BlueskyConfig::new(
        "bluesky",
        &base.replace("http://", "ws://"),
        base,
        vec!["Acme".to_owned()],
    );
    config.rewind = Duration::from_secs(2);
    config.ping_interval = Duration::from_millis(300);
    config
}

fn router(jet: &Arc<Jet>) -> axum::Router {
    axum::Router::new()
        .route("/subscribe", get(subscribe))
        .route("/xrpc/app.bsky.actor.getProfiles", get(profiles))
        .with_state(Arc::clone(jet))
}

#[tokio::test]
async fn jetstream_matches_brands_resumes_from_a_rewound_cursor_and_passes_deletions() {
    let (_logs, _guard) = Logs::capture();
    let p2_create = create(
        "did:plc:bob",
        "p2",
        "c2",
        T + 3 * SECOND,
        "acme is down",
        &[],
    );
    let p3 = create(
        "did:plc:ana",
        "p3",
        "c3",
        T + 5 * SECOND / 2,
        "big fan",
        &["acme"],
    );
    let p2_edit = update(
        "did:plc:bob",
        "p2",
        "c2b",
        T + 7 * SECOND / 2,
        "acme is down (edit: back up)",
    );
    let p1_delete = delete("did:plc:ana", "p1", T + 4 * SECOND);
    let jet = Arc::new(Jet::default());
    jet.connections.lock().unwrap().extend([
        vec![
            Step::Send(json!({"did": "did:plc:ana", "time_us": T, "kind": "identity", "identity": {"did": "did:plc:ana", "handle": "ana.test", "seq": 1, "time": "2026-11-20T10:00:00Z"}}).to_string()),
            Step::Send(create("did:plc:ana", "p1", "c1", T + SECOND, "Loving Acme today", &[])),
            Step::Send(create("did:plc:bob", "px", "cx", T + 3 * SECOND / 2, "nothing here", &[])),
            Step::Send("{not json".to_owned()),
            Step::Send(p2_create.clone()),
            Step::Send(p3.clone()),
            Step::Send(p2_edit.clone()),
            Step::Send(p1_delete.clone()),
            Step::Close(1011),
        ],
        // Replays from the rewound cursor: everything at or after it again, then a new post.
        vec![
            Step::Send(p3),
            Step::Send(p2_create),
            Step::Send(p2_edit),
            Step::Send(p1_delete),
            Step::Send(create("did:plc:bob", "p4", "c4", T + 5 * SECOND, "acme again", &[])),
            Step::Drop,
        ],
        vec![Step::Send(create("did:plc:ana", "p5", "c5", T + 6 * SECOND, "acme five", &[])), Step::Deaf],
        vec![Step::Send(create("did:plc:ana", "p6", "c6", T + 7 * SECOND, "acme six", &[])), Step::Listen],
    ]);
    let base = util::serve(router(&jet)).await;
    let stats = Arc::new(SourceStats::default());
    let source = Jetstream::new(config(&base), None, Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, Arc::clone(&stats));
    running
        .until("the post after the unanswered ping", |batches| {
            batches
                .iter()
                .flat_map(|batch| &batch.posts)
                .any(|post| post.text == "acme six")
        })
        .await;
    let uri = |did: &str, rkey: &str| format!("bluesky:at://{did}/app.bsky.feed.post/{rkey}");
    assert_eq!(
        running.ids(),
        [
            uri("did:plc:ana", "p1"),
            uri("did:plc:bob", "p2"),
            uri("did:plc:ana", "p3"),
            format!("{} (edit)", uri("did:plc:bob", "p2")),
            format!("{} (delete)", uri("did:plc:ana", "p1")),
            uri("did:plc:bob", "p4"),
            uri("did:plc:ana", "p5"),
            uri("did:plc:ana", "p6"),
        ]
    );
    let posts = running.posts();
    assert_eq!(posts[0].text, "Loving Acme today");
    assert_eq!(posts[0].author.id, "did:plc:ana");
    assert_eq!(posts[0].author.handle.as_deref(), Some("ana.test"));
    assert_eq!(posts[0].author.followers, Some(412));
    assert_eq!(
        posts[0].url.as_deref(),
        Some("https://bsky.app/profile/ana.test/post/p1")
    );
    assert_eq!(
        posts[0].created_at.to_rfc3339(),
        "2026-11-20T10:15:01.902+00:00"
    );

    // Cursors: none, then the running maximum minus the 2 s rewind, each time.
    let cursors = jet.cursors.lock().unwrap().clone();
    assert_eq!(
        &cursors[..3],
        &[None, Some(T + 2 * SECOND), Some(T + 3 * SECOND)]
    );
    // The checkpoint never passes an event not handled: P4's batch stops before P5.
    for batch in &running.batches {
        let max = batch.checkpoint.cursor["max_time_us"].as_i64().unwrap();
        if batch.posts.iter().any(|post| post.text == "acme again") {
            assert_eq!(max, T + 5 * SECOND);
        }
    }
    // Profiles were looked up in batches and cached.
    let calls = jet.profile_calls.lock().unwrap().clone();
    let looked_up: Vec<&String> = calls.iter().flatten().collect();
    assert_eq!(
        looked_up
            .iter()
            .filter(|did| ***did == "did:plc:ana")
            .count(),
        1,
        "{calls:?}"
    );

    let snapshot = stats.snapshot();
    assert_eq!(snapshot.decode_failures, 1);
    assert_eq!(snapshot.dropped.unmatched, 1);
    assert_eq!(snapshot.dropped.duplicate, 4);
    assert!(snapshot.reconnects >= 3);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn jetstream_reports_a_cursor_older_than_the_server_keeps() {
    let jet = Arc::new(Jet::default());
    jet.connections.lock().unwrap().push_back(vec![
        Step::Send(create("did:plc:ana", "p9", "c9", T, "acme now", &[])),
        Step::Listen,
    ]);
    let base = util::serve(router(&jet)).await;
    let ancient = T - 100 * 24 * 3600 * SECOND;
    let checkpoint = Checkpoint {
        source: "bluesky".to_owned(),
        cursor: json!({"v": 1, "max_time_us": ancient}),
    };
    let stats = Arc::new(SourceStats::default());
    let source = Jetstream::new(config(&base), Some(&checkpoint), Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, Arc::clone(&stats));
    running
        .until("the clamped replay", |batches| !batches.is_empty())
        .await;
    assert_eq!(jet.cursors.lock().unwrap()[0], Some(ancient - 2 * SECOND));
    assert_eq!(stats.snapshot().gaps, 1);
    running.stop().await.unwrap();
}
