//! The request pipeline and the three ECS actions (the STS actions live in
//! `sts.rs` and run through the same pipeline).
//!
//! `pipeline` runs the stages in the order ECS does: route → decode →
//! common parameters → timestamp → access key → signature → security token →
//! key expiry → nonce → action. Each stage is its own function returning
//! `Result<_, ApiError>`, so later stages (fault injection, V3 signatures)
//! slot in between without touching the others.
//!
//! A request whose `Authorization` header starts with `ACS3-` is signed with
//! V3 (`ACS3-HMAC-SHA256`, verified by `signature_v3`) and takes `pipeline_v3`:
//! route → decode → Authorization → required headers → signed headers →
//! version → timestamp (`x-acs-date`) → access key (`Credential=`) → body
//! hash (`x-acs-content-sha256`) → signature → security token
//! (`x-acs-security-token`) → key expiry → nonce (`x-acs-signature-nonce`) →
//! action. Its envelope (`Action`, `Version`, `AccessKeyId`, …) comes from the
//! headers (`v3_envelope`), its API parameters from the query string (and a
//! form body); from the security token on, both versions share every stage.
//! A V3 answer is JSON unless the query asks for `Format=XML`.
//!
//! The API version picks the product: `2014-05-26` is ECS, `2015-04-01` is
//! STS. An action asked for with the other product's version is answered
//! 404 `InvalidAction.NotFound`, as an unknown action is; a version that is
//! neither is 400 `InvalidVersion`. `AssumeRoleWithOIDC` is anonymous: it
//! skips the access-key, signature, token and nonce stages (see `anonymous`).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use super::signature;
use super::signature_v3;
use super::state::{Image, State, TokenRecord};
use super::sts;
use super::AccessKey;

/// The ECS API version.
pub(crate) const API_VERSION: &str = "2014-05-26";
/// The STS API version.
pub(crate) const STS_API_VERSION: &str = "2015-04-01";
const DEFAULT_HOST_REGION: &str = "cn-hangzhou";

/// Parameters that are part of the RPC envelope, not of the API call.
const COMMON_PARAMS: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Format",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureType",
    "SignatureVersion",
    "Timestamp",
    "Version",
];

/// Status values DescribeImages accepts in its `Status` filter.
const IMAGE_STATUSES: &[&str] = &[
    "Creating",
    "Waiting",
    "Available",
    "UnAvailable",
    "CreateFailed",
    "Deprecated",
];

/// A request as it came off the wire.
pub(crate) struct RawRequest {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body could not be read (too large, connection error).
    pub body_error: bool,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Signed with V3: an `Authorization` header starting with `ACS3-`.
    pub(crate) fn is_v3(&self) -> bool {
        self.header("authorization")
            .is_some_and(signature_v3::is_v3_authorization)
    }
}

/// An ECS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn missing(name: &str) -> ApiError {
        ApiError::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    pub(crate) fn invalid(name: &str) -> ApiError {
        ApiError::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid."),
        )
    }
}

/// A successful answer: the action's fields (without `RequestId`).
pub(crate) struct Success {
    pub action: String,
    pub fields: Map<String, Value>,
}

/// The answer as it goes on the wire, plus what the log needs.
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub request_id: String,
    pub code: Option<String>,
    pub params: Vec<(String, String)>,
    /// Headers besides Content-Type, Date and x-acs-request-id.
    pub extra_headers: Vec<(&'static str, String)>,
}

/// What the stages learn and the rendering needs even when a stage fails.
#[derive(Default)]
struct Context {
    params: Vec<(String, String)>,
    /// V3 only: the envelope taken from the headers (see `v3_envelope`).
    envelope: Vec<(String, String)>,
}

/// Read access to decoded parameters (first occurrence wins; duplicates are
/// rejected while decoding).
#[derive(Clone, Copy)]
pub(crate) struct Params<'a>(pub(crate) &'a [(String, String)]);

impl<'a> Params<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Present with a non-empty value.
    pub(crate) fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.value(name).ok_or_else(|| ApiError::missing(name))
    }
}

/// Runs one request through the whole pipeline and renders the answer.
pub(crate) fn process(state: &mut State, raw: &RawRequest) -> Answer {
    let mut ctx = Context::default();
    let result = pipeline(state, raw, &mut ctx);
    render(state, result, ctx.params, &ctx.envelope)
}

/// The answer to a request that is refused before it is processed (an
/// injected fault): the ECS error body, in the format the request asked
/// for, with the parameters as far as they can be decoded.
pub(crate) fn error_answer(
    state: &State,
    raw: &RawRequest,
    status: u16,
    code: &str,
    message: &str,
) -> Answer {
    let params = peek_params(raw);
    let envelope = if raw.is_v3() {
        v3_envelope(raw, &params)
    } else {
        Vec::new()
    };
    render(
        state,
        Err(ApiError::new(status, code, message)),
        params,
        &envelope,
    )
}

