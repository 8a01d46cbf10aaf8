//! The Reddit poller against a local server speaking app-only OAuth and listing JSON, with
//! a 401 that a token refresh cures, a 403 for a generic User-Agent, a 429 with Reddit's
//! float headers, and more new items than one page (sources.md §4).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use collector::reddit::{RedditConfig, RedditPoller};
use collector::{FailureClass, Secret, Source, SourceStats};
use serde_json::{Value, json};

use crate::util::{self, At, Logs, Running};

const CLIENT_SECRET: &str = "reddit-client-S3CRET";
const USER_AGENT: &str = "linux:veille-test:1.0 (by /u/veille_bot)";

/// (path, after, time, status) of a listing request.
type Request = (String, Option<String>, At, u16);

#[derive(Default)]
struct Reddit {
    /// Submissions of r/devops, oldest first.
    devops: Mutex<Vec<Value>>,
    tokens_issued: Mutex<u32>,
    revoked: Mutex<bool>,
    throttle_next: Mutex<bool>,
    requests: Mutex<Vec<Request>>,
}

fn submission(id: u32) -> Value {
    json!({"kind": "t3", "data": {
        "id": format!("a{id}"), "name": format!("t3_a{id}"), "subreddit": "devops",
        "title": format!("Anyone else seeing Acme Cloud 502s? #{id}"), "selftext": "Since 10:00 UTC & counting <sigh>",
        "author": "ops_sam", "author_fullname": "t2_8xk2m", "created_utc": 1_790_000_000.0 + f64::from(id),
        "permalink": format!("/r/devops/comments/a{id}/acme_502s/"), "score": 14, "num_comments": 9, "edited": false
    }})
}

async fn token(State(reddit): State<Arc<Reddit>>, headers: HeaderMap, body: String) -> Response {
    let agent = headers
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !agent.contains("(by /u/") {
        return (StatusCode::FORBIDDEN, "blocked: generic user agent").into_response();
    }
    use base64_like::encode;
    let expected = format!("Basic {}", encode(&format!("client-id:{CLIENT_SECRET}")));
    assert_eq!(
        headers.get("authorization").unwrap().to_str().unwrap(),
        expected
    );
    assert_eq!(body, "grant_type=client_credentials");
    let mut issued = reddit.tokens_issued.lock().unwrap();
    *issued += 1;
    *reddit.revoked.lock().unwrap() = false;
    Json(json!({"access_token": format!("access-tok-{issued}"), "token_type": "bearer", "expires_in": 86400, "scope": "*"})).into_response()
}

async fn listing(
    State(reddit): State<Arc<Reddit>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    assert_eq!(query["raw_json"], "1");
    let path = uri.path().to_owned();
    let after = query.get("after").cloned();
    let issued = *reddit.tokens_issued.lock().unwrap();
    let bearer_ok = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(&format!("Bearer access-tok-{issued}"));
    let revoked = *reddit.revoked.lock().unwrap();
    let throttled =
        bearer_ok && !revoked && std::mem::take(&mut *reddit.throttle_next.lock().unwrap());
    let status = if !bearer_ok || revoked {
        401
    } else if throttled {
        429
    } else {
        200
    };
    reddit
        .requests
        .lock()
        .unwrap()
        .push((path.clone(), after.clone(), chrono::Utc::now(), status));
    if status == 401 {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthorized", "error": 401})),
        )
            .into_response();
    }
    if status == 429 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("x-ratelimit-used", "100"),
                ("x-ratelimit-remaining", "0.0"),
                ("x-ratelimit-reset", "1.0"),
            ],
            Json(json!({"message": "Too Many Requests", "error": 429})),
        )
            .into_response();
    }
    let limit: usize = query["limit"].parse().unwrap();
    let mut children: Vec<Value> = if path == "/search" {
        assert_eq!(query["q"], "acme");
        assert_eq!(query["sort"], "new");
        vec![submission(2), submission(900)]
    } else {
        let mut all = reddit.devops.lock().unwrap().clone();
        all.reverse();
        all.insert(
            1,
            json!({"kind": "t3", "data": {"name": "t3_broken", "title": "no time"}}),
        );
        all
    };
    if let Some(after) = &after {
        let position = children
            .iter()
            .position(|child| child["data"]["name"] == json!(after))
            .unwrap();
        children.drain(..=position);
    }
    let next = (children.len() > limit).then(|| children[limit - 1]["data"]["name"].clone());
    children.truncate(limit);
    (
        [("x-ratelimit-used", "3"), ("x-ratelimit-remaining", "97.0"), ("x-ratelimit-reset", "420")],
        Json(json!({"kind": "Listing", "data": {"after": next, "before": null, "dist": children.len(), "children": children}})),
    )
        .into_response()
}

