//! [`Secret`]: a credential read from the environment. Its `Debug` and `Display` print a
//! mask, so a config, an error or a log line that holds one never shows it; only
//! [`Secret::expose`] gives the value, at the point where a request header is built.

use std::fmt;

use crate::error::CollectError;

/// A credential (token, API key, client secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Reads the environment variable `variable`; `source` names the source in the error.
    pub fn from_env(source: &str, variable: &str) -> Result<Secret, CollectError> {
        match std::env::var(variable) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
            Ok(_) | Err(_) => Err(CollectError::Fatal {
                source_name: source.to_owned(),
                reason: format!(
                    "environment variable `{variable}` is not set (it holds a credential)"
                ),
            }),
        }
    }

    /// The credential itself. Use it only to build a request; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_masked() {
        let secret = Secret::new("s3cr3t-token");
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(format!("{secret}"), "****");
        assert_eq!(secret.expose(), "s3cr3t-token");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            token: Secret,
        }
        let shown = format!("{:?}", Config { token: secret });
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn a_missing_variable_is_a_fatal_error_naming_it() {
        let error = Secret::from_env("x", "VEILLE_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(!error.is_retryable());
        assert!(
            error
                .to_string()
                .contains("VEILLE_TEST_SURELY_UNSET_VARIABLE")
        );
    }
}