/// An answer that is not an ECS answer (a gateway page, garbage, nothing):
/// no `Code`, no request id, the parameters as far as they can be decoded.
pub(crate) fn plain_answer(
    raw: &RawRequest,
    status: u16,
    content_type: &'static str,
    body: String,
) -> Answer {
    Answer {
        status,
        content_type,
        body,
        request_id: String::new(),
        code: None,
        params: peek_params(raw),
        extra_headers: Vec::new(),
    }
}

/// The query and form-body parameters, decoded as far as possible (a part
/// that cannot be decoded is left out; duplicates are kept). Never fails:
/// used to match and record requests that are not processed.
pub(crate) fn peek_params(raw: &RawRequest) -> Vec<(String, String)> {
    let mut params = signature::parse_pairs(raw.raw_query.as_bytes()).unwrap_or_default();
    let is_form = raw.header("content-type").is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if raw.method == "POST" && is_form && !raw.body_error {
        params.extend(signature::parse_pairs(&raw.body).unwrap_or_default());
    }
    params
}

/// The request's `Action` (for V3, its `x-acs-action` header), if it can be
/// read.
pub(crate) fn peek_action(raw: &RawRequest) -> Option<String> {
    if raw.is_v3() {
        return raw.header("x-acs-action").map(str::to_string);
    }
    peek_params(raw)
        .into_iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v)
}

/// Renders a pipeline result (JSON when `Format=JSON`, else XML). A V3
/// request's `envelope` is looked up before its decoded parameters.
fn render(
    state: &State,
    result: Result<Success, ApiError>,
    decoded: Vec<(String, String)>,
    envelope: &[(String, String)],
) -> Answer {
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let merged: Vec<(String, String)> = envelope.iter().chain(&decoded).cloned().collect();
    let params = Params(&merged);
    let json = params.get("Format") == Some("JSON");
    let is_sts = params.get("Version") == Some(STS_API_VERSION)
        || params.get("Action") == Some(sts::ASSUME_ROLE_WITH_OIDC);
    let (host_id, product) = if is_sts {
        (sts::STS_HOST.to_string(), "Sts")
    } else {
        let host_region = params
            .value("RegionId")
            .filter(|r| state.knows_region(r))
            .unwrap_or(DEFAULT_HOST_REGION);
        (format!("ecs.{host_region}.aliyuncs.com"), "Ecs")
    };
    let (status, code, body) = match result {
        Ok(success) => (200, None, render_success(success, &request_id, json)),
        Err(error) => {
            let body = render_error(&error, &request_id, &host_id, product, json);
            (error.status, Some(error.code), body)
        }
    };
    Answer {
        status,
        content_type: if json {
            "application/json;charset=utf-8"
        } else {
            "text/xml;charset=utf-8"
        },
        body,
        request_id,
        code,
        params: decoded,
        extra_headers: Vec::new(),
    }
}

/// The stages, in order.
fn pipeline(state: &mut State, raw: &RawRequest, ctx: &mut Context) -> Result<Success, ApiError> {
    let now = state.now();
    let instant = Instant::now();

    // A V3 request is answered by its headers' envelope, even when refused
    // at once.
    if raw.is_v3() {
        ctx.envelope = v3_envelope(raw, &peek_params(raw));
    }
    // 1. Route: GET or POST on "/".
    check_route(raw)?;
    // 2. Decode query (and form body) parameters.
    ctx.params = decode_params(raw)?;
    // Signature V3: its own stages up to the signature, then the same ones.
    if raw.is_v3() {
        return pipeline_v3(state, raw, ctx, now, instant);
    }
    let params = Params(&ctx.params);
    // AssumeRoleWithOIDC is not signed: its own, shorter list of checks.
    if params.get("Action") == Some(sts::ASSUME_ROLE_WITH_OIDC) {
        return anonymous(state, params, now);
    }
    // 3. Common parameters present and well-formed.
    check_common(params)?;
    // 4. Timestamp format and freshness.
    check_timestamp(params, now, state.config.timestamp_tolerance)?;
    // 5. Access key known.
    let key = find_access_key(state, params)?;
    // 6. Signature matches.
    verify_signature(&raw.method, &ctx.params, &key)?;
    // 7. Security token matches the kind of key.
    check_security_token(params, &key)?;
    // 8. An STS key issued by the emulator has not expired.
    check_key_expiry(state, &key, now)?;
    // 9. Nonce unused.
    consume_nonce(state, params, instant)?;
    // 10. The action itself.
    dispatch(state, params, &key, now, instant)
}

