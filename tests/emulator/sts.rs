//! The emulator's STS (API version 2015-04-01): `AssumeRole` (signed like
//! any ECS call) and `AssumeRoleWithOIDC` (anonymous), served by the same
//! server and request pipeline as ECS (see `handlers.rs`).
//!
//! Every key STS issues is registered as an STS access key: ECS calls signed
//! with it (and carrying its `SecurityToken`) are accepted until its
//! `Expiration`, then refused with 400 `InvalidSecurityToken.Expired`.
//!
//! Validation, in this order (each failure is 400 unless noted):
//!
//! - `AssumeRole`: `RoleArn`, `RoleSessionName` present (`MissingParameter`);
//!   `RoleArn` of the form `acs:ram::<digits>:role/<name>`
//!   (`InvalidParameter.RoleArn`); `RoleSessionName` 2–64 characters of
//!   `[A-Za-z0-9._@-]` (`InvalidParameter.RoleSessionName`); `DurationSeconds`
//!   an integer in 900..=43200 when given (`InvalidParameter.DurationSeconds`);
//!   role in `Config::roles` (404 `EntityNotExist.Role`).
//! - `AssumeRoleWithOIDC`: `RoleArn`, `OIDCProviderArn`, `OIDCToken` present;
//!   `RoleArn` as above; `OIDCProviderArn` of the form
//!   `acs:ram::<digits>:oidc-provider/<name>`
//!   (`InvalidParameter.OIDCProviderArn`); `RoleSessionName` (optional) and
//!   `DurationSeconds` as above; provider in `Config::oidc_providers` (404
//!   `EntityNotExist.OIDCProvider`); `OIDCToken` exactly the one configured for
//!   that provider, byte for byte (`AuthenticationFail.OIDCToken.Invalid`);
//!   role in `Config::roles` (404 `EntityNotExist.Role`).

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Timelike as _, Utc};
use serde_json::{json, Map, Value};

use super::handlers::{ApiError, Params};
use super::state::State;
use super::AccessKey;

pub(crate) const ASSUME_ROLE: &str = "AssumeRole";
pub(crate) const ASSUME_ROLE_WITH_OIDC: &str = "AssumeRoleWithOIDC";
/// What `Emulator::issue_sts_key` records as `IssuedKey::issued_by`.
pub(crate) const ISSUE_STS_KEY: &str = "issue_sts_key";
/// The `HostId` of STS error answers.
pub(crate) const STS_HOST: &str = "sts.aliyuncs.com";

const DEFAULT_DURATION_SECS: u64 = 3600;
const MIN_DURATION_SECS: u64 = 900;
const MAX_DURATION_SECS: u64 = 43200;
/// `OIDCTokenInfo.Issuer` when the token's payload names none.
const DEFAULT_OIDC_ISSUER: &str = "https://oidc-ack.emulator.local/copy-image";

/// An STS key the emulator issued (and accepts until `expiration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// `STS.` + 20 random alphanumerics.
    pub access_key_id: String,
    /// 44 random alphanumerics.
    pub access_key_secret: String,
    /// Random; always contains '/', '+' and '=' (clients must escape them).
    pub security_token: String,
    /// Whole seconds (what the `Expiration` text shows); the key is refused
    /// from this instant on (emulator clock).
    pub expiration: DateTime<Utc>,
    /// "AssumeRole" | "AssumeRoleWithOIDC" | "issue_sts_key"
    pub issued_by: String,
    /// The AccessKeyId that signed the `AssumeRole`; `None` for
    /// `AssumeRoleWithOIDC` and `issue_sts_key`.
    pub caller: Option<String>,
}

impl IssuedKey {
    /// `expiration` as STS writes it: `YYYY-MM-DDThh:mm:ssZ`.
    pub fn expiration_text(&self) -> String {
        format_time(self.expiration)
    }

