//! Reading an answer: pure functions from (status, body) to a JSON value or an [`Error`].
//! Whatever the bytes, the result is a value or a clear error, never a panic; every piece of
//! server text is masked of credentials and made safe for a terminal.

use serde_json::Value;

use crate::credentials::Credentials;
use crate::error::{ApiError, Error};
use crate::log::terminal_safe;
use crate::sign::percent_encode;

/// Answers are a few hundred bytes; a larger one is not the API talking.
pub const MAX_BODY_BYTES: usize = 1 << 20;
const EXCERPT_CHARS: usize = 200;
/// Longest server-sent field shown (a Message, a Recommend URL).
const MAX_FIELD_CHARS: usize = 2000;

/// What the service answered.
pub struct Answer<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// The body was longer than [`MAX_BODY_BYTES`] and was cut there.
    pub truncated: bool,
}

/// The JSON object of a 2xx answer, or the error an answer stands for.
pub fn interpret(
    action: &'static str,
    endpoint: &str,
    answer: &Answer,
    redactor: &Redactor,
) -> Result<Value, Error> {
    let text = String::from_utf8_lossy(answer.body);
    let unexpected = |problem: &str| Error::UnexpectedResponse {
        action,
        endpoint: endpoint.to_owned(),
        status: answer.status,
        problem: problem.to_owned(),
        excerpt: redactor.excerpt(&text),
    };
    if answer.truncated {
        return Err(unexpected("the body is larger than 1 MiB"));
    }
    let parsed: Option<Value> = serde_json::from_str(&text).ok().filter(Value::is_object);
    if (200..300).contains(&answer.status) {
        return parsed
            .ok_or_else(|| unexpected("the body is not the JSON object the API documents"));
    }
    let body = parsed.ok_or_else(|| unexpected("the error body is not JSON"))?;
    let code = string_field(&body, &["Code", "code"])
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| unexpected("the error body has no Code"))?;
    let field = |names: &[&str]| string_field(&body, names).map(|s| redactor.clean(&s));
    Err(Error::Api(Box::new(ApiError {
        action,
        status: answer.status,
        code: redactor.clean(&code),
        message: field(&["Message", "message"]).unwrap_or_default(),
        request_id: field(&["RequestId", "requestId"]).unwrap_or_default(),
        host_id: field(&["HostId"]),
        recommend: field(&["Recommend"]),
    })))
}