/// The pipeline of an anonymous call (`AssumeRoleWithOIDC`): the only
/// common parameters required are `Action`, `Version`, `Format` and
/// `Timestamp` (checked in that order, then the version, then the
/// timestamp's freshness). `AccessKeyId`, `SignatureNonce`, `Signature` and
/// the like are ignored when present: nothing is verified, no nonce is used.
fn anonymous(state: &mut State, params: Params, now: DateTime<Utc>) -> Result<Success, ApiError> {
    for name in ["Action", "Version", "Format", "Timestamp"] {
        params.required(name)?;
    }
    let action = params.required("Action")?;
    match params.get("Version") {
        Some(STS_API_VERSION) => {}
        Some(API_VERSION) => return Err(action_not_found()),
        _ => return Err(invalid_version()),
    }
    check_timestamp(params, now, state.config.timestamp_tolerance)?;
    let fields = sts::assume_role_with_oidc(state, params, now)?;
    Ok(Success {
        action: action.to_string(),
        fields,
    })
}

/// The V1 names of what a V3 request carries in its headers, for the stages
/// and the rendering it shares with V1: `Action` ← `x-acs-action`,
/// `Version` ← `x-acs-version`, `Timestamp` ← `x-acs-date`,
/// `SignatureNonce` ← `x-acs-signature-nonce`, `SecurityToken` ←
/// `x-acs-security-token`, `AccessKeyId` ← `Credential=`, and `Format=JSON`
/// unless `params` have a `Format`. Only what is present; nothing is checked.
pub(crate) fn v3_envelope(raw: &RawRequest, params: &[(String, String)]) -> Vec<(String, String)> {
    let mut envelope = Vec::new();
    for (name, header) in [
        ("Action", "x-acs-action"),
        ("Version", "x-acs-version"),
        ("Timestamp", "x-acs-date"),
        ("SignatureNonce", "x-acs-signature-nonce"),
        ("SecurityToken", "x-acs-security-token"),
    ] {
        if let Some(value) = raw.header(header) {
            envelope.push((name.to_string(), value.trim().to_string()));
        }
    }
    if let Some(auth) = raw
        .header("authorization")
        .and_then(|a| signature_v3::parse_authorization(a).ok())
    {
        envelope.push(("AccessKeyId".to_string(), auth.access_key_id));
    }
    if Params(params).get("Format").is_none() {
        envelope.push(("Format".to_string(), "JSON".to_string()));
    }
    envelope
}

fn incomplete_signature(detail: &str) -> ApiError {
    ApiError::new(
        400,
        "IncompleteSignature",
        format!("The request signature does not conform to Aliyun standards. {detail}"),
    )
}

/// The stages of a V3 request after decoding (`ctx.envelope` is set).
fn pipeline_v3(
    state: &mut State,
    raw: &RawRequest,
    ctx: &Context,
    now: DateTime<Utc>,
    instant: Instant,
) -> Result<Success, ApiError> {
    // 3. Authorization: algorithm, Credential, SignedHeaders, Signature.
    let auth = signature_v3::parse_authorization(raw.header("authorization").unwrap_or_default())
        .map_err(|why| {
        incomplete_signature(&format!("The Authorization header is malformed: {why}."))
    })?;
    // 4. The envelope headers are present.
    let header = |name: &str| raw.header(name).map(str::trim).filter(|v| !v.is_empty());
    for name in signature_v3::REQUIRED_HEADERS {
        if header(name).is_none() {
            return Err(ApiError::missing(name));
        }
    }
    // 5. `host` and every `x-acs-*` header are signed; every signed header is
    //    there.
    for (name, _) in &raw.headers {
        let must_sign = name == "host" || name.starts_with("x-acs-");
        if must_sign && !auth.signed_headers.contains(name) {
            return Err(incomplete_signature(&format!(
                "The header \"{name}\" is not in SignedHeaders."
            )));
        }
    }
    if let Some(absent) = auth.signed_headers.iter().find(|n| raw.header(n).is_none()) {
        return Err(incomplete_signature(&format!(
            "The signed header \"{absent}\" is not in the request."
        )));
    }
    // 6. Version (the action is checked by `dispatch`).
    if !matches!(header("x-acs-version"), Some(API_VERSION | STS_API_VERSION)) {
        return Err(invalid_version());
    }
    // 7. x-acs-date format and freshness.
    let date = header("x-acs-date").unwrap_or_default();
    check_time("x-acs-date", date, now, state.config.timestamp_tolerance)?;
    // 8. Access key known.
    let key = find_key(state, &auth.access_key_id)?;
    // 9. The body is the one hashed.
    let body_sha256 = signature_v3::sha256_hex(&raw.body);
    let sent_sha256 = header("x-acs-content-sha256").unwrap_or_default();
    if sent_sha256 != body_sha256 {
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "The header \"x-acs-content-sha256\" ({sent_sha256}) is not the SHA-256 of the request body ({body_sha256})."
            ),
        ));
    }
    // 10. Signature matches.
    verify_signature_v3(raw, &auth, &key, &body_sha256)?;
    // 11. Security token matches the kind of key.
    check_token(raw.header("x-acs-security-token"), &key)?;
    // 12. An STS key issued by the emulator has not expired.
    check_key_expiry(state, &key, now)?;
    // 13. Nonce unused.
    let nonce = header("x-acs-signature-nonce").unwrap_or_default();
    use_nonce(state, &key.id, nonce, instant)?;
    // 14. The action itself, with the envelope before the API parameters.
    let merged: Vec<(String, String)> = ctx.envelope.iter().chain(&ctx.params).cloned().collect();
    dispatch(state, Params(&merged), &key, now, instant)
}