    /// The key as an `AccessKey` (an STS key: with its security token).
    pub fn access_key(&self) -> AccessKey {
        AccessKey {
            id: self.access_key_id.clone(),
            secret: self.access_key_secret.clone(),
            security_token: Some(self.security_token.clone()),
        }
    }

    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`, `…_SECRET` and `…_SECURITY_TOKEN`.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID".to_string(),
                self.access_key_id.clone(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_string(),
                self.access_key_secret.clone(),
            ),
            (
                "ALIBABA_CLOUD_SECURITY_TOKEN".to_string(),
                self.security_token.clone(),
            ),
        ]
    }
}

/// What one successful `AssumeRole` / `AssumeRoleWithOIDC` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    /// "AssumeRole" | "AssumeRoleWithOIDC"
    pub action: String,
    pub role_arn: String,
    /// As sent; for `AssumeRoleWithOIDC` without one, the generated name.
    pub role_session_name: String,
    /// `true` when `RoleSessionName` was not sent (OIDC only).
    pub session_name_generated: bool,
    /// `DurationSeconds` as sent (`None`: not sent, 3600 applied).
    pub duration_seconds: Option<u64>,
    pub policy: Option<String>,
    /// `AssumeRole` only.
    pub external_id: Option<String>,
    /// `AssumeRoleWithOIDC` only.
    pub oidc_provider_arn: Option<String>,
    /// The AccessKeyId that signed the call (`None` for OIDC).
    pub caller: Option<String>,
    /// The AccessKeyId of the key it was given.
    pub issued_access_key_id: String,
}

/// `YYYY-MM-DDThh:mm:ssZ`
pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------- randomness

/// Random bytes from v4 UUIDs (only their 14 fully random bytes).
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let uuid = uuid::Uuid::new_v4();
        let bytes = uuid.as_bytes();
        out.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 6 && *i != 8)
                .map(|(_, b)| *b),
        );
    }
    out.truncate(len);
    out
}

/// `len` random characters of `alphabet`.
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> String {
    random_bytes(len)
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// "CAIS" + three Base64 runs joined by '/' and '+', the last one padded:
/// always contains '/', '+' and '='.
fn new_security_token() -> String {
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(random_bytes(n));
    format!("CAIS{}/{}+{}", b64(45), b64(45), b64(46))
}

/// Creates, registers (as an accepted STS access key) and returns a new key
/// valid from the emulator's `now` for `lifetime` (rounded up to a whole
/// second).
pub(crate) fn issue(
    state: &mut State,
    now: DateTime<Utc>,
    lifetime: std::time::Duration,
    issued_by: &str,
    caller: Option<&str>,
) -> IssuedKey {
    let key = new_key(now, lifetime, issued_by, caller);
    state.issued.push(key.clone());
    key
}

/// A new key valid from `now` for `lifetime` (rounded up to a whole
/// second), registered nowhere.
pub(crate) fn new_key(
    now: DateTime<Utc>,
    lifetime: std::time::Duration,
    issued_by: &str,
    caller: Option<&str>,
) -> IssuedKey {
    let far_future = DateTime::<Utc>::MAX_UTC.with_nanosecond(0).unwrap_or(now);
    let expiration = TimeDelta::from_std(lifetime)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .and_then(|at| {
            if at.nanosecond() == 0 {
                Some(at)
            } else {
                at.with_nanosecond(0)?
                    .checked_add_signed(TimeDelta::seconds(1))
            }
        })
        .unwrap_or(far_future);
    IssuedKey {
        access_key_id: format!("STS.{}", random_string(ALNUM, 20)),
        access_key_secret: random_string(ALNUM, 44),
        security_token: new_security_token(),
        expiration,
        issued_by: issued_by.to_string(),
        caller: caller.map(str::to_string),
    }
}

// ---------------------------------------------------------------- validation

fn all_chars(text: &str, ok: impl Fn(char) -> bool) -> bool {
    text.chars().all(ok)
}

/// `acs:ram::<digits>:<kind>/<name>`, name 1..=max of `[A-Za-z0-9.-]`.
fn valid_ram_arn(arn: &str, kind: &str, max_name: usize) -> bool {
    let Some(rest) = arn.strip_prefix("acs:ram::") else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    let Some(name) = resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=max_name).contains(&name.len())
        && all_chars(name, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
        })
}

fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    if valid_ram_arn(arn, "role", 64) {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "InvalidParameter.RoleArn",
            format!("The parameter RoleArn is wrongly formed: {arn}"),
        ))
    }
}

fn check_session_name(name: &str) -> Result<(), ApiError> {
    let ok = (2..=64).contains(&name.chars().count())
        && all_chars(name, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed: 2 to 64 characters of \
             letters, digits, '.', '_', '@' and '-'.",
        ))
    }
}

/// `DurationSeconds` as sent (`None`: not sent).
fn duration_seconds(params: Params) -> Result<Option<u64>, ApiError> {
    let Some(text) = params.value("DurationSeconds") else {
        return Ok(None);
    };
    let parsed = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok()
    } else {
        None
    };
    match parsed {
        Some(secs) if (MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&secs) => Ok(Some(secs)),
        _ => Err(ApiError::new(
            400,
            "InvalidParameter.DurationSeconds",
            format!(
                "The parameter DurationSeconds must be between {MIN_DURATION_SECS} and \
                 {MAX_DURATION_SECS} seconds: {text}"
            ),
        )),
    }
}

fn check_role_exists(state: &State, arn: &str) -> Result<(), ApiError> {
    if state.config.roles.iter().any(|r| r == arn) {
        Ok(())
    } else {
        Err(ApiError::new(
            404,
            "EntityNotExist.Role",
            format!("The role not exists: {arn}."),
        ))
    }
}

/// The key's lifetime: `Config::sts_lifetime` if set, else the duration.
fn lifetime(state: &State, duration: Option<u64>) -> std::time::Duration {
    state.config.sts_lifetime.unwrap_or_else(|| {
        std::time::Duration::from_secs(duration.unwrap_or(DEFAULT_DURATION_SECS))
    })
}

/// The fields common to both actions' answers.
fn credentials_answer(key: &IssuedKey, role_arn: &str, session: &str) -> Map<String, Value> {
    let role_id: String = random_string(b"0123456789", 18);
    let mut fields = Map::new();
    fields.insert(
        "AssumedRoleUser".to_string(),
        json!({
            "Arn": format!("{role_arn}/{session}"),
            "AssumedRoleId": format!("{role_id}:{session}"),
        }),
    );
    fields.insert(
        "Credentials".to_string(),
        json!({
            "AccessKeyId": key.access_key_id,
            "AccessKeySecret": key.access_key_secret,
            "SecurityToken": key.security_token,
            "Expiration": key.expiration_text(),
        }),
    );
    fields
}

// ----------------------------------------------------------------- actions

pub(crate) fn assume_role(
    state: &mut State,
    params: Params,
    caller: &AccessKey,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, ApiError> {
    let role_arn = params.required("RoleArn")?;
    let session = params.required("RoleSessionName")?;
    check_role_arn(role_arn)?;
    check_session_name(session)?;
    let duration = duration_seconds(params)?;
    check_role_exists(state, role_arn)?;

    let lifetime = lifetime(state, duration);
    let key = issue(state, now, lifetime, ASSUME_ROLE, Some(&caller.id));
    state.assumed.push(AssumedRole {
        action: ASSUME_ROLE.to_string(),
        role_arn: role_arn.to_string(),
        role_session_name: session.to_string(),
        session_name_generated: false,
        duration_seconds: duration,
        policy: params.value("Policy").map(str::to_string),
        external_id: params.value("ExternalId").map(str::to_string),
        oidc_provider_arn: None,
        caller: Some(caller.id.clone()),
        issued_access_key_id: key.access_key_id.clone(),
    });
    Ok(credentials_answer(&key, role_arn, session))
}

pub(crate) fn assume_role_with_oidc(
    state: &mut State,
    params: Params,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, ApiError> {
    let role_arn = params.required("RoleArn")?;
    let provider_arn = params.required("OIDCProviderArn")?;
    let token = params.required("OIDCToken")?;
    check_role_arn(role_arn)?;
    if !valid_ram_arn(provider_arn, "oidc-provider", 128) {
        return Err(ApiError::new(
            400,
            "InvalidParameter.OIDCProviderArn",
            format!("The parameter OIDCProviderArn is wrongly formed: {provider_arn}"),
        ));
    }
    let sent_session = params.value("RoleSessionName");
    if let Some(session) = sent_session {
        check_session_name(session)?;
    }
    let duration = duration_seconds(params)?;
    let Some((_, expected_token)) = state
        .config
        .oidc_providers
        .iter()
        .find(|(arn, _)| arn == provider_arn)
    else {
        return Err(ApiError::new(
            404,
            "EntityNotExist.OIDCProvider",
            format!("The OIDC provider does not exist: {provider_arn}."),
        ));
    };
    if token != expected_token {
        return Err(ApiError::new(
            400,
            "AuthenticationFail.OIDCToken.Invalid",
            "The OIDC token is invalid: it is not the token issued for this provider.",
        ));
    }
    check_role_exists(state, role_arn)?;

    let session = match sent_session {
        Some(session) => session.to_string(),
        None => format!("oidc-{}", random_string(b"0123456789", 13)),
    };
    let lifetime = lifetime(state, duration);
    let key = issue(state, now, lifetime, ASSUME_ROLE_WITH_OIDC, None);
    state.assumed.push(AssumedRole {
        action: ASSUME_ROLE_WITH_OIDC.to_string(),
        role_arn: role_arn.to_string(),
        role_session_name: session.clone(),
        session_name_generated: sent_session.is_none(),
        duration_seconds: duration,
        policy: params.value("Policy").map(str::to_string),
        external_id: None,
        oidc_provider_arn: Some(provider_arn.to_string()),
        caller: None,
        issued_access_key_id: key.access_key_id.clone(),
    });
    let mut fields = credentials_answer(&key, role_arn, &session);
    let (subject, issuer) = token_claims(token);
    fields.insert(
        "OIDCTokenInfo".to_string(),
        json!({ "Subject": subject, "Issuer": issuer }),
    );
    Ok(fields)
}

/// `sub` and `iss` from a JWT's payload (not verified: the token was already
/// compared with the configured one); defaults when absent.
fn token_claims(token: &str) -> (String, String) {
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .unwrap_or(Value::Null);
    let claim = |name: &str| payload[name].as_str().map(str::to_string);
    (
        claim("sub").unwrap_or_else(|| "unknown".to_string()),
        claim("iss").unwrap_or_else(|| DEFAULT_OIDC_ISSUER.to_string()),
    )
}
