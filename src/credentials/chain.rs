//! Which source supplies the credentials, decided from the environment and the files alone.
//!
//! The order is the official one: environment, OIDC, the aliyun CLI's config.json, the shared
//! credentials file, the ECS metadata service, a credentials URI. A source that is not
//! configured passes to the next; one that is configured but broken stops the chain with the
//! source, the file, the profile and the problem. The last two sources can only be judged by
//! asking them, so they are returned as candidates for [`super::Provider::fetch`] to try.

use std::path::{Path, PathBuf};

use super::names::*;
use super::{profile, Credentials, CredentialsError};
use crate::endpoint::Endpoint;
use crate::env::Env;

/// What to look at: the environment (which also gives the home directory) and `--profile`.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    pub env: &'a Env,
    /// `--profile`: names the profile on the command line, which puts the profile sources first.
    pub profile_flag: Option<&'a str>,
}

impl<'a> Lookup<'a> {
    /// The profile asked for by name, and who asked: `--profile` or `ALIBABA_CLOUD_PROFILE`.
    pub fn named_profile(&self) -> Option<(&'a str, &'static str)> {
        self.profile_flag
            .filter(|p| !p.trim().is_empty())
            .map(|p| (p, "--profile"))
            .or_else(|| self.env.get(PROFILE).map(|p| (p, PROFILE)))
    }

    pub fn home(&self) -> Option<PathBuf> {
        self.env.get(HOME).map(PathBuf::from)
    }

    /// `~/.aliyun/config.json`, or `ALIBABA_CLOUD_CONFIG_FILE`.
    pub fn cli_config_path(&self) -> Option<PathBuf> {
        self.env
            .get(CONFIG_FILE)
            .map(PathBuf::from)
            .or_else(|| self.home().map(|h| h.join(CLI_CONFIG_PATH)))
    }

    /// `ALIBABA_CLOUD_CREDENTIALS_FILE`, else the first of `~/.alibabacloud/credentials` and
    /// `~/.alibabacloud/credentials.ini` that exists (the first when neither does).
    pub fn credentials_file_path(&self) -> Option<PathBuf> {
        if let Some(path) = self.env.get(CREDENTIALS_FILE) {
            return Some(PathBuf::from(path));
        }
        let home = self.home()?;
        let candidates = CREDENTIALS_PATHS.map(|p| home.join(p));
        candidates
            .iter()
            .find(|p| p.is_file())
            .or(candidates.first())
            .cloned()
    }

    pub fn is_true(&self, name: &str) -> bool {
        self.env
            .get(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
}

/// A role to assume through STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSession {
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u32,
    pub policy: Option<String>,
    pub external_id: Option<String>,
}

impl RoleSession {
    pub fn new(role_arn: &str, session_name: Option<&str>, duration_seconds: Option<u32>) -> Self {
        Self {
            role_arn: role_arn.trim().to_owned(),
            session_name: session_name
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(default_session_name),
            duration_seconds: duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS),
            policy: None,
            external_id: None,
        }
    }
}

/// `copy-image-<milliseconds since the epoch>`, as the official libraries name theirs.
fn default_session_name() -> String {
    format!("copy-image-{}", chrono::Utc::now().timestamp_millis())
}

/// How a source yields credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Given as they are (an AccessKey, or an STS token someone else obtained).
    Static(Credentials),
    /// STS AssumeRole, signed with the credentials of `base`.
    AssumeRole {
        base: Box<Plan>,
        role: RoleSession,
        sts: Endpoint,
    },
    /// STS AssumeRoleWithOIDC, with the token read from a file (it is rotated there).
    Oidc {
        role: RoleSession,
        provider_arn: String,
        token_file: PathBuf,
        sts: Endpoint,
    },
    /// The ECS instance's RAM role, from the metadata service.
    Metadata {
        base_url: String,
        role_name: Option<String>,
        imdsv1_disabled: bool,
        /// Only probing (nothing names a role): a service that is not there means "not on ECS"
        /// and the chain moves on.
        probe: bool,
    },
    /// A URL answering with temporary credentials.
    Uri { url: String },
}

/// A configured source, with its description for messages (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub plan: Plan,
    pub source: String,
}

/// What the files and the environment allow: the sources to ask, in order, between the ones
/// looked at before and after them that are not configured (for the "nothing found" list).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Candidates {
    pub tried: Vec<String>,
    pub sources: Vec<Found>,
    pub tried_after: Vec<String>,
}