/// Recomputes the V3 signature from the request as received: method, path,
/// the query parameters (decoded, re-encoded), the signed headers, the body's
/// hash.
fn verify_signature_v3(
    raw: &RawRequest,
    auth: &signature_v3::Authorization,
    key: &AccessKey,
    body_sha256: &str,
) -> Result<(), ApiError> {
    let query = signature::parse_pairs(raw.raw_query.as_bytes())
        .map_err(|e| ApiError::new(400, "InvalidParameter", e.to_string()))?;
    let headers =
        signature_v3::canonical_headers(&auth.signed_headers, &raw.headers).map_err(|absent| {
            incomplete_signature(&format!(
                "The signed header \"{absent}\" is not in the request."
            ))
        })?;
    let request = signature_v3::canonical_request(
        &raw.method,
        &raw.path,
        &signature_v3::canonical_query(&query),
        &headers,
        &auth.signed_header_list(),
        body_sha256,
    );
    let string_to_sign = signature_v3::string_to_sign(&request);
    let expected = signature_v3::hmac_sha256_hex(&key.secret, &string_to_sign);
    if auth.signature != expected {
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        ));
    }
    Ok(())
}

fn action_not_found() -> ApiError {
    ApiError::new(
        404,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )
}

fn invalid_version() -> ApiError {
    ApiError::new(
        400,
        "InvalidVersion",
        "Specified parameter Version is not valid.",
    )
}

fn check_route(raw: &RawRequest) -> Result<(), ApiError> {
    if raw.method != "GET" && raw.method != "POST" {
        return Err(ApiError::new(
            403,
            "UnsupportedHTTPMethod",
            format!("The HTTP method {} is not supported.", raw.method),
        ));
    }
    if raw.path != "/" {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ));
    }
    if raw.body_error {
        return Err(ApiError::new(
            400,
            "InvalidParameter",
            "The request body could not be read.",
        ));
    }
    Ok(())
}

fn decode_params(raw: &RawRequest) -> Result<Vec<(String, String)>, ApiError> {
    let decode_error =
        |e: signature::DecodeError| ApiError::new(400, "InvalidParameter", e.to_string());
    let mut params = signature::parse_pairs(raw.raw_query.as_bytes()).map_err(decode_error)?;
    let is_form = raw
        .header("content-type")
        .map(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if raw.method == "POST" && is_form {
        params.extend(signature::parse_pairs(&raw.body).map_err(decode_error)?);
    }
    for (i, (key, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(k, _)| k == key) {
            return Err(ApiError::new(
                400,
                "InvalidParameter",
                format!("The parameter \"{key}\" is specified more than once."),
            ));
        }
    }
    Ok(params)
}

fn check_common(params: Params) -> Result<(), ApiError> {
    for name in [
        "AccessKeyId",
        "SignatureNonce",
        "Timestamp",
        "SignatureMethod",
        "SignatureVersion",
        "Version",
        "Action",
    ] {
        params.required(name)?;
    }
    if params.value("Signature").is_none() {
        return Err(ApiError::new(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        ));
    }
    if params.get("SignatureMethod") != Some("HMAC-SHA1") {
        return Err(ApiError::invalid("SignatureMethod"));
    }
    if params.get("SignatureVersion") != Some("1.0") {
        return Err(ApiError::invalid("SignatureVersion"));
    }
    if !matches!(params.get("Version"), Some(API_VERSION | STS_API_VERSION)) {
        return Err(invalid_version());
    }
    Ok(())
}

/// Parses exactly `YYYY-MM-DDThh:mm:ssZ`.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 20 {
        return None;
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        };
        if !ok {
            return None;
        }
    }
    let num = |from: usize, to: usize| text[from..to].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?
        .and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)
        .map(|naive| naive.and_utc())
}

