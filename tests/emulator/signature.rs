//! The emulator's own RPC signature (SignatureVersion 1.0, HMAC-SHA1).
//!
//! Written independently of the CLI's signer: the percent-encoder below is
//! hand-rolled on purpose, so that a bug in the client's encoder cannot be
//! mirrored here and go unnoticed.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Alibaba Cloud percent-encoding: unreserved `A-Z a-z 0-9 - _ . ~` are kept,
/// every other byte of the UTF-8 form becomes `%XX` (upper-case hex).
/// So a space is `%20` (never `+`), `*` is `%2A`, `~` stays `~`.
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    for &byte in input.as_bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        if unreserved {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX_UPPER[usize::from(byte >> 4)] as char);
            out.push(HEX_UPPER[usize::from(byte & 0x0F)] as char);
        }
    }
    out
}

/// Why a query string or form body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits.
    BadEscape(String),
    /// The decoded bytes are not UTF-8.
    NotUtf8(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadEscape(part) => {
                write!(
                    f,
                    "The parameter \"{part}\" contains a malformed percent-escape."
                )
            }
            DecodeError::NotUtf8(part) => {
                write!(
                    f,
                    "The parameter \"{part}\" is not valid UTF-8 after percent-decoding."
                )
            }
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `%XX` escapes
/// and `+` as a space (as a servlet container does, so a client that forgets
/// to escape the `+` of a Base64 signature is caught).
pub fn percent_decode(raw: &[u8]) -> Result<String, DecodeError> {
    let shown = || String::from_utf8_lossy(raw).into_owned();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => bytes.push((hi << 4) | lo),
                    _ => return Err(DecodeError::BadEscape(shown())),
                }
                i += 3;
            }
            b'+' => {
                bytes.push(b' ');
                i += 1;
            }
            other => {
                bytes.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8(shown()))
}

/// Splits and decodes `k=v&k2=v2` (query string or form body), keeping the
/// received order. Empty segments and empty keys are skipped; `k` without
/// `=` has value "".
pub fn parse_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let mut pairs = Vec::new();
    for segment in raw.split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (key, value) = match segment.iter().position(|&b| b == b'=') {
            Some(eq) => (&segment[..eq], &segment[eq + 1..]),
            None => (segment, &b""[..]),
        };
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        if !key.is_empty() {
            pairs.push((key, value));
        }
    }
    Ok(pairs)
}

/// The canonicalized query string: every parameter except `Signature`,
/// sorted by key (byte order; equal keys by value), each `enc(k)=enc(v)`,
/// joined by `&`.
pub fn canonicalized_query<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != "Signature")
        .collect();
    pairs.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then(a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    encoded.join("&")
}

/// `METHOD & enc("/") & enc(canonicalized query)`.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(method: &str, params: &[(K, V)]) -> String {
    format!(
        "{}&{}&{}",
        method,
        percent_encode("/"),
        percent_encode(&canonicalized_query(params))
    )
}

/// Base64(HMAC-SHA1(key = secret + "&", string_to_sign)).
pub fn hmac_sha1_base64(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    let mut mac =
        Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The signature of `params` (any `Signature` entry is ignored) sent with `method`.
pub fn sign<K: AsRef<str>, V: AsRef<str>>(method: &str, params: &[(K, V)], secret: &str) -> String {
    hmac_sha1_base64(secret, &string_to_sign(method, params))
}

/// A complete query string for `params`, signed with `secret` for `method`:
/// the canonicalized query followed by `&Signature=…` (percent-encoded).
pub fn signed_query<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    params: &[(K, V)],
    secret: &str,
) -> String {
    let signature = sign(method, params, secret);
    format!(
        "{}&Signature={}",
        canonicalized_query(params),
        percent_encode(&signature)
    )
}
