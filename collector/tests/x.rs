//! The X collector against a local server speaking the X API v2 filtered stream, rules and
//! recent search (sources.md §1 and the §8.6 checklist items that apply).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::{self, Logs, Running};
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use collector::x::{XConfig, XRule, XStream};
use collector::{Secret, SourceStats};
use futures::StreamExt;
use serde_json::{Value, json};

const TOKEN: &str = "test-bearer-S3CR3T-x";

/// One step of a scripted stream body.
#[derive(Clone)]
enum Step {
    Bytes(String),
    Pause(u64),
    /// Abort the body: the client sees the connection cut mid-stream.
    Cut,
    /// Send nothing more and keep the connection open.
    Hang,
}

enum Connection {
    RateLimited { reset: i64 },
    Stream(Vec<Step>),
}

#[derive(Default)]
struct Server {
    rules: Mutex<Vec<Value>>,
    rule_changes: Mutex<Vec<Value>>,
    connections: Mutex<VecDeque<Connection>>,
    connected_at: Mutex<Vec<chrono::DateTime<chrono::Utc>>>,
    /// Posts recent search knows, as full tweet objects with their author.
    corpus: Vec<(u64, Value)>,
    searches: Mutex<Vec<HashMap<String, String>>>,
}

fn authorised(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"))
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"title": "Unauthorized", "status": 401})),
    )
        .into_response()
}

async fn get_rules(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let rules = server.rules.lock().unwrap().clone();
    Json(json!({"data": rules, "meta": {"sent": "now", "result_count": rules.len()}}))
        .into_response()
}

async fn post_rules(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    server.rule_changes.lock().unwrap().push(body.clone());
    let mut rules = server.rules.lock().unwrap();
    if let Some(ids) = body.pointer("/delete/ids").and_then(Value::as_array) {
        rules.retain(|rule| !ids.contains(&rule["id"]));
    }
    if let Some(add) = body["add"].as_array() {
        for (n, rule) in add.iter().enumerate() {
            let mut rule = rule.clone();
            rule["id"] = json!(format!("9{n}"));
            rules.push(rule);
        }
    }
    Json(json!({"meta": {"summary": {"created": 1, "not_created": 0}}})).into_response()
}

async fn stream(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    assert!(query["expansions"].contains("author_id"));
    assert!(query["user.fields"].contains("public_metrics"));
    server.connected_at.lock().unwrap().push(chrono::Utc::now());
    let next = server.connections.lock().unwrap().pop_front();
    match next {
        Some(Connection::RateLimited { reset }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-rate-limit-reset", reset.to_string()), ("x-rate-limit-remaining", "0".to_owned())],
            Json(json!({"title": "ConnectionException", "connection_issue": "TooManyConnections", "type": "https://api.twitter.com/2/problems/streaming-connection"})),
        )
            .into_response(),
        Some(Connection::Stream(steps)) => {
            let body = futures::stream::iter(steps).then(|step| async move {
                match step {
                    Step::Bytes(text) => Ok(text),
                    Step::Pause(millis) => {
                        tokio::time::sleep(Duration::from_millis(millis)).await;
                        Ok(String::new())
                    }
                    Step::Cut => Err(std::io::Error::other("cut")),
                    Step::Hang => futures::future::pending().await,
                }
            });
            Response::new(Body::from_stream(body))
        }
        None => futures::future::pending().await,
    }
}

