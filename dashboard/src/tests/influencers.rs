//! `/api/influencers` and the influence panel's script, over leaderboards built by a real
//! tracker.

use collector::SourceKind;
use nlp::influence::{InfluenceConfig, InfluenceTracker, Leaderboards, Observation};

use super::*;

/// Leaderboards of brand Lumio: `@big` (90k followers) and `ana` (a forum expert).
pub(super) fn leaderboards() -> Leaderboards {
    let mut tracker = InfluenceTracker::new(InfluenceConfig::default(), ["Lumio"]);
    let big = Observation {
        source: SourceKind::X,
        author_id: "1",
        handle: Some("big"),
        name: Some("<b>Big</b>"),
        profile_url: None,
        followers: Some(90_000),
        engagement: 10,
        trust_level: None,
        forum_posts: None,
        blog_author: false,
        text_chars: 80,
        answering: false,
        at: 1_750_000_000,
    };
    let expert = Observation {
        source: SourceKind::Discourse,
        author_id: "ana",
        handle: None,
        name: Some("ana"),
        followers: None,
        engagement: 0,
        trust_level: Some(4),
        forum_posts: Some(3_000),
        answering: true,
        ..big
    };
    tracker.observe(&big, &["Lumio"]);
    for _ in 0..6 {
        tracker.observe(&expert, &["Lumio"]);
    }
    tracker.refresh();
    tracker.leaderboards()
}

#[tokio::test]
async fn influencers_lists_each_kind_with_its_explanation() {
    let fixture = fixture();
    let response = get(&fixture, "/api/influencers?brand=lumio&kind=connector").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&body_text(response).await).expect("json");
    let brand = &body["brands"][0];
    assert_eq!(brand["brand"], "Lumio");
    assert!(brand.get("mavens").is_none(), "only the asked kind");
    let leader = &brand["connectors"]["leaders"][0];
    assert_eq!(leader["author"], "@big");
    assert_eq!(leader["rank"], 1);
    let explanation = leader["explanation"].as_str().expect("text");
    assert!(
        explanation.contains("90k followers × 1 posts"),
        "{explanation}"
    );

    let response = get(&fixture, "/api/influencers").await;
    let body: Value = serde_json::from_str(&body_text(response).await).expect("json");
    assert_eq!(body["share"], 0.8);
    assert_eq!(body["brands"][0]["mavens"]["leaders"][0]["author"], "ana");
}

#[tokio::test]
async fn influencers_rejects_unknown_brands_and_kinds() {
    let fixture = fixture();
    for uri in [
        "/api/influencers?brand=acme",
        "/api/influencers?kind=guru",
        "/api/influencers?limit=many",
        "/api/influencers?colour=red",
    ] {
        let response = get(&fixture, uri).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
    }
}

#[tokio::test]
async fn the_page_loads_the_influence_panel_script() {
    let fixture = fixture();
    let page = body_text(get(&fixture, "/").await).await;
    assert!(page.contains("/assets/influence.js"));
    let response = get(&fixture, "/assets/influence.js").await;
    assert_eq!(response.status(), StatusCode::OK);
    let script = body_text(response).await;
    assert!(script.contains("/api/influencers"));
    assert!(!script.contains("innerHTML"), "text only, never markup");
}
