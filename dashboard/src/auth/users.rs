//! Accounts in the embedded store: user names with argon2id password hashes (PHC strings),
//! the teams `veille user add --team` gave them, and API tokens.
//!
//! Tables: `users` (name → [`UserRecord`]) and `api_tokens` (SHA-256 of the token → user
//! name): a token is shown once when issued and only its hash is kept. Every call blocks
//! (store and argon2): async callers use `spawn_blocking`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use index::Store;
use serde::{Deserialize, Serialize};

use super::{AuthError, random_hex, token_digest};

/// Store table of accounts, keyed by user name.
pub const USERS_TABLE: &str = "users";
/// Store table of API tokens, keyed by the SHA-256 of the token.
pub const TOKENS_TABLE: &str = "api_tokens";
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// argon2id PHC string; never shown.
    pub password_hash: String,
    /// Teams given with `veille user add --team`, besides the config's `members`.
    #[serde(default)]
    pub teams: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    user: String,
    created_at: DateTime<Utc>,
}

/// The accounts of one store.
#[derive(Clone)]
pub struct UserStore {
    store: Store,
}

/// A user name is 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Hashes a password with argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|error| AuthError::Random(error.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|error| AuthError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AuthError::Hash(error.to_string()))
}

/// Whether `password` matches the PHC string `hash`; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random password of 20 characters from an unambiguous alphabet (about 110 bits).
pub fn generate_password() -> Result<String, AuthError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|error| AuthError::Random(error.to_string()))?;
    Ok(bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect())
}

impl UserStore {
    pub fn new(store: Store) -> UserStore {
        UserStore { store }
    }

    /// Creates an account. The name must be valid and free, the password long enough.
    pub fn add(&self, name: &str, password: &str, teams: &[String]) -> Result<(), AuthError> {
        if !is_valid_name(name) {
            return Err(AuthError::BadName(name.to_owned()));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AuthError::WeakPassword);
        }
        if self.get(name)?.is_some() {
            return Err(AuthError::UserExists(name.to_owned()));
        }
        let record = UserRecord {
            name: name.to_owned(),
            password_hash: hash_password(password)?,
            teams: teams.to_vec(),
            created_at: Utc::now(),
        };
        Ok(self.store.put(USERS_TABLE, name, &record)?)
    }

    pub fn get(&self, name: &str) -> Result<Option<UserRecord>, AuthError> {
        Ok(self.store.get(USERS_TABLE, name)?)
    }

    /// The account when `password` is right. An unknown name costs a hash too, so timing
    /// does not tell which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Result<Option<UserRecord>, AuthError> {
        match self.get(name)? {
            Some(record) if verify_password(password, &record.password_hash) => Ok(Some(record)),
            Some(_) => Ok(None),
            None => {
                let _ = hash_password(password);
                Ok(None)
            }
        }
    }

    /// Issues an API token for `name`; the token is returned once and stored hashed.
    pub fn issue_token(&self, name: &str) -> Result<String, AuthError> {
        if self.get(name)?.is_none() {
            return Err(AuthError::UnknownUser(name.to_owned()));
        }
        let token = format!("vt_{}", random_hex(32)?);
        let record = TokenRecord {
            user: name.to_owned(),
            created_at: Utc::now(),
        };
        self.store
            .put(TOKENS_TABLE, &token_digest(&token), &record)?;
        Ok(token)
    }

    /// The user an API token belongs to, if it is known and the user still exists.
    pub fn token_user(&self, token: &str) -> Result<Option<UserRecord>, AuthError> {
        let record: Option<TokenRecord> = self.store.get(TOKENS_TABLE, &token_digest(token))?;
        match record {
            Some(record) => self.get(&record.user),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("anything", "not a phc string"));
        assert_ne!(
            hash,
            hash_password("correct horse battery").expect("hash"),
            "salted"
        );
    }

    #[test]
    fn accounts_and_tokens_live_in_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let users = UserStore::new(Store::open(&dir.path().join("s.redb")).expect("store"));
        users
            .add(
                "camille",
                "a long password",
                &["customer-service".to_owned()],
            )
            .expect("add");
        assert!(matches!(
            users.add("camille", "another long one", &[]),
            Err(AuthError::UserExists(_))
        ));
        assert!(matches!(
            users.add("Bad Name", "a long password", &[]),
            Err(AuthError::BadName(_))
        ));
        assert!(matches!(
            users.add("sam", "short", &[]),
            Err(AuthError::WeakPassword)
        ));
        let record = users.verify("camille", "a long password").expect("verify");
        assert_eq!(
            record.map(|r| r.teams),
            Some(vec!["customer-service".to_owned()])
        );
        assert_eq!(
            users.verify("camille", "wrong password").expect("verify"),
            None
        );
        assert_eq!(
            users.verify("nobody", "a long password").expect("verify"),
            None
        );
        let token = users.issue_token("camille").expect("token");
        assert_eq!(
            users.token_user(&token).expect("lookup").map(|r| r.name),
            Some("camille".to_owned())
        );
        assert_eq!(users.token_user("vt_forged").expect("lookup"), None);
        assert!(users.issue_token("nobody").is_err());
    }

    #[test]
    fn generated_passwords_are_long_and_different() {
        let one = generate_password().expect("password");
        assert_eq!(one.chars().count(), 20);
        assert_ne!(one, generate_password().expect("password"));
    }
}
