//! The Discourse poller against a local forum serving `/posts.json` with id windows,
//! invisible posts that leave empty windows, a 429 and author profiles (sources.md §5).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use collector::discourse::{DiscourseConfig, DiscoursePoller};
use collector::{Secret, SourceStats};
use serde_json::{Value, json};

use crate::util::{self, At, Logs, Running};

const KEY: &str = "discourse-K3Y-secret";

#[derive(Default)]
struct Forum {
    /// Every post by id (invisible ones are never listed).
    posts: Mutex<BTreeMap<i64, Value>>,
    invisible: Mutex<BTreeSet<i64>>,
    /// Answer the next `/posts.json` with a 429.
    throttle_next: Mutex<bool>,
    requests: Mutex<Vec<(Option<i64>, At, u16)>>,
}

fn post(id: i64) -> Value {
    json!({
        "id": id, "topic_id": 4410, "post_number": id, "topic_slug": "acme-sdk-timeouts",
        "topic_title": "Acme SDK timeouts", "username": if id % 2 == 0 { "kim" } else { "lee" },
        "name": if id % 2 == 0 { "Kim L" } else { "" }, "user_id": 800 + id % 2, "trust_level": 2,
        "created_at": "2026-11-20T10:14:55.120Z", "cooked": format!("<p>Same here with Acme {id} &amp; more</p>"),
        "raw": format!("Same here with Acme {id}"), "reply_to_post_number": if id > 1 { json!(1) } else { json!(null) },
        "reply_count": 0, "quote_count": 0, "reads": 14, "score": 2.4,
        "actions_summary": [{"id": 2, "count": 3}], "post_url": format!("/t/acme-sdk-timeouts/4410/{id}")
    })
}

async fn posts(
    State(forum): State<Arc<Forum>>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    assert_eq!(headers.get("api-key").unwrap(), KEY);
    assert_eq!(headers.get("api-username").unwrap(), "system");
    let before: Option<i64> = query.get("before").map(|before| before.parse().unwrap());
    let throttled = std::mem::take(&mut *forum.throttle_next.lock().unwrap());
    let status = if throttled { 429 } else { 200 };
    forum
        .requests
        .lock()
        .unwrap()
        .push((before, chrono::Utc::now(), status));
    if throttled {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("retry-after", "1"),
                ("discourse-rate-limit-error-code", "ip_10_secs_limit"),
                ("content-type", "text/plain"),
            ],
            "Slow down, too many requests from this IP address",
        )
            .into_response();
    }
    // The id window `(before - 50, before]` (newest when no `before`), minus what the
    // caller cannot see: a window can come back empty while older posts exist.
    let all = forum.posts.lock().unwrap();
    let top = before.unwrap_or_else(|| all.keys().max().copied().unwrap_or(0));
    let invisible = forum.invisible.lock().unwrap();
    let latest: Vec<Value> = all
        .range(top - 49..=top)
        .rev()
        .filter(|(id, _)| !invisible.contains(id))
        .map(|(_, post)| post.clone())
        .collect();
    Json(json!({"latest_posts": latest})).into_response()
}

async fn user(Path(file): Path<String>) -> Json<Value> {
    let name = file.trim_end_matches(".json");
    Json(
        json!({"user": {"username": name, "trust_level": 2, "post_count": if name == "kim" { 312 } else { 7 }}}),
    )
}

