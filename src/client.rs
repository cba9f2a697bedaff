//! The ECS client: signs each call, sends it as the official SDKs do, and turns the answer
//! into a value or an [`Error`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::credentials::Credentials;
use crate::endpoint::Endpoint;
use crate::error::{ApiError, Error};
use crate::model::RegionId;
use crate::request::CopyImageRequest;
use crate::sign::percent_encode;
use crate::sign::v1::{self, Method, Params, SigningInput};

pub const API_VERSION: &str = "2014-05-26";

const USER_AGENT: &str = concat!("copy-image/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Answers are a few hundred bytes; a larger one is not the API talking.
const MAX_BODY_BYTES: usize = 1 << 20;
const EXCERPT_CHARS: usize = 200;

/// The answer to CopyImage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyImageResponse {
    pub image_id: String,
    pub request_id: String,
}

pub struct EcsClient {
    http: reqwest::Client,
    credentials: Credentials,
    endpoint_override: Option<Endpoint>,
    redactor: Redactor,
}

impl EcsClient {
    pub fn new(
        credentials: Credentials,
        endpoint_override: Option<Endpoint>,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let redactor = Redactor::new(&credentials);
        Ok(Self {
            http,
            credentials,
            endpoint_override,
            redactor,
        })
    }

    /// The endpoint that serves `region`.
    pub fn endpoint_for(&self, region: &RegionId) -> Endpoint {
        self.endpoint_override
            .clone()
            .unwrap_or_else(|| Endpoint::for_region(region))
    }

    pub async fn copy_image(&self, request: &CopyImageRequest) -> Result<CopyImageResponse, Error> {
        const ACTION: &str = "CopyImage";
        let endpoint = self.endpoint_for(&request.source_region_id);
        let body = self.call(ACTION, &endpoint, &request.to_params()).await?;
        let image_id = string_field(&body, &["ImageId"])
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_graphic()));
        match image_id {
            Some(image_id) => Ok(CopyImageResponse {
                image_id,
                request_id: string_field(&body, &["RequestId", "requestId"]).unwrap_or_default(),
            }),
            None => Err(Error::UnexpectedResponse {
                action: ACTION,
                endpoint: endpoint.to_string(),
                status: 200,
                problem: "the answer has no usable ImageId".into(),
                excerpt: self.excerpt(&body.to_string()),
            }),
        }
    }

    /// One signed RPC call: POST, every parameter and the signature in the query string, an
    /// empty body (how the official SDKs send ECS calls, whose parameters are all "in query").
    pub async fn call(
        &self,
        action: &'static str,
        endpoint: &Endpoint,
        api: &Params,
    ) -> Result<Value, Error> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let input = SigningInput {
            access_key_id: &self.credentials.access_key_id,
            access_key_secret: self.credentials.access_key_secret.expose(),
            security_token: self.credentials.security_token.as_ref().map(|t| t.expose()),
            nonce: &nonce,
            time: Utc::now(),
        };
        let params = v1::request_params(action, API_VERSION, api, &input);
        // The URL carries exactly the string that was signed; nothing re-encodes it.
        let url = endpoint.url_with_query(&v1::signed_query(
            Method::Post,
            &params,
            input.access_key_secret,
        ));

        let transport = |e: reqwest::Error| Error::Transport {
            action,
            endpoint: endpoint.to_string(),
            detail: self.redactor.redact(&error_chain(&e.without_url())),
        };
        let response = self.http.post(url).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY_BYTES)]);

        let unexpected = |problem: &str| Error::UnexpectedResponse {
            action,
            endpoint: endpoint.to_string(),
            status,
            problem: problem.to_owned(),
            excerpt: self.excerpt(&text),
        };
        let parsed: Option<Value> = serde_json::from_str(&text).ok().filter(Value::is_object);
        if (200..300).contains(&status) {
            return parsed
                .ok_or_else(|| unexpected("the body is not the JSON object the API documents"));
        }
        let body = parsed.ok_or_else(|| unexpected("the error body is not JSON"))?;
        let code = string_field(&body, &["Code", "code"])
            .ok_or_else(|| unexpected("the error body has no Code"))?;
        Err(Error::Api(Box::new(ApiError {
            action,
            status,
            code: self.redactor.redact(&code),
            message: self
                .redactor
                .redact(&string_field(&body, &["Message", "message"]).unwrap_or_default()),
            request_id: string_field(&body, &["RequestId", "requestId"]).unwrap_or_default(),
            host_id: string_field(&body, &["HostId"]),
            recommend: string_field(&body, &["Recommend"]),
        })))
    }

    /// A short, printable start of a body for error messages.
    fn excerpt(&self, body: &str) -> String {
        let short: String = body
            .chars()
            .take(EXCERPT_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let more = if body.chars().count() > EXCERPT_CHARS {
            "…"
        } else {
            ""
        };
        format!("{:?}{more}", self.redactor.redact(&short))
    }
}

/// TLS through rustls with the Mozilla roots compiled in: certificate verification is always
/// on, and nothing is read from disk at start-up.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The first of `names` that holds a string (or a number, which some gateways send).
fn string_field(body: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match body.get(n)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The error and its causes on one line: reqwest's own message alone says little.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let s = cause.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = cause.source();
    }
    text
}

/// Masks the secret and the security token in text that came back from the network. ECS
/// echoes its string to sign in `SignatureDoesNotMatch` messages, and that string holds the
/// token percent-encoded twice.
struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    fn new(credentials: &Credentials) -> Self {
        let mut needles = Vec::new();
        let secrets = std::iter::once(credentials.access_key_secret.expose())
            .chain(credentials.security_token.as_ref().map(|t| t.expose()));
        for secret in secrets.filter(|s| s.len() >= 4) {
            let once = percent_encode(secret);
            let twice = percent_encode(&once);
            needles.extend([twice, once, secret.to_owned()]);
        }
        needles.dedup();
        Self { needles }
    }

    fn redact(&self, text: &str) -> String {
        self.needles.iter().fold(text.to_owned(), |t, needle| {
            t.replace(needle.as_str(), "(redacted)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;

    #[test]
    fn redactor_masks_token_in_every_encoding() {
        let creds = Credentials {
            access_key_id: "STS.id".into(),
            access_key_secret: Secret::new("sec/ret+value"),
            security_token: Some(Secret::new("CAIS/tok+en==")),
            source: "test",
        };
        let r = Redactor::new(&creds);
        let message = "server string to sign is:POST&%2F&SecurityToken%3DCAIS%252Ftok%252Ben%253D%253D%26 raw CAIS/tok+en== once CAIS%2Ftok%2Ben%3D%3D sec/ret+value";
        let out = r.redact(message);
        assert!(!out.contains("tok"), "{out}");
        assert!(!out.contains("ret"), "{out}");
        assert_eq!(out.matches("(redacted)").count(), 4, "{out}");
    }

    #[test]
    fn string_field_accepts_strings_and_numbers_only() {
        let v: Value = serde_json::json!({"A": "x", "B": 5, "C": null, "D": {"e": 1}});
        assert_eq!(string_field(&v, &["A"]).as_deref(), Some("x"));
        assert_eq!(string_field(&v, &["B"]).as_deref(), Some("5"));
        assert_eq!(string_field(&v, &["C", "D"]), None);
        assert_eq!(string_field(&v, &["Z", "A"]).as_deref(), Some("x"));
    }
}
