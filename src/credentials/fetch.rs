//! Carrying out a [`Plan`]: STS AssumeRole and AssumeRoleWithOIDC (signed by the same signer
//! and sent through the same retry loop as ECS calls), the ECS metadata service, and a
//! credentials URI.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::chain::{Found, Plan, RoleSession};
use super::names::*;
use super::{Credentials, CredentialsError};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::response::string_field;
use crate::retry::{self, Failure, RetryPolicy};
use crate::rpc::{self, Auth, RpcCall, RpcClient};
use crate::sign::v1::Params;
use crate::sign::SignatureVersion;

/// The metadata service answers on the instance itself: anything slower means it is not there.
const METADATA_TIMEOUT: Duration = Duration::from_secs(1);
const METADATA_TOKEN_TTL: &str = "21600";
const METADATA_TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";
const METADATA_TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
const METADATA_ROLES: &str = "/latest/meta-data/ram/security-credentials/";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

pub struct Fetcher<'a> {
    rpc: &'a RpcClient,
}

impl<'a> Fetcher<'a> {
    pub fn new(rpc: &'a RpcClient) -> Self {
        Self { rpc }
    }

    pub async fn fetch(&self, found: &Found) -> Result<Credentials, CredentialsError> {
        self.plan(&found.plan, &found.source).await
    }

