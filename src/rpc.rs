//! Alibaba Cloud RPC calls (ECS, STS): each attempt signed afresh, sent as the official SDKs
//! send it, retried by the one retry loop, and its answer turned into a value or an [`Error`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::client::ClientOptions;
use crate::credentials::{Credentials, Provider};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::log::Log;
use crate::response::{self, Answer, Redactor, MAX_BODY_BYTES};
use crate::retry::{self, Failure, RetryPolicy};
use crate::sign::v1::{self, Params, SigningInput};
use crate::sign::{self, SignatureVersion};

const USER_AGENT: &str = concat!("copy-image/", env!("CARGO_PKG_VERSION"));
/// Codes with which a service refuses a `Timestamp` too far from its own clock.
const CLOCK_CODES: &[&str] = &["InvalidTimeStamp.Expired", "IllegalTimestamp"];
/// A difference from the server's clock smaller than this is not worth a correction: `Date`
/// has a resolution of one second and the answer took time to arrive.
const MIN_CLOCK_CORRECTION: TimeDelta = TimeDelta::seconds(2);
/// Parameters that `-vv` never shows as they are.
const MASKED_PARAMS: &[&str] = &["AccessKeyId", "SecurityToken", "Signature", "OIDCToken"];

/// Who signs a call.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// The run's credentials, fetched again when they expire.
    Provider(&'a Provider),
    /// Fixed credentials (e.g. the source credentials of an STS AssumeRole).
    Fixed(&'a Credentials),
    /// Nobody: calls that carry their own proof (STS AssumeRoleWithOIDC).
    Anonymous,
}

/// One RPC call: its parameters in the query string, plus any that travel in a form body.
pub struct RpcCall<'a> {
    pub action: &'static str,
    pub version: &'static str,
    /// How a signed call is signed.
    pub signature: SignatureVersion,
    pub endpoint: &'a Endpoint,
    pub query: Params,
    pub form: Params,
    /// Secrets among the parameters (an OIDC token), masked in every message.
    pub secrets: Vec<&'a str>,
}

pub struct RpcClient {
    http: reqwest::Client,
    retry: RetryPolicy,
    log: Log,
    /// Server time minus local time, in milliseconds, once a skewed clock was detected.
    clock_offset_ms: AtomicI64,
}