/// Standard base64, enough for a Basic header in a test.
mod base64_like {
    pub(super) fn encode(text: &str) -> String {
        const TABLE: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

fn config(base_url: &str, user_agent: &str) -> RedditConfig {
    RedditConfig {
        name: "reddit".to_owned(),
        base_url: base_url.to_owned(),
        auth_url: base_url.to_owned(),
        client_id: Secret::new("client-id"),
        client_secret: Secret::new(CLIENT_SECRET),
        subreddits: vec!["devops".to_owned()],
        queries: vec!["acme".to_owned()],
        interval: Duration::from_millis(300),
        user_agent: user_agent.to_owned(),
    }
}

fn router(reddit: &Arc<Reddit>) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/access_token", post(token))
        .route("/r/devops/new", get(listing))
        .route("/search", get(listing))
        .with_state(Arc::clone(reddit))
}

#[tokio::test]
async fn reddit_pages_back_refreshes_tokens_and_honours_rate_limits() {
    let (logs, _guard) = Logs::capture();
    let reddit = Arc::new(Reddit::default());
    reddit
        .devops
        .lock()
        .unwrap()
        .extend((1..=3).map(submission));
    let base_url = util::serve(router(&reddit)).await;
    let stats = Arc::new(SourceStats::default());
    let source =
        RedditPoller::new(config(&base_url, USER_AGENT), None, Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, Arc::clone(&stats));
    running
        .until("the first poll", |batches| !batches.is_empty())
        .await;
    assert_eq!(
        running.ids(),
        [
            "reddit:t3_a1",
            "reddit:t3_a2",
            "reddit:t3_a3",
            "reddit:t3_a900"
        ]
    );
    let first = &running.posts()[0];
    assert_eq!(
        first.text,
        "Anyone else seeing Acme Cloud 502s? #1\nSince 10:00 UTC & counting <sigh>"
    );
    assert_eq!(first.author.handle.as_deref(), Some("ops_sam"));
    assert_eq!(
        first.url.as_deref(),
        Some("https://www.reddit.com/r/devops/comments/a1/acme_502s/")
    );
    assert_eq!(first.created_at.timestamp(), 1_790_000_001);

    // 150 new submissions; the token is revoked and the next listing request throttled.
    reddit
        .devops
        .lock()
        .unwrap()
        .extend((4..=153).map(submission));
    *reddit.revoked.lock().unwrap() = true;
    *reddit.throttle_next.lock().unwrap() = true;
    running
        .until("the 150 new submissions", |batches| {
            batches
                .iter()
                .flat_map(|batch| &batch.posts)
                .any(|post| post.id.as_str() == "reddit:t3_a153")
        })
        .await;
    let ids = running.ids();
    let expected: Vec<String> = [
        "reddit:t3_a1",
        "reddit:t3_a2",
        "reddit:t3_a3",
        "reddit:t3_a900",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain((4..=153).map(|id| format!("reddit:t3_a{id}")))
    .collect();
    assert_eq!(ids, expected, "every item once, each poll oldest first");

    assert_eq!(
        *reddit.tokens_issued.lock().unwrap(),
        2,
        "the 401 renewed the token once"
    );
    let requests = reddit.requests.lock().unwrap().clone();
    let throttled = requests
        .iter()
        .position(|request| request.3 == 429)
        .unwrap();
    assert!(
        requests[throttled + 1].2 - requests[throttled].2 >= chrono::TimeDelta::seconds(1),
        "reset honoured"
    );
    assert!(
        requests
            .iter()
            .any(|request| request.1.as_deref() == Some("t3_a55")),
        "paged back with after="
    );

    // The checkpoint holds exactly what was handed on.
    for batch in &running.batches {
        let seen: Vec<&str> = batch.checkpoint.cursor["seen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let handed: usize = running
            .batches
            .iter()
            .take_while(|b| !std::ptr::eq(*b, batch))
            .map(|b| b.posts.len())
            .sum::<usize>()
            + batch.posts.len();
        assert_eq!(seen.len(), handed);
    }
    let snapshot = stats.snapshot();
    assert!(snapshot.decode_failures >= 1);
    assert!(
        snapshot.dropped.duplicate >= 1,
        "t3_a2 came through search too"
    );
    running.stop().await.unwrap();
    let logs = logs.text();
    assert!(
        !logs.contains(CLIENT_SECRET) && !logs.contains("access-tok-"),
        "a credential leaked into the logs"
    );
}

#[tokio::test]
async fn reddit_with_a_generic_user_agent_is_an_auth_failure() {
    let reddit = Arc::new(Reddit::default());
    let base_url = util::serve(router(&reddit)).await;
    let stats = Arc::new(SourceStats::default());
    let mut source = RedditPoller::new(config(&base_url, "reqwest/0.12"), None, stats).unwrap();
    let error = source.next_batch().await.unwrap_err();
    assert_eq!(error.class(), FailureClass::Auth, "{error}");
}
