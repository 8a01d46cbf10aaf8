//! Shared HTTP plumbing of the collectors: one `reqwest` client per source (descriptive
//! User-Agent, connect timeout, gzip), and the translation of failed requests into
//! classified [`CollectError`]s.
//!
//! Promises: a non-success response becomes a [`Failure`] by [`classify_status`], logged
//! with its status, the first 1 KB of its body and any request-id header, never with a
//! request header (credentials live there); a transport error is a `Network` failure.

use std::time::Duration;

use chrono::Utc;
use reqwest::{Client, Response, StatusCode};

use crate::backoff::{Failure, FailureClass, ResetHeader, classify_status};
use crate::error::CollectError;

/// Connect timeout of every collector request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout of polled requests (never used on long-lived streams).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The User-Agent veille sends when the config gives none.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "veille/",
    env!("CARGO_PKG_VERSION"),
    " (social listening; +https://example.invalid/veille)"
);

/// A client for `source`. `polling` adds the whole-request timeout.
pub fn client(source: &str, user_agent: &str, polling: bool) -> Result<Client, CollectError> {
    let mut builder = Client::builder()
        .user_agent(user_agent)
        .connect_timeout(CONNECT_TIMEOUT)
        .gzip(true);
    if polling {
        builder = builder.timeout(REQUEST_TIMEOUT);
    }
    builder.build().map_err(|error| CollectError::Fatal {
        source_name: source.to_owned(),
        reason: format!("cannot build an HTTP client: {error}"),
    })
}

/// A transport error (DNS, TCP, TLS, timeout, body cut short) of `source`.
pub fn network(source: &str, what: &str, error: &reqwest::Error) -> CollectError {
    CollectError::transient(source, FailureClass::Network, format!("{what}: {error}"))
}

/// Turns an error response into a classified error, after logging what it said.
pub async fn failure(
    source: &str,
    what: &str,
    response: Response,
    reset: ResetHeader,
) -> CollectError {
    let status = response.status();
    let failure = classify_status(status.as_u16(), response.headers(), reset, Utc::now());
    let request_id = ["x-transaction-id", "x-request-id", "cf-ray"]
        .iter()
        .find_map(|name| {
            response
                .headers()
                .get(*name)?
                .to_str()
                .ok()
                .map(str::to_owned)
        });
    let body = response.bytes().await.unwrap_or_default();
    let excerpt = String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned();
    tracing::warn!(
        source,
        what,
        status = status.as_u16(),
        request_id = request_id.as_deref().unwrap_or("-"),
        body = %excerpt,
        class = failure.class.as_str(),
        "request failed"
    );
    error_for(source, what, status, failure, &excerpt)
}

fn error_for(
    source: &str,
    what: &str,
    status: StatusCode,
    failure: Failure,
    body: &str,
) -> CollectError {
    let hint = if body.contains("TooManyConnections") {
        " (too many connections: an old stream is still open)"
    } else {
        ""
    };
    CollectError::from_failure(source, failure, format!("{what}: HTTP {status}{hint}"))
}

/// Sends `request` and returns the response if it succeeded, else the classified error.
pub async fn send(
    source: &str,
    what: &str,
    request: reqwest::RequestBuilder,
    reset: ResetHeader,
) -> Result<Response, CollectError> {
    let response = request
        .send()
        .await
        .map_err(|error| network(source, what, &error))?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(failure(source, what, response, reset).await)
    }
}

/// Reads a JSON body, refusing a non-JSON content type (a CDN challenge page, say).
pub async fn json<T: serde::de::DeserializeOwned>(
    source: &str,
    what: &str,
    response: Response,
) -> Result<T, CollectError> {
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.contains("json"));
    let body = response
        .bytes()
        .await
        .map_err(|error| network(source, what, &error))?;
    if !is_json {
        return Err(CollectError::transient(
            source,
            FailureClass::Server,
            format!("{what}: the answer is not JSON (a CDN or login page?)"),
        ));
    }
    serde_json::from_slice(&body).map_err(|error| {
        CollectError::transient(
            source,
            FailureClass::Decode,
            format!("{what}: invalid JSON: {error}"),
        )
    })
}
