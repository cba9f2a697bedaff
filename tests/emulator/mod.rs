#![allow(dead_code)]
//! A local stand-in for the Alibaba Cloud ECS RPC endpoint (API version
//! 2014-05-26): `CopyImage`, `DescribeImages` and `CancelCopyImage`, with
//! the gateway's checks (common parameters, timestamp window, access keys,
//! signature V1 verified by its own signer, security tokens, nonces).
//! Requests signed with V3 (`Authorization: ACS3-HMAC-SHA256 …`, envelope in
//! `x-acs-*` headers) are verified by its own V3 code (`signature_v3.rs`) and
//! then served exactly as V1 requests are.
//!
//! Faults can be scripted per action (`Emulator::inject`): dropped
//! connections, delays, 5xx and gateway pages, throttling, garbage bodies,
//! answers lost after the request was processed; and the emulator's clock can
//! be skewed (`Config::clock_skew`, `Emulator::set_clock_skew`).
//!
//! The same server is also STS (API version 2015-04-01; `sts.rs`):
//! `AssumeRole` and `AssumeRoleWithOIDC` issue STS keys that the ECS side
//! accepts until they expire. Next to it run two small fakes of other
//! credential sources: the ECS metadata service (`imds::Imds`) and a
//! credentials URI (`credentials_uri::CredentialsUri`), each on its own port.
//!
//! Used by the integration tests (`mod emulator;`) and by the examples
//! (`#[path = "../tests/emulator/mod.rs"] mod emulator;`). It never uses the
//! `copy_image` crate: the point is to check the CLI against an independent
//! implementation.

pub mod credentials_uri;
pub mod faults;
pub mod handlers;
pub mod imds;
mod server;
pub mod signature;
pub mod signature_v3;
pub mod state;
pub mod sts;

// Not every test crate uses every fake.
#[allow(unused_imports)]
pub use self::credentials_uri::CredentialsUri;
pub use self::faults::Fault;
#[allow(unused_imports)]
pub use self::imds::{Imds, ImdsConfig, ImdsRequest};
pub use self::sts::{AssumedRole, IssuedKey};

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;

use self::faults::{ConnHandle, FaultListener, QueuedFault};
use self::handlers::{Answer, RawRequest};
use self::state::State;

/// The plain access key the emulator knows by default.
pub const ACCESS_KEY_ID: &str = "LTAI5tEmulatorTestKey01";
pub const ACCESS_KEY_SECRET: &str = "emulator-test-secret-do-not-use";
/// The STS access key the emulator knows by default; it requires
/// `STS_SECURITY_TOKEN` as `SecurityToken`.
pub const STS_ACCESS_KEY_ID: &str = "STS.NTestEmulatorKey01";
pub const STS_ACCESS_KEY_SECRET: &str = "emulator-sts-secret-do-not-use";
pub const STS_SECURITY_TOKEN: &str = "CAIS/emulator+sts/token==";
pub const SOURCE_REGION: &str = "cn-hangzhou";
/// `Available`, in `cn-hangzhou`, named "base-image".
pub const SOURCE_IMAGE_ID: &str = "m-bp1sourceimage000001";
/// `Creating` in `cn-hangzhou` (copying it fails with `IncorrectImageStatus`).
pub const CREATING_IMAGE_ID: &str = "m-bp1creatingimage00001";

/// The RAM role the emulator's STS knows by default (`Config::roles`), for
/// `ALIBABA_CLOUD_ROLE_ARN`.
pub const ROLE_ARN: &str = "acs:ram::1234567890123456:role/copy-image-test";
/// The OIDC provider the emulator's STS knows by default
/// (`Config::oidc_providers`), for `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`.
pub const OIDC_PROVIDER_ARN: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-test";
/// The OIDC token `OIDC_PROVIDER_ARN` accepts (the contents of the file
/// `ALIBABA_CLOUD_OIDC_TOKEN_FILE` names; compared byte for byte, so no
/// trailing newline). Its payload: `{"sub":"system:serviceaccount:default:copy-image"}`.
pub const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjb3B5LWltYWdlIn0.emulator-signature";

/// Largest request body read (larger → `InvalidParameter`).
const MAX_BODY: usize = 1024 * 1024;

/// How much of a body `Fault::LoseAnswer` lets through (at most half of it).
const LOST_BODY_BYTES: usize = 8;