#[tokio::test]
async fn discourse_walks_before_windows_without_gaps() {
    let (logs, _guard) = Logs::capture();
    let forum = Arc::new(Forum::default());
    {
        let mut posts = forum.posts.lock().unwrap();
        for id in 1..=5 {
            posts.insert(id, post(id));
        }
        // A malformed post (no username) among them, and a whisper.
        posts.insert(3, json!({"id": 3, "created_at": "2026-11-20T10:00:00Z"}));
        let mut whisper = post(4);
        whisper["post_type"] = json!(4);
        posts.insert(4, whisper);
    }
    let router = axum::Router::new()
        .route("/posts.json", get(posts))
        .route("/u/{file}", get(user))
        .with_state(Arc::clone(&forum));
    let base_url = util::serve(router).await;
    let config = DiscourseConfig {
        name: "forum".to_owned(),
        base_url: base_url.clone(),
        api_key: Some((Secret::new(KEY), "system".to_owned())),
        interval: Duration::from_millis(200),
        user_agent: "veille-test/1".to_owned(),
    };
    let stats = Arc::new(SourceStats::default());
    let source = DiscoursePoller::new(config, None, Arc::clone(&stats)).unwrap();
    let mut running = Running::start(source, Arc::clone(&stats));
    running
        .until("the first page", |batches| !batches.is_empty())
        .await;
    assert_eq!(running.ids().len(), 3, "{:?}", running.ids());

    // 130 more posts arrive, 60..=110 invisible (the window below the newest page is empty),
    // and the next request is throttled.
    {
        let mut posts = forum.posts.lock().unwrap();
        for id in 6..=135 {
            posts.insert(id, post(id));
        }
        forum.invisible.lock().unwrap().extend(60..=110);
        *forum.throttle_next.lock().unwrap() = true;
    }
    running
        .until("every visible post up to 135", |batches| {
            batches
                .iter()
                .flat_map(|batch| &batch.posts)
                .any(|post| post.id.as_str().ends_with("/135"))
        })
        .await;

    let host = base_url
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let ids: Vec<i64> = running
        .posts()
        .iter()
        .map(|post| {
            post.id
                .as_str()
                .rsplit('/')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let expected: Vec<i64> = [1, 2, 5]
        .into_iter()
        .chain(6..60)
        .chain(111..=135)
        .collect();
    assert_eq!(ids, expected, "every visible post once, oldest first");
    assert!(
        running.posts()[0]
            .id
            .as_str()
            .starts_with(&format!("discourse:{host}/"))
    );

    let first = &running.posts()[1];
    assert_eq!(first.text, "Same here with Acme 2 & more");
    assert_eq!(first.author.handle.as_deref(), Some("kim"));
    assert_eq!(first.author.name.as_deref(), Some("Kim L"));
    assert_eq!(first.author.maven.trust_level, Some(2));
    assert_eq!(first.author.maven.post_count, Some(312));
    assert_eq!(first.engagement.likes, Some(3));
    assert_eq!(
        first.url.as_deref(),
        Some(format!("{base_url}/t/acme-sdk-timeouts/4410/2").as_str())
    );
    assert_eq!(
        first.created_at.to_rfc3339(),
        "2026-11-20T10:14:55.120+00:00"
    );
    let opener = &running.posts()[0];
    assert_eq!(
        opener.text,
        "Acme SDK timeouts\nSame here with Acme 1 & more"
    );
    assert_eq!(
        opener.author.name.as_deref(),
        Some("lee"),
        "empty name falls back to the username"
    );

    // The walk asked the empty window and went on below it; the 429 was waited out.
    let requests = forum.requests.lock().unwrap().clone();
    let befores: Vec<Option<i64>> = requests
        .iter()
        .filter(|request| request.2 == 200)
        .map(|request| request.0)
        .collect();
    assert!(
        befores
            .windows(3)
            .any(|w| w == [Some(110), Some(60), Some(10)]),
        "{befores:?}"
    );
    let throttled = requests
        .iter()
        .position(|request| request.2 == 429)
        .unwrap();
    assert!(requests[throttled + 1].1 - requests[throttled].1 >= chrono::TimeDelta::seconds(1));

    // The checkpoint never passes a post not handed on.
    let mut handed_on = 0;
    for batch in &running.batches {
        for post in &batch.posts {
            handed_on = handed_on.max(
                post.id
                    .as_str()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap(),
            );
        }
        let checkpoint = batch.checkpoint.cursor["max_post_id"].as_i64().unwrap();
        assert!(checkpoint <= handed_on.max(5), "{checkpoint} > {handed_on}");
    }
    let snapshot = stats.snapshot();
    assert_eq!(snapshot.decode_failures, 1);
    assert_eq!(snapshot.dropped.filtered, 1);
    running.stop().await.unwrap();
    assert!(!logs.text().contains(KEY));
}
