//! Backoff classes of a failed request or connection (sources.md §8.4), and the delay each
//! asks for: pure functions of (response, attempt, now), so every decision is unit-tested
//! without sockets or a paused clock.
//!
//! Promises:
//! * [`classify_status`] maps an HTTP status and its headers to a [`Failure`]: 429 is
//!   `RateLimited` with the wait the server asked for (`Retry-After` in seconds or as an
//!   HTTP-date, else the source's own reset header), 401/403 `Auth`, other 4xx
//!   `BadRequest`, 5xx `Server`;
//! * [`base_delay`] is the policy: `Network` reconnects at once, then +250 ms per attempt up
//!   to 16 s; `Server` and `Decode` 5 s doubling to 320 s; `RateLimited` the asked wait
//!   plus 1 s, else 60 s doubling to 15 min; `Auth` 10 min; `BadRequest` never retries;
//! * [`jittered`] scales a computed delay into [0.5, 1.0] of itself; a wait the server
//!   asked for is never shortened.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Why a request or a connection failed, which decides how long to wait before retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// DNS, TCP or TLS error, reset, read-idle timeout, stream closed.
    Network,
    /// 5xx, WebSocket 1006/1011 close, in-stream operational disconnect.
    Server,
    /// 429, X TooManyConnections, Discourse global limiter.
    RateLimited,
    /// 401/403: token or User-Agent refused.
    Auth,
    /// 400/404/410/422, rejected rule: retrying will not help.
    BadRequest,
    /// Too many malformed items in a short time.
    Decode,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Network => "network",
            FailureClass::Server => "server",
            FailureClass::RateLimited => "rate-limited",
            FailureClass::Auth => "auth",
            FailureClass::BadRequest => "bad-request",
            FailureClass::Decode => "decode",
        }
    }
}

/// A classified failure: its class and the wait the server asked for, if it said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub class: FailureClass,
    pub retry_after: Option<Duration>,
}

/// How a source's rate-limit reset header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetHeader {
    /// No reset header beyond `Retry-After`.
    None,
    /// X: `x-rate-limit-reset`, epoch seconds.
    XEpoch,
    /// Reddit: `x-ratelimit-reset`, seconds until the window ends (may be a float).
    RedditSecondsUntil,
    /// Mastodon: `x-ratelimit-reset`, an RFC 3339 timestamp (epoch seconds tolerated).
    MastodonTimestamp,
}

pub const NETWORK_STEP: Duration = Duration::from_millis(250);
pub const NETWORK_CAP: Duration = Duration::from_secs(16);
pub const SERVER_FIRST: Duration = Duration::from_secs(5);
pub const SERVER_CAP: Duration = Duration::from_secs(320);
pub const RATE_LIMIT_FIRST: Duration = Duration::from_secs(60);
pub const RATE_LIMIT_CAP: Duration = Duration::from_secs(15 * 60);
pub const RATE_LIMIT_MARGIN: Duration = Duration::from_secs(1);
pub const AUTH_RETRY: Duration = Duration::from_secs(10 * 60);

/// The failure an HTTP error status stands for, at `now`.
pub fn classify_status(
    status: u16,
    headers: &HeaderMap,
    reset: ResetHeader,
    now: DateTime<Utc>,
) -> Failure {
    let class = match status {
        429 => FailureClass::RateLimited,
        401 | 403 => FailureClass::Auth,
        500..=599 => FailureClass::Server,
        _ => FailureClass::BadRequest,
    };
    let retry_after = match status {
        429 | 503 => retry_after(headers, now).or_else(|| reset_wait(headers, reset, now)),
        _ => None,
    };
    Failure { class, retry_after }
}

