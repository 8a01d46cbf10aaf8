//! Errors of the dashboard: [`DashboardError`] when the server cannot run, and
//! [`AppError`], what a request handler fails with.
//!
//! [`AppError`] never shows internals to a browser: a bad query is a 400 with a readable
//! reason, anything else a bare 500 whose details are logged on the server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The server could not run.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// Accepting connections failed.
    #[error("dashboard server failed")]
    Serve(#[source] std::io::Error),
}

/// Why a request failed.
#[derive(Debug)]
pub enum AppError {
    /// The client asked for something invalid: 400 with this reason.
    BadQuery(String),
    /// The user may not do or see this: 403 with this reason.
    Forbidden(String),
    /// No such thing (or not one the user may see): 404 with this reason.
    NotFound(String),
    /// The request conflicts with the current state: 409 with this reason.
    Conflict(String),
    /// A stage the request needs is not running: 503.
    Unavailable(String),
    /// Anything else: a bare 500; the error is logged.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::BadQuery(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
            AppError::Forbidden(reason) => (StatusCode::FORBIDDEN, reason).into_response(),
            AppError::NotFound(reason) => (StatusCode::NOT_FOUND, reason).into_response(),
            AppError::Conflict(reason) => (StatusCode::CONFLICT, reason).into_response(),
            AppError::Unavailable(reason) => {
                (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
            }
            AppError::Internal(error) => {
                tracing::error!(error = %error_chain(error.as_ref()), "dashboard request failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// `error: cause: cause`, for logs.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

impl From<index::IndexError> for AppError {
    fn from(error: index::IndexError) -> AppError {
        match error {
            index::IndexError::BadQuery(reason) => AppError::BadQuery(reason),
            other => AppError::Internal(Box::new(other)),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> AppError {
        AppError::Internal(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_queries_are_400_with_their_reason_and_the_rest_a_bare_500() {
        let response = AppError::from(index::IndexError::BadQuery("no".to_owned())).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let internal = std::io::Error::other("secret path /var/lib/veille");
        let response = AppError::Internal(Box::new(internal)).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn chains_causes_for_the_log() {
        let error = DashboardError::Serve(std::io::Error::other("address in use"));
        assert_eq!(
            error_chain(&error),
            "dashboard server failed: address in use"
        );
    }
}