fn check_timestamp(
    params: Params,
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<(), ApiError> {
    let text = params.required("Timestamp")?;
    check_time("Timestamp", text, now, tolerance)
}

/// The freshness check of `Timestamp` (V1) and `x-acs-date` (V3), `name`
/// being the one the error names.
fn check_time(
    name: &str,
    text: &str,
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<(), ApiError> {
    let Some(at) = parse_timestamp(text) else {
        return Err(ApiError::new(
            400,
            "IllegalTimestamp",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        ));
    };
    let skew = (now - at)
        .abs()
        .to_std()
        .unwrap_or(std::time::Duration::MAX);
    if skew > tolerance {
        return Err(ApiError::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(())
}

/// A key of `Config::access_keys`, else one the emulator's STS issued.
fn find_access_key(state: &State, params: Params) -> Result<AccessKey, ApiError> {
    find_key(state, params.required("AccessKeyId")?)
}

/// The key with this id: a configured one, else one STS issued.
fn find_key(state: &State, id: &str) -> Result<AccessKey, ApiError> {
    state
        .config
        .access_keys
        .iter()
        .find(|k| k.id == id)
        .cloned()
        .or_else(|| state.issued_key(id).map(|k| k.access_key()))
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
}

fn verify_signature(
    method: &str,
    params: &[(String, String)],
    key: &AccessKey,
) -> Result<(), ApiError> {
    let received = Params(params).get("Signature").unwrap_or_default();
    let string_to_sign = signature::string_to_sign(method, params);
    let expected = signature::hmac_sha1_base64(&key.secret, &string_to_sign);
    if received != expected {
        return Err(ApiError::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        ));
    }
    Ok(())
}

fn check_security_token(params: Params, key: &AccessKey) -> Result<(), ApiError> {
    check_token(params.get("SecurityToken"), key)
}

/// The token sent (`SecurityToken`, V3: `x-acs-security-token`) against the
/// kind of key.
fn check_token(sent: Option<&str>, key: &AccessKey) -> Result<(), ApiError> {
    match (&key.security_token, sent) {
        (Some(_), None) | (Some(_), Some("")) => Err(ApiError::new(
            400,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this access key.",
        )),
        (Some(expected), Some(sent)) if expected != sent => Err(ApiError::new(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "The security token you provided does not match with the access key id.",
        )),
        (None, Some(_)) => Err(ApiError::new(
            400,
            "InvalidSecurityToken.Malformed",
            "The security token you provided is malformed.",
        )),
        _ => Ok(()),
    }
}

/// An STS key issued by the emulator is refused from its `Expiration` on
/// (compared with the emulator's clock).
fn check_key_expiry(state: &State, key: &AccessKey, now: DateTime<Utc>) -> Result<(), ApiError> {
    match state.issued_key(&key.id) {
        Some(issued) if now >= issued.expiration => Err(ApiError::new(
            400,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        )),
        _ => Ok(()),
    }
}

fn consume_nonce(state: &mut State, params: Params, now: Instant) -> Result<(), ApiError> {
    use_nonce(
        state,
        params.required("AccessKeyId")?,
        params.required("SignatureNonce")?,
        now,
    )
}

/// Records the nonce of this key; `SignatureNonceUsed` when seen before.
fn use_nonce(state: &mut State, id: &str, nonce: &str, now: Instant) -> Result<(), ApiError> {
    if !state.use_nonce(id, nonce, now) {
        return Err(ApiError::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

fn dispatch(
    state: &mut State,
    params: Params,
    key: &AccessKey,
    now: DateTime<Utc>,
    instant: Instant,
) -> Result<Success, ApiError> {
    let action = params.required("Action")?;
    let version = params.required("Version")?;
    let fields = match (version, action) {
        (API_VERSION, "CopyImage") => copy_image(state, params, key, now, instant)?,
        (API_VERSION, "DescribeImages") => describe_images(state, params, instant)?,
        (API_VERSION, "CancelCopyImage") => cancel_copy_image(state, params, instant)?,
        (STS_API_VERSION, sts::ASSUME_ROLE) => sts::assume_role(state, params, key, now)?,
        _ => return Err(action_not_found()),
    };
    Ok(Success {
        action: action.to_string(),
        fields,
    })
}

// ---------------------------------------------------------------- CopyImage

fn copy_image(
    state: &mut State,
    params: Params,
    key: &AccessKey,
    now: DateTime<Utc>,
    instant: Instant,
) -> Result<Map<String, Value>, ApiError> {
    // Idempotence first: a replay of a request that succeeded must get the
    // same answer even though the world changed since (e.g. the name is now
    // taken by the copy it made).
    let client_token = params.value("ClientToken");
    let api_params = api_params(params);
    if let Some(token) = client_token {
        if !token.is_ascii() || token.len() > 64 {
            return Err(ApiError::new(
                400,
                "InvalidParameter",
                "The specified parameter \"ClientToken\" is not valid: at most 64 ASCII characters.",
            ));
        }
        if let Some(record) = state
            .client_tokens
            .get(&(key.id.clone(), token.to_string()))
        {
            if record.api_params == api_params {
                return Ok(image_id_answer(&record.image_id));
            }
            return Err(ApiError::new(
                400,
                "IdempotentParameterMismatch",
                "The specified parameters are different from before.",
            ));
        }
    }

    let source_region = params.required("RegionId")?;
    if !state.knows_region(source_region) {
        return Err(ApiError::new(
            400,
            "SourceRegion.NotFound",
            "The source region not found.",
        ));
    }
    let image_id = params.required("ImageId")?;
    let destination = params.value("DestinationRegionId").unwrap_or(source_region);
    if !state.knows_region(destination) {
        return Err(ApiError::new(
            400,
            "DestinationRegion.NotFound",
            "The destination region not found.",
        ));
    }
    if destination == source_region {
        return Err(ApiError::new(
            403,
            "IncorrectDestinationRegion",
            "The destination region is not equal the target region.",
        ));
    }
    let Some(source) = state.find(source_region, image_id) else {
        return Err(ApiError::new(
            404,
            "InvalidImageId.NotFound",
            "The specified ImageId does not exist.",
        ));
    };
    if state.snapshot_of(source, instant).status != "Available" {
        return Err(ApiError::new(
            400,
            "IncorrectImageStatus",
            "The image not available.",
        ));
    }

    let encrypted = match params.value("Encrypted") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::invalid("Encrypted")),
    };
    let kms_key_id = params.value("KMSKeyId");
    if kms_key_id.is_some() && encrypted != Some(true) {
        return Err(ApiError::new(
            400,
            "InvalidParameter.EncryptedIllegal",
            "The specified parameter Encrypted must be true when kmsKeyId is not empty.",
        ));
    }

    let name = params.value("DestinationImageName");
    if let Some(name) = name {
        if !valid_image_name(name) {
            return Err(ApiError::new(
                400,
                "InvalidImageName.Malformed",
                "The specified destination image name is wrongly formed.",
            ));
        }
        if state
            .images
            .iter()
            .any(|i| i.region == destination && i.name == name)
        {
            return Err(ApiError::new(
                400,
                "InvalidImageName.Duplicated",
                "The specified image name is already in use in the target region.",
            ));
        }
    }
    let description = params.value("DestinationDescription");
    if let Some(description) = description {
        let chars = description.chars().count();
        if !(2..=256).contains(&chars)
            || description.starts_with("http://")
            || description.starts_with("https://")
        {
            return Err(ApiError::new(
                400,
                "InvalidDescription.Malformed",
                "The specified destination description is wrongly formed.",
            ));
        }
    }
    let tags = parse_tags(params)?;
    let resource_group_id = params.value("ResourceGroupId");
    if let Some(rg) = resource_group_id {
        if !rg.starts_with("rg-") {
            return Err(ApiError::new(
                404,
                "InvalidResourceGroup.NotFound",
                "The ResourceGroup provided does not exist in our records.",
            ));
        }
    }
    match params.value("DryRun") {
        None | Some("false") => {}
        Some("true") => {
            return Err(ApiError::new(
                400,
                "DryRunOperation",
                "Request validation has been passed with DryRun flag set.",
            ))
        }
        Some(_) => return Err(ApiError::invalid("DryRun")),
    }

    let new_id = new_image_id();
    let image = Image {
        region: destination.to_string(),
        image_id: new_id.clone(),
        name: name.unwrap_or_default().to_string(),
        description: description.unwrap_or_default().to_string(),
        created_at: instant,
        creation_time: now,
        pinned: None,
        encrypted,
        kms_key_id: kms_key_id.map(str::to_string),
        resource_group_id: resource_group_id.map(str::to_string),
        tags,
        source_image_id: Some(image_id.to_string()),
        client_token: client_token.map(str::to_string),
    };
    state.images.push(image);
    if let Some(token) = client_token {
        state.client_tokens.insert(
            (key.id.clone(), token.to_string()),
            TokenRecord {
                api_params,
                image_id: new_id.clone(),
            },
        );
    }
    Ok(image_id_answer(&new_id))
}

fn image_id_answer(image_id: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("ImageId".to_string(), json!(image_id));
    fields
}

/// The call's own parameters, sorted, for the ClientToken comparison.
fn api_params(params: Params) -> Vec<(String, String)> {
    let mut api: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| !COMMON_PARAMS.contains(&k.as_str()))
        .cloned()
        .collect();
    api.sort();
    api
}

/// `m-` + 20 random lower-case alphanumerics.
fn new_image_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let suffix: String = bytes
        .iter()
        .take(20)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("m-{suffix}")
}

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// 2–128 characters; starts with a letter (ASCII or Chinese); only letters,
/// Chinese characters, digits, `.`, `:`, `_`, `-`; no `http://`, `https://`,
/// `acs:` or `aliyun` prefix.
pub(crate) fn valid_image_name(name: &str) -> bool {
    let count = name.chars().count();
    if !(2..=128).contains(&count) {
        return false;
    }
    if ["http://", "https://", "acs:", "aliyun"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return false;
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || is_chinese(c));
    first_ok
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || is_chinese(c) || matches!(c, '.' | ':' | '_' | '-')
        })
}

