//! Label feedback over HTTP: `POST /api/posts/{id}/label` stores a correction made by the
//! signed-in user, refuses bad axes, labels, unknown posts and posts a member cannot see,
//! and `GET /api/labels/accuracy` counts the corrections per axis.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Browser, Fixture, fixture, json_body};

async fn relabel(
    fixture: &Fixture,
    browser: &Browser,
    post: &str,
    body: Value,
) -> (StatusCode, String) {
    let response = fixture
        .post_as(
            browser,
            &format!("/api/posts/{post}/label"),
            &body,
            Some(&browser.csrf),
        )
        .await;
    let status = response.status();
    (status, super::body_text(response).await)
}

async fn accuracy(fixture: &Fixture, browser: &Browser) -> Value {
    let response = fixture.get_as(browser, "/api/labels/accuracy").await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

#[tokio::test]
async fn corrections_are_stored_with_their_author_and_counted_per_axis() {
    let fixture = fixture();
    let boss = fixture.sign_in("boss");
    assert_eq!(accuracy(&fixture, &boss).await, json!({"axes": {}}));

    // x:1 was analysed as negative / outage: the first correction confirms the sentiment,
    // the second says the topic was billing.
    let (status, body) = relabel(
        &fixture,
        &boss,
        "x:1",
        json!({"axis": "sentiment", "label": "negative"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(stored["correction"]["by"], "boss");
    assert_eq!(stored["correction"]["predicted"], json!(["negative"]));
    assert_eq!(stored["correction"]["text"], "no signal since this morning");
    let (status, body) = relabel(
        &fixture,
        &boss,
        "x:1",
        json!({"axis": "topic", "label": "billing"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // x:2 was positive; a person says it is negative.
    let (status, body) = relabel(
        &fixture,
        &boss,
        "x:2",
        json!({"axis": "sentiment", "label": "negative"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let axes = accuracy(&fixture, &boss).await["axes"].clone();
    assert_eq!(axes["sentiment"]["corrected"], 2);
    assert_eq!(axes["sentiment"]["right"], 1);
    assert_eq!(axes["sentiment"]["accuracy"], 0.5);
    assert_eq!(axes["topic"]["corrected"], 1);
    assert_eq!(axes["topic"]["right"], 0);

    // A second correction of the same post and axis replaces the first.
    let (status, _) = relabel(
        &fixture,
        &boss,
        "x:2",
        json!({"axis": "sentiment", "label": "positive"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let axes = accuracy(&fixture, &boss).await["axes"].clone();
    assert_eq!(axes["sentiment"]["corrected"], 2);
    assert_eq!(axes["sentiment"]["right"], 2);

    // The corrections are in the store the next `veille train --config` reads.
    let store = fixture.state.alerts.store().expect("store");
    let kept: Vec<(String, nlp::feedback::Correction)> =
        store.list(nlp::feedback::CORRECTIONS_TABLE).expect("list");
    assert_eq!(kept.len(), 3);
}

#[tokio::test]
async fn bad_corrections_are_refused_with_a_reason() {
    let fixture = fixture();
    let boss = fixture.sign_in("boss");
    for (post, body, expected, says) in [
        (
            "x:1",
            json!({"axis": "mood", "label": "sad"}),
            StatusCode::BAD_REQUEST,
            "unknown axis",
        ),
        (
            "x:1",
            json!({"axis": "sentiment", "label": "grumpy"}),
            StatusCode::BAD_REQUEST,
            "negative, neutral, positive",
        ),
        (
            "x:1",
            json!({"axis": "topic", "label": "weather"}),
            StatusCode::BAD_REQUEST,
            "outage, billing",
        ),
        (
            "x:404",
            json!({"axis": "sentiment", "label": "neutral"}),
            StatusCode::NOT_FOUND,
            "x:404",
        ),
    ] {
        let (status, text) = relabel(&fixture, &boss, post, body.clone()).await;
        assert_eq!(status, expected, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let (status, _) = relabel(
        &fixture,
        &boss,
        "x:1",
        json!({"axis": "sentiment", "label": "neutral", "colour": "red"}),
    )
    .await;
    assert!(status.is_client_error(), "unknown fields are refused");
    assert_eq!(
        accuracy(&fixture, &boss).await,
        json!({"axes": {}}),
        "nothing stored"
    );
}

#[tokio::test]
async fn members_correct_only_the_posts_of_their_alerts() {
    let fixture = fixture();
    // carla (care) got the alert for x:1 (negative), not for x:2 (marketing's).
    let carla = fixture.sign_in("carla");
    let (status, body) = relabel(
        &fixture,
        &carla,
        "x:1",
        json!({"axis": "intent", "label": "complaint"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = relabel(
        &fixture,
        &carla,
        "x:2",
        json!({"axis": "sentiment", "label": "negative"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        !body.contains("pwned"),
        "the refused post's text is not shown"
    );

    // Without the CSRF token a cookie session cannot correct anything.
    let response = fixture
        .post_as(
            &carla,
            "/api/posts/x:1/label",
            &json!({"axis": "sentiment", "label": "neutral"}),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let axes = accuracy(&fixture, &carla).await["axes"].clone();
    assert_eq!(axes["intent"]["corrected"], 1);
    assert!(axes.get("sentiment").is_none(), "{axes}");
}
