//! Credentials and where they come from: the default chain of the official Alibaba Cloud
//! tools, in their order, with their variable names and files.
//!
//! Finding credentials has two halves. [`chain::find`] looks at the environment and the files
//! and decides, without any network, which source is configured and how it yields credentials
//! (a [`Plan`]); a source that is not configured passes, a source that is configured but broken
//! stops the chain with its reason. [`Provider`] then carries the plan out (STS, the metadata
//! service, a credentials URI) and fetches it again before temporary credentials expire.

pub mod chain;
mod fetch;
mod ini_file;
pub mod names;
mod profile;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

pub use chain::{find, Candidates, Found, Lookup, Plan, RoleSession};
pub use fetch::Fetcher;
pub use profile::region as profile_region;

use crate::rpc::RpcClient;

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

/// An AccessKey pair, with the security token and expiry when it is an STS pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Option<Secret>,
    pub expiration: Option<DateTime<Utc>>,
}

impl Credentials {
    pub fn new(id: impl Into<String>, secret: impl Into<String>, token: Option<String>) -> Self {
        Self {
            access_key_id: id.into(),
            access_key_secret: Secret::new(secret),
            security_token: token.map(Secret::new),
            expiration: None,
        }
    }

    /// Whether they expire within `margin` of `now` and should be fetched again.
    pub fn expires_within(&self, margin: TimeDelta, now: DateTime<Utc>) -> bool {
        self.expiration.is_some_and(|e| e - now <= margin)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// No source is configured.
    #[error(
        "no credentials found. Tried, in order:\n{}\nTo use an AccessKey, set {} and {} (and {} for STS \
         credentials), or run `aliyun configure`.",
        tried.iter().enumerate().map(|(i, t)| format!("  {}. {t}", i + 1)).collect::<Vec<_>>().join("\n"),
        names::ACCESS_KEY_ID, names::ACCESS_KEY_SECRET, names::SECURITY_TOKEN
    )]
    NotFound { tried: Vec<String> },
    /// A source is configured but cannot give credentials: the chain stops here.
    #[error("credentials from {source_name}: {problem}")]
    Broken {
        source_name: String,
        problem: String,
    },
}

impl CredentialsError {
    pub fn broken(source_name: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Broken {
            source_name: source_name.into(),
            problem: problem.into(),
        }
    }
}

/// Fetch temporary credentials again this long before they expire (the official libraries use
/// three minutes), so that a long run keeps working.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(3);

/// Credentials for the whole run: fetched once, and fetched again before they expire.
pub struct Provider {
    found: Found,
    rpc: Arc<RpcClient>,
    current: tokio::sync::Mutex<Credentials>,
}

impl Provider {
    /// Asks the candidate sources in turn: the first that gives credentials is kept; one that
    /// turns out not to be there (no metadata service) passes; any other failure stops.
    pub async fn fetch(
        candidates: Candidates,
        rpc: Arc<RpcClient>,
    ) -> Result<Self, CredentialsError> {
        let Candidates {
            mut tried,
            sources,
            tried_after,
        } = candidates;
        for found in sources {
            match Fetcher::new(&rpc).fetch(&found).await {
                Ok(credentials) => {
                    rpc.log()
                        .verbose(|| format!("credentials from {}", found.source));
                    return Ok(Self {
                        found,
                        rpc,
                        current: tokio::sync::Mutex::new(credentials),
                    });
                }
                Err(CredentialsError::NotFound { tried: why }) => tried.extend(why),
                Err(broken) => return Err(broken),
            }
        }
        tried.extend(tried_after);
        Err(CredentialsError::NotFound { tried })
    }

    /// What supplied the credentials, for `-v` and messages (never a secret).
    pub fn source(&self) -> &str {
        &self.found.source
    }

    /// Credentials valid for a while yet: fetched again first when they expire soon.
    pub async fn current(&self) -> Result<Credentials, CredentialsError> {
        let mut current = self.current.lock().await;
        if current.expires_within(REFRESH_MARGIN, Utc::now()) {
            self.rpc.log().verbose(|| {
                format!(
                    "credentials from {} expire soon: fetching new ones",
                    self.found.source
                )
            });
            *current = Fetcher::new(&self.rpc).fetch(&self.found).await?;
        }
        Ok(current.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_secrets() {
        let c = Credentials::new("LTAIid", "top-secret-value", Some("token-value".into()));
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

    #[test]
    fn expiry_margin() {
        let now = Utc::now();
        let mut c = Credentials::new("id", "s", None);
        assert!(
            !c.expires_within(REFRESH_MARGIN, now),
            "static keys never expire"
        );
        c.expiration = Some(now + TimeDelta::minutes(10));
        assert!(!c.expires_within(REFRESH_MARGIN, now));
        c.expiration = Some(now + TimeDelta::minutes(2));
        assert!(c.expires_within(REFRESH_MARGIN, now));
        c.expiration = Some(now - TimeDelta::minutes(1));
        assert!(c.expires_within(REFRESH_MARGIN, now));
    }

    #[test]
    fn nothing_found_lists_each_source_and_how_to_configure_the_first() {
        let e = CredentialsError::NotFound {
            tried: vec!["environment".into(), "config.json".into()],
        };
        let text = e.to_string();
        assert!(
            text.contains("  1. environment\n  2. config.json"),
            "{text}"
        );
        assert!(
            text.contains("set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            "{text}"
        );
    }
}
