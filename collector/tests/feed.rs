//! The feed poller against a local HTTP server serving RSS and Atom with conditional GET,
//! redirects, 410, 429 and malformed XML (sources.md §6 and §8.6 item 10).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use collector::SourceStats;
use collector::feed::{FeedConfig, FeedPoller};

use crate::util::{self, At, Logs, Running};

#[derive(Default)]
struct Server {
    /// Requests per path, with their If-None-Match, in order.
    requests: Mutex<Vec<(String, Option<String>, At)>>,
    /// Polls of the blog so far.
    blog_polls: Mutex<u32>,
}

const ITEM_GUID: &str = "<item><title>Why we moved off Acme</title><link>https://blog.example.com/posts/acme</link><guid isPermaLink=\"false\">blog:5521</guid><dc:creator>R. Ortiz</dc:creator><pubDate>Fri, 20 Nov 2026 10:15:00 +0000</pubDate><description>&lt;p&gt;Short version: &lt;b&gt;cost&lt;/b&gt;.&lt;/p&gt;</description></item>";
const ITEM_LINK_ONLY: &str = "<item><title>Acme pricing, again</title><link>https://blog.example.com/posts/pricing</link><pubDate>Fri, 20 Nov 2026 11:00:00 +0000</pubDate><description>No guid here.</description></item>";
const ITEM_NOTHING: &str = "<item><title>Acme notes</title><pubDate>Fri, 20 Nov 2026 12:00:00 +0000</pubDate><description>Neither guid nor link.</description></item>";
const ITEM_NEW: &str = "<item><title>Acme follow-up</title><link>https://blog.example.com/posts/follow-up</link><guid>blog:5600</guid><pubDate>Fri, 20 Nov 2026 13:00:00 +0000</pubDate><description>Later post.</description></item>";

fn rss(items: &[&str]) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Example Eng Blog</title><link>https://blog.example.com/</link>{}</channel></rss>",
        items.concat()
    )
}

