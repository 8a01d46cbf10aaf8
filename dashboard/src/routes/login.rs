//! Signing in and out: `GET /login` (the sign-in page, open), `POST /api/login` (open,
//! rate limited), `POST /api/logout` and `GET /api/session` (signed in).
//!
//! `POST /api/login` takes JSON `{"name", "password"}` only (a cross-site form cannot send
//! JSON without the browser asking first), refuses a foreign `Origin`, and on success sets
//! the session cookie (HttpOnly, SameSite=Strict, Secure unless turned off, Path=/) and
//! answers the user's name, teams, role and CSRF token. Failures say only "wrong name or
//! password"; too many get 429 with `Retry-After`. Passwords are never logged.

use std::time::Instant;

use axum::Json;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, CurrentUser, SESSION_COOKIE, SESSION_LIFETIME, same_origin};
use crate::error::AppError;
use crate::state::AppState;

const LOGIN_HTML: &str = include_str!("../../assets/login.html");
const LOGIN_JS: &str = include_str!("../../assets/login.js");

pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        LOGIN_HTML,
    )
}

pub(crate) async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        LOGIN_JS,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    name: String,
    password: String,
}

fn session_json(user: &CurrentUser) -> serde_json::Value {
    json!({
        "user": user.name,
        "teams": user.teams,
        "manager": user.manager,
        "csrf": user.csrf,
    })
}

fn cookie_header(value: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

pub(crate) async fn login(State(state): State<AppState>, request: Request) -> Response {
    let address = auth::client_address(request.extensions());
    let headers = request.headers().clone();
    if !same_origin(&headers) {
        return refusal(StatusCode::FORBIDDEN, "cross-site sign-in refused");
    }
    let credentials = match axum::extract::Json::<Credentials>::from_request(request, &()).await {
        Ok(Json(credentials)) => credentials,
        Err(rejection) => return rejection.into_response(),
    };
    let name = credentials.name.trim().to_lowercase();
    let now = Instant::now();
    if let Err(wait) = state.auth.limiter.check(&name, address.as_deref(), now) {
        let mut response = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again later",
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let auth = std::sync::Arc::clone(&state.auth);
    let checked_name = name.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let record = auth.users.verify(&checked_name, &credentials.password)?;
        match record {
            Some(record) => {
                let (token, session) = auth.sessions.create(&record.name, Utc::now())?;
                Ok(Some((record, token, session)))
            }
            None => Ok(None),
        }
    })
    .await;
    let (record, token, session) = match verified {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => {
            state.auth.limiter.failed(&name, address.as_deref(), now);
            tracing::info!(user = %name, "failed sign-in");
            return refusal(StatusCode::UNAUTHORIZED, "wrong name or password");
        }
        Ok(Err::<_, auth::AuthError>(error)) => {
            tracing::error!(error = %error, "sign-in failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Err(error) => {
            tracing::error!(error = %error, "sign-in task failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    state.auth.limiter.succeeded(&name);
    tracing::info!(user = %record.name, "signed in");
    let user = CurrentUser::resolve(&record, &state.teams, Some(session.csrf));
    let mut response = Json(session_json(&user)).into_response();
    if let Some(cookie) = cookie_header(
        &token,
        SESSION_LIFETIME.as_secs(),
        state.auth.secure_cookies,
    ) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token) = auth::cookie(&headers, SESSION_COOKIE).map(str::to_owned) {
        let auth = std::sync::Arc::clone(&state.auth);
        tokio::task::spawn_blocking(move || auth.sessions.remove(&token))
            .await?
            .map_err(|error| AppError::Internal(Box::new(error)))?;
    }
    let mut response = Json(json!({ "signed_out": true })).into_response();
    if let Some(cookie) = cookie_header("", 0, state.auth.secure_cookies) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub(crate) async fn session(Extension(user): Extension<CurrentUser>) -> Json<serde_json::Value> {
    Json(session_json(&user))
}

use axum::extract::FromRequest;
