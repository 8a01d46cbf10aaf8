//! Router-level tests of who may see and do what: 401 without a session, sign-in and its
//! rate limiting, team isolation, CSRF, and lifecycle actions pushed live.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::{Fixture, PASSWORD, body_text, fixture, json_body};
use crate::auth;
use crate::live::LiveEvent;

fn ids(alerts: &Value) -> Vec<&str> {
    alerts["alerts"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|alert| alert["id"].as_str())
        .collect()
}

async fn login(
    fixture: &Fixture,
    body: &Value,
    origin: Option<&str>,
) -> axum::http::Response<Body> {
    let mut request = Request::post("/api/login")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    fixture
        .send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

#[tokio::test]
async fn everything_but_health_and_sign_in_needs_a_session() {
    let fixture = fixture();
    for uri in [
        "/api/search?q=signal",
        "/api/alerts",
        "/api/meta",
        "/api/status",
        "/api/session",
        "/ws?team=care",
        "/api/a-route-added-later",
    ] {
        let response = fixture
            .send(Request::get(uri).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(json_body(response).await, json!({"error": "sign in first"}));
    }
    for uri in ["/api/alerts/unhappy:x:1/actions", "/api/logout"] {
        let response = fixture
            .send(Request::post(uri).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
    }
    for uri in ["/", "/assets/app.js", "/a-page-added-later"] {
        let response = fixture
            .send(Request::get(uri).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(response.headers()[header::LOCATION], "/login", "{uri}");
    }
    for uri in [
        "/api/health",
        "/login",
        "/assets/login.js",
        "/assets/app.css",
    ] {
        let response = fixture
            .send(Request::get(uri).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    }
    let forged = Request::get("/api/alerts")
        .header(header::COOKIE, format!("{}=0123abcd", auth::SESSION_COOKIE))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        fixture.send(forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let forged = Request::get("/api/alerts")
        .header(header::AUTHORIZATION, "Bearer vt_forged")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        fixture.send(forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_is_rate_limited() {
    let fixture = fixture();
    let right = json!({"name": "carla", "password": PASSWORD});
    let response = login(&fixture, &right, Some("http://127.0.0.1:8080")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = json_body(response).await;
    assert_eq!(session["user"], "carla");
    assert_eq!(session["teams"], json!(["care"]));
    assert_eq!(session["manager"], false);
    let csrf = session["csrf"].as_str().expect("csrf token").to_owned();
    let browser = super::Browser {
        cookie: cookie.split(';').next().expect("pair").to_owned(),
        csrf,
    };
    let again = json_body(fixture.get_as(&browser, "/api/session").await).await;
    assert_eq!(again, session);

    let response = login(&fixture, &right, Some("https://evil.example")).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "cross-site sign-in"
    );
    let form = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("name=carla&password={PASSWORD}")))
        .expect("request");
    assert_eq!(
        fixture.send(form).await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let wrong = json!({"name": "carla", "password": "not the password"});
    for _ in 0..5 {
        let response = login(&fixture, &wrong, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = body_text(response).await;
        assert!(body.contains("wrong name or password") && !body.contains("not the password"));
    }
    let response = login(&fixture, &right, None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let other_user = json!({"name": "mark", "password": PASSWORD});
    assert_eq!(
        login(&fixture, &other_user, None).await.status(),
        StatusCode::OK
    );

    let response = fixture
        .post_as(&browser, "/api/logout", &json!({}), Some(&browser.csrf))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = fixture.get_as(&browser, "/api/session").await;
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the session ended"
    );
}

#[tokio::test]
async fn members_see_only_their_teams() {
    let fixture = fixture();
    let carla = fixture.sign_in("carla");
    let mark = fixture.sign_in("mark");
    let boss = fixture.sign_in("boss");

    let care = json_body(fixture.get_as(&carla, "/api/alerts").await).await;
    assert_eq!(ids(&care), ["unhappy:x:1"]);
    let marketing = json_body(fixture.get_as(&mark, "/api/alerts").await).await;
    assert_eq!(ids(&marketing), ["fans:x:2"]);
    let every = json_body(fixture.get_as(&boss, "/api/alerts").await).await;
    assert_eq!(ids(&every), ["fans:x:2", "unhappy:x:1"]);
    let filtered = json_body(fixture.get_as(&boss, "/api/alerts?team=care").await).await;
    assert_eq!(ids(&filtered), ["unhappy:x:1"]);

    for uri in [
        "/api/alerts?team=marketing",
        "/ws?team=marketing",
        "/api/search",
    ] {
        let response = fixture.get_as(&carla, uri).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(
        fixture.get_as(&boss, "/api/search").await.status(),
        StatusCode::OK
    );

    let response = fixture
        .post_as(
            &mark,
            "/api/alerts/unhappy:x:1/actions",
            &json!({"action": "acknowledge"}),
            Some(&mark.csrf),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "another team's alert does not exist for them"
    );
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_of_the_session() {
    let fixture = fixture();
    let carla = fixture.sign_in("carla");
    let uri = "/api/alerts/unhappy:x:1/actions";
    let acknowledge = json!({"action": "acknowledge"});
    for csrf in [
        None,
        Some("0".repeat(64).as_str()),
        Some(fixture.sign_in("carla").csrf.as_str()),
    ] {
        let response = fixture.post_as(&carla, uri, &acknowledge, csrf).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{csrf:?}");
        assert_eq!(
            json_body(response).await,
            json!({"error": "missing or wrong CSRF token"})
        );
    }
    let cross_site = Request::post(uri)
        .header(header::COOKIE, &carla.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "https://evil.example")
        .header(auth::CSRF_HEADER, &carla.csrf)
        .body(Body::from(acknowledge.to_string()))
        .expect("request");
    assert_eq!(
        fixture.send(cross_site).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        fixture
            .state
            .alerts
            .get("unhappy:x:1")
            .map(|a| a.lifecycle.status),
        Some(crate::alerts::Status::New),
        "nothing changed"
    );

    let response = fixture
        .post_as(&carla, uri, &acknowledge, Some(&carla.csrf))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // An API token is not sent by browsers on their own: no CSRF token needed.
    let token = fixture
        .state
        .auth
        .users
        .issue_token("carla")
        .expect("token");
    let with_token = Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"action": "assign", "to": "sam"}).to_string(),
        ))
        .expect("request");
    let response = fixture.send(with_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["lifecycle"]["assignee"], "sam");
}

#[tokio::test]
async fn lifecycle_actions_are_applied_by_the_alert_task_and_pushed_live() {
    let fixture = fixture();
    let carla = fixture.sign_in("carla");
    let mut live = fixture.state.live.subscribe();
    let uri = "/api/alerts/unhappy:x:1/actions";
    let response = fixture
        .post_as(
            &carla,
            uri,
            &json!({"action": "acknowledge"}),
            Some(&carla.csrf),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let alert = json_body(response).await;
    assert_eq!(alert["lifecycle"]["status"], "acknowledged");
    assert_eq!(alert["lifecycle"]["history"][0]["by"], "carla");
    match live.recv().await.expect("a live event").event().clone() {
        LiveEvent::AlertUpdated(updated) => {
            assert_eq!(updated.id, "unhappy:x:1");
            assert_eq!(
                updated.lifecycle.status,
                crate::alerts::Status::Acknowledged
            );
        }
        other => panic!("expected alert_updated, got {other:?}"),
    }
    let again = fixture
        .post_as(
            &carla,
            uri,
            &json!({"action": "acknowledge"}),
            Some(&carla.csrf),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let handled = fixture
        .post_as(
            &carla,
            uri,
            &json!({"action": "handle", "note": "answered in DM"}),
            Some(&carla.csrf),
        )
        .await;
    assert_eq!(handled.status(), StatusCode::OK);
    assert_eq!(
        json_body(handled).await["lifecycle"]["history"][1]["note"],
        "answered in DM"
    );
    let unknown = fixture
        .post_as(
            &carla,
            "/api/alerts/nope/actions",
            &json!({"action": "acknowledge"}),
            Some(&carla.csrf),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let bad = fixture
        .post_as(&carla, uri, &json!({"action": "delete"}), Some(&carla.csrf))
        .await;
    assert!(bad.status().is_client_error());
}
