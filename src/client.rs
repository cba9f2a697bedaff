//! The ECS client: signs every attempt afresh, sends it as the official SDKs do, retries what
//! is worth retrying, and turns the answer into a value or an [`Error`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::credentials::Credentials;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::log::Log;
use crate::model::RegionId;
use crate::request::CopyImageRequest;
use crate::response::{self, Answer, Redactor, MAX_BODY_BYTES};
use crate::retry::{self, Failure, RetryPolicy};
use crate::sign::v1::{self, Method, Params, SigningInput};

pub const API_VERSION: &str = "2014-05-26";

const USER_AGENT: &str = concat!("copy-image/", env!("CARGO_PKG_VERSION"));
/// Codes with which the service refuses a `Timestamp` too far from its own clock.
const CLOCK_CODES: &[&str] = &["InvalidTimeStamp.Expired", "IllegalTimestamp"];
/// A difference from the server's clock smaller than this is not worth a correction: `Date`
/// has a resolution of one second and the answer took time to arrive.
const MIN_CLOCK_CORRECTION: TimeDelta = TimeDelta::seconds(2);
/// Parameters that `-vv` never shows as they are.
const MASKED_PARAMS: &[&str] = &["AccessKeyId", "SecurityToken", "Signature"];

/// How to reach ECS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    pub endpoint_override: Option<Endpoint>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            endpoint_override: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The answer to CopyImage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyImageResponse {
    pub image_id: String,
    pub request_id: String,
}

pub struct EcsClient {
    http: reqwest::Client,
    credentials: Credentials,
    options: ClientOptions,
    redactor: Redactor,
    log: Log,
    /// Server time minus local time, in milliseconds, once a skewed clock was detected.
    clock_offset_ms: AtomicI64,
}

impl EcsClient {
    pub fn new(credentials: Credentials, options: ClientOptions, log: Log) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .https_only(false) // loopback http:// is checked by Endpoint::parse_override
            .user_agent(USER_AGENT)
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            redactor: Redactor::new(&credentials),
            credentials,
            options,
            log,
            clock_offset_ms: AtomicI64::new(0),
        })
    }

    /// The endpoint that serves `region`.
    pub fn endpoint_for(&self, region: &RegionId) -> Endpoint {
        self.options
            .endpoint_override
            .clone()
            .unwrap_or_else(|| Endpoint::for_region(region))
    }

    /// Starts the copy. The request must carry its ClientToken already, so that every attempt
    /// sends the same one.
    pub async fn copy_image(&self, request: &CopyImageRequest) -> Result<CopyImageResponse, Error> {
        const ACTION: &str = "CopyImage";
        let endpoint = self.endpoint_for(&request.source_region_id);
        if let Some(token) = &request.client_token {
            self.log
                .verbose(|| format!("{ACTION}: ClientToken {token}"));
        }
        let body = self.call(ACTION, &endpoint, &request.to_params()).await?;
        let image_id = response::string_field(&body, &["ImageId"])
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_graphic()));
        match image_id {
            Some(image_id) => Ok(CopyImageResponse {
                image_id,
                request_id: response::string_field(&body, &["RequestId", "requestId"])
                    .unwrap_or_default(),
            }),
            None => Err(Error::UnexpectedResponse {
                action: ACTION,
                endpoint: endpoint.to_string(),
                status: 200,
                problem: "the answer has no usable ImageId".into(),
                excerpt: self.redactor.excerpt(&body.to_string()),
            }),
        }
    }

    /// One RPC call, attempted as often as the retry policy allows.
    pub async fn call(
        &self,
        action: &'static str,
        endpoint: &Endpoint,
        api: &Params,
    ) -> Result<Value, Error> {
        retry::run(&self.options.retry, &self.log, action, |n| {
            self.attempt(action, endpoint, api, n)
        })
        .await
    }

    /// One attempt: signed now, with a fresh nonce, sent as POST with every parameter and the
    /// signature in the query string and an empty body (how the official SDKs send ECS calls).
    async fn attempt(
        &self,
        action: &'static str,
        endpoint: &Endpoint,
        api: &Params,
        n: u32,
    ) -> Result<Value, Failure> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let input = SigningInput {
            access_key_id: &self.credentials.access_key_id,
            access_key_secret: self.credentials.access_key_secret.expose(),
            security_token: self.credentials.security_token.as_ref().map(|t| t.expose()),
            nonce: &nonce,
            time: self.now(),
        };
        let params = v1::request_params(action, API_VERSION, api, &input);
        // The URL carries exactly the string that was signed; nothing re-encodes it.
        let url = endpoint.url_with_query(&v1::signed_query(
            Method::Post,
            &params,
            input.access_key_secret,
        ));
        self.log
            .verbose(|| format!("{action} attempt {n}: POST {endpoint}"));
        self.log.debug(|| {
            format!(
                "{action} attempt {n} parameters: {} Signature=(masked)",
                masked(&params)
            )
        });

        let started = Instant::now();
        let exchange = self.exchange(url).await;
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
                    &self.redactor,
                ),
                answer.retry_after,
                answer.date,
            ),
            Err(e) => (
                Err(Error::Transport {
                    action,
                    endpoint: endpoint.to_string(),
                    detail: self.redactor.clean(&describe_transport_error(&e)),
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
    async fn exchange(&self, url: String) -> Result<RawAnswer, reqwest::Error> {
        let mut answer = self.http.post(url).send().await?;
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
fn describe_transport_error(e: &reqwest::Error) -> String {
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
            ("Signature", "sig"),
            ("ImageId", "m-1"),
            ("DestinationDescription", "a b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let text = masked(&params);
        for hidden in ["LTAIid", "tok", "sig"] {
            assert!(!text.contains(hidden), "{text}");
        }
        assert!(text.contains("ImageId=\"m-1\""), "{text}");
        assert!(text.contains("DestinationDescription=\"a b\""), "{text}");
        assert_eq!(text.matches("(masked)").count(), 3);
    }
}