/// One source: `Ok(None)` when it is not configured (after saying so in the list).
type Step = fn(Lookup, &mut Vec<String>) -> Result<Option<Found>, CredentialsError>;

/// Looks at every source in the official order.
pub fn find(lookup: Lookup) -> Result<Candidates, CredentialsError> {
    let mut c = Candidates::default();
    // A profile named on the command line is the user's explicit choice: it goes before the
    // ambient environment.
    let steps: &[Step] = if lookup.profile_flag.is_some() {
        &[profile::from_profiles]
    } else {
        &[
            from_environment,
            from_oidc_environment,
            profile::from_profiles,
        ]
    };
    for step in steps {
        if let Some(found) = step(lookup, &mut c.tried)? {
            c.sources.push(found);
            return Ok(c);
        }
    }
    if lookup.is_true(ECS_METADATA_DISABLED) {
        c.tried.push(format!(
            "the ECS metadata service: disabled by {ECS_METADATA_DISABLED}"
        ));
    } else {
        let role_name = lookup.env.get(ECS_METADATA).map(str::to_owned);
        c.sources.push(Found {
            source: match &role_name {
                Some(role) => format!("the ECS instance RAM role '{role}' ({ECS_METADATA})"),
                None => "the ECS instance RAM role".to_owned(),
            },
            plan: Plan::Metadata {
                base_url: metadata_base(lookup)?,
                probe: role_name.is_none(),
                role_name,
                imdsv1_disabled: lookup.is_true(IMDSV1_DISABLED),
            },
        });
    }
    match lookup.env.get(CREDENTIALS_URI) {
        Some(url) => c.sources.push(Found {
            source: format!("the credentials URI in {CREDENTIALS_URI}"),
            plan: Plan::Uri {
                url: checked_url(url, CREDENTIALS_URI)?,
            },
        }),
        None => c.tried_after.push(format!("{CREDENTIALS_URI}: not set")),
    }
    Ok(c)
}

/// Step 1: the AccessKey in the environment, under the official names or Terraform's older ones.
fn from_environment(
    lookup: Lookup,
    tried: &mut Vec<String>,
) -> Result<Option<Found>, CredentialsError> {
    let env = lookup.env;
    for (id_name, secret_name, token_name) in [
        (ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN),
        (LEGACY_ACCESS_KEY, LEGACY_SECRET_KEY, LEGACY_SECURITY_TOKEN),
    ] {
        match (env.get(id_name), env.get(secret_name)) {
            (None, None) => continue,
            (Some(_), None) => {
                return Err(CredentialsError::broken(
                    "the environment",
                    format!("{id_name} is set but {secret_name} is not"),
                ))
            }
            (None, Some(_)) => {
                return Err(CredentialsError::broken(
                    "the environment",
                    format!("{secret_name} is set but {id_name} is not"),
                ))
            }
            (Some(id), Some(secret)) => {
                let token = env.get(token_name).map(|t| t.trim().to_owned());
                return Ok(Some(Found {
                    source: format!("the environment ({id_name})"),
                    plan: Plan::Static(Credentials::new(id.trim(), secret.trim(), token)),
                }));
            }
        }
    }
    tried.push(format!(
        "environment variables {ACCESS_KEY_ID} and {ACCESS_KEY_SECRET}: not set"
    ));
    Ok(None)
}

/// Step 2: OIDC role assumption (RRSA), when its variables are set. `ALIBABA_CLOUD_ROLE_ARN`
/// alone is used by other tools too and does not configure OIDC; either OIDC-specific variable
/// does, and then all three are needed.
fn from_oidc_environment(
    lookup: Lookup,
    tried: &mut Vec<String>,
) -> Result<Option<Found>, CredentialsError> {
    let env = lookup.env;
    let (provider, token_file) = (env.get(OIDC_PROVIDER_ARN), env.get(OIDC_TOKEN_FILE));
    if provider.is_none() && token_file.is_none() {
        tried.push(format!(
            "OIDC ({OIDC_PROVIDER_ARN}, {OIDC_TOKEN_FILE}): not set"
        ));
        return Ok(None);
    }
    let missing: Vec<&str> = [
        (ROLE_ARN, env.get(ROLE_ARN)),
        (OIDC_PROVIDER_ARN, provider),
        (OIDC_TOKEN_FILE, token_file),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_none())
    .map(|(n, _)| n)
    .collect();
    let (Some(role_arn), Some(provider), Some(token_file)) =
        (env.get(ROLE_ARN), provider, token_file)
    else {
        return Err(CredentialsError::broken(
            "OIDC in the environment",
            format!("{} must be set too", missing.join(" and ")),
        ));
    };
    Ok(Some(Found {
        source: format!("OIDC role {role_arn} ({OIDC_TOKEN_FILE})"),
        plan: Plan::Oidc {
            role: RoleSession::new(role_arn, env.get(ROLE_SESSION_NAME), None),
            provider_arn: provider.trim().to_owned(),
            token_file: PathBuf::from(token_file),
            sts: sts_endpoint(lookup, None, None)?,
        },
    }))
}

