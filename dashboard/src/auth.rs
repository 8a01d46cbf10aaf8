//! Who is asking: accounts, sessions, API tokens, CSRF and login rate limiting.
//!
//! `require_user` is a middleware on the whole router: every path but [`OPEN_PATHS`]
//! needs a signed-in user (session cookie [`SESSION_COOKIE`]) or an API token
//! (`Authorization: Bearer vt_...`). Without one, API and WebSocket requests get 401 and
//! pages a redirect to `/login`. Routes added later are protected by default.
//!
//! With a session cookie, every state-changing request (anything but GET, HEAD, OPTIONS)
//! must carry the session's CSRF token in [`CSRF_HEADER`], and a request whose `Origin` is
//! not this host is refused (403). API tokens are not sent by browsers on their own, so they
//! need no CSRF token.
//!
//! The handler gets a [`CurrentUser`]: the user's teams are the configured teams that list
//! them among `members`, plus those given with `veille user add --team`; a user of a
//! manager team is a manager (sees every alert and feed).

mod limiter;
mod sessions;
mod users;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use index::{IndexError, Store};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use limiter::{Limits, LoginLimiter};
pub use sessions::{SESSION_LIFETIME, SESSIONS_TABLE, Session, SessionStore};
pub use users::{
    MIN_PASSWORD_CHARS, TOKENS_TABLE, USERS_TABLE, UserRecord, UserStore, generate_password,
    hash_password, is_valid_name, verify_password,
};

use crate::alerts::{Role, Team};
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "veille_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Paths anyone may reach: operators' health and metrics, and what signing in needs.
pub const OPEN_PATHS: [&str; 6] = [
    "/api/health",
    "/metrics",
    "/login",
    "/api/login",
    "/assets/login.js",
    "/assets/app.css",
];

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the store failed")]
    Store(#[from] IndexError),
    #[error("`{0}` is not a valid user name (1 to 64 of a-z, 0-9, `.`, `_`, `-`)")]
    BadName(String),
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error("no user `{0}`")]
    UnknownUser(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
}

/// `bytes` random bytes as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, AuthError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|error| AuthError::Random(error.to_string()))?;
    Ok(hex(&buffer))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The SHA-256 of a token, as stored (a leaked store does not leak live tokens).
pub(crate) fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Equal strings, compared in time independent of where they differ.
pub(crate) fn same_secret(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Everything the middleware and the login routes need.
pub struct Auth {
    pub users: UserStore,
    pub sessions: SessionStore,
    pub limiter: LoginLimiter,
    /// Mark the session cookie `Secure` (turn off only for plain-http development).
    pub secure_cookies: bool,
}

impl Auth {
    pub fn new(store: Store, secure_cookies: bool) -> Auth {
        Auth {
            users: UserStore::new(store.clone()),
            sessions: SessionStore::new(store),
            limiter: LoginLimiter::default(),
            secure_cookies,
        }
    }
}

/// The signed-in user of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub name: String,
    pub teams: Vec<String>,
    pub manager: bool,
    /// The session's CSRF token; `None` when signed in with an API token.
    pub csrf: Option<String>,
}

impl CurrentUser {
    /// Resolves a user's teams and role from the configured teams and their record.
    pub fn resolve(record: &UserRecord, teams: &[Team], csrf: Option<String>) -> CurrentUser {
        let mine: Vec<&Team> = teams
            .iter()
            .filter(|team| team.members.contains(&record.name) || record.teams.contains(&team.name))
            .collect();
        CurrentUser {
            name: record.name.clone(),
            teams: mine.iter().map(|team| team.name.clone()).collect(),
            manager: mine.iter().any(|team| team.role == Role::Manager),
            csrf,
        }
    }

    /// Whether the user may see what is routed to `team`.
    pub fn sees_team(&self, team: &str) -> bool {
        self.manager || self.teams.iter().any(|mine| mine == team)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// False when the request names an `Origin` that is not this host (cross-site request).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(origin), Some(host)) if origin == host)
}

/// The client's address when the server knows it.
pub(crate) fn client_address(request_extensions: &axum::http::Extensions) -> Option<String> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

fn is_page_request(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET && !path.starts_with("/api/") && path != "/ws"
}

fn unauthorized(request: &Request) -> Response {
    if is_page_request(request) {
        return Redirect::to("/login").into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(json!({ "error": "sign in first" })),
    )
        .into_response()
}

fn forbidden(reason: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({ "error": reason })),
    )
        .into_response()
}

/// Who the credentials of `headers` belong to: `(record, csrf)` with the session's CSRF
/// token, or `None` for an API token. Blocking (store).
fn identify(
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<Option<(UserRecord, Option<String>)>, AuthError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return Ok(auth
            .users
            .token_user(token.trim())?
            .map(|record| (record, None)));
    }
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = auth.sessions.get(token, Utc::now())? else {
        return Ok(None);
    };
    Ok(auth
        .users
        .get(&session.user)?
        .map(|record| (record, Some(session.csrf))))
}

/// The authentication middleware (see the module documentation).
pub(crate) async fn require_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let auth = std::sync::Arc::clone(&state.auth);
    let headers = request.headers().clone();
    let found = tokio::task::spawn_blocking(move || identify(&auth, &headers)).await;
    let (record, csrf) = match found {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return unauthorized(&request),
        Ok(Err(error)) => {
            tracing::error!(error = %error, "cannot check credentials");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Err(error) => {
            tracing::error!(error = %error, "credential check task failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if let Some(expected) = &csrf {
        if !same_origin(request.headers()) {
            return forbidden("cross-site request refused");
        }
        if !safe {
            let sent = request
                .headers()
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok());
            if !sent.is_some_and(|sent| same_secret(sent, expected)) {
                return forbidden("missing or wrong CSRF token");
            }
        }
    }
    let user = CurrentUser::resolve(&record, &state.teams, csrf);
    request.extensions_mut().insert(user);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_and_compares_secrets() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; veille_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd") && !same_secret("abc", "abcd"));
    }

    #[test]
    fn origin_must_be_this_host_when_given() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert(header::HOST, "127.0.0.1:8080".parse().expect("header"));
        headers.insert(
            header::ORIGIN,
            "http://127.0.0.1:8080".parse().expect("header"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            "https://evil.example".parse().expect("header"),
        );
        assert!(!same_origin(&headers));
    }

    #[test]
    fn teams_come_from_the_config_and_the_record() {
        let teams = vec![
            Team {
                name: "care".to_owned(),
                role: Role::Member,
                members: vec!["camille".to_owned()],
            },
            Team {
                name: "bosses".to_owned(),
                role: Role::Manager,
                members: vec![],
            },
        ];
        let record = UserRecord {
            name: "camille".to_owned(),
            password_hash: String::new(),
            teams: vec![],
            created_at: Utc::now(),
        };
        let user = CurrentUser::resolve(&record, &teams, None);
        assert_eq!(user.teams, ["care"]);
        assert!(!user.manager && user.sees_team("care") && !user.sees_team("bosses"));
        let boss = UserRecord {
            name: "morgan".to_owned(),
            teams: vec!["bosses".to_owned()],
            ..record
        };
        let user = CurrentUser::resolve(&boss, &teams, None);
        assert!(user.manager && user.sees_team("care"));
    }
}
