//! A fake of the ECS instance metadata service (`http://100.100.100.200`),
//! as far as the RAM-role credentials go:
//!
//! - `PUT /latest/api/token` with `X-aliyun-ecs-metadata-token-ttl-seconds:
//!   <1..=21600>` → 200, body = a new random token valid for that many
//!   seconds; header missing or not an integer in range → 400; another
//!   method → 405. With `tokens_supported: false` (an old, IMDSv1-only
//!   service) → 404 whatever the method.
//! - `GET /latest/meta-data/ram/security-credentials/` → 200, the role name.
//! - `GET /latest/meta-data/ram/security-credentials/<role>` → 200
//!   `{"Code":"Success","AccessKeyId":…,"AccessKeySecret":…,"SecurityToken":…,
//!   "Expiration":"…Z","LastUpdated":"…Z"}`; another role → 404.
//! - Anything else → 404 (a non-GET on a metadata path → 405).
//!
//! Tokens (`X-aliyun-ecs-metadata-token` on the GETs): a token that was not
//! issued here, or has outlived its TTL, → 401 always; no token → 401 when
//! `require_token`, else served (IMDSv1). When `tokens_supported` is false
//! the token header is ignored (an old service knows nothing of it), and
//! `require_token` then refuses every GET with 401.
//!
//! The checks run in this order: path and method, then token, then role.
//! Every request is recorded (method, path, lower-case headers).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, Utc};

use super::server::Background;
use super::sts::{format_time, new_key, random_string, IssuedKey};

pub const TOKEN_PATH: &str = "/latest/api/token";
pub const CREDENTIALS_PATH: &str = "/latest/meta-data/ram/security-credentials/";
pub const TOKEN_TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
pub const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
/// The default `ImdsConfig::role_name`.
pub const ROLE_NAME: &str = "copy-image-ecs-role";
const MAX_TOKEN_TTL_SECS: u64 = 21600;

/// How a metadata service is set up.
#[derive(Debug, Clone)]
pub struct ImdsConfig {
    /// The instance's RAM role. Default (`ImdsConfig::new`): `ROLE_NAME`.
    pub role_name: String,
    /// The key handed out (typically `Emulator::issue_sts_key`).
    pub key: IssuedKey,
    /// `PUT /latest/api/token` works (IMDSv2). Default: true.
    pub tokens_supported: bool,
    /// GETs need a valid token (hardened mode). Default: false.
    pub require_token: bool,
}

impl Default for ImdsConfig {
    /// The defaults, handing out a random STS-shaped key valid for an hour
    /// that no emulator knows (`issued_by` "unregistered"): replace it with
    /// `Emulator::issue_sts_key` when the key must work.
    fn default() -> ImdsConfig {
        ImdsConfig::new(new_key(
            Utc::now(),
            Duration::from_secs(3600),
            "unregistered",
            None,
        ))
    }
}

impl ImdsConfig {
    /// The defaults, handing out `key`.
    pub fn new(key: IssuedKey) -> ImdsConfig {
        ImdsConfig {
            role_name: ROLE_NAME.to_string(),
            key,
            tokens_supported: true,
            require_token: false,
        }
    }
}

/// One request the metadata service received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsRequest {
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// Lower-case names, in received order.
    pub headers: Vec<(String, String)>,
}

impl ImdsRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct ImdsState {
    config: ImdsConfig,
    /// When the current key was set (its `LastUpdated`).
    last_updated: DateTime<Utc>,
    /// Issued tokens and when each stops being valid.
    tokens: Vec<(String, Instant)>,
    requests: Vec<ImdsRequest>,
}

fn lock(state: &Mutex<ImdsState>) -> MutexGuard<'_, ImdsState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running metadata service; dropping it shuts the server down.
pub struct Imds {
    server: Background,
    state: Arc<Mutex<ImdsState>>,
}

impl Imds {
    /// Starts on 127.0.0.1 (any free port). Panics if it cannot bind.
    pub fn start(config: ImdsConfig) -> Imds {
        match Imds::try_start(config) {
            Ok(imds) => imds,
            Err(e) => panic!("the metadata service fake could not start: {e}"),
        }
    }

    /// Like `start`, but reports a failure to bind instead of panicking.
    pub fn try_start(config: ImdsConfig) -> std::io::Result<Imds> {
        let state = Arc::new(Mutex::new(ImdsState {
            config,
            last_updated: Utc::now(),
            tokens: Vec::new(),
            requests: Vec::new(),
        }));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let server = Background::start("imds", app)?;
        Ok(Imds { server, state })
    }

    /// "http://127.0.0.1:PORT" (what stands for `http://100.100.100.200`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<ImdsRequest> {
        lock(&self.state).requests.clone()
    }

    /// Later answers hand out this key (with `LastUpdated` = now).
    pub fn set_key(&self, key: IssuedKey) {
        let mut state = lock(&self.state);
        state.config.key = key;
        state.last_updated = Utc::now();
    }

    /// The key currently handed out.
    pub fn key(&self) -> IssuedKey {
        lock(&self.state).config.key.clone()
    }

    /// The tokens issued so far, in order (expired ones included).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state)
            .tokens
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

fn respond(status: u16, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn error_page(status: u16) -> Response {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    respond(
        status,
        "text/html",
        format!(
            "<html><head><title>{status} {reason}</title></head>\
             <body><h1>{status} {reason}</h1></body></html>"
        ),
    )
}

async fn handle(AxumState(state): AxumState<Arc<Mutex<ImdsState>>>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let ttl_header = header(TOKEN_TTL_HEADER);
    let token_header = header(TOKEN_HEADER);

    let mut state = lock(&state);
    state.requests.push(ImdsRequest {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
    });
    let now = Instant::now();

    if path == TOKEN_PATH {
        if !state.config.tokens_supported {
            return error_page(404);
        }
        if method != "PUT" {
            return error_page(405);
        }
        let ttl = ttl_header
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| (1..=MAX_TOKEN_TTL_SECS).contains(t));
        let Some(ttl) = ttl else {
            return error_page(400);
        };
        let token = random_string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            56,
        );
        state
            .tokens
            .push((token.clone(), now + Duration::from_secs(ttl)));
        return respond(200, "text/plain", token);
    }

    let Some(rest) = path.strip_prefix(CREDENTIALS_PATH) else {
        return error_page(404);
    };
    if method != "GET" {
        return error_page(405);
    }

    let authorized = if state.config.tokens_supported {
        match token_header {
            Some(sent) => state
                .tokens
                .iter()
                .any(|(token, until)| *token == sent && now < *until),
            None => !state.config.require_token,
        }
    } else {
        !state.config.require_token
    };
    if !authorized {
        return error_page(401);
    }

    if rest.is_empty() {
        return respond(200, "text/plain", state.config.role_name.clone());
    }
    if rest != state.config.role_name {
        return error_page(404);
    }
    let key = &state.config.key;
    let body = serde_json::json!({
        "AccessKeyId": key.access_key_id,
        "AccessKeySecret": key.access_key_secret,
        "Expiration": key.expiration_text(),
        "SecurityToken": key.security_token,
        "LastUpdated": format_time(state.last_updated),
        "Code": "Success",
    });
    respond(200, "text/plain", body.to_string())
}