/// The first of `names` that holds a string (or a number, which some gateways send).
pub fn string_field(body: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match body.get(n)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Masks the secret and the security token in text that came back from the network. ECS
/// echoes its string to sign in `SignatureDoesNotMatch` messages, and that string holds the
/// token percent-encoded twice.
#[derive(Clone)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    pub fn new(credentials: &Credentials) -> Self {
        Self::of(
            std::iter::once(credentials.access_key_secret.expose())
                .chain(credentials.security_token.as_ref().map(|t| t.expose())),
        )
    }

    /// Masks these secrets (e.g. an OIDC token), in every encoding.
    pub fn of<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles = Vec::new();
        for secret in secrets.into_iter().filter(|s| s.len() >= 4) {
            let once = percent_encode(secret);
            let twice = percent_encode(&once);
            // Longest first, so an encoded form is masked whole.
            needles.extend([twice, once, secret.to_owned()]);
        }
        needles.dedup();
        Self { needles }
    }

    pub fn redact(&self, text: &str) -> String {
        self.needles.iter().fold(text.to_owned(), |t, needle| {
            t.replace(needle.as_str(), "(redacted)")
        })
    }

    /// Redacted, terminal-safe and of bounded length: for any server-sent text that is shown.
    pub fn clean(&self, text: &str) -> String {
        let safe = terminal_safe(&self.redact(text));
        if safe.chars().count() > MAX_FIELD_CHARS {
            let cut: String = safe.chars().take(MAX_FIELD_CHARS).collect();
            format!("{cut}…")
        } else {
            safe
        }
    }

    /// A short, quoted, printable start of a body for error messages.
    pub fn excerpt(&self, body: &str) -> String {
        let short: String = body.chars().take(EXCERPT_CHARS).collect();
        let more = if body.chars().count() > EXCERPT_CHARS {
            "…"
        } else {
            ""
        };
        format!("\"{}\"{more}", terminal_safe(&self.redact(&short)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn redactor() -> Redactor {
        Redactor::new(&Credentials::new(
            "STS.id",
            "sec/ret+value",
            Some("CAIS/tok+en==".into()),
        ))
    }

    fn read(status: u16, body: &[u8]) -> Result<Value, Error> {
        interpret(
            "CopyImage",
            "https://e",
            &Answer {
                status,
                body,
                truncated: false,
            },
            &redactor(),
        )
    }

    #[test]
    fn redactor_masks_token_in_every_encoding() {
        let message = "server string to sign is:POST&%2F&SecurityToken%3DCAIS%252Ftok%252Ben%253D%253D%26 raw CAIS/tok+en== once CAIS%2Ftok%2Ben%3D%3D sec/ret+value";
        let out = redactor().redact(message);
        assert!(!out.contains("tok"), "{out}");
        assert!(!out.contains("ret"), "{out}");
        assert_eq!(out.matches("(redacted)").count(), 4, "{out}");
    }

    #[test]
    fn success_body_is_returned() {
        let v = read(200, br#"{"ImageId":"m-1","RequestId":"R"}"#).unwrap();
        assert_eq!(v["ImageId"], "m-1");
    }

    #[test]
    fn error_body_becomes_an_api_error_with_every_field() {
        let body = br#"{"RequestId":"R1","HostId":"ecs.cn-hangzhou.aliyuncs.com","Code":"InvalidImageId.NotFound","Message":"The specified ImageId does not exist.","Recommend":"https://api.aliyun.com/troubleshoot?q=x"}"#;
        let Err(Error::Api(api)) = read(404, body) else {
            panic!("expected an API error")
        };
        assert_eq!(api.status, 404);
        assert_eq!(api.code, "InvalidImageId.NotFound");
        assert_eq!(api.message, "The specified ImageId does not exist.");
        assert_eq!(api.request_id, "R1");
        assert_eq!(api.host_id.as_deref(), Some("ecs.cn-hangzhou.aliyuncs.com"));
        assert_eq!(
            api.recommend.as_deref(),
            Some("https://api.aliyun.com/troubleshoot?q=x")
        );
    }

    #[test]
    fn lower_case_keys_are_read_too() {
        let Err(Error::Api(api)) = read(
            400,
            br#"{"code":"Throttling","message":"slow down","requestId":"R2"}"#,
        ) else {
            panic!("expected an API error")
        };
        assert_eq!(
            (
                api.code.as_str(),
                api.message.as_str(),
                api.request_id.as_str()
            ),
            ("Throttling", "slow down", "R2")
        );
    }

    #[test]
    fn server_text_is_masked_and_terminal_safe() {
        let body = r#"{"Code":"SignatureDoesNotMatch","Message":"server string to sign is:POST&%2F&SecurityToken%3DCAIS%252Ftok%252Ben%253D%253D \u001b[2J\u202eevil","RequestId":"R"}"#;
        let Err(Error::Api(api)) = read(400, body.as_bytes()) else {
            panic!("expected an API error")
        };
        assert!(!api.message.contains("tok"), "{}", api.message);
        assert!(!api.message.contains('\u{1b}'), "{:?}", api.message);
        assert!(!api.message.contains('\u{202e}'), "{:?}", api.message);
        assert!(api.message.contains("(redacted)"));
    }

    #[test]
    fn known_bad_answers_are_clear_errors() {
        let cases: &[(u16, &[u8], &str, crate::error::Exit)] = &[
            (
                200,
                b"",
                "not the JSON object",
                crate::error::Exit::Unavailable,
            ),
            (
                200,
                b"<html>oops</html>",
                "not the JSON object",
                crate::error::Exit::Unavailable,
            ),
            (
                200,
                br#"{"ImageId":"m-"#,
                "not the JSON object",
                crate::error::Exit::Unavailable,
            ),
            (
                200,
                b"[1,2]",
                "not the JSON object",
                crate::error::Exit::Unavailable,
            ),
            (
                200,
                b"<?xml version='1.0'?><CopyImageResponse/>",
                "not the JSON object",
                crate::error::Exit::Unavailable,
            ),
            (
                502,
                b"<html>Bad Gateway</html>",
                "error body is not JSON",
                crate::error::Exit::Unavailable,
            ),
            (
                403,
                b"<html>Forbidden by proxy</html>",
                "error body is not JSON",
                crate::error::Exit::Rejected,
            ),
            (
                400,
                br#"{"Message":"no code"}"#,
                "has no Code",
                crate::error::Exit::Rejected,
            ),
            (400, br#"{"Code":42}"#, "", crate::error::Exit::Rejected),
            (
                400,
                br#"{"Code":{"x":1}}"#,
                "has no Code",
                crate::error::Exit::Rejected,
            ),
        ];
        for (status, body, expected, exit) in cases {
            let err = read(*status, body).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{status} {body:?}: {err}"
            );
            assert_eq!(err.exit(), *exit, "{status} {body:?}");
        }
    }

    #[test]
    fn a_cut_body_is_reported_as_too_large() {
        let err = interpret(
            "CopyImage",
            "https://e",
            &Answer {
                status: 200,
                body: b"{\"ImageId\"",
                truncated: true,
            },
            &redactor(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
    }

    #[test]
    fn long_excerpts_are_cut() {
        let err = read(502, "x".repeat(10_000).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.len() < 600, "{}", err.len());
        assert!(err.contains('…'));
    }

    #[test]
    fn string_field_accepts_strings_and_numbers_only() {
        let v: Value = serde_json::json!({"A": "x", "B": 5, "C": null, "D": {"e": 1}});
        assert_eq!(string_field(&v, &["A"]).as_deref(), Some("x"));
        assert_eq!(string_field(&v, &["B"]).as_deref(), Some("5"));
        assert_eq!(string_field(&v, &["C", "D"]), None);
        assert_eq!(string_field(&v, &["Z", "A"]).as_deref(), Some("x"));
    }

    /// Structured but wrong: JSON of every shape under the documented keys.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("Code".to_owned()),
                        Just("Message".to_owned()),
                        Just("RequestId".to_owned()),
                        Just("ImageId".to_owned()),
                        "[A-Za-z]{1,8}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random bytes under any status: a value or a clear error, never a panic, and an
        /// error text that is terminal-safe.
        #[test]
        fn random_bytes_never_panic(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..512)) {
            match read(status, &body) {
                Ok(v) => prop_assert!((200..300).contains(&status) && v.is_object()),
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(!text.contains(char::from(0x1b)), "escape in {:?}", text);
                    prop_assert!(text.lines().count() < 12);
                }
            }
        }

        #[test]
        fn truncated_json_never_panics(cut in 0usize..120, status in prop_oneof![Just(200u16), Just(400u16), Just(503u16)]) {
            let full = br#"{"RequestId":"R","HostId":"h","Code":"Throttling","Message":"m","Recommend":"https://x","ImageId":"m-1"}"#;
            let body = &full[..cut.min(full.len())];
            let _ = read(status, body);
        }

        #[test]
        fn wrong_json_types_never_panic(status in 100u16..600, v in json_value()) {
            let body = serde_json::to_vec(&v).unwrap();
            if let Err(e) = read(status, &body) {
                let _ = (e.to_string(), e.exit(), e.summary());
            }
        }
    }
}