async fn search(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    server.searches.lock().unwrap().push(query.clone());
    let since: u64 = query["since_id"].parse().unwrap();
    let word = query["query"].clone();
    // Newest first, two per page; the page token is the offset.
    let mut matches: Vec<&(u64, Value)> = server
        .corpus
        .iter()
        .filter(|(id, post)| {
            *id > since
                && post["data"]["text"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains(&word)
        })
        .collect();
    matches.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    let offset: usize = query
        .get("next_token")
        .map_or(0, |token| token.parse().unwrap());
    let page: Vec<&(u64, Value)> = matches.iter().skip(offset).take(2).copied().collect();
    let data: Vec<Value> = page.iter().map(|(_, post)| post["data"].clone()).collect();
    let users: Vec<Value> = page
        .iter()
        .flat_map(|(_, post)| post["includes"]["users"].as_array().unwrap().clone())
        .collect();
    let mut meta = json!({"result_count": data.len()});
    if offset + 2 < matches.len() {
        meta["next_token"] = json!((offset + 2).to_string());
    }
    if data.is_empty() {
        return Json(json!({"meta": meta})).into_response();
    }
    Json(json!({"data": data, "includes": {"users": users}, "meta": meta})).into_response()
}

fn tweet(id: u64, text: &str, first_version: u64) -> Value {
    json!({
        "data": {
            "id": id.to_string(), "text": text, "author_id": "4400000001",
            "created_at": format!("2026-11-20T10:15:{:02}.000Z", id % 60), "lang": "en",
            "edit_history_tweet_ids": if first_version == id { vec![id.to_string()] } else { vec![first_version.to_string(), id.to_string()] },
            "public_metrics": {"retweet_count": 1, "reply_count": 0, "like_count": 3, "quote_count": 0}
        },
        "includes": {"users": [{"id": "4400000001", "username": "dev_jane", "name": "Jane D",
            "public_metrics": {"followers_count": 1830, "following_count": 210, "tweet_count": 5402}}]},
        "matching_rules": [{"id": "2", "tag": "brand:acme"}]
    })
}

fn line(value: &Value) -> String {
    format!("{value}\r\n")
}

#[tokio::test]
async fn x_stream_syncs_rules_survives_bad_input_and_fills_gaps() {
    let (logs, _guard) = Logs::capture();
    let a = tweet(101, "Acme Cloud outage again? #acme", 101);
    // Full text only in note_tweet; both spellings of renamed fields (repost_count).
    let mut b = tweet(102, "Acme long read…", 102);
    b["data"]["note_tweet"] = json!({"text": "Acme long read: the whole story of our migration"});
    b["data"]["public_metrics"] = json!({"repost_count": 4, "like_count": 1});
    let c = tweet(103, "acme support answered fast", 103);
    let a_edit = tweet(105, "Acme Cloud outage again? #acme (edit: fixed)", 101);
    let cut = tweet(106, "acme post cut in the middle", 106);
    let d = tweet(107, "acme only found by search", 107);
    let e = tweet(108, "acme also in the gap", 108);
    let f = tweet(109, "acme after the reconnect", 109);
    let g = tweet(110, "acme after the idle timeout", 110);

    let a_text = line(&a);
    let (a_head, a_tail) = a_text.split_at(40);
    let cut_text = line(&cut);
    let reset = chrono::Utc::now().timestamp() + 2;
    let server = Arc::new(Server {
        rules: Mutex::new(vec![
            json!({"id": "1", "value": "old", "tag": "brand:old"}),
            json!({"id": "2", "value": "acme", "tag": "brand:acme"}),
        ]),
        connections: Mutex::new(VecDeque::from([
            Connection::RateLimited { reset },
            Connection::Stream(vec![
                Step::Bytes("\r\n".to_owned()),
                Step::Bytes(a_head.to_owned()),
                Step::Pause(50),
                Step::Bytes(a_tail.to_owned()),
                Step::Bytes("\r\n".to_owned()),
                Step::Bytes(format!(
                    "{}{}{{\"data\": {{\"id\": \r\n{}{}",
                    line(&b),
                    line(&c),
                    line(
                        &json!({"errors": [{"title": "Not Found Error", "detail": "referenced post deleted"}]})
                    ),
                    line(&a_edit)
                )),
                Step::Bytes(cut_text[..30].to_owned()),
                // Let the bytes so far reach the client before the cut.
                Step::Pause(200),
                Step::Cut,
            ]),
            Connection::Stream(vec![
                Step::Bytes(line(&e)),
                Step::Bytes(line(&f)),
                Step::Hang,
            ]),
            Connection::Stream(vec![
                Step::Bytes("\r\n".to_owned()),
                Step::Bytes(line(&g)),
                Step::Hang,
            ]),
        ])),
        corpus: [&a, &b, &c, &a_edit, &cut, &d, &e]
            .into_iter()
            .map(|post| {
                (
                    post["data"]["id"].as_str().unwrap().parse().unwrap(),
                    post.clone(),
                )
            })
            .collect(),
        ..Server::default()
    });
    let router = axum::Router::new()
        .route(
            "/2/tweets/search/stream/rules",
            get(get_rules).post(post_rules),
        )
        .route("/2/tweets/search/stream", get(stream))
        .route("/2/tweets/search/recent", get(search))
        .with_state(Arc::clone(&server));
    let base_url = util::serve(router).await;

    let config = XConfig {
        name: "x".to_owned(),
        base_url,
        token: Secret::new(TOKEN),
        rules: vec![
            XRule {
                value: "acme".to_owned(),
                tag: "brand:acme".to_owned(),
            },
            XRule {
                value: "lumio".to_owned(),
                tag: "brand:lumio".to_owned(),
            },
        ],
        idle_timeout: Duration::from_millis(800),
        user_agent: "veille-test/1".to_owned(),
    };
    assert!(!format!("{config:?}").contains(TOKEN));
    let stats = Arc::new(SourceStats::default());
    let source = XStream::new(config, None, Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, Arc::clone(&stats));
    running
        .until("the post after the idle timeout", |batches| {
            batches
                .iter()
                .flat_map(|batch| &batch.posts)
                .any(|post| post.text.contains("idle timeout"))
        })
        .await;

    // Rules: only the difference was sent, deletions first.
    assert_eq!(
        *server.rule_changes.lock().unwrap(),
        [
            json!({"delete": {"ids": ["1"]}}),
            json!({"add": [{"value": "lumio", "tag": "brand:lumio"}]})
        ]
    );

    // Every post once, in order; the edit keeps the first version's id; the cut post and
    // the ones published while disconnected come back through recent search.
    let versions: Vec<String> = running
        .posts()
        .iter()
        .map(|post| {
            post.url
                .clone()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        versions,
        [
            "101", "102", "103", "105", "106", "107", "108", "109", "110"
        ]
    );
    assert_eq!(
        running.ids(),
        [
            "x:101",
            "x:102",
            "x:103",
            "x:101 (edit)",
            "x:106",
            "x:107",
            "x:108",
            "x:109",
            "x:110"
        ]
    );

    let posts = running.posts();
    let first = &posts[0];
    assert_eq!(first.text, "Acme Cloud outage again? #acme");
    assert_eq!(first.author.id, "4400000001");
    assert_eq!(first.author.handle.as_deref(), Some("dev_jane"));
    assert_eq!(first.author.followers, Some(1830));
    assert_eq!(
        first.url.as_deref(),
        Some("https://x.com/dev_jane/status/101")
    );
    assert_eq!(first.created_at.to_rfc3339(), "2026-11-20T10:15:41+00:00");
    assert_eq!(
        posts[1].text,
        "Acme long read: the whole story of our migration"
    );
    assert_eq!(posts[1].engagement.reposts, Some(4));

    // The checkpoint never passes a post that was not handed on.
    let mut handed_on: u64 = 0;
    for batch in &running.batches {
        for post in &batch.posts {
            let version: u64 = post
                .url
                .as_ref()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            handed_on = handed_on.max(version);
        }
        let last: u64 = batch.checkpoint.cursor["last_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(last, handed_on, "checkpoint of {batch:?}");
    }

    // Gap fills asked since the newest version handed on, for every rule, every page.
    let searches = server.searches.lock().unwrap().clone();
    let since: Vec<(&str, &str, Option<&str>)> = searches
        .iter()
        .map(|query| {
            (
                query["query"].as_str(),
                query["since_id"].as_str(),
                query.get("next_token").map(String::as_str),
            )
        })
        .collect();
    assert!(since.contains(&("acme", "105", None)), "{since:?}");
    assert!(since.contains(&("acme", "105", Some("2"))), "{since:?}");
    assert!(since.contains(&("lumio", "105", None)), "{since:?}");
    assert!(since.contains(&("acme", "109", None)), "{since:?}");

    // The 429's reset time was honoured before dialling again.
    let connected = server.connected_at.lock().unwrap().clone();
    assert!(connected.len() >= 4);
    assert!(
        connected[1].timestamp() >= reset,
        "reconnected at {} before the reset {reset}",
        connected[1]
    );

    let snapshot = stats.snapshot();
    assert_eq!(snapshot.decode_failures, 1);
    assert_eq!(
        snapshot.dropped.duplicate, 1,
        "108 came again on the stream"
    );
    assert!(snapshot.reconnects >= 3, "{snapshot:?}");
    assert_eq!(snapshot.posts, 9);

    running.stop().await.unwrap();
    let logs = logs.text();
    assert!(logs.contains("stream disconnected"), "logs are captured");
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
}

#[tokio::test]
async fn x_resumes_from_a_checkpoint_through_recent_search() {
    let server = Arc::new(Server {
        rules: Mutex::new(vec![
            json!({"id": "2", "value": "acme", "tag": "brand:acme"}),
        ]),
        connections: Mutex::new(VecDeque::from([Connection::Stream(vec![Step::Hang])])),
        corpus: vec![
            (201, tweet(201, "acme before", 201)),
            (202, tweet(202, "acme while we were down", 202)),
        ],
        ..Server::default()
    });
    let router = axum::Router::new()
        .route(
            "/2/tweets/search/stream/rules",
            get(get_rules).post(post_rules),
        )
        .route("/2/tweets/search/stream", get(stream))
        .route("/2/tweets/search/recent", get(search))
        .with_state(Arc::clone(&server));
    let base_url = util::serve(router).await;
    let config = XConfig {
        name: "x".to_owned(),
        base_url,
        token: Secret::new(TOKEN),
        rules: vec![XRule {
            value: "acme".to_owned(),
            tag: "brand:acme".to_owned(),
        }],
        idle_timeout: Duration::from_secs(20),
        user_agent: "veille-test/1".to_owned(),
    };
    let checkpoint = collector::Checkpoint {
        source: "x".to_owned(),
        cursor: json!({"v": 1, "last_id": "201"}),
    };
    let stats = Arc::new(SourceStats::default());
    let source = XStream::new(config, Some(&checkpoint), Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, stats);
    running
        .until("the post after the checkpoint", |batches| {
            !batches.is_empty()
        })
        .await;
    assert_eq!(running.ids(), ["x:202"]);
    assert!(
        server.rule_changes.lock().unwrap().is_empty(),
        "rules already in sync"
    );
    running.stop().await.unwrap();
}
