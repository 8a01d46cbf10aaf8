//! Browser sessions in the embedded store (table `sessions`), so they survive a restart.
//!
//! A session token is 32 random bytes, sent to the browser once in an HttpOnly cookie; the
//! store keeps only its SHA-256 ([`super::token_digest`]) with the user, the session's CSRF
//! token and its expiry. An expired session is removed when it is next looked up.
//! Blocking (store): async callers use `spawn_blocking`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use index::Store;
use serde::{Deserialize, Serialize};

use super::{AuthError, random_hex, token_digest};

/// Store table of sessions, keyed by the SHA-256 of the session token.
pub const SESSIONS_TABLE: &str = "sessions";
/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    /// Must come back in the `X-CSRF-Token` header of every state-changing request.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct SessionStore {
    store: Store,
}

impl SessionStore {
    pub fn new(store: Store) -> SessionStore {
        SessionStore { store }
    }

    /// Opens a session for `user` at `now`: returns the token for the cookie and the session.
    pub fn create(&self, user: &str, now: DateTime<Utc>) -> Result<(String, Session), AuthError> {
        let token = random_hex(32)?;
        let lifetime = chrono::Duration::from_std(SESSION_LIFETIME)
            .map_err(|error| AuthError::Hash(error.to_string()))?;
        let session = Session {
            user: user.to_owned(),
            csrf: random_hex(32)?,
            created_at: now,
            expires_at: now + lifetime,
        };
        self.store
            .put(SESSIONS_TABLE, &token_digest(&token), &session)?;
        Ok((token, session))
    }

    /// The live session of `token` at `now`.
    pub fn get(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Session>, AuthError> {
        let key = token_digest(token);
        let session: Option<Session> = self.store.get(SESSIONS_TABLE, &key)?;
        match session {
            Some(session) if session.expires_at > now => Ok(Some(session)),
            Some(_) => {
                self.store.remove(SESSIONS_TABLE, &key)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Ends the session of `token`.
    pub fn remove(&self, token: &str) -> Result<(), AuthError> {
        Ok(self.store.remove(SESSIONS_TABLE, &token_digest(token))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::instant;

    #[test]
    fn sessions_expire_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        let (token, session) = {
            let sessions = SessionStore::new(Store::open(&path).expect("store"));
            sessions.create("camille", instant(0)).expect("create")
        };
        assert_eq!(token.len(), 64);
        assert_ne!(token, session.csrf);
        let sessions = SessionStore::new(Store::open(&path).expect("store reopens"));
        assert_eq!(
            sessions.get(&token, instant(60)).expect("get"),
            Some(session)
        );
        assert_eq!(sessions.get("forged", instant(60)).expect("get"), None);
        let late = instant(SESSION_LIFETIME.as_secs() as i64 + 1);
        assert_eq!(sessions.get(&token, late).expect("get"), None);
        assert_eq!(
            sessions.get(&token, instant(60)).expect("get"),
            None,
            "removed"
        );
        let (token, _) = sessions.create("sam", instant(0)).expect("create");
        sessions.remove(&token).expect("remove");
        assert_eq!(sessions.get(&token, instant(1)).expect("get"), None);
    }
}