    /// Boxed, because an AssumeRole plan fetches its base plan first.
    fn plan<'b>(
        &'b self,
        plan: &'b Plan,
        source: &'b str,
    ) -> BoxFuture<'b, Result<Credentials, CredentialsError>> {
        Box::pin(async move {
            match plan {
                Plan::Static(credentials) => Ok(credentials.clone()),
                Plan::AssumeRole { base, role, sts } => {
                    let base = self.plan(base, source).await?;
                    self.assume_role(&base, role, sts, source).await
                }
                Plan::Oidc {
                    role,
                    provider_arn,
                    token_file,
                    sts,
                } => {
                    let token = std::fs::read_to_string(token_file).map_err(|e| {
                        CredentialsError::broken(
                            source,
                            format!(
                                "the OIDC token file {} cannot be read: {e}",
                                token_file.display()
                            ),
                        )
                    })?;
                    self.assume_role_with_oidc(role, provider_arn, token.trim(), sts, source)
                        .await
                }
                Plan::Metadata {
                    base_url,
                    role_name,
                    imdsv1_disabled,
                    probe,
                } => {
                    self.metadata(
                        base_url,
                        role_name.as_deref(),
                        *imdsv1_disabled,
                        *probe,
                        source,
                    )
                    .await
                }
                Plan::Uri { url } => self.uri(url, source).await,
            }
        })
    }

    async fn assume_role(
        &self,
        base: &Credentials,
        role: &RoleSession,
        sts: &Endpoint,
        source: &str,
    ) -> Result<Credentials, CredentialsError> {
        let mut form = role_params(role);
        if let Some(id) = &role.external_id {
            form.insert("ExternalId".into(), id.clone());
        }
        let call = RpcCall {
            action: "AssumeRole",
            version: STS_VERSION,
            // The official Credentials libraries sign STS calls with V1.
            signature: SignatureVersion::V1,
            endpoint: sts,
            query: Params::new(),
            form,
            secrets: Vec::new(),
        };
        let answer = self.rpc.call(&call, Auth::Fixed(base)).await;
        sts_credentials(
            answer,
            &format!("STS AssumeRole of {} for {source}", role.role_arn),
        )
    }

    async fn assume_role_with_oidc(
        &self,
        role: &RoleSession,
        provider_arn: &str,
        token: &str,
        sts: &Endpoint,
        source: &str,
    ) -> Result<Credentials, CredentialsError> {
        let mut form = role_params(role);
        form.insert("OIDCProviderArn".into(), provider_arn.to_owned());
        form.insert("OIDCToken".into(), token.to_owned());
        let call = RpcCall {
            action: "AssumeRoleWithOIDC",
            version: STS_VERSION,
            signature: SignatureVersion::V1,
            endpoint: sts,
            query: Params::new(),
            form,
            secrets: vec![token],
        };
        let answer = self.rpc.call(&call, Auth::Anonymous).await;
        sts_credentials(
            answer,
            &format!("STS AssumeRoleWithOIDC of {} for {source}", role.role_arn),
        )
    }

    /// The instance's RAM role credentials: a session token first (`PUT /latest/api/token`),
    /// then the role and its credentials with the token header; without a token when the
    /// service does not issue one, unless `ALIBABA_CLOUD_IMDSV1_DISABLED` is true.
    async fn metadata(
        &self,
        base: &str,
        role_name: Option<&str>,
        imdsv1_disabled: bool,
        probe: bool,
        source: &str,
    ) -> Result<Credentials, CredentialsError> {
        let http = rpc::http_client(METADATA_TIMEOUT, METADATA_TIMEOUT)
            .map_err(|e| CredentialsError::broken(source, e.to_string()))?;
        let absent = |why: String| CredentialsError::NotFound {
            tried: vec![format!("the ECS metadata service at {base}: {why}")],
        };
        let broken = |why: String| {
            CredentialsError::broken(format!("{source} (metadata service at {base})"), why)
        };
        // Probing on a machine that is not an ECS instance must cost one short time-out, not
        // a round of retries.
        let policy = if probe {
            RetryPolicy {
                max_attempts: 1,
                ..self.rpc.retry_policy().clone()
            }
        } else {
            self.rpc.retry_policy().clone()
        };

        let token = match self
            .http_text(
                &http,
                &policy,
                "metadata token",
                reqwest::Method::PUT,
                &format!("{base}/latest/api/token"),
                None,
            )
            .await
        {
            Ok(token) => Some(token.trim().to_owned()),
            Err(Error::Transport { detail, .. }) if probe => {
                return Err(absent(format!("no answer ({detail})")))
            }
            Err(e) if imdsv1_disabled => {
                return Err(broken(format!(
                    "no session token ({}), and {IMDSV1_DISABLED}=true forbids asking without one",
                    e.summary()
                )))
            }
            Err(Error::Transport { detail, .. }) => {
                return Err(broken(format!("no answer ({detail})")))
            }
            Err(_) => None,
        };
        let get = |path: String| {
            let http = &http;
            let policy = &policy;
            let token = token.as_deref();
            async move {
                self.http_text(
                    http,
                    policy,
                    "metadata service",
                    reqwest::Method::GET,
                    &format!("{base}{path}"),
                    token,
                )
                .await
            }
        };
        let role = match role_name {
            Some(role) => role.to_owned(),
            None => match get(METADATA_ROLES.to_owned()).await {
                Ok(list) => match list.lines().map(str::trim).find(|l| !l.is_empty()) {
                    Some(role) => role.to_owned(),
                    None => return Err(absent("no RAM role is attached to this instance".into())),
                },
                Err(Error::UnexpectedResponse { status: 404, .. }) if probe => {
                    return Err(absent("no RAM role is attached to this instance".into()))
                }
                Err(e) => {
                    return Err(broken(format!(
                        "listing the instance's RAM role failed: {}",
                        e.summary()
                    )))
                }
            },
        };
        let text = get(format!("{METADATA_ROLES}{role}")).await.map_err(|e| {
            broken(format!(
                "the credentials of role '{role}' could not be read: {}",
                e.summary()
            ))
        })?;
        credentials_document(&text).map_err(|why| broken(format!("role '{role}': {why}")))
    }

    /// `ALIBABA_CLOUD_CREDENTIALS_URI`: a GET answering with temporary credentials.
    async fn uri(&self, url: &str, source: &str) -> Result<Credentials, CredentialsError> {
        let http = rpc::http_client(Duration::from_secs(5), Duration::from_secs(10))
            .map_err(|e| CredentialsError::broken(source, e.to_string()))?;
        let text = self
            .http_text(
                &http,
                self.rpc.retry_policy(),
                "credentials URI",
                reqwest::Method::GET,
                url,
                None,
            )
            .await
            .map_err(|e| CredentialsError::broken(source, e.summary()))?;
        credentials_document(&text).map_err(|why| CredentialsError::broken(source, why))
    }

    /// A plain HTTP request through the retry loop; a non-2xx status is an error.
    async fn http_text(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        what: &'static str,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
    ) -> Result<String, Error> {
        retry::run(policy, self.rpc.log(), what, |n| {
            let mut request = http.request(method.clone(), url);
            if method == reqwest::Method::PUT {
                request = request.header(METADATA_TTL_HEADER, METADATA_TOKEN_TTL);
            }
            if let Some(token) = token {
                request = request.header(METADATA_TOKEN_HEADER, token);
            }
            let method = method.clone();
            async move {
                self.rpc
                    .log()
                    .verbose(|| format!("{what} attempt {n}: {method} {url}"));
                let transport = |e: reqwest::Error| {
                    Failure::from(Error::Transport {
                        action: what,
                        endpoint: url.to_owned(),
                        detail: rpc::describe_transport_error(&e),
                    })
                };
                let answer = request.send().await.map_err(transport)?;
                let status = answer.status().as_u16();
                let text = answer.text().await.map_err(transport)?;
                self.rpc
                    .log()
                    .verbose(|| format!("{what} attempt {n}: HTTP {status}"));
                if (200..300).contains(&status) {
                    Ok(text)
                } else {
                    Err(Failure::from(Error::UnexpectedResponse {
                        action: what,
                        endpoint: url.to_owned(),
                        status,
                        problem: "the request was refused".into(),
                        // Never echo a body that may hold credentials.
                        excerpt: format!("({} bytes)", text.len()),
                    }))
                }
            }
        })
        .await
    }
}

