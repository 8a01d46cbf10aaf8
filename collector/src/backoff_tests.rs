use reqwest::header::{HeaderName, HeaderValue};

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

#[test]
fn network_reconnects_at_once_then_steps_by_a_quarter_second_to_16_s() {
    let delays: Vec<u128> = [0, 1, 2, 3, 63, 64, 65, 1000]
        .into_iter()
        .map(|attempt| {
            base_delay(FailureClass::Network, attempt, None)
                .unwrap()
                .as_millis()
        })
        .collect();
    assert_eq!(delays, [0, 250, 500, 750, 15_750, 16_000, 16_000, 16_000]);
}

#[test]
fn server_errors_double_from_5_s_to_320_s() {
    let delays: Vec<u64> = (0..9)
        .map(|attempt| {
            base_delay(FailureClass::Server, attempt, None)
                .unwrap()
                .as_secs()
        })
        .collect();
    assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 320, 320]);
    assert_eq!(
        base_delay(FailureClass::Decode, u32::MAX, None),
        Some(SERVER_CAP)
    );
}

#[test]
fn rate_limits_use_the_asked_wait_plus_a_second_else_double_from_a_minute() {
    assert_eq!(
        base_delay(FailureClass::RateLimited, 3, Some(secs(7))),
        Some(secs(8))
    );
    let delays: Vec<u64> = (0..6)
        .map(|attempt| {
            base_delay(FailureClass::RateLimited, attempt, None)
                .unwrap()
                .as_secs()
        })
        .collect();
    assert_eq!(delays, [60, 120, 240, 480, 900, 900]);
}

#[test]
fn auth_waits_ten_minutes_and_bad_requests_never_retry() {
    assert_eq!(base_delay(FailureClass::Auth, 0, None), Some(AUTH_RETRY));
    assert_eq!(base_delay(FailureClass::BadRequest, 0, None), None);
}

#[test]
fn statuses_map_to_classes() {
    let none = HeaderMap::new();
    let class = |status| classify_status(status, &none, ResetHeader::None, now()).class;
    assert_eq!(class(429), FailureClass::RateLimited);
    assert_eq!(class(401), FailureClass::Auth);
    assert_eq!(class(403), FailureClass::Auth);
    assert_eq!(class(400), FailureClass::BadRequest);
    assert_eq!(class(404), FailureClass::BadRequest);
    assert_eq!(class(410), FailureClass::BadRequest);
    assert_eq!(class(422), FailureClass::BadRequest);
    assert_eq!(class(500), FailureClass::Server);
    assert_eq!(class(503), FailureClass::Server);
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let seconds = headers(&[("retry-after", "42")]);
    assert_eq!(retry_after(&seconds, now()), Some(secs(42)));
    let date = headers(&[("retry-after", "Fri, 20 Nov 2026 12:01:30 GMT")]);
    assert_eq!(retry_after(&date, now()), Some(secs(90)));
    let past = headers(&[("retry-after", "Fri, 20 Nov 2026 11:00:00 GMT")]);
    assert_eq!(retry_after(&past, now()), Some(Duration::ZERO));
    let garbage = headers(&[("retry-after", "soon")]);
    assert_eq!(retry_after(&garbage, now()), None);
}

#[test]
fn x_reset_is_an_epoch() {
    let reset = (now().timestamp() + 120).to_string();
    let failure = classify_status(
        429,
        &headers(&[("x-rate-limit-reset", &reset)]),
        ResetHeader::XEpoch,
        now(),
    );
    assert_eq!(failure.class, FailureClass::RateLimited);
    assert_eq!(failure.retry_after, Some(secs(120)));
    // A reset in the past means "go now" (plus the margin in base_delay).
    let past = (now().timestamp() - 5).to_string();
    let failure = classify_status(
        429,
        &headers(&[("x-rate-limit-reset", &past)]),
        ResetHeader::XEpoch,
        now(),
    );
    assert_eq!(failure.retry_after, Some(Duration::ZERO));
}

#[test]
fn reddit_reset_is_seconds_until_as_a_float() {
    let failure = classify_status(
        429,
        &headers(&[
            ("x-ratelimit-remaining", "0.0"),
            ("x-ratelimit-reset", "37.5"),
        ]),
        ResetHeader::RedditSecondsUntil,
        now(),
    );
    assert_eq!(failure.retry_after, Some(Duration::from_millis(37_500)));
}

#[test]
fn mastodon_reset_is_a_timestamp_or_an_epoch() {
    let stamp = headers(&[("x-ratelimit-reset", "2026-11-20T12:05:00.000Z")]);
    assert_eq!(
        reset_wait(&stamp, ResetHeader::MastodonTimestamp, now()),
        Some(secs(300))
    );
    let epoch = headers(&[("x-ratelimit-reset", &(now().timestamp() + 10).to_string())]);
    assert_eq!(
        reset_wait(&epoch, ResetHeader::MastodonTimestamp, now()),
        Some(secs(10))
    );
}

#[test]
fn retry_after_wins_over_the_reset_header_and_only_on_429_or_503() {
    let both = headers(&[("retry-after", "3"), ("x-rate-limit-reset", "99999999999")]);
    assert_eq!(
        classify_status(429, &both, ResetHeader::XEpoch, now()).retry_after,
        Some(secs(3))
    );
    assert_eq!(
        classify_status(503, &both, ResetHeader::XEpoch, now()).retry_after,
        Some(secs(3))
    );
    assert_eq!(
        classify_status(500, &both, ResetHeader::XEpoch, now()).retry_after,
        None
    );
}

#[test]
fn jitter_stays_between_half_and_all_and_never_shortens_an_asked_wait() {
    let delay = secs(10);
    assert_eq!(jittered(delay, 0.0, Duration::ZERO), secs(5));
    assert_eq!(jittered(delay, 0.999_999_9, Duration::ZERO).as_secs(), 9);
    assert_eq!(jittered(delay, 7.0, Duration::ZERO), delay);
    assert_eq!(jittered(delay, 0.0, delay), delay);
}

#[test]
fn caps_are_reported() {
    assert!(at_cap(FailureClass::Network, NETWORK_CAP));
    assert!(!at_cap(FailureClass::Server, secs(160)));
    assert!(at_cap(FailureClass::Server, SERVER_CAP));
    assert!(at_cap(FailureClass::Auth, AUTH_RETRY));
}

#[test]
fn decode_budget_slides_over_a_minute() {
    let mut budget = DecodeBudget::new(2);
    assert!(!budget.exceeded(now()));
    assert!(!budget.exceeded(now()));
    assert!(budget.exceeded(now()));
    let later = now() + chrono::TimeDelta::seconds(61);
    assert!(!budget.exceeded(later));
}

#[test]
fn close_codes_map_to_classes() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    assert_eq!(
        classify_close(CloseCode::Normal, FailureClass::Auth),
        FailureClass::Network
    );
    assert_eq!(
        classify_close(CloseCode::Away, FailureClass::Auth),
        FailureClass::Network
    );
    assert_eq!(
        classify_close(CloseCode::Policy, FailureClass::Auth),
        FailureClass::Auth
    );
    assert_eq!(
        classify_close(CloseCode::Policy, FailureClass::Server),
        FailureClass::Server
    );
    assert_eq!(
        classify_close(CloseCode::Error, FailureClass::Auth),
        FailureClass::Server
    );
}
