//! Request signature V3 (`ACS3-HMAC-SHA256`), the default of the current official SDKs. The
//! API parameters travel in the query string, `Action`/`Version` and the rest of the envelope in
//! `x-acs-*` headers, and the proof in `Authorization`. Each stage is its own function:
//!
//! 1. [`canonical_query`]: the API parameters sorted by key bytes, `encode(k)=encode(v)`
//!    joined by `&` (the same percent-encoding as V1);
//! 2. [`canonical_headers`] and [`canonical_request`]: method, URI (`/` for RPC), query, the
//!    signed headers (`name:value\n` each), their names (`a;b;c`) and the body's SHA-256;
//! 3. [`string_to_sign`]: `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request;
//! 4. [`signature`]: hex HMAC-SHA256 with the secret itself as key (no `&`, unlike V1);
//! 5. [`authorization`]: the `Authorization` header.
//!
//! [`sign`] runs them all for one RPC call. Nothing here reads a clock, makes a nonce or does
//! I/O: the time, the nonce and the credentials are inputs ([`V3Input`]).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::percent_encode;
use super::v1::{self, Params};

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// The SHA-256 of an empty body, as `x-acs-content-sha256` carries it.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Stage 1: the canonical query string. `Params` is ordered by key bytes already; an empty map
/// gives the empty string.
pub fn canonical_query(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical headers (`name:value\n` for each, names lower-cased, values trimmed, sorted by
/// name) and the signed-header list (`a;b;c`), from (name, value) pairs in any order and case.
pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut normalized: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    normalized.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical = normalized
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect::<String>();
    let signed = normalized
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

/// Stage 2: the canonical request. `canonical_headers` already ends with a newline, so an empty
/// line separates it from `signed_headers`, as the specification requires.
pub fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    hashed_payload: &str,
) -> String {
    format!("{method}\n{uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}")
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Stage 3: the string to sign.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Stage 4: lower-case hex HMAC-SHA256 of the string to sign, keyed with the raw secret.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(access_key_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Stage 5: the `Authorization` header's value.
pub fn authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}")
}

/// What one signed V3 request consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The query string to send after `?`: exactly the canonical query (empty: send no `?`).
    pub query: String,
    /// The headers to send, names lower-case: the signed ones sorted by name, then
    /// `authorization`.
    pub headers: Vec<(String, String)>,
}

/// Who signs, and the per-attempt values: a fresh nonce and the current time.
pub struct V3Input<'a> {
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
    pub security_token: Option<&'a str>,
    pub nonce: &'a str,
    pub time: DateTime<Utc>,
}

