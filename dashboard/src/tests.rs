//! Tests of the assembled app: every route through `oneshot` (no socket) over an in-RAM
//! index, the security headers, the page's freedom from server-rendered data, and one real
//! WebSocket through `serve` on `127.0.0.1:0`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use futures::StreamExt;
use http_body_util::BodyExt;
use index::{CommitTrigger, PostWriter};
use nlp::{AnalysedPost, SentimentLabel};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tower::ServiceExt;

use super::*;
use crate::test_support::{PostBuilder, instant};

mod access;

const HOSTILE_TEXT: &str = "<script>alert('pwned')</script><img src=x onerror=alert(1)>";
const HOSTILE_NAME: &str = "\"><svg onload=alert(2)>";

mod influencers;
use influencers::leaderboards;
mod labels;

fn posts() -> Vec<AnalysedPost> {
    vec![
        PostBuilder::new("x:1")
            .text("no signal since this morning")
            .author("@claire", "Claire")
            .sentiment(SentimentLabel::Negative, -0.7)
            .brand("Lumio")
            .category("topic", "outage")
            .build(),
        PostBuilder::new("x:2")
            .text(HOSTILE_TEXT)
            .author("@eve", HOSTILE_NAME)
            .url("javascript:alert(3)")
            .sentiment(SentimentLabel::Positive, 0.8)
            .brand("Lumio")
            .category("topic", "billing")
            .build(),
    ]
}

fn teams() -> Vec<Team> {
    let team = |name: &str, role| Team {
        name: name.to_owned(),
        role,
        members: vec!["someone".to_owned()],
    };
    vec![
        team("care", Role::Member),
        team("marketing", Role::Member),
        team("bosses", Role::Manager),
    ]
}

/// An app over an in-RAM index holding [`posts`], alerts for `care` and `marketing`, a
/// store with one user per team (`carla` in care, `mark` in marketing, `boss` in bosses)
/// and a running alert task.
pub(crate) struct Fixture {
    pub(crate) state: AppState,
    _writer: PostWriter,
    _dir: tempfile::TempDir,
    /// Keeps the alert task running.
    _posts: tokio::sync::mpsc::Sender<Arc<AnalysedPost>>,
}

pub(crate) const PASSWORD: &str = "a long enough password";

pub(crate) fn fixture() -> Fixture {
    let (mut writer, search) = PostWriter::open_in_ram().expect("in-RAM index");
    for post in posts() {
        writer.add(&post).expect("add");
    }
    writer.commit(CommitTrigger::InputClosed).expect("commit");
    let rules = vec![
        RoutingRule {
            name: "unhappy".to_owned(),
            when: routing::parse("sentiment = negative").expect("valid"),
            team: "care".to_owned(),
            severity: Severity::High,
            noise: Default::default(),
        },
        RoutingRule {
            name: "fans".to_owned(),
            when: routing::parse("sentiment = positive").expect("valid"),
            team: "marketing".to_owned(),
            severity: Severity::Low,
            noise: Default::default(),
        },
    ];
    let mut engine = AlertEngine::new(rules.clone(), teams());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = index::Store::open(&dir.path().join("state.redb")).expect("store");
    let log = Arc::new(AlertLog::open_with_capacity(store.clone(), 100).expect("alert log"));
    for (offset, post) in posts().iter().enumerate() {
        for alert in engine.evaluate(post, instant(offset as i64)) {
            log.record(alert).expect("record");
        }
    }
    let axes = vec![(
        "topic".to_owned(),
        vec!["outage".to_owned(), "billing".to_owned()],
    )];
    let health: HealthReport = Arc::new(|| json!({"collector": {"received": 3}}));
    let (live, _) = broadcast::channel(16);
    let auth = auth::Auth::new(store, true);
    for (user, team) in [("carla", "care"), ("mark", "marketing"), ("boss", "bosses")] {
        auth.users
            .add(user, PASSWORD, &[team.to_owned()])
            .expect("user");
    }
    let stats = Arc::new(alerts::service::AlertStats::default());
    let service = alerts::service::AlertService::new(
        AlertEngine::new(rules, teams()),
        Arc::clone(&log),
        live.clone(),
        Arc::clone(&stats),
    );
    let (alert_actions, commands) = alerts::service::AlertHandle::channel();
    let (posts, posts_in) = tokio::sync::mpsc::channel(16);
    tokio::spawn(alerts::service::run(
        service,
        posts_in,
        commands,
        std::time::Duration::from_secs(3600),
        CancellationToken::new(),
    ));
    let state = AppState {
        search,
        live,
        alerts: log,
        teams: Arc::new(teams()),
        axes: Arc::new(axes),
        health,
        auth: Arc::new(auth),
        alert_actions,
        alert_stats: stats,
        webhooks: Arc::new(webhooks::WebhookStatus::default()),
        influencers: tokio::sync::watch::channel(Arc::new(leaderboards())).1,
    };
    Fixture {
        state,
        _writer: writer,
        _dir: dir,
        _posts: posts,
    }
}