impl RpcClient {
    pub fn new(options: &ClientOptions, log: Log) -> Result<Self, Error> {
        Ok(Self {
            http: http_client(options.connect_timeout, options.read_timeout)?,
            retry: options.retry.clone(),
            log,
            clock_offset_ms: AtomicI64::new(0),
        })
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The call, attempted as often as the retry policy allows.
    pub async fn call(&self, call: &RpcCall<'_>, auth: Auth<'_>) -> Result<Value, Error> {
        retry::run(&self.retry, &self.log, call.action, |n| {
            self.attempt(call, auth, n)
        })
        .await
    }

    /// One attempt: signed now, with a fresh nonce, sent as POST with the parameters in the
    /// query string (form parameters in the body) and the signature in the query string.
    async fn attempt(&self, call: &RpcCall<'_>, auth: Auth<'_>, n: u32) -> Result<Value, Failure> {
        let credentials = match auth {
            Auth::Provider(provider) => Some(provider.current().await.map_err(Error::from)?),
            Auth::Fixed(credentials) => Some(credentials.clone()),
            Auth::Anonymous => None,
        };
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let (signed, redactor) = match &credentials {
            Some(c) => {
                let input = SigningInput {
                    access_key_id: &c.access_key_id,
                    access_key_secret: c.access_key_secret.expose(),
                    security_token: c.security_token.as_ref().map(|t| t.expose()),
                    nonce: &nonce,
                    time: self.now(),
                };
                let to_sign = sign::Call {
                    action: call.action,
                    api_version: call.version,
                    host: call.endpoint.host(),
                    query: &call.query,
                    form: &call.form,
                };
                let secrets = [c.access_key_secret.expose()]
                    .into_iter()
                    .chain(c.security_token.as_ref().map(|t| t.expose()))
                    .chain(call.secrets.iter().copied());
                (
                    sign::sign(call.signature, &to_sign, &input),
                    Redactor::of(secrets),
                )
            }
            None => {
                // Calls that carry their own proof (AssumeRoleWithOIDC) are not signed.
                let mut query = call.query.clone();
                for (k, v) in [
                    ("Action", call.action),
                    ("Version", call.version),
                    ("Format", "JSON"),
                ] {
                    query.insert(k.to_owned(), v.to_owned());
                }
                query.insert("Timestamp".to_owned(), v1::timestamp(self.now()));
                let signed = sign::Signed {
                    query: v1::canonicalized_query(&query),
                    headers: Vec::new(),
                    body: (!call.form.is_empty()).then(|| v1::canonicalized_query(&call.form)),
                };
                (signed, Redactor::of(call.secrets.iter().copied()))
            }
        };
        let (action, endpoint) = (call.action, call.endpoint);
        self.log
            .verbose(|| format!("{action} attempt {n}: POST {endpoint}"));
        self.log.debug(|| {
            let mut shown = call.query.clone();
            shown.extend(call.form.iter().map(|(k, v)| (k.clone(), v.clone())));
            if let Some(c) = &credentials {
                shown.insert("AccessKeyId".into(), c.access_key_id.clone());
            }
            format!(
                "{action} attempt {n} parameters: {} Signature=(masked)",
                masked(&shown)
            )
        });

        let started = Instant::now();
        let exchange = self
            .exchange(endpoint.url_with_query(&signed.query), signed)
            .await;
        let elapsed = started.elapsed();
        let status = exchange.as_ref().map_or(0, |a| a.status);
        let (result, retry_after, server_date) = match exchange {
            Ok(answer) => (
                response::interpret(
                    action,
                    endpoint.as_str(),
                    &Answer {
                        status: answer.status,
                        body: &answer.body,
                        truncated: answer.truncated,
                    },
                    &redactor,
                ),
                answer.retry_after,
                answer.date,
            ),
            Err(e) => (
                Err(Error::Transport {
                    action,
                    endpoint: endpoint.to_string(),
                    detail: redactor.clean(&describe_transport_error(&e)),
                }),
                None,
                None,
            ),
        };
        self.log.verbose(|| {
            let outcome = match &result {
                Ok(v) => format!(
                    "HTTP {status} RequestId {}",
                    response::string_field(v, &["RequestId"]).unwrap_or_default()
                ),
                Err(e) => e.summary(),
            };
            format!(
                "{action} attempt {n}: {outcome} in {} ms",
                elapsed.as_millis()
            )
        });
        result.map_err(|error| {
            let retry_now = self.correct_clock(&error, server_date);
            Failure {
                error,
                retry_after,
                retry_now,
            }
        })
    }

    /// Sends the request and reads the answer, its body cut at [`MAX_BODY_BYTES`].
    async fn exchange(
        &self,
        url: String,
        signed: sign::Signed,
    ) -> Result<RawAnswer, reqwest::Error> {
        let mut request = self.http.post(url);
        let typed = signed.headers.iter().any(|(k, _)| k == "content-type");
        for (name, value) in signed.headers {
            request = request.header(name, value);
        }
        if let Some(form) = signed.body {
            if !typed {
                request = request.header("content-type", sign::FORM_CONTENT_TYPE);
            }
            request = request.body(form);
        }
        let mut answer = request.send().await?;
        let header = |name: &str| answer.headers().get(name)?.to_str().ok().map(str::to_owned);
        let retry_after = header("x-acs-retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        let date = header("date")
            .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
            .map(|d| d.with_timezone(&Utc));
        let status = answer.status().as_u16();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = answer.chunk().await? {
            let room = MAX_BODY_BYTES - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawAnswer {
            status,
            retry_after,
            date,
            body,
            truncated,
        })
    }

    /// The time to sign with: the local clock, corrected by the server's once they disagreed.
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::milliseconds(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// After a timestamp refusal, adopts the server's clock (from its `Date` header) once, warns
    /// by how much the local clock is off, and asks for an immediate retry.
    fn correct_clock(&self, error: &Error, server_date: Option<DateTime<Utc>>) -> bool {
        let (Error::Api(api), Some(server)) = (error, server_date) else {
            return false;
        };
        if !CLOCK_CODES.contains(&api.code.as_str())
            || self.clock_offset_ms.load(Ordering::Relaxed) != 0
        {
            return false;
        }
        let offset = server - Utc::now();
        if offset.abs() < MIN_CLOCK_CORRECTION {
            return false;
        }
        self.clock_offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
        let (amount, direction) = if offset > TimeDelta::zero() {
            (offset, "behind")
        } else {
            (-offset, "ahead of")
        };
        self.log.warn(format!(
            "the local clock is {} s {direction} the server's; signing with the server's time. \
             Synchronize the clock (e.g. with NTP).",
            amount.num_seconds()
        ));
        true
    }
}

/// An HTTP client for Alibaba Cloud endpoints.
pub fn http_client(
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config())
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout)
        .read_timeout(read_timeout)
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

/// An answer off the wire, before it is interpreted.
struct RawAnswer {
    status: u16,
    /// `x-acs-retry-after`, in milliseconds on the wire.
    retry_after: Option<Duration>,
    /// The server's clock, from `Date`.
    date: Option<DateTime<Utc>>,
    body: Vec<u8>,
    truncated: bool,
}

/// The parameters for `-vv`, with credentials masked.
fn masked(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| {
            if MASKED_PARAMS.contains(&k.as_str()) {
                format!("{k}=(masked)")
            } else {
                format!("{k}={v:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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

/// The failure and its causes on one line, without the URL (it holds the signed query).
pub fn describe_transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "connection error"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_parameters_hide_credentials_only() {
        let params: Params = [
            ("AccessKeyId", "LTAIid"),
            ("SecurityToken", "tok"),
            ("OIDCToken", "jwt"),
            ("ImageId", "m-1"),
            ("DestinationDescription", "a b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let text = masked(&params);
        for hidden in ["LTAIid", "tok", "jwt"] {
            assert!(!text.contains(hidden), "{text}");
        }
        assert!(text.contains("ImageId=\"m-1\""), "{text}");
        assert!(text.contains("DestinationDescription=\"a b\""), "{text}");
        assert_eq!(text.matches("(masked)").count(), 3);
    }
}
