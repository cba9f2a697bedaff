//! RPC signature 1.0 (HMAC-SHA1), the signature of the official SDKs and the `aliyun` CLI for
//! RPC-style APIs such as ECS. Each stage of the algorithm is its own function:
//!
//! 1. [`canonicalized_query`]: every parameter but `Signature`, sorted by key bytes,
//!    `encode(key)=encode(value)` joined by `&`;
//! 2. [`string_to_sign`]: `METHOD&%2F&` + encode(canonicalized query);
//! 3. [`signature`]: Base64(HMAC-SHA1(key = secret + "&", string to sign));
//! 4. [`signed_query`]: the canonicalized query plus `&Signature=…`: the exact text sent.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::percent_encode;

/// Request parameters, ordered by key bytes as the canonicalization requires.
pub type Params = BTreeMap<String, String>;

pub const SIGNATURE_METHOD: &str = "HMAC-SHA1";
pub const SIGNATURE_VERSION: &str = "1.0";

/// The HTTP method is part of the string to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Stage 1: the canonicalized query string.
pub fn canonicalized_query(params: &Params) -> String {
    params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Stage 2: the string to sign.
pub fn string_to_sign(method: Method, canonicalized_query: &str) -> String {
    format!(
        "{}&{}&{}",
        method.as_str(),
        percent_encode("/"),
        percent_encode(canonicalized_query)
    )
}

/// Stage 3: the Base64 signature. The HMAC key is the secret followed by `&`.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = format!("{access_key_secret}&");
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Stage 4: the query string to send, byte for byte what was signed plus the signature.
pub fn signed_query(method: Method, params: &Params, access_key_secret: &str) -> String {
    let canonical = canonicalized_query(params);
    let sig = signature(access_key_secret, &string_to_sign(method, &canonical));
    format!("{canonical}&Signature={}", percent_encode(&sig))
}

/// The `Timestamp` form: `YYYY-MM-DDThh:mm:ssZ` in UTC.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Who signs, and the per-attempt values: a fresh nonce and the current time.
pub struct SigningInput<'a> {
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
    pub security_token: Option<&'a str>,
    pub nonce: &'a str,
    pub time: DateTime<Utc>,
}

