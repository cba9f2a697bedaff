//! Request signing. Pure functions: the time, the nonce and the credentials are inputs.

pub mod v1;
pub mod v3;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the unreserved set `A-Z a-z 0-9 - _ . ~` is escaped as `%XY` (upper-case hex
/// of each UTF-8 byte): a space is `%20`, `*` is `%2A`, `~` stays. This is Alibaba Cloud's rule
/// for both signature versions, and it is not form encoding.
const ALIBABA_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Which signature a call carries (`--signature-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SignatureVersion {
    /// RPC signature 1.0 (HMAC-SHA1): parameters and signature in the query string, as the
    /// aliyun CLI signs
    #[default]
    V1,
    /// ACS3-HMAC-SHA256: API parameters in the query string, the call and the signature in
    /// x-acs-* and Authorization headers, as the newest SDKs sign
    V3,
}

/// An RPC call to sign: its action and API version, the host it is sent to (with the port when
/// it is not the default), and its parameters in the query string and in a form body.
pub struct Call<'a> {
    pub action: &'a str,
    pub api_version: &'a str,
    pub host: &'a str,
    pub query: &'a v1::Params,
    pub form: &'a v1::Params,
}

/// What to send: the query string (exactly what was signed), extra headers, and the form body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The one signing interface the client uses: it does not know which version signs. Every
/// call is POST, as the official SDKs send RPC calls.
pub fn sign(version: SignatureVersion, call: &Call, input: &v1::SigningInput) -> Signed {
    let body = (!call.form.is_empty()).then(|| v1::canonicalized_query(call.form));
    match version {
        SignatureVersion::V1 => {
            let mut all = call.query.clone();
            all.extend(call.form.iter().map(|(k, v)| (k.clone(), v.clone())));
            let all = v1::request_params(call.action, call.api_version, &all, input);
            let signature = v1::signature(
                input.access_key_secret,
                &v1::string_to_sign(v1::Method::Post, &v1::canonicalized_query(&all)),
            );
            let query: v1::Params = all
                .into_iter()
                .filter(|(k, _)| !call.form.contains_key(k))
                .collect();
            Signed {
                query: format!(
                    "{}&Signature={}",
                    v1::canonicalized_query(&query),
                    percent_encode(&signature)
                ),
                headers: Vec::new(),
                body,
            }
        }
        SignatureVersion::V3 => {
            let signed = v3::sign(
                "POST",
                call.host,
                call.action,
                call.api_version,
                call.query,
                body.as_deref().unwrap_or_default().as_bytes(),
                body.is_some().then_some(FORM_CONTENT_TYPE),
                &v3::V3Input {
                    access_key_id: input.access_key_id,
                    access_key_secret: input.access_key_secret,
                    security_token: input.security_token,
                    nonce: input.nonce,
                    time: input.time,
                },
            );
            Signed {
                query: signed.query,
                // The HTTP client sends `host` itself, with the same value.
                headers: signed
                    .headers
                    .into_iter()
                    .filter(|(k, _)| k != "host")
                    .collect(),
                body,
            }
        }
    }
}

/// Percent-encodes `s` the way Alibaba Cloud's signers do.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, ALIBABA_ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn params(pairs: &[(&str, &str)]) -> v1::Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn input() -> v1::SigningInput<'static> {
        v1::SigningInput {
            access_key_id: "testid",
            access_key_secret: "testsecret",
            security_token: None,
            nonce: "0123456789abcdef0123456789abcdef",
            time: chrono::Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    const COPY: &[(&str, &str)] = &[
        ("DestinationDescription", "copied by copy-image *~ é"),
        ("DestinationImageName", "my-copy"),
        ("DestinationRegionId", "cn-shanghai"),
        ("ImageId", "m-bp1h46wfpjsjastc****"),
        ("RegionId", "cn-hangzhou"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "prod"),
    ];

    /// Both versions through the one interface give the derived vectors of the official SDK.
    #[test]
    fn one_interface_for_both_versions() {
        let query = params(COPY);
        let form = v1::Params::new();
        let call = Call {
            action: "CopyImage",
            api_version: "2014-05-26",
            host: "ecs.cn-hangzhou.aliyuncs.com",
            query: &query,
            form: &form,
        };
        let v1 = sign(SignatureVersion::V1, &call, &input());
        assert!(
            v1.query
                .ends_with("&Signature=BneIrWtPwJuvSxiENsVF8%2F6ESU8%3D"),
            "{}",
            v1.query
        );
        assert!(v1.headers.is_empty() && v1.body.is_none());

        let v3 = sign(SignatureVersion::V3, &call, &input());
        assert!(
            !v3.query.contains("Action=") && !v3.query.contains("Signature"),
            "{}",
            v3.query
        );
        let auth = &v3
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        assert!(
            auth.ends_with(
                "Signature=d3e02e6e6cd88dfff09fd01f76d4e9bfc38d614b02d005dc70349606dbfe373f"
            ),
            "{auth}"
        );
        assert!(v3.headers.iter().all(|(k, _)| k != "host"));
        assert!(v3
            .headers
            .iter()
            .any(|(k, v)| k == "x-acs-action" && v == "CopyImage"));
    }

    #[test]
    fn form_parameters_travel_in_the_body_and_are_signed() {
        let query = v1::Params::new();
        let form = params(&[("RoleArn", "acs:ram::1:role/r"), ("RoleSessionName", "s")]);
        let call = Call {
            action: "AssumeRole",
            api_version: "2015-04-01",
            host: "sts.aliyuncs.com",
            query: &query,
            form: &form,
        };
        for version in [SignatureVersion::V1, SignatureVersion::V3] {
            let signed = sign(version, &call, &input());
            assert_eq!(
                signed.body.as_deref(),
                Some("RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr&RoleSessionName=s")
            );
            assert!(
                !signed.query.contains("RoleArn"),
                "{version:?}: {}",
                signed.query
            );
        }
        let v3 = sign(SignatureVersion::V3, &call, &input());
        assert!(v3
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == FORM_CONTENT_TYPE));
    }

    #[test]
    fn unreserved_characters_stay() {
        let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
        assert_eq!(percent_encode(unreserved), unreserved);
    }

    #[test]
    fn reserved_characters_are_escaped_in_upper_case_hex() {
        let cases = [
            (" ", "%20"),
            ("*", "%2A"),
            ("/", "%2F"),
            (":", "%3A"),
            (",", "%2C"),
            ("+", "%2B"),
            ("=", "%3D"),
            ("&", "%26"),
            ("%", "%25"),
            ("\"", "%22"),
            ("é", "%C3%A9"),
            ("中", "%E4%B8%AD"),
            ("😀", "%F0%9F%98%80"),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_encode(input), expected, "{input:?}");
        }
    }
}
