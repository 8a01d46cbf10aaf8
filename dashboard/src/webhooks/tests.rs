//! Webhooks against a real local receiver on 127.0.0.1:0 that checks every signature and
//! fails the first two deliveries.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use super::*;
use crate::alerts::tests::sample_alert;

const SECRET: &str = "s3cret-shared-with-the-receiver";

#[derive(Default)]
struct Receiver {
    /// (signature valid, body) of every request.
    received: Mutex<Vec<(bool, Value)>>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let timestamp: i64 = headers
        .get(TIMESTAMP_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let fresh = (Utc::now().timestamp() - timestamp).abs() < 300;
    let sent = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let valid = fresh && sent == signature(SECRET, timestamp, &body);
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut received = receiver.received.lock().expect("no poisoning");
    received.push((valid, json));
    if !valid {
        return StatusCode::UNAUTHORIZED;
    }
    if received.len() <= 2 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

#[test]
fn signatures_depend_on_secret_time_and_body() {
    let one = signature("k", 1, b"{}");
    assert!(one.starts_with("v1=") && one.len() == 3 + 64);
    assert_ne!(one, signature("k2", 1, b"{}"));
    assert_ne!(one, signature("k", 2, b"{}"));
    assert_ne!(one, signature("k", 1, b"{ }"));
    assert_eq!(format!("{:?}", Secret::new("hidden")), "Secret(***)");
}

#[tokio::test]
async fn signed_deliveries_are_retried_until_the_receiver_takes_them() {
    let receiver = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let targets = BTreeMap::from([(
        "care".to_owned(),
        WebhookTarget {
            url: format!("http://{address}/hook"),
            secret: Secret::new(SECRET),
        },
    )]);
    let policy = RetryPolicy {
        max_attempts: 4,
        first_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
    };
    let status = Arc::new(WebhookStatus::default());
    let (input, output) = mpsc::channel(8);
    let worker = tokio::spawn(run(targets, policy, output, Arc::clone(&status)));
    let mut alert = sample_alert("unhappy:x:1");
    alert.team = "care".to_owned();
    input
        .send(Notification::Alert {
            team: "care".to_owned(),
            alert: Box::new(alert),
        })
        .await
        .expect("queued");
    input
        .send(Notification::Alert {
            team: "nobody-listens".to_owned(),
            alert: Box::new(sample_alert("other")),
        })
        .await
        .expect("queued");
    drop(input);
    worker
        .await
        .expect("the dispatcher ends when its input closes");
    server.abort();

    let received = receiver.received.lock().expect("no poisoning");
    assert_eq!(received.len(), 3, "two failures, then delivered");
    assert!(
        received.iter().all(|(valid, _)| *valid),
        "every attempt is signed"
    );
    let body = &received[2].1;
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("veille alert for care"))
    );
    assert_eq!(body["veille"]["alert"]["id"], "unhappy:x:1");
    let care = &status.snapshot()["care"];
    assert_eq!(
        (care.delivered, care.failed_attempts, care.given_up),
        (1, 2, 0)
    );
    assert_eq!(
        care.last_error.as_deref(),
        Some("the receiver answered 500 Internal Server Error")
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_given_up_and_shown() {
    // A port nothing listens on: bind, note it, close.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let targets = BTreeMap::from([(
        "care".to_owned(),
        WebhookTarget {
            url: format!("http://{address}/hook"),
            secret: Secret::new(SECRET),
        },
    )]);
    let policy = RetryPolicy {
        max_attempts: 3,
        first_backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(5),
    };
    let status = Arc::new(WebhookStatus::default());
    let (input, output) = mpsc::channel(8);
    let worker = tokio::spawn(run(targets, policy, output, Arc::clone(&status)));
    input
        .send(Notification::Alert {
            team: "care".to_owned(),
            alert: Box::new(sample_alert("a")),
        })
        .await
        .expect("queued");
    drop(input);
    worker.await.expect("dispatcher ends");
    let care = &status.snapshot()["care"];
    assert_eq!(
        (care.delivered, care.failed_attempts, care.given_up),
        (0, 3, 1)
    );
    assert_eq!(
        care.last_error.as_deref(),
        Some("cannot connect to the receiver")
    );
    assert!(
        !format!("{care:?}").contains(&address.to_string()),
        "no URL shown"
    );
}