/// The common parameters of every RPC call (`Format=JSON`, since the service's default is XML),
/// merged with the API's own parameters.
pub fn request_params(action: &str, version: &str, api: &Params, input: &SigningInput) -> Params {
    let mut params = api.clone();
    let common = [
        ("Action", action),
        ("Version", version),
        ("Format", "JSON"),
        ("AccessKeyId", input.access_key_id),
        ("SignatureMethod", SIGNATURE_METHOD),
        ("SignatureVersion", SIGNATURE_VERSION),
        ("SignatureNonce", input.nonce),
    ];
    for (k, v) in common {
        params.insert(k.to_owned(), v.to_owned());
    }
    params.insert("Timestamp".to_owned(), timestamp(input.time));
    if let Some(token) = input.security_token {
        params.insert("SecurityToken".to_owned(), token.to_owned());
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct VectorFile {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        method: String,
        secret: String,
        params: BTreeMap<String, String>,
        canonicalized_query_string: String,
        string_to_sign: String,
        signature: String,
    }

    fn method(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            other => panic!("unexpected method {other}"),
        }
    }

    /// Vectors computed by the official Python SDK (aliyun-python-sdk-core), the first two
    /// being the example published in Alibaba Cloud's signature documentation.
    fn official_vectors() -> Vec<Vector> {
        let file: VectorFile =
            serde_json::from_str(include_str!("../../tests/data/signature-vectors-v1.json"))
                .expect("vector file parses");
        assert!(file.vectors.len() >= 18, "vector file is complete");
        file.vectors
    }

    #[test]
    fn official_vectors_stage_by_stage() {
        for v in official_vectors() {
            let canonical = canonicalized_query(&v.params);
            assert_eq!(
                canonical, v.canonicalized_query_string,
                "{}: canonical",
                v.name
            );
            let sts = string_to_sign(method(&v.method), &canonical);
            assert_eq!(sts, v.string_to_sign, "{}: string to sign", v.name);
            assert_eq!(
                signature(&v.secret, &sts),
                v.signature,
                "{}: signature",
                v.name
            );
        }
    }

    #[test]
    fn published_example_a() {
        let params: Params = [
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Format", "XML"),
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("Version", "2014-05-26"),
            ("SignatureVersion", "1.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let sts = string_to_sign(Method::Get, &canonicalized_query(&params));
        assert_eq!(sts, "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26");
        assert_eq!(
            signature("testsecret", &sts),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
        let query = signed_query(Method::Get, &params, "testsecret");
        assert!(
            query.ends_with("&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"),
            "{query}"
        );
    }

    #[test]
    fn published_example_b_get_and_post() {
        let canonical = "AccessKeyId=testid&Action=DescribeDedicatedHosts&Format=JSON&RegionId=cn-beijing&SignatureMethod=HMAC-SHA1&SignatureNonce=edb2b34af0af9a6d14deaf7c1a5315eb&SignatureVersion=1.0&Timestamp=2023-03-13T08%3A34%3A30Z&Version=2014-05-26";
        let input = SigningInput {
            access_key_id: "testid",
            access_key_secret: "testsecret",
            security_token: None,
            nonce: "edb2b34af0af9a6d14deaf7c1a5315eb",
            time: Utc.with_ymd_and_hms(2023, 3, 13, 8, 34, 30).unwrap(),
        };
        let api: Params = [("RegionId".to_owned(), "cn-beijing".to_owned())].into();
        let params = request_params("DescribeDedicatedHosts", "2014-05-26", &api, &input);
        assert_eq!(canonicalized_query(&params), canonical);
        let get = string_to_sign(Method::Get, canonical);
        assert_eq!(
            signature("testsecret", &get),
            "9NaGiOspFP5UPcwX8Iwt2YJXXuk="
        );
        let post = string_to_sign(Method::Post, canonical);
        assert_eq!(
            signature("testsecret", &post),
            "ZvQ9xGiFnquSJRvj+WE6kdSpTwU="
        );
    }

    /// The derived CopyImage vector of the API research (official SDK code): pins `Tag.1.Key`
    /// flattening, `*`, `~`, space, UTF-8 and the sort order through `request_params`.
    #[test]
    fn derived_copy_image_vector() {
        let api: Params = [
            ("DestinationDescription", "copied by copy-image *~ é"),
            ("DestinationImageName", "my-copy"),
            ("DestinationRegionId", "cn-shanghai"),
            ("ImageId", "m-bp1h46wfpjsjastc****"),
            ("RegionId", "cn-hangzhou"),
            ("Tag.1.Key", "env"),
            ("Tag.1.Value", "prod"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let input = SigningInput {
            access_key_id: "testid",
            access_key_secret: "testsecret",
            security_token: None,
            nonce: "0123456789abcdef0123456789abcdef",
            time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        };
        let params = request_params("CopyImage", "2014-05-26", &api, &input);
        let canonical = canonicalized_query(&params);
        assert_eq!(canonical, "AccessKeyId=testid&Action=CopyImage&DestinationDescription=copied%20by%20copy-image%20%2A~%20%C3%A9&DestinationImageName=my-copy&DestinationRegionId=cn-shanghai&Format=JSON&ImageId=m-bp1h46wfpjsjastc%2A%2A%2A%2A&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=0123456789abcdef0123456789abcdef&SignatureVersion=1.0&Tag.1.Key=env&Tag.1.Value=prod&Timestamp=2024-01-02T03%3A04%3A05Z&Version=2014-05-26");
        let post = string_to_sign(Method::Post, &canonical);
        assert_eq!(
            signature("testsecret", &post),
            "BneIrWtPwJuvSxiENsVF8/6ESU8="
        );
        let get = string_to_sign(Method::Get, &canonical);
        assert_eq!(
            signature("testsecret", &get),
            "qnDV3dR+wXa4zWl03h2WoheOI/c="
        );
    }

    #[test]
    fn derived_describe_images_vectors_with_and_without_sts() {
        let api: Params = [
            ("ImageId", "m-uf6example0000000000"),
            ("ImageOwnerAlias", "self"),
            ("RegionId", "cn-shanghai"),
            (
                "Status",
                "Creating,Waiting,Available,UnAvailable,CreateFailed",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut input = SigningInput {
            access_key_id: "testid",
            access_key_secret: "testsecret",
            security_token: None,
            nonce: "0123456789abcdef0123456789abcdef",
            time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        };
        let sign = |input: &SigningInput| {
            let params = request_params("DescribeImages", "2014-05-26", &api, input);
            signature(
                input.access_key_secret,
                &string_to_sign(Method::Post, &canonicalized_query(&params)),
            )
        };
        assert_eq!(sign(&input), "fCal72LW9BeC+8Hoh0368Gu4BX0=");
        input.security_token = Some("CAIS/sts+token==");
        assert_eq!(sign(&input), "4PVZT4VAIVWXUsapXH1e9e7xo5A=");
    }

    #[test]
    fn signed_query_is_the_canonical_string_plus_the_encoded_signature() {
        let v = official_vectors()
            .into_iter()
            .find(|v| v.name == "tags-sort-order-post")
            .expect("vector present");
        let query = signed_query(Method::Post, &v.params, &v.secret);
        let expected = format!(
            "{}&Signature={}",
            v.canonicalized_query_string,
            percent_encode(&v.signature)
        );
        assert_eq!(query, expected);
    }

    #[test]
    fn timestamp_is_utc_seconds_with_z() {
        let t = Utc.with_ymd_and_hms(2023, 3, 13, 8, 34, 30).unwrap();
        assert_eq!(timestamp(t), "2023-03-13T08:34:30Z");
    }

    #[test]
    fn security_token_is_a_signed_parameter() {
        let input = SigningInput {
            access_key_id: "STS.id",
            access_key_secret: "s",
            security_token: Some("tok"),
            nonce: "n",
            time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        };
        let params = request_params("CopyImage", "2014-05-26", &Params::new(), &input);
        assert_eq!(params.get("SecurityToken").map(String::as_str), Some("tok"));
        assert!(canonicalized_query(&params).contains("SecurityToken=tok"));
    }
}