/// The STS endpoint: `ALIBABA_CLOUD_STS_ENDPOINT`, else the profile's `sts_endpoint`, else
/// `sts[-vpc].<region>.aliyuncs.com` for `ALIBABA_CLOUD_STS_REGION` or the profile's
/// `sts_region`, else `sts.aliyuncs.com`.
pub(super) fn sts_endpoint(
    lookup: Lookup,
    profile_endpoint: Option<&str>,
    profile_region: Option<&str>,
) -> Result<Endpoint, CredentialsError> {
    let explicit = lookup
        .env
        .get(STS_ENDPOINT)
        .map(|e| (e, STS_ENDPOINT))
        .or_else(|| {
            profile_endpoint
                .filter(|e| !e.trim().is_empty())
                .map(|e| (e, "the profile's sts_endpoint"))
        });
    if let Some((endpoint, from)) = explicit {
        return Endpoint::parse_override(endpoint.trim())
            .map_err(|rule| CredentialsError::broken(from, format!("'{endpoint}' {rule}")));
    }
    let region = lookup
        .env
        .get(STS_REGION)
        .or(profile_region.filter(|r| !r.trim().is_empty()))
        .map(str::trim);
    let host = match region {
        Some(region) if lookup.is_true(VPC_ENDPOINT_ENABLED) => {
            format!("sts-vpc.{region}.aliyuncs.com")
        }
        Some(region) => format!("sts.{region}.aliyuncs.com"),
        None => DEFAULT_STS_HOST.to_owned(),
    };
    Endpoint::parse_override(&host)
        .map_err(|rule| CredentialsError::broken("the STS region", format!("'{host}' {rule}")))
}

/// The metadata service: `http://100.100.100.200`, or `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT`
/// (for proxies and tests: `https://`, or `http://` on loopback).
pub(super) fn metadata_base(lookup: Lookup) -> Result<String, CredentialsError> {
    match lookup.env.get(ECS_METADATA_ENDPOINT) {
        Some(e) => Endpoint::parse_override(e.trim())
            .map(|e| e.as_str().to_owned())
            .map_err(|rule| {
                CredentialsError::broken(ECS_METADATA_ENDPOINT, format!("'{e}' {rule}"))
            }),
        None => Ok(METADATA_BASE.to_owned()),
    }
}

/// The instance RAM role named by a profile or a credentials-file section (`what` is its mode
/// or type): it needs the metadata service, so turning that off makes such a source broken.
pub(super) fn instance_role(
    lookup: Lookup,
    role_name: Option<&str>,
    source: &str,
    what: &str,
) -> Result<Plan, CredentialsError> {
    if lookup.is_true(ECS_METADATA_DISABLED) {
        return Err(CredentialsError::broken(
            source,
            format!("{what} needs the ECS metadata service, which {ECS_METADATA_DISABLED}=true disables"),
        ));
    }
    Ok(Plan::Metadata {
        base_url: metadata_base(lookup)?,
        role_name: role_name.map(str::to_owned),
        imdsv1_disabled: lookup.is_true(IMDSV1_DISABLED),
        probe: false,
    })
}

/// A URL that may carry credentials: `https://`, or `http://` on loopback.
pub(super) fn checked_url(url: &str, from: &str) -> Result<String, CredentialsError> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| CredentialsError::broken(from, format!("'{url}' is not a URL ({e})")))?;
    let origin = format!(
        "{}://{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default()
    );
    Endpoint::parse_override(&origin)
        .map_err(|rule| CredentialsError::broken(from, format!("'{url}' {rule}")))?;
    Ok(parsed.to_string())
}