/// `Tag.N.Key` / `Tag.N.Value`, N in 1..=20, in N order.
fn parse_tags(params: Params) -> Result<Vec<(String, String)>, ApiError> {
    let mut slots: BTreeMap<u32, (Option<&str>, Option<&str>)> = BTreeMap::new();
    for (name, value) in params.0 {
        let Some(rest) = name.strip_prefix("Tag.") else {
            continue;
        };
        let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
        let n = if index.starts_with('0') || !index.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            index.parse::<u32>().ok().filter(|n| (1..=20).contains(n))
        };
        let Some(n) = n else {
            return Err(ApiError::invalid(name));
        };
        let slot = slots.entry(n).or_default();
        match field {
            "Key" => slot.0 = Some(value.as_str()),
            "Value" => slot.1 = Some(value.as_str()),
            _ => return Err(ApiError::invalid(name)),
        }
    }
    let mut tags = Vec::with_capacity(slots.len());
    for (n, (key, value)) in slots {
        let Some(key) = key else {
            return Err(ApiError::new(
                400,
                "InvalidParameter",
                format!("The parameter \"Tag.{n}.Value\" is given without \"Tag.{n}.Key\"."),
            ));
        };
        let bad_key = key.is_empty()
            || key.chars().count() > 128
            || key.starts_with("acs:")
            || key.starts_with("aliyun")
            || key.contains("http://")
            || key.contains("https://");
        if bad_key {
            return Err(ApiError::new(
                400,
                "InvalidTagKey.Malformed",
                format!("The specified Tag.{n}.Key is not valid."),
            ));
        }
        let value = value.unwrap_or_default();
        let bad_value = value.chars().count() > 128
            || value.starts_with("acs:")
            || value.contains("http://")
            || value.contains("https://");
        if bad_value {
            return Err(ApiError::new(
                400,
                "InvalidTagValue.Malformed",
                format!("The specified Tag.{n}.Value is not valid."),
            ));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    Ok(tags)
}

// ----------------------------------------------------------- DescribeImages

fn describe_images(
    state: &State,
    params: Params,
    instant: Instant,
) -> Result<Map<String, Value>, ApiError> {
    let region = params.required("RegionId")?;
    if !state.knows_region(region) {
        return Err(ApiError::new(
            404,
            "InvalidRegionId.NotFound",
            "The specified RegionId does not exist.",
        ));
    }
    let list = |name: &str| -> Option<Vec<&str>> {
        params.value(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
    };
    let ids = list("ImageId");
    let statuses = list("Status").unwrap_or_else(|| vec!["Available"]);
    if let Some(bad) = statuses.iter().find(|s| !IMAGE_STATUSES.contains(s)) {
        return Err(ApiError::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"Status\" is not valid: {bad}."),
        ));
    }
    // Every image here belongs to the caller; other owner aliases (system,
    // others, marketplace) therefore match nothing.
    let own_only = matches!(params.value("ImageOwnerAlias"), None | Some("self"));
    let name_filter = params.value("ImageName");
    let page_number = match params.value("PageNumber") {
        None => 1,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::invalid("PageNumber"))?,
    };
    let page_size = match params.value("PageSize") {
        None => 10,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid("PageSize"))?,
    };

    // Newest first, as ECS lists them.
    let matching: Vec<(&Image, super::state::Snapshot)> = state
        .images
        .iter()
        .rev()
        .filter(|i| i.region == region && own_only)
        .filter(|i| {
            !i.is_copy()
                || instant.saturating_duration_since(i.created_at) >= state.config.listing_delay
        })
        .filter(|i| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&i.image_id.as_str()))
        })
        .filter(|i| name_filter.is_none_or(|n| i.name.contains(n)))
        .map(|i| (i, state.snapshot_of(i, instant)))
        .filter(|(_, snap)| statuses.contains(&snap.status.as_str()))
        .collect();
    let total = matching.len();
    let skip = (page_number as usize - 1).saturating_mul(page_size as usize);
    let page: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|(image, snap)| image_json(image, snap))
        .collect();

    let mut fields = Map::new();
    fields.insert("RegionId".to_string(), json!(region));
    fields.insert("TotalCount".to_string(), json!(total));
    fields.insert("PageNumber".to_string(), json!(page_number));
    fields.insert("PageSize".to_string(), json!(page_size));
    fields.insert("Images".to_string(), json!({ "Image": page }));
    Ok(fields)
}