/// `Retry-After`: seconds, or an HTTP-date (a date in the past means "now").
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The wait until the rate-limit window resets, read from the source's reset header.
pub fn reset_wait(headers: &HeaderMap, reset: ResetHeader, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let until_epoch = |seconds: f64| {
        let wait = seconds - now.timestamp_millis() as f64 / 1000.0;
        Duration::try_from_secs_f64(wait.max(0.0)).ok()
    };
    match reset {
        ResetHeader::None => None,
        ResetHeader::XEpoch => until_epoch(header("x-rate-limit-reset")?.parse().ok()?),
        ResetHeader::RedditSecondsUntil => {
            let seconds: f64 = header("x-ratelimit-reset")?.parse().ok()?;
            Duration::try_from_secs_f64(seconds.max(0.0)).ok()
        }
        ResetHeader::MastodonTimestamp => {
            let value = header("x-ratelimit-reset")?;
            match DateTime::parse_from_rfc3339(value) {
                Ok(at) => Some(
                    (at.with_timezone(&Utc) - now)
                        .to_std()
                        .unwrap_or(Duration::ZERO),
                ),
                Err(_) => until_epoch(value.parse().ok()?),
            }
        }
    }
}

/// The pause before retry number `attempt` (0 for the first) after a failure of `class`,
/// before jitter; `None` means "do not retry".
pub fn base_delay(class: FailureClass, attempt: u32, asked: Option<Duration>) -> Option<Duration> {
    let exponential = |first: Duration, cap: Duration| {
        let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
        first.saturating_mul(factor).min(cap)
    };
    let delay = match class {
        FailureClass::Network => NETWORK_STEP.saturating_mul(attempt).min(NETWORK_CAP),
        FailureClass::Server | FailureClass::Decode => exponential(SERVER_FIRST, SERVER_CAP),
        FailureClass::RateLimited => match asked {
            Some(asked) => asked.saturating_add(RATE_LIMIT_MARGIN),
            None => exponential(RATE_LIMIT_FIRST, RATE_LIMIT_CAP),
        },
        FailureClass::Auth => AUTH_RETRY,
        FailureClass::BadRequest => return None,
    };
    Some(delay)
}

/// `delay` scaled by `0.5 + 0.5 × unit` (`unit` in [0, 1)), never below `floor`.
pub fn jittered(delay: Duration, unit: f64, floor: Duration) -> Duration {
    let factor = 0.5 + 0.5 * unit.clamp(0.0, 1.0);
    delay.mul_f64(factor).max(floor)
}

/// Whether the capped delay of `class` was reached (the source should be seen as degraded).
pub fn at_cap(class: FailureClass, delay: Duration) -> bool {
    match class {
        FailureClass::Network => delay >= NETWORK_CAP,
        FailureClass::Server | FailureClass::Decode => delay >= SERVER_CAP,
        FailureClass::RateLimited => delay >= RATE_LIMIT_CAP,
        FailureClass::Auth | FailureClass::BadRequest => true,
    }
}

/// Counts malformed items over a sliding minute: past `limit`, the stream is treated as
/// broken ([`FailureClass::Decode`]) and the source reconnects.
#[derive(Debug)]
pub struct DecodeBudget {
    limit: usize,
    recent: std::collections::VecDeque<DateTime<Utc>>,
}

impl DecodeBudget {
    pub fn new(limit_per_minute: usize) -> Self {
        DecodeBudget {
            limit: limit_per_minute,
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Records one malformed item at `now`; true when the minute's budget is exceeded.
    pub fn exceeded(&mut self, now: DateTime<Utc>) -> bool {
        let minute_ago = now - chrono::TimeDelta::minutes(1);
        while self.recent.front().is_some_and(|at| *at <= minute_ago) {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.recent.len() > self.limit
    }
}

/// The class of a WebSocket close frame's code: a normal or going-away close is a network
/// event, a policy close (1008) is `policy` (the source decides whether it means its
/// credentials were refused), anything else is a server failure.
pub(crate) fn classify_close(code: CloseCode, policy: FailureClass) -> FailureClass {
    match code {
        CloseCode::Normal | CloseCode::Away => FailureClass::Network,
        CloseCode::Policy => policy,
        _ => FailureClass::Server,
    }
}

#[cfg(test)]
#[path = "backoff_tests.rs"]
mod tests;
