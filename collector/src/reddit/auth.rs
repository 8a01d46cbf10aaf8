//! Reddit app-only OAuth: `POST /api/v1/access_token` with HTTP Basic `client_id:secret`
//! and `grant_type=client_credentials`; the token is refreshed a minute before it expires
//! and whenever Reddit answers 401.

use std::time::Duration;

use reqwest::Client;
use serde::Deserialize;
use tokio::time::Instant;

use crate::backoff::ResetHeader;
use crate::error::CollectError;
use crate::http;
use crate::secret::Secret;

/// Refresh this long before the token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// The current bearer token, if any, and when it must be renewed.
#[derive(Debug, Default)]
pub(super) struct Token {
    current: Option<(Secret, Instant)>,
}

impl Token {
    /// A valid token, fetching a new one when there is none or it is about to expire.
    pub(super) async fn get(
        &mut self,
        source: &str,
        client: &Client,
        auth_url: &str,
        client_id: &Secret,
        client_secret: &Secret,
    ) -> Result<Secret, CollectError> {
        if let Some((token, renew_at)) = &self.current
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let request = client
            .post(format!("{auth_url}/api/v1/access_token"))
            .basic_auth(client_id.expose(), Some(client_secret.expose()))
            .form(&[("grant_type", "client_credentials")]);
        let response = http::send(
            source,
            "get an access token",
            request,
            ResetHeader::RedditSecondsUntil,
        )
        .await?;
        let answer: TokenAnswer = http::json(source, "get an access token", response).await?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let token = Secret::new(answer.access_token);
        self.current = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
        ));
        tracing::debug!(source, ?lifetime, "reddit access token renewed");
        Ok(token)
    }

    /// Forgets the token (after a 401).
    pub(super) fn invalidate(&mut self) {
        self.current = None;
    }
}