/// The public region ids the emulator knows by default.
pub const DEFAULT_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-southeast-8",
    "cn-beijing",
    "cn-beijing-finance-1",
    "cn-chengdu",
    "cn-fuzhou",
    "cn-guangzhou",
    "cn-hangzhou",
    "cn-heyuan",
    "cn-heyuan-acdr-1",
    "cn-hongkong",
    "cn-huhehaote",
    "cn-nanjing",
    "cn-north-2-gov-1",
    "cn-qingdao",
    "cn-shanghai",
    "cn-shanghai-finance-1",
    "cn-shenzhen",
    "cn-shenzhen-finance-1",
    "cn-wuhan-lr",
    "cn-wulanchabu",
    "cn-zhangjiakou",
    "cn-zhengzhou-jva",
    "cn-zhongwei",
    "eu-central-1",
    "eu-west-1",
    "me-central-1",
    "me-east-1",
    "na-south-1",
    "rus-west-1",
    "us-east-1",
    "us-southeast-1",
    "us-west-1",
];

/// How an emulator is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// 0 = any free port.
    pub port: u16,
    /// Default: the plain key and the STS key above.
    pub access_keys: Vec<AccessKey>,
    /// Regions the emulator knows. Default: `DEFAULT_REGIONS`.
    pub regions: Vec<String>,
    /// Default: `SOURCE_IMAGE_ID` (Available) and `CREATING_IMAGE_ID`
    /// (Creating), both in `cn-hangzhou`.
    pub images: Vec<SeedImage>,
    /// A new copy is `Waiting` this long (default 1 s)…
    pub queue_time: Duration,
    /// …then `Creating` with progress rising 0%..100% over this long
    /// (default 4 s), then `Available`.
    pub copy_time: Duration,
    /// Accepted distance between `Timestamp` and the emulator's clock, each
    /// side (default 15 min); also how long a nonce is remembered.
    pub timestamp_tolerance: Duration,
    /// How far the emulator's clock runs ahead of the real one (negative:
    /// behind). The `Timestamp` check compares against the skewed clock,
    /// and every answer's `Date` header shows it. Default: zero.
    pub clock_skew: chrono::TimeDelta,
    /// Role ARNs STS lets callers assume. Default: `[ROLE_ARN]`.
    pub roles: Vec<String>,
    /// (provider ARN, the one OIDC token it accepts) for
    /// `AssumeRoleWithOIDC`. Default: `[(OIDC_PROVIDER_ARN, OIDC_TOKEN)]`.
    pub oidc_providers: Vec<(String, String)>,
    /// When `Some`, every key STS issues expires this long after it was
    /// issued, whatever `DurationSeconds` asked for (which is still
    /// validated). Default: `None` (`DurationSeconds`, else 3600 s).
    pub sts_lifetime: Option<Duration>,
    /// A new copy is not listed by DescribeImages until this long after CopyImage (as a real
    /// region may lag). Default: zero.
    pub listing_delay: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: 0,
            access_keys: vec![
                AccessKey {
                    id: ACCESS_KEY_ID.to_string(),
                    secret: ACCESS_KEY_SECRET.to_string(),
                    security_token: None,
                },
                AccessKey {
                    id: STS_ACCESS_KEY_ID.to_string(),
                    secret: STS_ACCESS_KEY_SECRET.to_string(),
                    security_token: Some(STS_SECURITY_TOKEN.to_string()),
                },
            ],
            regions: DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect(),
            images: vec![
                SeedImage {
                    region: SOURCE_REGION.to_string(),
                    image_id: SOURCE_IMAGE_ID.to_string(),
                    name: "base-image".to_string(),
                    status: "Available".to_string(),
                },
                SeedImage {
                    region: SOURCE_REGION.to_string(),
                    image_id: CREATING_IMAGE_ID.to_string(),
                    name: "image-in-progress".to_string(),
                    status: "Creating".to_string(),
                },
            ],
            queue_time: Duration::from_secs(1),
            copy_time: Duration::from_secs(4),
            timestamp_tolerance: Duration::from_secs(15 * 60),
            clock_skew: chrono::TimeDelta::zero(),
            roles: vec![ROLE_ARN.to_string()],
            oidc_providers: vec![(OIDC_PROVIDER_ARN.to_string(), OIDC_TOKEN.to_string())],
            sts_lifetime: None,
            listing_delay: Duration::ZERO,
        }
    }
}

/// An access key the emulator accepts. With `security_token: Some(_)` it is
/// an STS key and requests must carry that `SecurityToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub security_token: Option<String>,
}

/// An image present from the start. Its status stays as given (until
/// `Emulator::set_image_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedImage {
    pub region: String,
    pub image_id: String,
    pub name: String,
    pub status: String,
}

