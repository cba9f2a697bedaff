//! The emulator's own signature V3 (`ACS3-HMAC-SHA256`) verification.
//!
//! Written independently of the CLI's signer (only the percent-encoder is
//! shared, with the emulator's V1 code, which is itself hand-rolled): the
//! `Authorization` parser, the canonicalization, the hex encoding, SHA-256
//! and HMAC handling are this file's own, so that a bug in the client cannot
//! be mirrored here and go unnoticed.
//!
//! ```text
//! CanonicalRequest = METHOD \n PATH \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(key = AccessKeySecret, StringToSign))
//! Authorization    = ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b;c>,Signature=<hex>
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::signature::percent_encode;

/// The only V3 algorithm the emulator knows.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// The headers every V3 request must carry (and sign).
pub const REQUIRED_HEADERS: &[&str] = &[
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "host",
];

/// Whether an `Authorization` header value claims signature V3: anything
/// starting with `ACS3-` (an `ACS3-` algorithm other than `ALGORITHM` is
/// then refused as unknown rather than taken for a V1 request).
pub fn is_v3_authorization(value: &str) -> bool {
    value.trim_start().starts_with("ACS3-")
}

/// Lower-case hex of every byte.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// `hex(sha256(data))`.
pub fn sha256_hex(data: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(data);
    to_hex(hasher.finalize().as_slice())
}

/// `hex(hmac_sha256(key = secret, message))`: the secret as it is, no `&`.
pub fn hmac_sha256_hex(secret: &str, message: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(message.as_bytes());
    to_hex(mac.finalize().into_bytes().as_slice())
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// Lower-case, sorted, without duplicates.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// `a;b;c`, as it goes into the canonical request.
    pub fn signed_header_list(&self) -> String {
        self.signed_headers.join(";")
    }
}

/// Parses `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`
/// (parts in any order, spaces around them ignored, unknown parts ignored).
/// The error says what is wrong.
pub fn parse_authorization(value: &str) -> Result<Authorization, String> {
    let value = value.trim();
    let (algorithm, rest) = match value.find(|c: char| c.is_ascii_whitespace()) {
        Some(at) => (&value[..at], value[at..].trim_start()),
        None => (value, ""),
    };
    if algorithm != ALGORITHM {
        return Err(format!(
            "the signature algorithm \"{algorithm}\" is not supported (expected {ALGORITHM})"
        ));
    }
    let mut parts: BTreeMap<&str, &str> = BTreeMap::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, content)) = part.split_once('=') else {
            return Err(format!("the part \"{part}\" is not name=value"));
        };
        if parts.insert(name.trim(), content.trim()).is_some() {
            return Err(format!("the part \"{}\" is given twice", name.trim()));
        }
    }
    let part = |name: &str| -> Result<&str, String> {
        parts
            .get(name)
            .copied()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{name} is missing"))
    };
    let access_key_id = part("Credential")?.to_string();
    let listed = part("SignedHeaders")?;
    let signature = part("Signature")?.to_string();
    let mut signed_headers: Vec<String> = Vec::new();
    for name in listed.split(';') {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("SignedHeaders \"{listed}\" has an empty name"));
        }
        signed_headers.push(name);
    }
    signed_headers.sort();
    signed_headers.dedup();
    Ok(Authorization {
        access_key_id,
        signed_headers,
        signature,
    })
}

/// The canonical query string: every pair, sorted by key bytes (then value
/// bytes), `enc(k)=enc(v)` joined by `&`; no pairs → "".
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut sorted: Vec<(&[u8], &[u8], &str, &str)> = pairs
        .iter()
        .map(|(k, v)| {
            let (k, v) = (k.as_ref(), v.as_ref());
            (k.as_bytes(), v.as_bytes(), k, v)
        })
        .collect();
    sorted.sort();
    let mut out = String::new();
    for (i, (_, _, k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// `name:value\n` for each signed name in the order given (lower-case,
/// sorted), the value being the request's header (first occurrence, matched
/// case-insensitively) trimmed. Err: the first signed name the request does
/// not carry.
pub fn canonical_headers(
    signed_names: &[String],
    headers: &[(String, String)],
) -> Result<String, String> {
    let mut out = String::new();
    for name in signed_names {
        let Some((_, value)) = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
            return Err(name.clone());
        };
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    Ok(out)
}

/// The six lines (the canonical headers bring their own trailing newline,
/// hence the empty line before the signed-header list).
pub fn canonical_request(
    method: &str,
    path: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_header_list: &str,
    payload_sha256: &str,
) -> String {
    [
        method,
        path,
        canonical_query,
        canonical_headers,
        signed_header_list,
        payload_sha256,
    ]
    .join("\n")
}

/// `ACS3-HMAC-SHA256\n` + hex(sha256(canonical request)).
pub fn string_to_sign(canonical_request: &str) -> String {
    let mut out = String::from(ALGORITHM);
    out.push('\n');
    out.push_str(&sha256_hex(canonical_request.as_bytes()));
    out
}

/// Signs by hand, for tests: the `Authorization` value for a request with
/// these query pairs and these headers (every one of them signed; they must
/// already hold `x-acs-content-sha256` if the request is to be accepted).
pub fn authorization_for(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    access_key_id: &str,
    secret: &str,
) -> String {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let canonical = canonical_headers(&names, headers).expect("every name comes from headers");
    let payload = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-acs-content-sha256"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| sha256_hex(b""));
    let list = names.join(";");
    let request = canonical_request(
        method,
        path,
        &canonical_query(query),
        &canonical,
        &list,
        &payload,
    );
    let signature = hmac_sha256_hex(secret, &string_to_sign(&request));
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={list},Signature={signature}")
}