/// `path` for messages, with `~` for the home directory.
pub(super) fn shown(path: &Path, lookup: Lookup) -> String {
    match lookup
        .home()
        .and_then(|h| path.strip_prefix(h).ok().map(Path::to_path_buf))
    {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        vars.iter().copied().collect()
    }

    fn lookup(env: &Env) -> Lookup<'_> {
        Lookup {
            env,
            profile_flag: None,
        }
    }

    fn only(c: Candidates) -> Found {
        assert_eq!(c.sources.len(), 1, "{c:?}");
        c.sources.into_iter().next().unwrap()
    }

    #[test]
    fn environment_access_key() {
        let e = env(&[
            (ACCESS_KEY_ID, "LTAIid"),
            (ACCESS_KEY_SECRET, "s"),
            (ECS_METADATA_DISABLED, "true"),
        ]);
        let found = only(find(lookup(&e)).unwrap());
        assert_eq!(
            found.plan,
            Plan::Static(Credentials::new("LTAIid", "s", None))
        );
        assert_eq!(
            found.source,
            "the environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"
        );
    }

    #[test]
    fn environment_sts_token_and_legacy_names() {
        let e = env(&[
            (LEGACY_ACCESS_KEY, "id"),
            (LEGACY_SECRET_KEY, "s"),
            (LEGACY_SECURITY_TOKEN, "t"),
        ]);
        let found = only(find(lookup(&e)).unwrap());
        assert_eq!(
            found.plan,
            Plan::Static(Credentials::new("id", "s", Some("t".into())))
        );
        // The official names win over the legacy ones.
        let e = env(&[
            (ACCESS_KEY_ID, "new"),
            (ACCESS_KEY_SECRET, "s"),
            (LEGACY_ACCESS_KEY, "old"),
            (LEGACY_SECRET_KEY, "s"),
        ]);
        let Plan::Static(c) = only(find(lookup(&e)).unwrap()).plan else {
            panic!()
        };
        assert_eq!(c.access_key_id, "new");
    }

    #[test]
    fn blank_variables_are_unset() {
        let e = env(&[
            (ACCESS_KEY_ID, " "),
            (ACCESS_KEY_SECRET, ""),
            (ECS_METADATA_DISABLED, "true"),
        ]);
        let c = find(lookup(&e)).unwrap();
        assert!(c.sources.is_empty(), "{c:?}");
        assert!(c.tried[0].contains("not set"), "{c:?}");
    }

    #[test]
    fn half_an_access_key_is_broken() {
        let e = env(&[(ACCESS_KEY_ID, "id")]);
        let err = find(lookup(&e)).unwrap_err().to_string();
        assert_eq!(err, "credentials from the environment: ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not");
    }

    #[test]
    fn oidc_from_the_environment() {
        let e = env(&[
            (ROLE_ARN, "acs:ram::1:role/r"),
            (OIDC_PROVIDER_ARN, "acs:ram::1:oidc-provider/p"),
            (OIDC_TOKEN_FILE, "/var/run/token"),
            (ROLE_SESSION_NAME, "my-session"),
            (STS_REGION, "cn-shanghai"),
        ]);
        let Plan::Oidc {
            role,
            provider_arn,
            token_file,
            sts,
        } = only(find(lookup(&e)).unwrap()).plan
        else {
            panic!("expected OIDC")
        };
        assert_eq!(role.role_arn, "acs:ram::1:role/r");
        assert_eq!(role.session_name, "my-session");
        assert_eq!(role.duration_seconds, 3600);
        assert_eq!(provider_arn, "acs:ram::1:oidc-provider/p");
        assert_eq!(token_file, PathBuf::from("/var/run/token"));
        assert_eq!(sts.as_str(), "https://sts.cn-shanghai.aliyuncs.com");
    }

    #[test]
    fn partial_oidc_is_broken_but_a_role_arn_alone_is_not_oidc() {
        let e = env(&[(OIDC_TOKEN_FILE, "/t")]);
        let err = find(lookup(&e)).unwrap_err().to_string();
        assert!(
            err.contains(
                "ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_PROVIDER_ARN must be set too"
            ),
            "{err}"
        );
        let e = env(&[
            (ROLE_ARN, "acs:ram::1:role/r"),
            (ECS_METADATA_DISABLED, "true"),
        ]);
        assert!(find(lookup(&e)).unwrap().sources.is_empty());
    }

    #[test]
    fn environment_comes_before_oidc() {
        let e = env(&[
            (ACCESS_KEY_ID, "id"),
            (ACCESS_KEY_SECRET, "s"),
            (ROLE_ARN, "acs:ram::1:role/r"),
            (OIDC_PROVIDER_ARN, "p"),
            (OIDC_TOKEN_FILE, "/t"),
        ]);
        assert!(matches!(
            only(find(lookup(&e)).unwrap()).plan,
            Plan::Static(_)
        ));
    }

    #[test]
    fn sts_endpoints() {
        let sts = |vars: &[(&str, &str)], ep: Option<&str>, region: Option<&str>| {
            let e = env(vars);
            sts_endpoint(lookup(&e), ep, region).map(|e| e.as_str().to_owned())
        };
        assert_eq!(sts(&[], None, None).unwrap(), "https://sts.aliyuncs.com");
        assert_eq!(
            sts(&[], None, Some("cn-beijing")).unwrap(),
            "https://sts.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            sts(&[(STS_REGION, "cn-shanghai")], None, Some("cn-beijing")).unwrap(),
            "https://sts.cn-shanghai.aliyuncs.com"
        );
        assert_eq!(
            sts(&[(VPC_ENDPOINT_ENABLED, "true")], None, Some("cn-beijing")).unwrap(),
            "https://sts-vpc.cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            sts(&[], Some("sts.example.com"), Some("cn-beijing")).unwrap(),
            "https://sts.example.com"
        );
        assert_eq!(
            sts(
                &[(STS_ENDPOINT, "http://127.0.0.1:9000")],
                Some("sts.example.com"),
                None
            )
            .unwrap(),
            "http://127.0.0.1:9000"
        );
        let err = sts(&[(STS_ENDPOINT, "http://sts.example.com")], None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ALIBABA_CLOUD_STS_ENDPOINT") && err.contains("only for loopback"),
            "{err}"
        );
    }

    #[test]
    fn metadata_and_uri_are_candidates_in_order() {
        let e = env(&[
            (CREDENTIALS_URI, "http://127.0.0.1:8080/creds"),
            (ECS_METADATA, "my-role"),
        ]);
        let c = find(lookup(&e)).unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(
            c.sources[0].plan,
            Plan::Metadata {
                base_url: METADATA_BASE.into(),
                role_name: Some("my-role".into()),
                imdsv1_disabled: false,
                probe: false
            }
        );
        assert_eq!(
            c.sources[1].plan,
            Plan::Uri {
                url: "http://127.0.0.1:8080/creds".into()
            }
        );
    }

    #[test]
    fn metadata_can_be_disabled_and_redirected() {
        let e = env(&[(ECS_METADATA_DISABLED, "TRUE")]);
        let c = find(lookup(&e)).unwrap();
        assert!(c.sources.is_empty());
        assert!(
            c.tried
                .iter()
                .any(|t| t.contains("disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED")),
            "{c:?}"
        );
        let e = env(&[
            (ECS_METADATA_ENDPOINT, "http://127.0.0.1:7000"),
            (IMDSV1_DISABLED, "true"),
        ]);
        let c = find(lookup(&e)).unwrap();
        assert_eq!(
            c.sources[0].plan,
            Plan::Metadata {
                base_url: "http://127.0.0.1:7000".into(),
                role_name: None,
                imdsv1_disabled: true,
                probe: true
            }
        );
        let e = env(&[(ECS_METADATA_ENDPOINT, "http://169.254.1.1")]);
        assert!(find(lookup(&e))
            .unwrap_err()
            .to_string()
            .contains("only for loopback"));
    }

    #[test]
    fn credentials_uri_must_be_safe() {
        let e = env(&[
            (ECS_METADATA_DISABLED, "true"),
            (CREDENTIALS_URI, "http://creds.example.com/x"),
        ]);
        assert!(find(lookup(&e))
            .unwrap_err()
            .to_string()
            .contains("only for loopback"));
        let e = env(&[
            (ECS_METADATA_DISABLED, "true"),
            (CREDENTIALS_URI, "not a url"),
        ]);
        assert!(find(lookup(&e))
            .unwrap_err()
            .to_string()
            .contains("is not a URL"));
    }
}