/// One request the emulator received, with what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// "POST", "GET", …
    pub method: String,
    /// Exactly as received (after '?').
    pub raw_query: String,
    /// Decoded query parameters, then decoded form-body parameters, in
    /// received order (empty when they could not be decoded).
    pub params: Vec<(String, String)>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The HTTP status the client saw; 0 when it saw none (`Fault::Drop`,
    /// `Fault::LoseAnswer`).
    pub status: u16,
    /// The error `Code` answered; `None` on success. For
    /// `Fault::LoseAnswer`, the code of the answer that was lost.
    pub code: Option<String>,
    /// The name of the injected fault that fired on this request
    /// (`Fault::name`: "Drop", "Delay", "Status", "Throttle", "Garbage",
    /// "LoseAnswer"); `None` when it was served normally.
    pub fault: Option<String>,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Action` parameter; for a V3 request, the `x-acs-action` header.
    pub fn action(&self) -> Option<&str> {
        if self.signature_version() == Some("v3") {
            return self.header("x-acs-action");
        }
        self.param("Action")
    }

    /// How the request was signed: `Some("v3")` with an `Authorization`
    /// header starting with `ACS3-`, else `Some("v1")` with a `Signature`
    /// parameter, else `None` (e.g. the anonymous `AssumeRoleWithOIDC`).
    pub fn signature_version(&self) -> Option<&'static str> {
        if self
            .header("authorization")
            .is_some_and(signature_v3::is_v3_authorization)
        {
            Some("v3")
        } else if self.param("Signature").is_some() {
            Some("v1")
        } else {
            None
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An image as `DescribeImages` would show it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageView {
    pub image_id: String,
    pub region: String,
    pub name: String,
    pub description: String,
    pub status: String,
    /// "NN%"
    pub progress: String,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub resource_group_id: Option<String>,
    /// In `Tag.N` order.
    pub tags: Vec<(String, String)>,
    /// `Some` for copies.
    pub source_image_id: Option<String>,
    pub client_token: Option<String>,
}

/// A running emulator; dropping it shuts the server down.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<App>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// What the handlers share.
struct App {
    state: Mutex<State>,
    /// Turns true when the emulator is dropped (cuts injected delays short).
    stopped: tokio::sync::watch::Receiver<bool>,
}

fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Emulator {
    /// Starts with `Config::default()`.
    pub fn start() -> Emulator {
        Emulator::start_with(Config::default())
    }

    /// Starts on 127.0.0.1 (`config.port`, 0 = any free port); returns once
    /// the socket accepts connections. Panics if it cannot bind.
    pub fn start_with(config: Config) -> Emulator {
        match Emulator::try_start_with(config) {
            Ok(emulator) => emulator,
            Err(e) => panic!("the ECS emulator could not start: {e}"),
        }
    }

    /// Like `start_with`, but reports a failure to bind instead of panicking.
    pub fn try_start_with(config: Config) -> std::io::Result<Emulator> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let shared = Arc::new(App {
            state: Mutex::new(State::new(config)),
            stopped: stopped.clone(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("ecs-emulator-{}", addr.port()))
            .spawn(move || serve(runtime, listener, app, stopped))?;
        Ok(Emulator {
            addr,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// "http://127.0.0.1:PORT"
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment for the CLI: endpoint, plain access key, region.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            ("ALIBABA_CLOUD_ECS_ENDPOINT".to_string(), self.endpoint()),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID".to_string(),
                ACCESS_KEY_ID.to_string(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_string(),
                ACCESS_KEY_SECRET.to_string(),
            ),
            (
                "ALIBABA_CLOUD_REGION_ID".to_string(),
                SOURCE_REGION.to_string(),
            ),
        ]
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.state).requests.len()
    }

    /// The requests from index `start` on.
    pub fn requests_from(&self, start: usize) -> Vec<RecordedRequest> {
        let state = lock(&self.shared.state);
        state.requests.get(start..).unwrap_or_default().to_vec()
    }

    /// An image's current state (status computed now).
    pub fn image(&self, region: &str, image_id: &str) -> Option<ImageView> {
        let state = lock(&self.shared.state);
        let now = Instant::now();
        state
            .find(region, image_id)
            .map(|image| state.view_of(image, now))
    }

    /// All images of a region, in creation order.
    pub fn images_in(&self, region: &str) -> Vec<ImageView> {
        let state = lock(&self.shared.state);
        let now = Instant::now();
        state
            .images
            .iter()
            .filter(|i| i.region == region)
            .map(|i| state.view_of(i, now))
            .collect()
    }

    /// Pins an image's status (e.g. "CreateFailed"); it stops progressing.
    /// Panics if there is no such image (a bug in the calling test).
    pub fn set_image_status(&self, region: &str, image_id: &str, status: &str) {
        let found = lock(&self.shared.state).pin_status(region, image_id, status);
        assert!(found, "the emulator has no image {image_id} in {region}");
    }

    /// Replaces the tags of an image (e.g. to give the source image tags for `--copy-tags`).
    pub fn set_image_tags(&self, region: &str, image_id: &str, tags: &[(&str, &str)]) {
        let mut state = lock(&self.shared.state);
        let image = state
            .images
            .iter_mut()
            .find(|i| i.region == region && i.image_id == image_id);
        let image =
            image.unwrap_or_else(|| panic!("the emulator has no image {image_id} in {region}"));
        image.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    /// Queues `faults` for the next requests whose `Action` equals `action`
    /// (`None`: any request, including ones whose action cannot be read).
    /// Each fault fires once, in order; a request matching no queued fault
    /// is served normally. When several queued faults match a request, the
    /// one injected first fires.
    pub fn inject(&self, action: Option<&str>, faults: Vec<Fault>) {
        let mut state = lock(&self.shared.state);
        state
            .faults
            .extend(faults.into_iter().map(|fault| QueuedFault {
                action: action.map(str::to_string),
                fault,
            }));
    }

    /// How many queued faults have not fired yet.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.state).faults.len()
    }

    /// Changes `Config::clock_skew` from now on.
    pub fn set_clock_skew(&self, skew: chrono::TimeDelta) {
        lock(&self.shared.state).config.clock_skew = skew;
    }

    /// The STS endpoint (for `ALIBABA_CLOUD_STS_ENDPOINT`): the same server
    /// as `endpoint()`.
    pub fn sts_endpoint(&self) -> String {
        self.endpoint()
    }

    /// Registers and returns a new STS key (id `STS.…`, secret, token with
    /// '/', '+', '='), valid for `lifetime` from now on the emulator's clock
    /// (rounded up to a whole second), as STS would issue it: for the
    /// metadata-service and credentials-URI fakes. Recorded in
    /// `issued_keys()` with `issued_by` "issue_sts_key" and no caller.
    pub fn issue_sts_key(&self, lifetime: Duration) -> IssuedKey {
        let mut state = lock(&self.shared.state);
        let now = state.now();
        sts::issue(&mut state, now, lifetime, sts::ISSUE_STS_KEY, None)
    }

    /// The keys STS actions issued so far (and `issue_sts_key`), in order,
    /// with the action that issued them and the caller's AccessKeyId (None
    /// for OIDC and `issue_sts_key`).
    pub fn issued_keys(&self) -> Vec<IssuedKey> {
        lock(&self.shared.state).issued.clone()
    }

    /// What each successful `AssumeRole` / `AssumeRoleWithOIDC` asked for
    /// (role, session name, duration, `Policy`, `ExternalId`, provider), in
    /// order.
    pub fn assumed_roles(&self) -> Vec<AssumedRole> {
        lock(&self.shared.state).assumed.clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: serves until told to stop, then gives open
/// connections a short grace period.
fn serve(
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: Router,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut graceful = stopped.clone();
    let mut deadline = stopped;
    runtime.block_on(async move {
        let listener = FaultListener { inner: listener };
        let service = app.into_make_service_with_connect_info::<ConnHandle>();
        let server = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = graceful.wait_for(|stop| *stop).await;
            })
            .into_future();
        tokio::select! {
            _ = server => {}
            _ = async {
                let _ = deadline.wait_for(|stop| *stop).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            } => {}
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
}

/// What happens after a request was recorded.
enum Then {
    /// Send the answer.
    Send,
    /// Send the answer after this long.
    Delay(Duration),
    /// Send nothing: close the connection.
    Break,
    /// Send the head and the first few bytes of the body, then close the
    /// connection.
    Cut,
}

async fn handle(AxumState(app): AxumState<Arc<App>>, request: Request) -> Response {
    let conn = request
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|info| info.0.clone());
    let (parts, body) = request.into_parts();
    let (body, body_error) = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => (bytes.to_vec(), false),
        Err(_) => (Vec::new(), true),
    };
    let raw = RawRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        body_error,
    };

    let (answer, then) = {
        let mut state = lock(&app.state);
        let action = handlers::peek_action(&raw);
        let fault = faults::take_fault(&mut state.faults, action.as_deref());
        let (answer, seen_status, then) = answer_with(&mut state, &raw, fault.as_ref());
        state.requests.push(RecordedRequest {
            method: raw.method.clone(),
            raw_query: raw.raw_query.clone(),
            params: answer.params.clone(),
            headers: raw.headers.clone(),
            body: String::from_utf8_lossy(&raw.body).into_owned(),
            status: seen_status,
            code: answer.code.clone(),
            fault: fault.as_ref().map(|f| f.name().to_string()),
        });
        (answer, then)
    };

    match then {
        Then::Send => {}
        Then::Delay(delay) => {
            let mut stopped = app.stopped.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = async { let _ = stopped.wait_for(|stop| *stop).await; } => {
                    // Shutting down: do not hold the server up.
                    if let Some(conn) = &conn {
                        conn.break_connection();
                    }
                }
            }
        }
        Then::Break => {
            if let Some(conn) = &conn {
                conn.break_connection();
            }
        }
        Then::Cut => {
            if let Some(conn) = &conn {
                // A few bytes: enough to be a body, too few to show an ImageId.
                match (answer.body.len() / 2).min(LOST_BODY_BYTES) {
                    0 => conn.break_connection(),
                    sent => conn.cut_answer_after(sent),
                }
            }
        }
    }
    let date = lock(&app.state).now();
    to_response(answer, date)
}

/// The answer to `raw` given the fault that fired on it (if any), the
/// status the client will see (0: none), and what to do after recording.
/// Drop, Status, Throttle and Garbage do not process the request (no
/// signature check, no nonce used, no copy made).
fn answer_with(state: &mut State, raw: &RawRequest, fault: Option<&Fault>) -> (Answer, u16, Then) {
    match fault {
        None => {
            let answer = handlers::process(state, raw);
            let status = answer.status;
            (answer, status, Then::Send)
        }
        Some(Fault::Delay(delay)) => {
            let answer = handlers::process(state, raw);
            let status = answer.status;
            (answer, status, Then::Delay(*delay))
        }
        Some(Fault::LoseAnswer) => (handlers::process(state, raw), 0, Then::Cut),
        Some(Fault::Drop) => {
            // Never sent: the connection breaks before any byte goes out.
            let answer = handlers::plain_answer(raw, 500, "text/plain", String::new());
            (answer, 0, Then::Break)
        }
        Some(Fault::Status(status)) => {
            let status = if (200..=999).contains(status) {
                *status
            } else {
                500
            };
            let answer = match status {
                502 | 504 => {
                    handlers::plain_answer(raw, status, "text/html", faults::gateway_page(status))
                }
                503 => handlers::error_answer(
                    state,
                    raw,
                    503,
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                ),
                _ => handlers::error_answer(
                    state,
                    raw,
                    status,
                    "InternalError",
                    "The request processing has failed due to some unknown error, exception or failure.",
                ),
            };
            (answer, status, Then::Send)
        }
        Some(Fault::Error { status, code }) => {
            let status = if (400..=599).contains(status) {
                *status
            } else {
                500
            };
            let answer =
                handlers::error_answer(state, raw, status, code, "Injected by the emulator.");
            (answer, status, Then::Send)
        }
        Some(Fault::Throttle { retry_after_ms }) => {
            let mut answer = handlers::error_answer(
                state,
                raw,
                400,
                "Throttling",
                "Request was denied due to request throttling.",
            );
            if let Some(ms) = retry_after_ms {
                answer
                    .extra_headers
                    .push(("x-acs-retry-after", ms.to_string()));
            }
            (answer, 400, Then::Send)
        }
        Some(Fault::Garbage) => {
            // A JSON answer cut short: what a broken proxy might pass on.
            let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
            let body = format!("{{\"RequestId\":\"{request_id}\",\"ImageId\":\"m-");
            let mut answer =
                handlers::plain_answer(raw, 200, "application/json;charset=utf-8", body);
            answer.request_id = request_id;
            (answer, 200, Then::Send)
        }
    }
}

/// Puts an answer on the wire, with a `Date` header showing `date`.
fn to_response(answer: Answer, date: chrono::DateTime<chrono::Utc>) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    let date = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(date) = HeaderValue::from_str(&date) {
        headers.insert(header::DATE, date);
    }
    if !answer.request_id.is_empty() {
        if let Ok(id) = HeaderValue::from_str(&answer.request_id) {
            headers.insert("x-acs-request-id", id);
        }
    }
    for (name, value) in answer.extra_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