/// Signs an RPC call. `host` is the `Host` header as it will be sent (with the port when it is
/// not the scheme's default); `query` holds the API parameters only (no `Action`, `Version` or
/// other V1 envelope); `body` is the exact body to send (empty for the usual RPC call) and
/// `content_type` its `Content-Type`, if any.
///
/// The headers: `host`, `x-acs-action`, `x-acs-version`, `x-acs-date` (`YYYY-MM-DDThh:mm:ssZ`),
/// `x-acs-signature-nonce`, `x-acs-content-sha256` (of `body`), `x-acs-security-token` with STS
/// credentials and `content-type` when given: all of them signed; then `authorization`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    host: &str,
    action: &str,
    version: &str,
    query: &Params,
    body: &[u8],
    content_type: Option<&str>,
    input: &V3Input,
) -> SignedRequest {
    let hashed_payload = sha256_hex(body);
    let mut headers: Vec<(String, String)> = [
        ("host", host.to_owned()),
        ("x-acs-action", action.to_owned()),
        ("x-acs-version", version.to_owned()),
        ("x-acs-date", v1::timestamp(input.time)),
        ("x-acs-signature-nonce", input.nonce.to_owned()),
        ("x-acs-content-sha256", hashed_payload.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(token) = input.security_token {
        headers.push(("x-acs-security-token".to_owned(), token.to_owned()));
    }
    if let Some(content_type) = content_type {
        headers.push(("content-type".to_owned(), content_type.to_owned()));
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));

    let query = canonical_query(query);
    let (canonical, signed) = canonical_headers(&headers);
    let request = canonical_request(method, "/", &query, &canonical, &signed, &hashed_payload);
    let sig = signature(input.access_key_secret, &string_to_sign(&request));
    headers.push((
        "authorization".to_owned(),
        authorization(input.access_key_id, &signed, &sig),
    ));
    SignedRequest { query, headers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn header<'a>(signed: &'a SignedRequest, name: &str) -> Option<&'a str> {
        signed
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    // The official worked example of Alibaba Cloud's V3 signature documentation ("fixed
    // parameter values"): ECS RunInstances in cn-shanghai, empty body.
    const OFFICIAL_ID: &str = "YourAccessKeyId";
    const OFFICIAL_SECRET: &str = "YourAccessKeySecret";
    const OFFICIAL_NONCE: &str = "3156853299f313e23d1673dc12e1703d";
    const OFFICIAL_HOST: &str = "ecs.cn-shanghai.aliyuncs.com";
    const OFFICIAL_IMAGE: &str = "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd";
    const OFFICIAL_QUERY: &str =
        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai";
    const OFFICIAL_SIGNED_HEADERS: &str =
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version";
    const OFFICIAL_CANONICAL_REQUEST: &str = "POST
/
ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai
host:ecs.cn-shanghai.aliyuncs.com
x-acs-action:RunInstances
x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
x-acs-date:2023-10-26T10:22:32Z
x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d
x-acs-version:2014-05-26

host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const OFFICIAL_HASHED_REQUEST: &str =
        "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259";
    const OFFICIAL_SIGNATURE: &str =
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0";
    const OFFICIAL_AUTHORIZATION: &str = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0";

    fn official_time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 10, 26, 10, 22, 32).unwrap()
    }

    fn official_params() -> Params {
        params(&[("RegionId", "cn-shanghai"), ("ImageId", OFFICIAL_IMAGE)])
    }

    #[test]
    fn official_example_stage_by_stage() {
        let query = canonical_query(&official_params());
        assert_eq!(query, OFFICIAL_QUERY);

        // Given out of order and in mixed case: the canonicalization sorts and lower-cases.
        let (canonical, signed) = canonical_headers(&pairs(&[
            ("x-acs-version", "2014-05-26"),
            ("X-Acs-Date", "2023-10-26T10:22:32Z"),
            ("Host", OFFICIAL_HOST),
            ("x-acs-signature-nonce", OFFICIAL_NONCE),
            ("x-acs-action", "RunInstances"),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256),
        ]));
        assert_eq!(signed, OFFICIAL_SIGNED_HEADERS);
        assert_eq!(
            canonical,
            "host:ecs.cn-shanghai.aliyuncs.com\n\
             x-acs-action:RunInstances\n\
             x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-acs-date:2023-10-26T10:22:32Z\n\
             x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
             x-acs-version:2014-05-26\n"
        );

        let request =
            canonical_request("POST", "/", &query, &canonical, &signed, EMPTY_BODY_SHA256);
        assert_eq!(request, OFFICIAL_CANONICAL_REQUEST);
        assert_eq!(sha256_hex(request.as_bytes()), OFFICIAL_HASHED_REQUEST);

        let sts = string_to_sign(&request);
        assert_eq!(sts, format!("ACS3-HMAC-SHA256\n{OFFICIAL_HASHED_REQUEST}"));
        let sig = signature(OFFICIAL_SECRET, &sts);
        assert_eq!(sig, OFFICIAL_SIGNATURE);
        assert_eq!(
            authorization(OFFICIAL_ID, &signed, &sig),
            OFFICIAL_AUTHORIZATION
        );
    }

    #[test]
    fn sign_reproduces_the_official_example() {
        let input = V3Input {
            access_key_id: OFFICIAL_ID,
            access_key_secret: OFFICIAL_SECRET,
            security_token: None,
            nonce: OFFICIAL_NONCE,
            time: official_time(),
        };
        let signed = sign(
            "POST",
            OFFICIAL_HOST,
            "RunInstances",
            "2014-05-26",
            &official_params(),
            b"",
            None,
            &input,
        );
        assert_eq!(signed.query, OFFICIAL_QUERY);
        assert_eq!(
            signed.headers,
            pairs(&[
                ("host", OFFICIAL_HOST),
                ("x-acs-action", "RunInstances"),
                ("x-acs-content-sha256", EMPTY_BODY_SHA256),
                ("x-acs-date", "2023-10-26T10:22:32Z"),
                ("x-acs-signature-nonce", OFFICIAL_NONCE),
                ("x-acs-version", "2014-05-26"),
                ("authorization", OFFICIAL_AUTHORIZATION),
            ])
        );
    }

    /// The derived CopyImage vector (official SDK code): the same API parameters as V1's
    /// derived vector, in the query, with and without an STS token.
    fn copy_image(security_token: Option<&str>) -> (SignedRequest, String) {
        let api = params(&[
            ("RegionId", "cn-hangzhou"),
            ("ImageId", "m-bp1h46wfpjsjastc****"),
            ("DestinationRegionId", "cn-shanghai"),
            ("DestinationImageName", "my-copy"),
            ("DestinationDescription", "copied by copy-image *~ é"),
            ("Tag.1.Key", "env"),
            ("Tag.1.Value", "prod"),
        ]);
        let input = V3Input {
            access_key_id: "testid",
            access_key_secret: "testsecret",
            security_token,
            nonce: "0123456789abcdef0123456789abcdef",
            time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        };
        let signed = sign(
            "POST",
            "ecs.cn-hangzhou.aliyuncs.com",
            "CopyImage",
            "2014-05-26",
            &api,
            b"",
            None,
            &input,
        );
        // The string to sign, recomputed stage by stage from what is sent.
        let (canonical, names) = canonical_headers(
            &signed
                .headers
                .iter()
                .filter(|(k, _)| k != "authorization")
                .cloned()
                .collect::<Vec<_>>(),
        );
        let request = canonical_request(
            "POST",
            "/",
            &signed.query,
            &canonical,
            &names,
            EMPTY_BODY_SHA256,
        );
        (signed, string_to_sign(&request))
    }

    const COPY_QUERY: &str = "DestinationDescription=copied%20by%20copy-image%20%2A~%20%C3%A9&DestinationImageName=my-copy&DestinationRegionId=cn-shanghai&ImageId=m-bp1h46wfpjsjastc%2A%2A%2A%2A&RegionId=cn-hangzhou&Tag.1.Key=env&Tag.1.Value=prod";

    #[test]
    fn derived_copy_image_vector() {
        let (signed, sts) = copy_image(None);
        assert_eq!(signed.query, COPY_QUERY);
        assert_eq!(
            sts,
            "ACS3-HMAC-SHA256\n84c0eb04ebdc6049a5f81a00afac04f9c087e9ecd32f6a387e1039d55b2e61fe"
        );
        assert_eq!(
            signature("testsecret", &sts),
            "d3e02e6e6cd88dfff09fd01f76d4e9bfc38d614b02d005dc70349606dbfe373f"
        );
        assert_eq!(
            header(&signed, "authorization"),
            Some(
                "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=d3e02e6e6cd88dfff09fd01f76d4e9bfc38d614b02d005dc70349606dbfe373f"
            )
        );
        assert_eq!(header(&signed, "x-acs-security-token"), None);
    }

    #[test]
    fn derived_copy_image_vector_with_sts_token() {
        let (signed, _) = copy_image(Some("CAIS/sts+token=="));
        assert_eq!(signed.query, COPY_QUERY);
        assert_eq!(
            header(&signed, "x-acs-security-token"),
            Some("CAIS/sts+token==")
        );
        assert_eq!(
            header(&signed, "authorization"),
            Some(
                "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature=14a1db4d73ff5e8fea78ec4620c2d114964f20b9c68a79040d675fe216deeea8"
            )
        );
    }

    #[test]
    fn sha256_of_nothing_is_the_empty_body_constant() {
        assert_eq!(sha256_hex(b""), EMPTY_BODY_SHA256);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn canonical_headers_lower_case_trim_and_sort() {
        let (canonical, signed) = canonical_headers(&pairs(&[
            ("X-Acs-Version", "  2014-05-26 "),
            ("Content-Type", "\tapplication/x-www-form-urlencoded"),
            (" HOST ", "example.com:8080"),
            ("x-acs-action", "CopyImage  "),
        ]));
        assert_eq!(
            canonical,
            "content-type:application/x-www-form-urlencoded\n\
             host:example.com:8080\n\
             x-acs-action:CopyImage\n\
             x-acs-version:2014-05-26\n"
        );
        assert_eq!(signed, "content-type;host;x-acs-action;x-acs-version");
        assert_eq!(canonical_headers(&[]), (String::new(), String::new()));
    }

    #[test]
    fn canonical_query_encodes_like_v1_and_is_empty_without_parameters() {
        assert_eq!(canonical_query(&Params::new()), "");
        let query = canonical_query(&params(&[
            ("b", "x y"),
            ("a", "1/2"),
            ("B", "中"),
            ("Tag.10.Key", "k"),
            ("Tag.2.Key", "k"),
        ]));
        assert_eq!(
            query,
            "B=%E4%B8%AD&Tag.10.Key=k&Tag.2.Key=k&a=1%2F2&b=x%20y"
        );
    }

    #[test]
    fn sts_adds_the_signed_token_header_and_a_body_is_hashed_and_typed() {
        let input = V3Input {
            access_key_id: "STS.id",
            access_key_secret: "s",
            security_token: Some("tok"),
            nonce: "n",
            time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        };
        let body = b"RoleArn=acs%3Aram";
        let signed = sign(
            "POST",
            "127.0.0.1:8080",
            "AssumeRole",
            "2015-04-01",
            &Params::new(),
            body,
            Some("application/x-www-form-urlencoded"),
            &input,
        );
        assert_eq!(signed.query, "");
        assert_eq!(header(&signed, "x-acs-security-token"), Some("tok"));
        assert_eq!(
            header(&signed, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(header(&signed, "x-acs-date"), Some("2024-01-02T03:04:05Z"));
        assert_eq!(
            header(&signed, "x-acs-content-sha256"),
            Some(sha256_hex(body).as_str())
        );
        assert_ne!(sha256_hex(body), EMPTY_BODY_SHA256);
        let authorization = header(&signed, "authorization").unwrap();
        assert!(
            authorization.starts_with(
                "ACS3-HMAC-SHA256 Credential=STS.id,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature="
            ),
            "{authorization}"
        );
        // The signature covers the token: another token, another signature.
        let other = sign(
            "POST",
            "127.0.0.1:8080",
            "AssumeRole",
            "2015-04-01",
            &Params::new(),
            body,
            Some("application/x-www-form-urlencoded"),
            &V3Input {
                security_token: Some("tok2"),
                ..input
            },
        );
        assert_ne!(header(&other, "authorization"), Some(authorization));
        assert_eq!(
            signed.headers.last().map(|(k, _)| k.as_str()),
            Some("authorization")
        );
    }

    #[test]
    fn the_method_and_the_secret_are_part_of_the_signature() {
        let request = canonical_request("GET", "/", "", "host:h\n", "host", EMPTY_BODY_SHA256);
        let post = canonical_request("POST", "/", "", "host:h\n", "host", EMPTY_BODY_SHA256);
        assert_ne!(
            signature("k", &string_to_sign(&request)),
            signature("k", &string_to_sign(&post))
        );
        let sts = string_to_sign(&post);
        assert_ne!(signature("k", &sts), signature("k&", &sts));
        assert_eq!(signature("k", &sts).len(), 64);
    }
}
