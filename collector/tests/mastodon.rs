//! The Mastodon collector against a local instance speaking the streaming API over
//! WebSocket (double-encoded payloads, string `delete`s) and the timeline API for gaps,
//! with a 429 carrying Mastodon's timestamp reset (sources.md §3, §8.6 items 3, 4 and 8).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use collector::mastodon::{MastodonConfig, MastodonStream, MastodonStreaming};
use collector::{Secret, SourceStats};
use serde_json::{Value, json};

use crate::util::{self, Logs, Running};

const TOKEN: &str = "mastodon-user-T0KEN";

#[derive(Clone)]
enum Step {
    Send(String),
    Drop,
    Listen,
}

#[derive(Default)]
struct Instance {
    connections: Mutex<VecDeque<Vec<Step>>>,
    subscriptions: Mutex<Vec<Value>>,
    /// The #acme timeline, any order.
    tag_timeline: Mutex<Vec<Value>>,
    throttle_next: Mutex<bool>,
    /// (min_id, time, status)
    timeline_requests: Mutex<Vec<(String, chrono::DateTime<chrono::Utc>, u16)>>,
}

fn status(id: u64, text: &str, boost_of: Option<Value>) -> Value {
    json!({
        "id": id.to_string(), "uri": format!("https://social.example/users/ana/statuses/{id}"),
        "url": format!("https://social.example/@ana/{id}"), "created_at": "2026-11-20T10:15:03.000Z",
        "edited_at": null, "language": "en", "visibility": "public", "in_reply_to_id": null, "reblog": boost_of,
        "content": format!("<p>{text} <a href=\"https://social.example/tags/acme\" class=\"mention hashtag\">#<span>acme</span></a></p>"),
        "spoiler_text": "", "replies_count": 0, "reblogs_count": 2, "favourites_count": 5,
        "account": {"id": "1099", "username": "ana", "acct": "ana@social.example", "display_name": "Ana",
            "url": "https://social.example/@ana", "followers_count": 412, "following_count": 88, "statuses_count": 3021, "indexable": true},
        "tags": [{"name": "acme", "url": "https://social.example/tags/acme"}], "mentions": []
    })
}

fn frame(stream: &[&str], event: &str, payload: &Value) -> String {
    // The payload is JSON encoded again as a string: parsed twice by the client.
    json!({"stream": stream, "event": event, "payload": payload.to_string()}).to_string()
}

async fn streaming(
    State(instance): State<Arc<Instance>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let steps = instance
        .connections
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(vec![Step::Listen]);
    upgrade.on_upgrade(move |socket| play(socket, steps, instance))
}

async fn play(mut socket: WebSocket, steps: Vec<Step>, instance: Arc<Instance>) {
    // Two subscriptions first.
    for _ in 0..2 {
        if let Some(Ok(Message::Text(text))) = socket.recv().await {
            instance
                .subscriptions
                .lock()
                .unwrap()
                .push(serde_json::from_str(&text).unwrap());
        }
    }
    for step in steps {
        match step {
            Step::Send(text) => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            Step::Drop => return,
            Step::Listen => while let Some(Ok(_)) = socket.recv().await {},
        }
    }
}