/// `RoleArn`, `RoleSessionName`, `DurationSeconds` and `Policy`, as form parameters.
fn role_params(role: &RoleSession) -> Params {
    let mut form = Params::new();
    form.insert("RoleArn".into(), role.role_arn.clone());
    form.insert("RoleSessionName".into(), role.session_name.clone());
    form.insert("DurationSeconds".into(), role.duration_seconds.to_string());
    if let Some(policy) = &role.policy {
        form.insert("Policy".into(), policy.clone());
    }
    form
}

/// The `Credentials` object of an STS answer.
fn sts_credentials(
    answer: Result<Value, Error>,
    what: &str,
) -> Result<Credentials, CredentialsError> {
    let body = answer.map_err(|e| CredentialsError::broken(what, e.to_string()))?;
    let creds = body
        .get("Credentials")
        .ok_or_else(|| CredentialsError::broken(what, "the answer has no Credentials"))?;
    credentials_fields(creds).map_err(|why| CredentialsError::broken(what, why))
}

/// The document of the metadata service and of a credentials URI: `Code` must be `Success`.
fn credentials_document(text: &str) -> Result<Credentials, String> {
    let body: Value =
        serde_json::from_str(text).map_err(|_| "the answer is not JSON".to_owned())?;
    match string_field(&body, &["Code"]) {
        Some(code) if code == "Success" => credentials_fields(&body),
        Some(code) => Err(format!(
            "the answer's Code is '{}', not 'Success'",
            crate::log::terminal_safe(&code)
        )),
        None => Err("the answer has no Code".into()),
    }
}

fn credentials_fields(v: &Value) -> Result<Credentials, String> {
    let field = |name: &str| {
        string_field(v, &[name])
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("the answer has no {name}"))
    };
    let mut c = Credentials::new(
        field("AccessKeyId")?,
        field("AccessKeySecret")?,
        Some(field("SecurityToken")?),
    );
    c.expiration = match string_field(v, &["Expiration"]) {
        Some(e) => Some(
            DateTime::parse_from_rfc3339(e.trim())
                .map_err(|_| {
                    format!(
                        "the answer's Expiration '{}' is not a time",
                        crate::log::terminal_safe(&e)
                    )
                })?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_documents() {
        let ok = r#"{"Code":"Success","AccessKeyId":"STS.a","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2030-01-02T03:04:05Z","LastUpdated":"x"}"#;
        let c = credentials_document(ok).unwrap();
        assert_eq!(c.access_key_id, "STS.a");
        assert_eq!(c.security_token.as_ref().unwrap().expose(), "t");
        assert_eq!(
            c.expiration.unwrap().to_rfc3339(),
            "2030-01-02T03:04:05+00:00"
        );
        let cases = [
            ("nope", "not JSON"),
            (r#"{"Code":"Failed"}"#, "Code is 'Failed'"),
            (r#"{"AccessKeyId":"a"}"#, "no Code"),
            (
                r#"{"Code":"Success","AccessKeyId":"a","AccessKeySecret":"s"}"#,
                "no SecurityToken",
            ),
            (
                r#"{"Code":"Success","AccessKeyId":"a","AccessKeySecret":"s","SecurityToken":"t","Expiration":"soon"}"#,
                "not a time",
            ),
        ];
        for (text, expected) in cases {
            let err = credentials_document(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn sts_answers() {
        let body = serde_json::json!({"RequestId": "R", "Credentials": {"AccessKeyId": "STS.x", "AccessKeySecret": "s", "SecurityToken": "t", "Expiration": "2030-01-01T00:00:00Z"}});
        let c = sts_credentials(Ok(body), "AssumeRole").unwrap();
        assert_eq!(c.access_key_id, "STS.x");
        assert!(c.expiration.is_some());
        let err =
            sts_credentials(Ok(serde_json::json!({"RequestId": "R"})), "AssumeRole").unwrap_err();
        assert!(err.to_string().contains("no Credentials"), "{err}");
    }

    #[test]
    fn role_parameters() {
        let mut role = RoleSession::new("acs:ram::1:role/r", Some("s"), Some(900));
        role.policy = Some("{}".into());
        let p = role_params(&role);
        assert_eq!(p["RoleArn"], "acs:ram::1:role/r");
        assert_eq!(p["RoleSessionName"], "s");
        assert_eq!(p["DurationSeconds"], "900");
        assert_eq!(p["Policy"], "{}");
    }
}
