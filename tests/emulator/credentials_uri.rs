//! A fake credentials URI (`ALIBABA_CLOUD_CREDENTIALS_URI`):
//! `GET /credentials` → 200
//! `{"Code":"Success","AccessKeyId":…,"AccessKeySecret":…,"SecurityToken":…,"Expiration":"…Z"}`
//! (`application/json`), or, when started with `start_with_body`, exactly
//! the status and body given. Another method on `/credentials` → 405;
//! another path → 404. Every request is counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;

use super::server::Background;
use super::sts::IssuedKey;

pub const CREDENTIALS_URI_PATH: &str = "/credentials";

/// What `GET /credentials` answers.
#[derive(Debug, Clone)]
enum Answer {
    Key(IssuedKey),
    Raw { status: u16, body: String },
}

struct Shared {
    answer: Mutex<Answer>,
    requests: AtomicUsize,
}

impl Shared {
    fn answer(&self) -> MutexGuard<'_, Answer> {
        self.answer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running credentials URI; dropping it shuts the server down.
pub struct CredentialsUri {
    server: Background,
    shared: Arc<Shared>,
}

impl CredentialsUri {
    /// Serves `key`. Panics if it cannot bind.
    pub fn start(key: IssuedKey) -> CredentialsUri {
        CredentialsUri::start_answering(Answer::Key(key))
    }

    /// Serves `status` (a number outside 200..=999 is sent as 500) with
    /// `body` (as `application/json`, whatever it is): for broken answers.
    pub fn start_with_body(status: u16, body: String) -> CredentialsUri {
        CredentialsUri::start_answering(Answer::Raw { status, body })
    }

    fn start_answering(answer: Answer) -> CredentialsUri {
        let shared = Arc::new(Shared {
            answer: Mutex::new(answer),
            requests: AtomicUsize::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        match Background::start("credentials-uri", app) {
            Ok(server) => CredentialsUri { server, shared },
            Err(e) => panic!("the credentials URI fake could not start: {e}"),
        }
    }

    /// "http://127.0.0.1:PORT/credentials"
    pub fn url(&self) -> String {
        format!("http://{}{CREDENTIALS_URI_PATH}", self.server.addr())
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// How many requests were received (any method, any path).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Later answers hand out this key (also after `start_with_body`).
    pub fn set_key(&self, key: IssuedKey) {
        *self.shared.answer() = Answer::Key(key);
    }
}

fn respond(status: u16, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    if request.uri().path() != CREDENTIALS_URI_PATH {
        return respond(404, "text/plain", "Not Found".to_string());
    }
    if request.method() != axum::http::Method::GET {
        return respond(405, "text/plain", "Method Not Allowed".to_string());
    }
    let answer = shared.answer().clone();
    match answer {
        Answer::Key(key) => {
            let body = serde_json::json!({
                "Code": "Success",
                "AccessKeyId": key.access_key_id,
                "AccessKeySecret": key.access_key_secret,
                "SecurityToken": key.security_token,
                "Expiration": key.expiration_text(),
            });
            respond(200, "application/json", body.to_string())
        }
        Answer::Raw { status, body } => {
            let status = if (200..=999).contains(&status) {
                status
            } else {
                500
            };
            respond(status, "application/json", body)
        }
    }
}
