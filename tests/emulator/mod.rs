#![allow(dead_code)]
//! A local stand-in for the Alibaba Cloud ECS RPC endpoint (API version
//! 2014-05-26): `CopyImage`, `DescribeImages` and `CancelCopyImage`, with
//! the gateway's checks (common parameters, timestamp window, access keys,
//! signature V1 verified by its own signer, security tokens, nonces).
//!
//! Used by the integration tests (`mod emulator;`) and by the examples
//! (`#[path = "../tests/emulator/mod.rs"] mod emulator;`). It never uses the
//! `copy_image` crate: the point is to check the CLI against an independent
//! implementation.

pub mod handlers;
pub mod signature;
pub mod state;

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;

use self::handlers::RawRequest;
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

/// Largest request body read (larger → `InvalidParameter`).
const MAX_BODY: usize = 1024 * 1024;

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
    /// The HTTP status answered.
    pub status: u16,
    /// The error `Code` answered; `None` on success.
    pub code: Option<String>,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> Option<&str> {
        self.param("Action")
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
    shared: Arc<Mutex<State>>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
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
        let shared = Arc::new(Mutex::new(State::new(config)));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = tokio::sync::watch::channel(false);
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
        lock(&self.shared).requests.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared).requests.len()
    }

    /// The requests from index `start` on.
    pub fn requests_from(&self, start: usize) -> Vec<RecordedRequest> {
        let state = lock(&self.shared);
        state.requests.get(start..).unwrap_or_default().to_vec()
    }

    /// An image's current state (status computed now).
    pub fn image(&self, region: &str, image_id: &str) -> Option<ImageView> {
        let state = lock(&self.shared);
        let now = Instant::now();
        state
            .find(region, image_id)
            .map(|image| state.view_of(image, now))
    }

    /// All images of a region, in creation order.
    pub fn images_in(&self, region: &str) -> Vec<ImageView> {
        let state = lock(&self.shared);
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
        let found = lock(&self.shared).pin_status(region, image_id, status);
        assert!(found, "the emulator has no image {image_id} in {region}");
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
        let server = axum::serve(listener, app)
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

async fn handle(AxumState(shared): AxumState<Arc<Mutex<State>>>, request: Request) -> Response {
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

    let answer = {
        let mut state = lock(&shared);
        let answer = handlers::process(&mut state, &raw);
        state.requests.push(RecordedRequest {
            method: raw.method.clone(),
            raw_query: raw.raw_query.clone(),
            params: answer.params.clone(),
            headers: raw.headers.clone(),
            body: String::from_utf8_lossy(&raw.body).into_owned(),
            status: answer.status,
            code: answer.code.clone(),
        });
        answer
    };

    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(date) = HeaderValue::from_str(&date) {
        headers.insert(header::DATE, date);
    }
    if let Ok(id) = HeaderValue::from_str(&answer.request_id) {
        headers.insert("x-acs-request-id", id);
    }
    response
}
