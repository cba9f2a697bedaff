//! Credentials and where they come from.
//!
//! A provider answers "not configured here" (`Ok(None)`, the chain moves on) or "configured but
//! broken" (`Err`, the chain stops and says why). This release reads the environment only; the
//! other sources of the official tools plug in as further providers.

use std::fmt;

use crate::env::Env;

pub const ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub const SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// A secret string. `Debug` and `Display` never show it; `expose` is the one way to read it,
/// and only the signer and the redaction of server messages call it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// An AccessKey pair, with the security token when it is an STS pair.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
    /// Where they were found, for messages (e.g. "environment").
    pub source: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error(
        "no credentials found (tried: {}). Set {ACCESS_KEY_ID} and {ACCESS_KEY_SECRET} \
         (and {SECURITY_TOKEN} for STS credentials).",
        tried.join(", ")
    )]
    NotFound { tried: Vec<String> },
    #[error("credentials from {source_name} are incomplete: {problem}")]
    Incomplete {
        source_name: &'static str,
        problem: String,
    },
}

pub trait ProvideCredentials {
    /// What this provider reads, for the "tried" list.
    fn describe(&self) -> String;
    fn provide(&self, env: &Env) -> Result<Option<Credentials>, CredentialsError>;
}

/// `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and the optional
/// `ALIBABA_CLOUD_SECURITY_TOKEN`.
pub struct EnvironmentProvider;

impl ProvideCredentials for EnvironmentProvider {
    fn describe(&self) -> String {
        format!("environment variables {ACCESS_KEY_ID}/{ACCESS_KEY_SECRET}")
    }

    fn provide(&self, env: &Env) -> Result<Option<Credentials>, CredentialsError> {
        let id = env.get(ACCESS_KEY_ID);
        let secret = env.get(ACCESS_KEY_SECRET);
        match (id, secret) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                source_name: "the environment",
                problem: format!("{ACCESS_KEY_ID} is set but {ACCESS_KEY_SECRET} is not"),
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                source_name: "the environment",
                problem: format!("{ACCESS_KEY_SECRET} is set but {ACCESS_KEY_ID} is not"),
            }),
            (Some(id), Some(secret)) => Ok(Some(Credentials {
                access_key_id: id.trim().to_owned(),
                access_key_secret: Secret::new(secret.trim()),
                security_token: env.get(SECURITY_TOKEN).map(|t| Secret::new(t.trim())),
                source: "environment",
            })),
        }
    }
}

/// Asks each provider in turn; the first that has credentials wins.
pub struct Chain {
    providers: Vec<Box<dyn ProvideCredentials>>,
}

impl Chain {
    pub fn new(providers: Vec<Box<dyn ProvideCredentials>>) -> Self {
        Self { providers }
    }

    /// The chain this release uses.
    pub fn default_chain() -> Self {
        Self::new(vec![Box::new(EnvironmentProvider)])
    }

    pub fn resolve(&self, env: &Env) -> Result<Credentials, CredentialsError> {
        for provider in &self.providers {
            if let Some(credentials) = provider.provide(env)? {
                return Ok(credentials);
            }
        }
        Err(CredentialsError::NotFound {
            tried: self.providers.iter().map(|p| p.describe()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        vars.iter().copied().collect()
    }

    #[test]
    fn reads_an_access_key_pair() {
        let c = Chain::default_chain()
            .resolve(&env(&[
                (ACCESS_KEY_ID, "LTAIid"),
                (ACCESS_KEY_SECRET, "sekrit"),
            ]))
            .unwrap();
        assert_eq!(c.access_key_id, "LTAIid");
        assert_eq!(c.access_key_secret.expose(), "sekrit");
        assert!(c.security_token.is_none());
    }

    #[test]
    fn reads_an_sts_token() {
        let c = Chain::default_chain()
            .resolve(&env(&[
                (ACCESS_KEY_ID, "STS.id"),
                (ACCESS_KEY_SECRET, "sekrit"),
                (SECURITY_TOKEN, "tok"),
            ]))
            .unwrap();
        assert_eq!(c.security_token.as_ref().map(Secret::expose), Some("tok"));
    }

    #[test]
    fn nothing_set_lists_what_was_tried() {
        let err = Chain::default_chain().resolve(&env(&[])).unwrap_err();
        assert!(matches!(err, CredentialsError::NotFound { .. }));
        let msg = err.to_string();
        assert!(msg.contains("tried: environment variables"), "{msg}");
        assert!(msg.contains(ACCESS_KEY_SECRET), "{msg}");
    }

    #[test]
    fn blank_values_are_unset() {
        let err = Chain::default_chain()
            .resolve(&env(&[(ACCESS_KEY_ID, ""), (ACCESS_KEY_SECRET, " ")]))
            .unwrap_err();
        assert!(matches!(err, CredentialsError::NotFound { .. }));
    }

    #[test]
    fn half_a_pair_is_an_error_naming_the_missing_variable() {
        let err = Chain::default_chain()
            .resolve(&env(&[(ACCESS_KEY_ID, "LTAIid")]))
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"
            ),
            "{err}"
        );
        let err = Chain::default_chain()
            .resolve(&env(&[(ACCESS_KEY_SECRET, "sekrit")]))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("but ALIBABA_CLOUD_ACCESS_KEY_ID is not"),
            "{msg}"
        );
        assert!(!msg.contains("sekrit"), "{msg}");
    }

    #[test]
    fn debug_and_display_redact_secrets() {
        let c = Credentials {
            access_key_id: "LTAIid".into(),
            access_key_secret: Secret::new("top-secret-value"),
            security_token: Some(Secret::new("token-value")),
            source: "environment",
        };
        let shown = format!(
            "{c:?} {} {}",
            c.access_key_secret,
            c.security_token.as_ref().unwrap()
        );
        assert!(!shown.contains("top-secret-value"), "{shown}");
        assert!(!shown.contains("token-value"), "{shown}");
        assert!(shown.contains("LTAIid"));
        assert!(shown.contains("redacted"));
    }
}