fn image_json(image: &Image, snap: &super::state::Snapshot) -> Value {
    let progress = format!("{}%", snap.progress);
    let tags: Vec<Value> = image
        .tags
        .iter()
        .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
        .collect();
    json!({
        "ImageId": image.image_id,
        "ImageName": image.name,
        "Description": image.description,
        "Status": snap.status,
        "Progress": progress,
        "CreationTime": image.creation_time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "IsCopied": image.is_copy(),
        "ImageOwnerAlias": "self",
        "Size": 40,
        "ResourceGroupId": image.resource_group_id.clone().unwrap_or_default(),
        "OSType": "linux",
        "Architecture": "x86_64",
        "Tags": { "Tag": tags },
        "DiskDeviceMappings": { "DiskDeviceMapping": [ {
            "Device": "/dev/xvda",
            "Type": "system",
            "Size": "40",
            "Progress": progress,
            "RemainTime": snap.remain_secs,
            "Encrypted": if image.encrypted == Some(true) { "true" } else { "false" },
        } ] },
    })
}

// ---------------------------------------------------------- CancelCopyImage

fn cancel_copy_image(
    state: &mut State,
    params: Params,
    instant: Instant,
) -> Result<Map<String, Value>, ApiError> {
    let region = params.required("RegionId")?;
    if !state.knows_region(region) {
        return Err(ApiError::new(
            404,
            "InvalidRegionId.NotFound",
            "The specified RegionId does not exist.",
        ));
    }
    let image_id = params.required("ImageId")?;
    let Some(image) = state.find(region, image_id) else {
        return Err(ApiError::new(
            404,
            "InvalidImageId.NotFound",
            "The specified ImageId does not exist.",
        ));
    };
    if !image.is_copy() {
        return Err(ApiError::new(
            400,
            "ImageCreatedNotFromCopy",
            "The specified image is not created from copy.",
        ));
    }
    match state.snapshot_of(image, instant).status.as_str() {
        "Available" => {
            return Err(ApiError::new(
                400,
                "IncorrectImageStatus",
                "The image has completed copy.",
            ))
        }
        "CreateFailed" => {
            return Err(ApiError::new(
                400,
                "IncorrectImageStatus",
                "The Image copy has been failed.",
            ))
        }
        _ => {}
    }
    state
        .images
        .retain(|i| !(i.region == region && i.image_id == image_id));
    Ok(Map::new())
}