async fn serve_feed(
    State(server): State<Arc<Server>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let etag = headers
        .get("if-none-match")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let now = chrono::Utc::now();
    let earlier: Vec<_> = {
        let mut requests = server.requests.lock().unwrap();
        requests.push((path.clone(), etag.clone(), now));
        requests
            .iter()
            .filter(|(seen, _, _)| *seen == path)
            .cloned()
            .collect()
    };
    let xml = [("content-type", "application/rss+xml")];
    match path.as_str() {
        "blog.xml" => {
            let poll = {
                let mut polls = server.blog_polls.lock().unwrap();
                *polls += 1;
                *polls
            };
            match poll {
                1 => (xml, [("etag", "\"v1\"")], rss(&[ITEM_GUID, ITEM_LINK_ONLY, ITEM_NOTHING])).into_response(),
                // Conditional GET: the validator came back.
                2 if etag.as_deref() == Some("\"v1\"") => StatusCode::NOT_MODIFIED.into_response(),
                // A new ETag on an unchanged body.
                3 => (xml, [("etag", "\"v2\"")], rss(&[ITEM_GUID, ITEM_LINK_ONLY, ITEM_NOTHING])).into_response(),
                // Reordered, with one new item.
                _ => (xml, [("etag", "\"v3\"")], rss(&[ITEM_NEW, ITEM_NOTHING, ITEM_LINK_ONLY, ITEM_GUID])).into_response(),
            }
        }
        "moved.xml" => (StatusCode::MOVED_PERMANENTLY, [("location", "/feeds/new-home.xml")]).into_response(),
        "new-home.xml" => (
            [("content-type", "application/atom+xml")],
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Forum</title><id>urn:forum</id><updated>2026-11-20T10:00:00Z</updated><entry><id>urn:forum:post:1</id><title>Acme SDK timeouts</title><updated>2026-11-20T10:00:00Z</updated><link rel=\"alternate\" href=\"https://forum.example/t/1\"/><author><name>Kim</name></author><content type=\"html\">&lt;p&gt;Same here &amp;amp; worse&lt;/p&gt;</content></entry></feed>",
        )
            .into_response(),
        "gone.xml" => StatusCode::GONE.into_response(),
        "busy.xml" if earlier.len() == 1 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response(),
        "busy.xml" => (xml, rss(&["<item><title>Acme busy feed</title><guid>busy:1</guid><pubDate>Fri, 20 Nov 2026 09:00:00 +0000</pubDate></item>"])).into_response(),
        "broken.xml" => (xml, "<rss version=\"2.0\"><channel><title>B</title><link>https://broken.example/</link><item><title>Acme kept</title><guid>b:1</guid></item><item><title>cut</ti").into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn poller(
    base: &str,
    stats: &Arc<SourceStats>,
    resume: Option<&collector::Checkpoint>,
) -> FeedPoller {
    let urls = [
        "blog.xml",
        "moved.xml",
        "gone.xml",
        "busy.xml",
        "broken.xml",
    ]
    .iter()
    .map(|path| format!("{base}/feeds/{path}"))
    .collect();
    let config = FeedConfig {
        name: "feeds".to_owned(),
        urls,
        interval: Duration::from_millis(150),
        user_agent: "veille-test/1".to_owned(),
    };
    FeedPoller::new(config, resume, Arc::clone(stats)).unwrap()
}

#[tokio::test]
async fn feeds_poll_conditionally_dedupe_and_follow_status_codes() {
    let (_logs, _guard) = Logs::capture();
    let server = Arc::new(Server::default());
    let router = axum::Router::new()
        .route("/feeds/{path}", get(serve_feed))
        .with_state(Arc::clone(&server));
    let base = util::serve(router).await;
    let stats = Arc::new(SourceStats::default());
    let mut running = Running::start(poller(&base, &stats, None), Arc::clone(&stats));
    running
        .until(
            "every feed's items, and the blog's fourth poll",
            |batches| {
                let texts: Vec<&str> = batches
                    .iter()
                    .flat_map(|batch| &batch.posts)
                    .map(|post| post.text.as_str())
                    .collect();
                texts.iter().any(|text| text.contains("follow-up"))
                    && texts.iter().any(|text| text.contains("busy"))
            },
        )
        .await;
    let mut ids = running.ids();
    ids.sort();
    let blog = format!("feed:{base}/feeds/blog.xml");
    let expected_keys = [
        format!("{blog}#blog:5521"),
        format!("{blog}#blog:5600"),
        format!("{blog}#https://blog.example.com/posts/pricing"),
    ];
    for key in &expected_keys {
        assert!(
            ids.iter()
                .any(|id| id.ends_with(key.split_once('#').unwrap().1)),
            "{key} in {ids:?}"
        );
    }
    // Every item once: 4 blog items, 1 Atom entry, 1 busy item, 1 kept before the XML error.
    assert_eq!(ids.len(), 7, "{ids:?}");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique, ids, "no duplicates");

    let posts = running.posts();
    let blog_post = posts
        .iter()
        .find(|post| post.id.as_str().ends_with("#blog:5521"))
        .unwrap();
    assert_eq!(
        blog_post.text,
        "Why we moved off Acme\nShort version: cost."
    );
    assert_eq!(blog_post.author.name.as_deref(), Some("R. Ortiz"));
    assert_eq!(
        blog_post.url.as_deref(),
        Some("https://blog.example.com/posts/acme")
    );
    assert_eq!(
        blog_post.created_at.to_rfc3339(),
        "2026-11-20T10:15:00+00:00"
    );
    let entry = posts.iter().find(|post| post.text.contains("SDK")).unwrap();
    assert_eq!(entry.text, "Acme SDK timeouts\nSame here & worse");

    let requests = server.requests.lock().unwrap().clone();
    let hits = |path: &str| requests.iter().filter(|(seen, _, _)| seen == path).count();
    assert_eq!(hits("gone.xml"), 1, "a 410 feed is not polled again");
    assert_eq!(hits("moved.xml"), 1, "a 301 is persisted");
    assert!(hits("new-home.xml") >= 2);
    let busy: Vec<_> = requests
        .iter()
        .filter(|(seen, _, _)| seen == "busy.xml")
        .collect();
    assert!(
        busy[1].2 - busy[0].2 >= chrono::TimeDelta::seconds(1),
        "Retry-After honoured"
    );
    let blog_requests: Vec<_> = requests
        .iter()
        .filter(|(seen, _, _)| seen == "blog.xml")
        .collect();
    assert_eq!(
        blog_requests[1].1.as_deref(),
        Some("\"v1\""),
        "If-None-Match sent back"
    );

    let snapshot = stats.snapshot();
    assert_eq!(snapshot.decode_failures, 1, "{snapshot:?}");

    // Resume from the last checkpoint: the validators and seen keys come back.
    let checkpoint = running.batches.last().unwrap().checkpoint.clone();
    running.stop().await.unwrap();
    let stats = Arc::new(SourceStats::default());
    let mut resumed = Running::start(poller(&base, &stats, Some(&checkpoint)), Arc::clone(&stats));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        stats.snapshot().last_event_at.is_some(),
        "polled after the resume"
    );
    resumed.until("nothing", |_| true).await;
    assert!(
        resumed.batches.is_empty(),
        "nothing handed on twice: {:?}",
        resumed.ids()
    );
    let requests = server.requests.lock().unwrap().clone();
    let last_blog = requests
        .iter()
        .rev()
        .find(|(seen, _, _)| seen == "blog.xml")
        .unwrap();
    assert_eq!(last_blog.1.as_deref(), Some("\"v3\""));
    assert!(
        !requests
            .iter()
            .rev()
            .take(5)
            .any(|(seen, _, _)| seen == "gone.xml")
    );
    resumed.stop().await.unwrap();
}