/// A signed-in browser: its session cookie and CSRF token.
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

impl Fixture {
    /// Opens a session for `user` directly in the store.
    pub(crate) fn sign_in(&self, user: &str) -> Browser {
        let (token, session) = self
            .state
            .auth
            .sessions
            .create(user, chrono::Utc::now())
            .expect("session");
        Browser {
            cookie: format!("{}={token}", auth::SESSION_COOKIE),
            csrf: session.csrf,
        }
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Response<Body> {
        router(self.state.clone())
            .oneshot(request)
            .await
            .expect("infallible")
    }

    pub(crate) async fn get_as(&self, browser: &Browser, uri: &str) -> Response<Body> {
        let request = Request::get(uri)
            .header(header::COOKIE, &browser.cookie)
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// A POST of `body` as JSON with the session cookie and, if given, a CSRF token.
    pub(crate) async fn post_as(
        &self,
        browser: &Browser,
        uri: &str,
        body: &Value,
        csrf: Option<&str>,
    ) -> Response<Body> {
        let mut request = Request::post(uri)
            .header(header::COOKIE, &browser.cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(csrf) = csrf {
            request = request.header(auth::CSRF_HEADER, csrf);
        }
        self.send(request.body(Body::from(body.to_string())).expect("request"))
            .await
    }
}

/// A GET as the manager `boss`.
async fn get(fixture: &Fixture, uri: &str) -> Response<Body> {
    let boss = fixture.sign_in("boss");
    fixture.get_as(&boss, uri).await
}

pub(crate) async fn body_text(response: Response<Body>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

pub(crate) async fn json_body(response: Response<Body>) -> Value {
    serde_json::from_str(&body_text(response).await).expect("json body")
}

async fn get_json(fixture: &Fixture, uri: &str) -> Value {
    let response = get(fixture, uri).await;
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    json_body(response).await
}

async fn get_error(fixture: &Fixture, uri: &str) -> (StatusCode, String) {
    let response = get(fixture, uri).await;
    let status = response.status();
    (status, body_text(response).await)
}

fn assert_security_headers(response: &Response<Body>) {
    let headers = response.headers();
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn health_reports_the_stages_and_the_hub() {
    let fixture = fixture();
    let health = get_json(&fixture, "/api/health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["stages"], json!({"collector": {"received": 3}}));
    assert_eq!(health["live"]["sockets_open"], 0);
}

#[tokio::test]
async fn search_finds_posts_and_counts_facets() {
    let fixture = fixture();
    let found = get_json(&fixture, "/api/search?q=signal").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["hits"][0]["id"], "x:1");
    assert_eq!(
        found["hits"][0]["post"]["post"]["text"],
        "no signal since this morning"
    );

    let facets_only = get_json(&fixture, "/api/search?limit=0").await;
    assert_eq!(facets_only["total"], 2);
    assert_eq!(facets_only["hits"], json!([]));
    assert!(
        facets_only["facets"]["sentiment"].is_array(),
        "{facets_only}"
    );

    let filtered = get_json(&fixture, "/api/search?topic=billing&sentiment=positive").await;
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["hits"][0]["id"], "x:2");
}

#[tokio::test]
async fn search_mistakes_are_400_with_a_reason() {
    let fixture = fixture();
    let (status, reason) = get_error(&fixture, "/api/search?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reason.contains("unknown query parameter `colour`"),
        "{reason}"
    );
    assert!(reason.contains("topic"), "axes are listed: {reason}");

    let (status, reason) = get_error(&fixture, "/api/search?limit=5000").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the index's BadQuery: {reason}"
    );
    assert!(reason.contains("limit"), "{reason}");
}

#[tokio::test]
async fn alerts_are_listed_per_team_newest_first() {
    let fixture = fixture();
    let care = get_json(&fixture, "/api/alerts?team=care").await;
    let ids: Vec<&str> = care["alerts"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|alert| alert["id"].as_str())
        .collect();
    assert_eq!(ids, ["unhappy:x:1"]);

    let every = get_json(&fixture, "/api/alerts").await;
    let ids: Vec<&str> = every["alerts"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|alert| alert["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["fans:x:2", "unhappy:x:1"],
        "a manager sees every alert"
    );

    let limited = get_json(&fixture, "/api/alerts?limit=1").await;
    assert_eq!(limited["alerts"].as_array().map(Vec::len), Some(1));

    let (status, reason) = get_error(&fixture, "/api/alerts?team=nobody").await;
    assert_eq!(
        (status, reason.as_str()),
        (StatusCode::BAD_REQUEST, "unknown team `nobody`")
    );
    let (status, _) = get_error(&fixture, "/api/alerts?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn meta_lists_teams_and_axes_without_members() {
    let fixture = fixture();
    let meta = get_json(&fixture, "/api/meta").await;
    assert_eq!(
        meta["teams"][2],
        json!({"name": "bosses", "role": "manager"})
    );
    assert_eq!(
        meta["axes"],
        json!([{"name": "topic", "categories": ["outage", "billing"]}])
    );
    assert!(!meta.to_string().contains("someone"));
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_security_headers() {
    let fixture = fixture();
    for (uri, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&fixture, uri).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            content_type,
            "{uri}"
        );
        assert_security_headers(&response);
    }
    for uri in [
        "/api/health",
        "/api/search?bad=1",
        "/nowhere",
        "/ws?team=nobody",
    ] {
        assert_security_headers(&get(&fixture, uri).await);
    }
}

#[tokio::test]
async fn the_page_never_contains_post_data() {
    let fixture = fixture();
    let page = body_text(get(&fixture, "/").await).await;
    assert_eq!(
        page,
        include_str!("../assets/index.html"),
        "the page is static"
    );
    for hostile in [
        HOSTILE_TEXT,
        HOSTILE_NAME,
        "onerror",
        "pwned",
        "javascript:",
    ] {
        assert!(!page.contains(hostile), "{hostile}");
    }
    // The page's scripts and styles are only the external, same-origin files.
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "no inline code"
    );
}

#[test]
fn the_script_inserts_data_as_text_only() {
    let script = include_str!("../assets/app.js");
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setAttribute(\"on",
    ] {
        assert!(!script.contains(sink), "app.js uses {sink}");
    }
    assert!(script.contains("textContent"));
    assert!(script.contains("noopener noreferrer"));
}

#[tokio::test]
async fn websocket_refuses_unknown_teams_and_parameters_before_upgrading() {
    // (As the manager, who may name any team.)
    let fixture = fixture();
    let (status, reason) = get_error(&fixture, "/ws?team=care,nobody").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reason.starts_with("unknown team `nobody`"), "{reason}");
    let (status, _) = get_error(&fixture, "/ws?channel=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get_error(&fixture, "/ws?team=care").await;
    assert_ne!(status, StatusCode::OK, "not a WebSocket request");
}

#[tokio::test]
async fn serves_websockets_until_shutdown() {
    let fixture = fixture();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let live = fixture.state.live.clone();
    let server = tokio::spawn(serve(listener, fixture.state.clone(), shutdown.clone()));

    let carla = fixture.sign_in("carla");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{address}/ws?team=care&backlog=0"
        ))
        .expect("request");
    request
        .headers_mut()
        .insert(header::COOKIE, carla.cookie.parse().expect("cookie header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket connects");
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "hello", "teams": ["care"]})
    );

    let other_team = LivePost::from_analysed(&posts()[1]).routed_to(vec!["marketing".to_owned()]);
    live.send(LiveEvent::Post(other_team).into())
        .expect("the socket subscribed");
    let post = LivePost::from_analysed(&posts()[0]).routed_to(vec!["care".to_owned()]);
    live.send(LiveEvent::Post(post).into())
        .expect("the socket subscribed");
    let received = next_json(&mut socket).await;
    assert_eq!(
        (received["type"].as_str(), received["id"].as_str()),
        (Some("post"), Some("x:1")),
        "a member receives only the posts routed to their teams"
    );

    shutdown.cancel();
    let closing = socket.next().await;
    assert!(
        matches!(closing, Some(Ok(WsMessage::Close(_))) | None),
        "{closing:?}"
    );
    let _ = socket.close(None).await;
    drop(socket);
    server
        .await
        .expect("server task")
        .expect("server stops cleanly");
}

/// The next text message of a client socket, as JSON.
async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = socket.next().await.expect("a message").expect("no error");
        if let WsMessage::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("json");
        }
    }
}