// ---------------------------------------------------------------- rendering

fn render_success(success: Success, request_id: &str, json: bool) -> String {
    let mut body = Map::new();
    body.insert("RequestId".to_string(), json!(request_id));
    body.extend(success.fields);
    if json {
        Value::Object(body).to_string()
    } else {
        let mut out = String::from("<?xml version='1.0' encoding='UTF-8'?>");
        let root = format!("{}Response", success.action);
        out.push_str(&format!("<{root}>"));
        // RequestId first, as ECS writes it.
        xml_element(&mut out, "RequestId", &json!(request_id));
        for (key, value) in body.iter().filter(|(k, _)| *k != "RequestId") {
            xml_field(&mut out, key, value);
        }
        out.push_str(&format!("</{root}>"));
        out
    }
}

fn render_error(
    error: &ApiError,
    request_id: &str,
    host_id: &str,
    product: &str,
    json: bool,
) -> String {
    let recommend = format!(
        "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={}",
        error.code, request_id
    );
    if json {
        json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": error.code,
            "Message": error.message,
            "Recommend": recommend,
        })
        .to_string()
    } else {
        let mut out = String::from("<?xml version='1.0' encoding='UTF-8'?><Error>");
        for (name, value) in [
            ("RequestId", request_id),
            ("HostId", host_id),
            ("Code", &error.code),
            ("Message", &error.message),
            ("Recommend", &recommend),
        ] {
            xml_element(&mut out, name, &json!(value));
        }
        out.push_str("</Error>");
        out
    }
}

/// A field of an object: arrays repeat the element name (`Images.Image[]`
/// becomes `<Images><Image>…</Image><Image>…</Image></Images>`).
fn xml_field(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                xml_element(out, name, item);
            }
        }
        other => xml_element(out, name, other),
    }
}

fn xml_element(out: &mut String, name: &str, value: &Value) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                xml_field(out, key, child);
            }
        }
        Value::Array(items) => {
            for item in items {
                xml_element(out, "item", item);
            }
        }
        Value::String(s) => out.push_str(&xml_escape(s)),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