async fn tag_timeline(
    State(instance): State<Arc<Instance>>,
    Path(tag): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(tag, "acme");
    assert_eq!(
        headers.get("authorization").unwrap().to_str().unwrap(),
        format!("Bearer {TOKEN}")
    );
    let min_id: u64 = query["min_id"].parse().unwrap();
    let limit: usize = query["limit"].parse().unwrap();
    let throttled = std::mem::take(&mut *instance.throttle_next.lock().unwrap());
    instance.timeline_requests.lock().unwrap().push((
        min_id.to_string(),
        chrono::Utc::now(),
        if throttled { 429 } else { 200 },
    ));
    if throttled {
        let reset = (chrono::Utc::now() + chrono::TimeDelta::seconds(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("x-ratelimit-limit", "300".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", reset),
            ],
            Json(json!({"error": "Too many requests"})),
        )
            .into_response();
    }
    // min_id: the statuses immediately after it, newest first within the page.
    let mut after: Vec<Value> = instance
        .tag_timeline
        .lock()
        .unwrap()
        .iter()
        .filter(|status| status["id"].as_str().unwrap().parse::<u64>().unwrap() > min_id)
        .cloned()
        .collect();
    after.sort_by_key(|status| status["id"].as_str().unwrap().parse::<u64>().unwrap());
    after.truncate(limit);
    after.reverse();
    Json(Value::Array(after)).into_response()
}

async fn public_timeline() -> Json<Value> {
    Json(json!([]))
}

#[tokio::test]
async fn mastodon_streams_parse_twice_apply_edits_and_deletes_and_fill_gaps() {
    let (logs, _guard) = Logs::capture();
    let s1 = status(101, "Loving", None);
    let mut s1_edit = status(101, "Loving (edited)", None);
    s1_edit["edited_at"] = json!("2026-11-20T10:20:00.000Z");
    let s2 = status(102, "Boost:", Some(status(50, "Original about", None)));
    let s3 = status(103, "Missed while away", None);
    let s4 = status(104, "Also missed", None);
    let s5 = status(105, "After the reconnect", None);
    let mut unmatched = status(106, "nothing", None);
    unmatched["content"] = json!("<p>nothing relevant</p>");
    let instance = Arc::new(Instance::default());
    instance.tag_timeline.lock().unwrap().extend([
        s1.clone(),
        s2.clone(),
        s3,
        s4.clone(),
        s5.clone(),
    ]);
    *instance.throttle_next.lock().unwrap() = true;
    instance.connections.lock().unwrap().extend([
        vec![
            Step::Send(frame(&["hashtag", "acme"], "update", &s1)),
            Step::Send(frame(&["public:local"], "update", &unmatched)),
            Step::Send(frame(&["hashtag", "acme"], "update", &s2)),
            Step::Send(
                json!({"stream": ["hashtag", "acme"], "event": "update", "payload": "{broken"})
                    .to_string(),
            ),
            Step::Send(json!({"stream": ["user"], "event": "filters_changed"}).to_string()),
            Step::Send(frame(&["hashtag", "acme"], "status.update", &s1_edit)),
            Step::Send(
                json!({"stream": ["hashtag", "acme"], "event": "delete", "payload": "102"})
                    .to_string(),
            ),
            Step::Drop,
        ],
        // Dropped by the client when the gap walk meets the 429.
        vec![Step::Listen],
        // Re-sends what the gap walk already found.
        vec![
            Step::Send(frame(&["hashtag", "acme"], "update", &s4)),
            Step::Send(frame(&["hashtag", "acme"], "update", &s5)),
            Step::Listen,
        ],
    ]);
    let router = axum::Router::new()
        .route("/api/v1/streaming", get(streaming))
        .route("/api/v1/timelines/tag/{tag}", get(tag_timeline))
        .route("/api/v1/timelines/public", get(public_timeline))
        .with_state(Arc::clone(&instance));
    let base_url = util::serve(router).await;
    let config = MastodonConfig {
        name: "mastodon".to_owned(),
        base_url,
        streaming_url: None,
        token: Secret::new(TOKEN),
        streams: vec![
            MastodonStream::Hashtag("acme".to_owned()),
            MastodonStream::Public { local: true },
        ],
        keywords: vec!["acme".to_owned()],
        ping_interval: Duration::from_secs(5),
        user_agent: "veille-test/1".to_owned(),
    };
    let stats = Arc::new(SourceStats::default());
    let source = MastodonStreaming::new(config, None, Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, Arc::clone(&stats));
    running
        .until("the status after the reconnect", |batches| {
            batches
                .iter()
                .flat_map(|batch| &batch.posts)
                .any(|post| post.text.starts_with("After the reconnect"))
        })
        .await;
    let uri = |id: u64| format!("mastodon:https://social.example/users/ana/statuses/{id}");
    assert_eq!(
        running.ids(),
        [
            uri(101),
            uri(102),
            format!("{} (edit)", uri(101)),
            format!("{} (delete)", uri(102)),
            uri(103),
            uri(104),
            uri(105)
        ]
    );
    let posts = running.posts();
    assert_eq!(posts[0].text, "Loving #acme");
    assert_eq!(
        posts[0].author.handle.as_deref(),
        Some("ana@social.example")
    );
    assert_eq!(posts[0].author.followers, Some(412));
    assert_eq!(
        posts[0].url.as_deref(),
        Some("https://social.example/@ana/101")
    );
    assert_eq!(
        posts[0].created_at.to_rfc3339(),
        "2026-11-20T10:15:03+00:00"
    );
    assert_eq!(
        posts[1].text, "Original about #acme",
        "a boost carries the boosted text"
    );
    assert_eq!(posts[2].text, "Loving (edited) #acme");

    // Each connection subscribes to every stream.
    assert_eq!(
        instance.subscriptions.lock().unwrap()[..2],
        [
            json!({"type": "subscribe", "stream": "hashtag", "tag": "acme"}),
            json!({"type": "subscribe", "stream": "public:local"})
        ]
    );
    // The gap walk started after the newest status handled, waited out the 429's reset,
    // and walked forward until an empty page.
    let requests = instance.timeline_requests.lock().unwrap().clone();
    assert_eq!(requests[0].0, "102");
    assert_eq!(requests[0].2, 429);
    assert!(
        requests[1].1 - requests[0].1 >= chrono::TimeDelta::seconds(1),
        "reset honoured"
    );
    let walked: Vec<&str> = requests[1..]
        .iter()
        .map(|request| request.0.as_str())
        .collect();
    assert_eq!(walked, ["102", "105"], "{requests:?}");

    for batch in &running.batches {
        let last: u64 = batch.checkpoint.cursor["streams"]["hashtag:acme"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let highest = batch
            .posts
            .iter()
            .filter_map(|post| post.url.as_ref()?.rsplit('/').next()?.parse::<u64>().ok())
            .max();
        if let Some(highest) = highest {
            assert!(last >= highest);
        }
    }
    let deadline = tokio::time::Instant::now() + util::DEADLINE;
    while stats.snapshot().dropped.duplicate < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snapshot = stats.snapshot();
    assert_eq!(
        snapshot.dropped.duplicate, 2,
        "104 and 105 came again on the stream"
    );
    assert_eq!(snapshot.decode_failures, 1);
    assert_eq!(snapshot.dropped.unmatched, 1);
    running.until("no more posts", |_| true).await;
    assert_eq!(running.ids().len(), 7, "nothing handed on twice");
    running.stop().await.unwrap();
    assert!(!logs.text().contains(TOKEN));
}
