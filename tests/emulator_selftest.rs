//! Tests of the ECS emulator itself: its signer against Alibaba's published
//! examples, and its HTTP behaviour driven by raw HTTP/1.1 requests; then its
//! STS, the metadata-service and credentials-URI fakes, and signature V3.

mod emulator;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use emulator::signature::{
    canonicalized_query, parse_pairs, percent_decode, percent_encode, sign, signed_query,
    string_to_sign,
};
use emulator::signature_v3;
use emulator::{
    Config, CredentialsUri, Emulator, Fault, Imds, ImdsConfig, IssuedKey, ACCESS_KEY_ID,
    ACCESS_KEY_SECRET, CREATING_IMAGE_ID, OIDC_PROVIDER_ARN, OIDC_TOKEN, ROLE_ARN, SOURCE_IMAGE_ID,
    SOURCE_REGION, STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_SECURITY_TOKEN,
};
use serde_json::Value;

const ALL_STATUSES: &str = "Creating,Waiting,Available,UnAvailable,CreateFailed";

// ------------------------------------------------------------------ signer

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn signer_reproduces_published_describe_regions_example() {
    // Deliberately not in sorted order: the signer must sort.
    let params = owned(&[
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Format", "XML"),
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("Version", "2014-05-26"),
        ("SignatureVersion", "1.0"),
    ]);
    assert_eq!(
        canonicalized_query(&params),
        "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1\
         &SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0\
         &Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
    );
    assert_eq!(
        string_to_sign("GET", &params),
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML\
         %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
         %26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    );
    assert_eq!(
        sign("GET", &params, "testsecret"),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
    assert_eq!(
        sign("POST", &params, "testsecret"),
        "MxbnVAM4w6sft9xjVpe/GCKueuk="
    );
    // The signature goes into the URL percent-encoded.
    assert!(signed_query("GET", &params, "testsecret")
        .ends_with("&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"));
    // A `Signature` parameter already present is not signed.
    let mut with_signature = params.clone();
    with_signature.push(("Signature".to_string(), "whatever".to_string()));
    assert_eq!(
        sign("GET", &with_signature, "testsecret"),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
}

#[test]
fn signer_reproduces_published_describe_dedicated_hosts_example() {
    let params = owned(&[
        ("AccessKeyId", "testid"),
        ("Action", "DescribeDedicatedHosts"),
        ("Format", "JSON"),
        ("RegionId", "cn-beijing"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "edb2b34af0af9a6d14deaf7c1a5315eb"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2023-03-13T08:34:30Z"),
        ("Version", "2014-05-26"),
    ]);
    assert_eq!(
        canonicalized_query(&params),
        "AccessKeyId=testid&Action=DescribeDedicatedHosts&Format=JSON&RegionId=cn-beijing\
         &SignatureMethod=HMAC-SHA1&SignatureNonce=edb2b34af0af9a6d14deaf7c1a5315eb\
         &SignatureVersion=1.0&Timestamp=2023-03-13T08%3A34%3A30Z&Version=2014-05-26"
    );
    assert_eq!(
        string_to_sign("GET", &params),
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeDedicatedHosts%26Format%3DJSON\
         %26RegionId%3Dcn-beijing%26SignatureMethod%3DHMAC-SHA1\
         %26SignatureNonce%3Dedb2b34af0af9a6d14deaf7c1a5315eb%26SignatureVersion%3D1.0\
         %26Timestamp%3D2023-03-13T08%253A34%253A30Z%26Version%3D2014-05-26"
    );
    assert_eq!(
        sign("GET", &params, "testsecret"),
        "9NaGiOspFP5UPcwX8Iwt2YJXXuk="
    );
    assert_eq!(
        sign("POST", &params, "testsecret"),
        "ZvQ9xGiFnquSJRvj+WE6kdSpTwU="
    );
}

#[test]
fn percent_encoding_follows_the_alibaba_rules() {
    assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
    assert_eq!(percent_encode(" "), "%20");
    assert_eq!(percent_encode("*"), "%2A");
    assert_eq!(percent_encode("/"), "%2F");
    assert_eq!(percent_encode(":"), "%3A");
    assert_eq!(percent_encode(","), "%2C");
    assert_eq!(percent_encode("+="), "%2B%3D");
    assert_eq!(percent_encode("é"), "%C3%A9");
    assert_eq!(percent_encode("镜像"), "%E9%95%9C%E5%83%8F");

    assert_eq!(percent_decode(b"a%20b+c%2Bd%7e").unwrap(), "a b c+d~");
    assert_eq!(percent_decode(b"%C3%A9").unwrap(), "é");
    assert!(percent_decode(b"%").is_err());
    assert!(percent_decode(b"%4").is_err());
    assert!(percent_decode(b"%G0").is_err());
    assert!(
        percent_decode(b"%FF%FE").is_err(),
        "invalid UTF-8 must be refused"
    );
    assert_eq!(
        parse_pairs(b"b=2&&a=&c&=z&d=x%3Dy").unwrap(),
        owned(&[("b", "2"), ("a", ""), ("c", ""), ("d", "x=y")])
    );
}

// ----------------------------------------------------------- raw HTTP client

struct HttpAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The error Code, from a JSON or an XML answer.
    fn code(&self) -> Option<String> {
        if self.body.starts_with("<?xml") {
            let start = self.body.find("<Code>")? + "<Code>".len();
            let end = self.body.find("</Code>")?;
            return self.body.get(start..end).map(str::to_string);
        }
        self.json()["Code"].as_str().map(str::to_string)
    }

    /// Checks status and Code; returns the JSON body (`Null` for XML).
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            (self.status, self.code().as_deref()),
            (status, Some(code)),
            "body: {}",
            self.body
        );
        if self.body.starts_with("<?xml") {
            Value::Null
        } else {
            self.json()
        }
    }

    #[track_caller]
    fn assert_ok(&self) -> Value {
        assert_eq!(self.status, 200, "body: {}", self.body);
        let json = self.json();
        assert!(json["RequestId"].is_string(), "no RequestId: {}", self.body);
        json
    }
}

/// What came back on a connection until it closed (or went quiet).
struct RawExchange {
    bytes: Vec<u8>,
    /// The read error that ended it, if it was not a clean end of file.
    error: Option<std::io::ErrorKind>,
}

/// Sends `request` over a fresh connection and reads until the connection
/// ends or nothing arrives for `timeout`.
fn exchange(addr: std::net::SocketAddr, request: &[u8], timeout: Duration) -> RawExchange {
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request).unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return RawExchange { bytes, error: None },
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return RawExchange {
                    bytes,
                    error: Some(e.kind()),
                }
            }
        }
    }
}

/// Parses an HTTP/1.1 answer (the body is whatever followed the head).
fn parse_answer(raw: &[u8]) -> Option<HttpAnswer> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(HttpAnswer {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Sends one request over a fresh connection (`Connection: close`).
fn send_raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> HttpAnswer {
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(body);
    let raw = exchange(addr, &request, Duration::from_secs(5));
    assert_eq!(raw.error, None, "the answer ended with an error");
    parse_answer(&raw.bytes).expect("an HTTP answer")
}

fn http(emu: &Emulator, method: &str, query: &str) -> HttpAnswer {
    let head = format!(
        "{method} /?{query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        emu.addr()
    );
    send_raw(emu.addr(), &head, b"")
}

fn http_form(emu: &Emulator, query: &str, body: &str) -> HttpAnswer {
    let head = format!(
        "POST /?{query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        emu.addr(),
        body.len()
    );
    send_raw(emu.addr(), &head, body.as_bytes())
}

fn timestamp(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Common parameters for `action` with a fresh nonce and the current time.
fn common(action: &str, key_id: &str) -> Vec<(String, String)> {
    owned(&[
        ("AccessKeyId", key_id),
        ("Action", action),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", &uuid::Uuid::new_v4().simple().to_string()),
        ("SignatureVersion", "1.0"),
        ("Timestamp", &timestamp(chrono::Duration::zero())),
        ("Version", "2014-05-26"),
    ])
}

fn with(mut params: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    params.extend(owned(extra));
    params
}

fn without(params: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    params.into_iter().filter(|(k, _)| k != name).collect()
}

/// A correctly signed call with the plain access key, sent with `method`.
fn call_as(emu: &Emulator, method: &str, action: &str, extra: &[(&str, &str)]) -> HttpAnswer {
    let params = with(common(action, ACCESS_KEY_ID), extra);
    http(
        emu,
        method,
        &signed_query(method, &params, ACCESS_KEY_SECRET),
    )
}

fn call(emu: &Emulator, action: &str, extra: &[(&str, &str)]) -> HttpAnswer {
    call_as(emu, "POST", action, extra)
}

fn copy(emu: &Emulator, extra: &[(&str, &str)]) -> HttpAnswer {
    let base = [
        ("RegionId", SOURCE_REGION),
        ("ImageId", SOURCE_IMAGE_ID),
        ("DestinationRegionId", "cn-shanghai"),
    ];
    // Later entries override earlier ones of the same name.
    let mut params: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .copied()
        .collect();
    params.extend(extra.iter().filter(|(_, v)| !v.is_empty()).copied());
    call(emu, "CopyImage", &params)
}

fn copied_id(emu: &Emulator, extra: &[(&str, &str)]) -> String {
    copy(emu, extra).assert_ok()["ImageId"]
        .as_str()
        .expect("an ImageId")
        .to_string()
}

fn describe(emu: &Emulator, region: &str, extra: &[(&str, &str)]) -> Value {
    let mut params = vec![("RegionId", region)];
    params.extend_from_slice(extra);
    call(emu, "DescribeImages", &params).assert_ok()
}

fn listed_ids(answer: &Value) -> Vec<String> {
    answer["Images"]["Image"]
        .as_array()
        .expect("Images.Image[]")
        .iter()
        .map(|i| i["ImageId"].as_str().unwrap().to_string())
        .collect()
}

fn fast_config() -> Config {
    Config {
        queue_time: Duration::from_millis(200),
        copy_time: Duration::from_millis(600),
        ..Config::default()
    }
}

fn slow_config() -> Config {
    Config {
        queue_time: Duration::from_secs(60),
        copy_time: Duration::from_secs(60),
        ..Config::default()
    }
}

// ------------------------------------------------------------ authentication

#[test]
fn a_correctly_signed_request_is_accepted_and_recorded() {
    let emu = Emulator::start();
    let answer = call_as(
        &emu,
        "GET",
        "DescribeImages",
        &[("RegionId", SOURCE_REGION)],
    );
    let json = answer.assert_ok();
    assert_eq!(listed_ids(&json), vec![SOURCE_IMAGE_ID.to_string()]);
    assert_eq!(json["TotalCount"], 1);
    assert_eq!(json["RegionId"], SOURCE_REGION);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let date = answer.header("date").expect("a Date header");
    assert!(date.ends_with(" GMT"), "{date}");

    let request_id = json["RequestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 36);
    assert_eq!(request_id, request_id.to_uppercase());

    let recorded = emu.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.action(), Some("DescribeImages"));
    assert_eq!(r.param("RegionId"), Some(SOURCE_REGION));
    assert!(r.raw_query.contains("Signature="));
    assert_eq!((r.status, r.code.as_deref()), (200, None));
    assert!(r.headers.iter().any(|(k, _)| k == "host"));
}

#[test]
fn a_flipped_signature_byte_is_refused_and_the_string_to_sign_echoed() {
    let emu = Emulator::start();
    let params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[("RegionId", "cn-beijing")],
    );
    let mut signature = sign("POST", &params, ACCESS_KEY_SECRET).into_bytes();
    signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
    let query = format!(
        "{}&Signature={}",
        canonicalized_query(&params),
        percent_encode(std::str::from_utf8(&signature).unwrap())
    );
    let json = http(&emu, "POST", &query).assert_error(400, "SignatureDoesNotMatch");
    let message = json["Message"].as_str().unwrap();
    let expected = format!(
        "Specified signature is not matched with our calculation. server string to sign is:{}",
        string_to_sign("POST", &params)
    );
    assert_eq!(message, expected);
    assert_eq!(json["HostId"], "ecs.cn-beijing.aliyuncs.com");
    assert_eq!(
        json["Recommend"],
        format!(
            "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch&product=Ecs&requestId={}",
            json["RequestId"].as_str().unwrap()
        )
    );
    let recorded = emu.requests();
    assert_eq!(recorded[0].code.as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(recorded[0].status, 400);
}

#[test]
fn the_http_method_and_the_secret_are_part_of_the_signature() {
    let emu = Emulator::start();
    let params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[("RegionId", SOURCE_REGION)],
    );
    // Signed for GET, sent as POST.
    http(
        &emu,
        "POST",
        &signed_query("GET", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "SignatureDoesNotMatch");
    let params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[("RegionId", SOURCE_REGION)],
    );
    http(&emu, "POST", &signed_query("POST", &params, "wrong-secret"))
        .assert_error(400, "SignatureDoesNotMatch");
    // An unescaped '+' in the signature decodes to a space, as on ECS.
    let params = owned(&[
        ("AccessKeyId", ACCESS_KEY_ID),
        ("Action", "DescribeImages"),
        ("Format", "JSON"),
        ("RegionId", SOURCE_REGION),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", &timestamp(chrono::Duration::zero())),
        ("Version", "2014-05-26"),
    ]);
    let signature = (0..200)
        .map(|i| {
            let mut p = params.clone();
            p.push((
                "SignatureNonce".to_string(),
                format!("plus-{i}-{}", uuid::Uuid::new_v4()),
            ));
            let s = sign("POST", &p, ACCESS_KEY_SECRET);
            (p, s)
        })
        .find(|(_, s)| s.contains('+'))
        .expect("one of 200 signatures contains a '+'");
    let (p, s) = signature;
    let query = format!("{}&Signature={s}", canonicalized_query(&p));
    http(&emu, "POST", &query).assert_error(400, "SignatureDoesNotMatch");
}

#[test]
fn form_body_parameters_are_signed_and_used() {
    let emu = Emulator::start();
    let query_params = common("DescribeImages", ACCESS_KEY_ID);
    let body_params = owned(&[("RegionId", SOURCE_REGION), ("ImageName", "base image")]);
    let mut all = query_params.clone();
    all.extend(body_params.clone());
    let query = format!(
        "{}&Signature={}",
        canonicalized_query(&query_params),
        percent_encode(&sign("POST", &all, ACCESS_KEY_SECRET))
    );
    // "base image" does not match "base-image": the filter was applied.
    let answer = http_form(&emu, &query, &canonicalized_query(&body_params));
    let json = answer.assert_ok();
    assert_eq!(json["TotalCount"], 0);
    let recorded = &emu.requests()[0];
    assert_eq!(recorded.param("ImageName"), Some("base image"));
    assert_eq!(recorded.body, "ImageName=base%20image&RegionId=cn-hangzhou");

    // The same body left out of the signature is refused.
    let query_params = common("DescribeImages", ACCESS_KEY_ID);
    let query = signed_query("POST", &query_params, ACCESS_KEY_SECRET);
    http_form(&emu, &query, "RegionId=cn-hangzhou").assert_error(400, "SignatureDoesNotMatch");
}

#[test]
fn a_reused_nonce_is_refused() {
    let emu = Emulator::start();
    let params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[("RegionId", SOURCE_REGION)],
    );
    let query = signed_query("POST", &params, ACCESS_KEY_SECRET);
    http(&emu, "POST", &query).assert_ok();
    let json = http(&emu, "POST", &query).assert_error(400, "SignatureNonceUsed");
    assert_eq!(
        json["Message"],
        "Specified signature nonce was used already."
    );
    // A request with a bad signature does not use up its nonce.
    let params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[("RegionId", SOURCE_REGION)],
    );
    http(&emu, "POST", &signed_query("POST", &params, "wrong"))
        .assert_error(400, "SignatureDoesNotMatch");
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_ok();
}

#[test]
fn timestamps_must_be_well_formed_and_fresh() {
    let emu = Emulator::start();
    for offset in [chrono::Duration::hours(-1), chrono::Duration::hours(1)] {
        let mut params = with(
            common("DescribeImages", ACCESS_KEY_ID),
            &[("RegionId", SOURCE_REGION)],
        );
        for (k, v) in params.iter_mut() {
            if k == "Timestamp" {
                *v = timestamp(offset);
            }
        }
        let json = http(
            &emu,
            "POST",
            &signed_query("POST", &params, ACCESS_KEY_SECRET),
        )
        .assert_error(400, "InvalidTimeStamp.Expired");
        assert_eq!(
            json["Message"],
            "Specified time stamp or date value is expired."
        );
    }
    // 5 minutes off is within the default 15 minutes.
    let mut params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[("RegionId", SOURCE_REGION)],
    );
    for (k, v) in params.iter_mut() {
        if k == "Timestamp" {
            *v = timestamp(chrono::Duration::minutes(-5));
        }
    }
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_ok();

    for bad in [
        "2024-01-02 03:04:05Z",
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05.000Z",
        "2024-13-02T03:04:05Z",
        "2024-02-30T03:04:05Z",
        "1706151845",
    ] {
        let mut params = with(
            common("DescribeImages", ACCESS_KEY_ID),
            &[("RegionId", SOURCE_REGION)],
        );
        for (k, v) in params.iter_mut() {
            if k == "Timestamp" {
                *v = bad.to_string();
            }
        }
        http(
            &emu,
            "POST",
            &signed_query("POST", &params, ACCESS_KEY_SECRET),
        )
        .assert_error(400, "IllegalTimestamp");
    }
}

#[test]
fn an_unknown_access_key_is_refused() {
    let emu = Emulator::start();
    let params = with(
        common("DescribeImages", "LTAI5tSomeoneElse"),
        &[("RegionId", SOURCE_REGION)],
    );
    let json = http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(404, "InvalidAccessKeyId.NotFound");
    assert_eq!(json["Message"], "Specified access key is not found.");
}

#[test]
fn sts_keys_need_their_security_token() {
    let emu = Emulator::start();
    let sts = |token: Option<&str>| {
        let mut params = with(
            common("DescribeImages", STS_ACCESS_KEY_ID),
            &[("RegionId", SOURCE_REGION)],
        );
        if let Some(token) = token {
            params.push(("SecurityToken".to_string(), token.to_string()));
        }
        http(
            &emu,
            "POST",
            &signed_query("POST", &params, STS_ACCESS_KEY_SECRET),
        )
    };
    sts(Some(STS_SECURITY_TOKEN)).assert_ok();
    sts(None).assert_error(400, "MissingSecurityToken");
    sts(Some("CAIS/another+token=="))
        .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");

    let params = with(
        common("DescribeImages", ACCESS_KEY_ID),
        &[
            ("RegionId", SOURCE_REGION),
            ("SecurityToken", STS_SECURITY_TOKEN),
        ],
    );
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "InvalidSecurityToken.Malformed");
    // The STS token must be signed like any parameter: a token appended
    // after signing breaks the signature.
    let params = with(
        common("DescribeImages", STS_ACCESS_KEY_ID),
        &[("RegionId", SOURCE_REGION)],
    );
    let query = format!(
        "{}&SecurityToken={}",
        signed_query("POST", &params, STS_ACCESS_KEY_SECRET),
        percent_encode(STS_SECURITY_TOKEN)
    );
    http(&emu, "POST", &query).assert_error(400, "SignatureDoesNotMatch");
}

#[test]
fn common_parameters_are_checked_in_order() {
    let emu = Emulator::start();
    let base = || {
        with(
            common("DescribeImages", ACCESS_KEY_ID),
            &[("RegionId", SOURCE_REGION)],
        )
    };
    for name in [
        "AccessKeyId",
        "SignatureNonce",
        "Timestamp",
        "SignatureMethod",
        "SignatureVersion",
        "Version",
        "Action",
    ] {
        let params = without(base(), name);
        let json = http(
            &emu,
            "POST",
            &signed_query("POST", &params, ACCESS_KEY_SECRET),
        )
        .assert_error(400, "MissingParameter");
        assert_eq!(
            json["Message"],
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            )
        );
    }
    http(&emu, "POST", &canonicalized_query(&base())).assert_error(400, "IncompleteSignature");

    let replace = |name: &str, value: &str| {
        let params: Vec<(String, String)> = base()
            .into_iter()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        http(
            &emu,
            "POST",
            &signed_query("POST", &params, ACCESS_KEY_SECRET),
        )
    };
    let json = replace("SignatureMethod", "HMAC-SHA256").assert_error(400, "InvalidParameter");
    assert!(json["Message"]
        .as_str()
        .unwrap()
        .contains("SignatureMethod"));
    let json = replace("SignatureVersion", "2.0").assert_error(400, "InvalidParameter");
    assert!(json["Message"]
        .as_str()
        .unwrap()
        .contains("SignatureVersion"));
    replace("Version", "2016-03-14").assert_error(400, "InvalidVersion");
    replace("Action", "DescribeRegionz").assert_error(404, "InvalidAction.NotFound");
}

#[test]
fn without_format_json_the_answer_is_xml() {
    let emu = Emulator::start();
    let params = with(
        without(common("CopyImage", ACCESS_KEY_ID), "Format"),
        &[
            ("RegionId", SOURCE_REGION),
            ("ImageId", SOURCE_IMAGE_ID),
            ("DestinationRegionId", "cn-beijing"),
        ],
    );
    let answer = http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("text/xml;charset=utf-8")
    );
    let copies = emu.images_in("cn-beijing");
    assert_eq!(copies.len(), 1);
    assert!(
        answer
            .body
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><CopyImageResponse><RequestId>"),
        "{}",
        answer.body
    );
    assert!(answer.body.ends_with(&format!(
        "<ImageId>{}</ImageId></CopyImageResponse>",
        copies[0].image_id
    )));

    // Errors too, with Format=XML.
    let params = with(
        without(common("CopyImage", ACCESS_KEY_ID), "Format"),
        &[("RegionId", SOURCE_REGION), ("Format", "XML")],
    );
    let answer = http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    );
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("<Error><RequestId>"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("<Code>MissingParameter</Code>"),
        "{}",
        answer.body
    );
    assert!(answer.header("date").is_some());

    // Lists repeat their element name, as ECS writes them.
    let params = with(
        without(common("DescribeImages", ACCESS_KEY_ID), "Format"),
        &[("RegionId", SOURCE_REGION)],
    );
    let answer = http(
        &emu,
        "GET",
        &signed_query("GET", &params, ACCESS_KEY_SECRET),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.starts_with(
            "<?xml version='1.0' encoding='UTF-8'?><DescribeImagesResponse><RequestId>"
        ),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains("<Images><Image><Architecture>x86_64</Architecture>")
            && answer
                .body
                .contains(&format!("<ImageId>{SOURCE_IMAGE_ID}</ImageId>"))
            && answer.body.contains("<TotalCount>1</TotalCount>")
            && answer
                .body
                .contains("<DiskDeviceMappings><DiskDeviceMapping><Device>/dev/xvda</Device>")
            && answer.body.ends_with("</DescribeImagesResponse>"),
        "{}",
        answer.body
    );
}

#[test]
fn malformed_requests_get_ecs_errors_and_never_break_the_server() {
    let emu = Emulator::start();
    let addr = emu.addr();
    let get = |target: &str| {
        send_raw(
            addr,
            &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            b"",
        )
    };
    // Without Format=JSON the answers are XML, still ECS errors.
    get("/").assert_error(400, "MissingParameter");
    get("/?").assert_error(400, "MissingParameter");
    get("/?%").assert_error(400, "InvalidParameter");
    get("/?Format=JSON&Action=%ZZ").assert_error(400, "InvalidParameter");
    get("/?Format=JSON&Action=%FF%FE").assert_error(400, "InvalidParameter");
    get("/?Format=JSON&=&=&&").assert_error(400, "MissingParameter");
    get("/?Format=JSON&Action=A&Action=B").assert_error(400, "InvalidParameter");
    get("/other?Format=JSON&Action=DescribeImages").assert_error(404, "InvalidAction.NotFound");
    send_raw(
        addr,
        "PUT /?Action=CopyImage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"",
    )
    .assert_error(403, "UnsupportedHTTPMethod");
    // A form body that is not UTF-8.
    send_raw(
        addr,
        "POST /?Format=JSON HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\n",
        b"a=%C3%28&",
    )
    .assert_error(400, "InvalidParameter");
    let answer = get("/?Action=CopyImage");
    assert_eq!(
        answer.header("content-type"),
        Some("text/xml;charset=utf-8")
    );
    answer.assert_error(400, "MissingParameter");
    // Still serving.
    call(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]).assert_ok();
    assert_eq!(emu.requests().len(), 12);
}

// ------------------------------------------------------------------ CopyImage

#[test]
fn copy_image_creates_the_copy_with_everything_asked_for() {
    let emu = Emulator::start_with(slow_config());
    let id = copied_id(
        &emu,
        &[
            ("DestinationImageName", "my-copy.v1:镜像_x"),
            ("DestinationDescription", "copied by copy-image *~ é"),
            ("Encrypted", "true"),
            ("KMSKeyId", "0e478b7a-4262-4802-b8cb-00d3fb40****"),
            ("ResourceGroupId", "rg-acfmxazb4ph****"),
            ("Tag.10.Key", "tenth"),
            ("Tag.10.Value", "10"),
            ("Tag.2.Key", "env"),
            ("Tag.2.Value", "prod"),
            ("Tag.1.Key", "empty-value"),
            ("ClientToken", "123e4567-e89b-12d3-a456-426655440000"),
        ],
    );
    assert!(id.starts_with("m-"), "{id}");
    assert_eq!(id.len(), 22);
    assert!(id[2..]
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));

    let view = emu.image("cn-shanghai", &id).expect("the copy exists");
    assert_eq!(view.name, "my-copy.v1:镜像_x");
    assert_eq!(view.description, "copied by copy-image *~ é");
    assert_eq!(view.encrypted, Some(true));
    assert_eq!(
        view.kms_key_id.as_deref(),
        Some("0e478b7a-4262-4802-b8cb-00d3fb40****")
    );
    assert_eq!(
        view.resource_group_id.as_deref(),
        Some("rg-acfmxazb4ph****")
    );
    assert_eq!(
        view.tags,
        owned(&[("empty-value", ""), ("env", "prod"), ("tenth", "10")])
    );
    assert_eq!(view.source_image_id.as_deref(), Some(SOURCE_IMAGE_ID));
    assert_eq!(
        view.client_token.as_deref(),
        Some("123e4567-e89b-12d3-a456-426655440000")
    );
    assert_eq!(view.status, "Waiting");
    assert!(emu.image(SOURCE_REGION, &id).is_none());

    let json = describe(
        &emu,
        "cn-shanghai",
        &[("ImageId", &id), ("Status", ALL_STATUSES)],
    );
    let image = &json["Images"]["Image"][0];
    assert_eq!(image["ImageName"], "my-copy.v1:镜像_x");
    assert_eq!(image["IsCopied"], true);
    assert_eq!(image["ResourceGroupId"], "rg-acfmxazb4ph****");
    assert_eq!(image["Tags"]["Tag"][1]["TagKey"], "env");
    assert_eq!(image["Tags"]["Tag"][1]["TagValue"], "prod");
    let disk = &image["DiskDeviceMappings"]["DiskDeviceMapping"][0];
    assert_eq!(disk["Encrypted"], "true");
    assert!(disk["RemainTime"].as_u64().unwrap() > 100);
    let created = image["CreationTime"].as_str().unwrap();
    assert_eq!(created.len(), 20);
    assert!(created.ends_with('Z'));

    // The name is now taken in the destination region, not elsewhere.
    copy(&emu, &[("DestinationImageName", "my-copy.v1:镜像_x")])
        .assert_error(400, "InvalidImageName.Duplicated");
    copy(
        &emu,
        &[
            ("DestinationImageName", "my-copy.v1:镜像_x"),
            ("DestinationRegionId", "cn-beijing"),
        ],
    )
    .assert_ok();
    copy(&emu, &[("DestinationImageName", "base-image")]).assert_ok();
}

/// Extra CopyImage parameters (an empty value drops a default one), the
/// expected HTTP status and error Code.
type CopyCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

#[test]
fn copy_image_validates_like_ecs() {
    let emu = Emulator::start_with(slow_config());
    let long_name = format!("a{}", "b".repeat(128));
    let long_tag = "k".repeat(129);
    let cases: Vec<CopyCase> = vec![
        (vec![("RegionId", "")], 400, "MissingParameter"),
        (
            vec![("RegionId", "cn-nowhere")],
            400,
            "SourceRegion.NotFound",
        ),
        (vec![("ImageId", "")], 400, "MissingParameter"),
        (
            vec![("DestinationRegionId", "mars-1")],
            400,
            "DestinationRegion.NotFound",
        ),
        (
            vec![("DestinationRegionId", SOURCE_REGION)],
            403,
            "IncorrectDestinationRegion",
        ),
        (
            vec![("DestinationRegionId", "")],
            403,
            "IncorrectDestinationRegion",
        ),
        (
            vec![("ImageId", "m-doesnotexist")],
            404,
            "InvalidImageId.NotFound",
        ),
        (
            vec![("ImageId", CREATING_IMAGE_ID)],
            400,
            "IncorrectImageStatus",
        ),
        (vec![("Encrypted", "True")], 400, "InvalidParameter"),
        (vec![("Encrypted", "1")], 400, "InvalidParameter"),
        (
            vec![("KMSKeyId", "key")],
            400,
            "InvalidParameter.EncryptedIllegal",
        ),
        (
            vec![("KMSKeyId", "key"), ("Encrypted", "false")],
            400,
            "InvalidParameter.EncryptedIllegal",
        ),
        (
            vec![("DestinationImageName", "a")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", &long_name)],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "1abc")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "-abc")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "has space")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "slash/no")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "aliyun-copy")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "acs:copy")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "http://x")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationImageName", "café")],
            400,
            "InvalidImageName.Malformed",
        ),
        (
            vec![("DestinationDescription", "x")],
            400,
            "InvalidDescription.Malformed",
        ),
        (
            vec![("DestinationDescription", "https://example")],
            400,
            "InvalidDescription.Malformed",
        ),
        (vec![("Tag.0.Key", "k")], 400, "InvalidParameter"),
        (vec![("Tag.21.Key", "k")], 400, "InvalidParameter"),
        (vec![("Tag.x.Key", "k")], 400, "InvalidParameter"),
        (vec![("Tag.1.key", "k")], 400, "InvalidParameter"),
        (vec![("Tag.1.Value", "v")], 400, "InvalidParameter"),
        (
            vec![("Tag.1.Key", "aliyun:x")],
            400,
            "InvalidTagKey.Malformed",
        ),
        (vec![("Tag.1.Key", "acs:x")], 400, "InvalidTagKey.Malformed"),
        (
            vec![("Tag.1.Key", &long_tag)],
            400,
            "InvalidTagKey.Malformed",
        ),
        (
            vec![("Tag.1.Key", "k"), ("Tag.1.Value", &long_tag)],
            400,
            "InvalidTagValue.Malformed",
        ),
        (
            vec![("ResourceGroupId", "group-1")],
            404,
            "InvalidResourceGroup.NotFound",
        ),
        (vec![("DryRun", "true")], 400, "DryRunOperation"),
    ];
    for (extra, status, code) in &cases {
        let answer = copy(&emu, extra);
        assert_eq!(
            (answer.status, answer.code().as_deref()),
            (*status, Some(*code)),
            "{extra:?}: {}",
            answer.body
        );
    }
    // An empty Tag.N.Key is sent but empty.
    let params = with(
        common("CopyImage", ACCESS_KEY_ID),
        &[
            ("RegionId", SOURCE_REGION),
            ("ImageId", SOURCE_IMAGE_ID),
            ("DestinationRegionId", "cn-beijing"),
            ("Tag.1.Key", ""),
        ],
    );
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "InvalidTagKey.Malformed");

    assert!(
        emu.images_in("cn-shanghai").is_empty(),
        "no failed call made a copy"
    );
    assert!(emu.images_in("cn-beijing").is_empty());
    // 128 characters exactly, starting with a Chinese character, is fine.
    let name = format!("镜{}", "x".repeat(127));
    copy(&emu, &[("DestinationImageName", &name)]).assert_ok();
}

#[test]
fn client_token_replays_answer_the_same_image_and_mismatches_are_refused() {
    let emu = Emulator::start_with(slow_config());
    let token = "copy-image-token-0001";
    let first = copied_id(
        &emu,
        &[("ClientToken", token), ("DestinationImageName", "replayed")],
    );
    // Same parameters, new nonce/timestamp/signature: same ImageId, no new copy
    // (even though the name is now taken).
    let again = copied_id(
        &emu,
        &[("ClientToken", token), ("DestinationImageName", "replayed")],
    );
    assert_eq!(first, again);
    assert_eq!(emu.images_in("cn-shanghai").len(), 1);

    copy(
        &emu,
        &[("ClientToken", token), ("DestinationImageName", "changed")],
    )
    .assert_error(400, "IdempotentParameterMismatch");
    copy(&emu, &[("ClientToken", token)]).assert_error(400, "IdempotentParameterMismatch");

    // Tokens belong to an access key: the STS key gets its own copy.
    let params = with(
        common("CopyImage", STS_ACCESS_KEY_ID),
        &[
            ("RegionId", SOURCE_REGION),
            ("ImageId", SOURCE_IMAGE_ID),
            ("DestinationRegionId", "cn-shanghai"),
            ("ClientToken", token),
            ("SecurityToken", STS_SECURITY_TOKEN),
        ],
    );
    let other = http(
        &emu,
        "POST",
        &signed_query("POST", &params, STS_ACCESS_KEY_SECRET),
    )
    .assert_ok()["ImageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(other, first);
    assert_eq!(emu.images_in("cn-shanghai").len(), 2);

    // Without a token, every call is a new copy.
    let a = copied_id(&emu, &[]);
    let b = copied_id(&emu, &[]);
    assert_ne!(a, b);

    let too_long = "t".repeat(65);
    copy(&emu, &[("ClientToken", &too_long)]).assert_error(400, "InvalidParameter");
}

// ------------------------------------------------- DescribeImages, progression

#[test]
fn describe_images_lists_copies_in_progress_only_when_asked() {
    let emu = Emulator::start_with(slow_config());
    let id = copied_id(&emu, &[("DestinationImageName", "in-progress")]);

    let default = describe(&emu, "cn-shanghai", &[("ImageId", &id)]);
    assert_eq!(default["TotalCount"], 0);
    assert!(listed_ids(&default).is_empty());

    let all = describe(
        &emu,
        "cn-shanghai",
        &[("ImageId", &id), ("Status", ALL_STATUSES)],
    );
    assert_eq!(listed_ids(&all), vec![id.clone()]);
    assert_eq!(all["Images"]["Image"][0]["Status"], "Waiting");
    assert_eq!(all["Images"]["Image"][0]["Progress"], "0%");

    let waiting_only = describe(&emu, "cn-shanghai", &[("Status", "Waiting")]);
    assert_eq!(listed_ids(&waiting_only), vec![id.clone()]);
    let fuzzy = describe(
        &emu,
        "cn-shanghai",
        &[
            ("Status", ALL_STATUSES),
            ("ImageName", "progr"),
            ("ImageOwnerAlias", "self"),
        ],
    );
    assert_eq!(listed_ids(&fuzzy), vec![id.clone()]);
    let system = describe(
        &emu,
        "cn-shanghai",
        &[("Status", ALL_STATUSES), ("ImageOwnerAlias", "system")],
    );
    assert!(listed_ids(&system).is_empty());

    // The source region lists the seeded Available image by default, and the
    // Creating one only on request.
    let source = describe(&emu, SOURCE_REGION, &[]);
    assert_eq!(listed_ids(&source), vec![SOURCE_IMAGE_ID.to_string()]);
    let source_all = describe(&emu, SOURCE_REGION, &[("Status", ALL_STATUSES)]);
    assert_eq!(source_all["TotalCount"], 2);
    let several = describe(
        &emu,
        SOURCE_REGION,
        &[
            ("ImageId", &format!("{SOURCE_IMAGE_ID},{CREATING_IMAGE_ID}")),
            ("Status", "Creating"),
        ],
    );
    assert_eq!(listed_ids(&several), vec![CREATING_IMAGE_ID.to_string()]);
}

#[test]
fn describe_images_pages_and_validates() {
    let emu = Emulator::start();
    let json = describe(
        &emu,
        SOURCE_REGION,
        &[
            ("Status", ALL_STATUSES),
            ("PageSize", "1"),
            ("PageNumber", "2"),
        ],
    );
    assert_eq!(json["TotalCount"], 2);
    assert_eq!(json["PageNumber"], 2);
    assert_eq!(json["PageSize"], 1);
    assert_eq!(listed_ids(&json).len(), 1);
    let json = describe(&emu, SOURCE_REGION, &[]);
    assert_eq!(
        (json["PageNumber"].as_u64(), json["PageSize"].as_u64()),
        (Some(1), Some(10))
    );

    for (extra, status, code) in [
        (vec![("PageSize", "0")], 400, "InvalidParameter"),
        (vec![("PageSize", "101")], 400, "InvalidParameter"),
        (vec![("PageNumber", "0")], 400, "InvalidParameter"),
        (vec![("PageNumber", "x")], 400, "InvalidParameter"),
        (vec![("Status", "Copying")], 400, "InvalidParameter"),
    ] {
        let mut params = vec![("RegionId", SOURCE_REGION)];
        params.extend(extra);
        call(&emu, "DescribeImages", &params).assert_error(status, code);
    }
    call(&emu, "DescribeImages", &[]).assert_error(400, "MissingParameter");
    call(&emu, "DescribeImages", &[("RegionId", "xx-nowhere-1")])
        .assert_error(404, "InvalidRegionId.NotFound");
}

#[test]
fn a_copy_goes_waiting_then_creating_then_available() {
    let emu = Emulator::start_with(fast_config());
    let id = copied_id(&emu, &[]);
    let started = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    let mut progress: Vec<u32> = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        let json = describe(
            &emu,
            "cn-shanghai",
            &[("ImageId", &id), ("Status", ALL_STATUSES)],
        );
        let image = &json["Images"]["Image"][0];
        let status = image["Status"].as_str().unwrap().to_string();
        let pct = image["Progress"].as_str().unwrap();
        progress.push(pct.trim_end_matches('%').parse().unwrap());
        assert_eq!(
            image["DiskDeviceMappings"]["DiskDeviceMapping"][0]["Progress"],
            pct
        );
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "Available" {
            assert_eq!(pct, "100%");
            assert_eq!(
                image["DiskDeviceMappings"]["DiskDeviceMapping"][0]["RemainTime"],
                0
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    assert_eq!(seen, ["Waiting", "Creating", "Available"]);
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().any(|p| *p > 0 && *p < 100),
        "progress rose through the copy: {progress:?}"
    );
    // Once Available, the default DescribeImages lists it, and it can no
    // longer be cancelled.
    assert_eq!(
        listed_ids(&describe(&emu, "cn-shanghai", &[])),
        vec![id.clone()]
    );
    let json = call(
        &emu,
        "CancelCopyImage",
        &[("RegionId", "cn-shanghai"), ("ImageId", &id)],
    )
    .assert_error(400, "IncorrectImageStatus");
    assert_eq!(json["Message"], "The image has completed copy.");
    assert_eq!(emu.image("cn-shanghai", &id).unwrap().status, "Available");
}

#[test]
fn a_pinned_status_stays_and_is_reported() {
    let emu = Emulator::start_with(fast_config());
    let id = copied_id(&emu, &[]);
    emu.set_image_status("cn-shanghai", &id, "CreateFailed");
    std::thread::sleep(Duration::from_millis(900));
    let view = emu.image("cn-shanghai", &id).unwrap();
    assert_eq!(view.status, "CreateFailed");
    let json = describe(
        &emu,
        "cn-shanghai",
        &[("ImageId", &id), ("Status", ALL_STATUSES)],
    );
    assert_eq!(json["Images"]["Image"][0]["Status"], "CreateFailed");
    // A pinned source image can no longer be copied.
    emu.set_image_status(SOURCE_REGION, SOURCE_IMAGE_ID, "UnAvailable");
    copy(&emu, &[]).assert_error(400, "IncorrectImageStatus");
}

// ------------------------------------------------------------ CancelCopyImage

#[test]
fn cancel_copy_image_removes_a_copy_in_progress() {
    let emu = Emulator::start_with(slow_config());
    let id = copied_id(&emu, &[("DestinationImageName", "to-cancel")]);
    assert!(emu.image("cn-shanghai", &id).is_some());

    call(
        &emu,
        "CancelCopyImage",
        &[("RegionId", SOURCE_REGION), ("ImageId", &id)],
    )
    .assert_error(404, "InvalidImageId.NotFound");
    let json = call(
        &emu,
        "CancelCopyImage",
        &[("RegionId", "cn-shanghai"), ("ImageId", &id)],
    )
    .assert_ok();
    assert_eq!(json.as_object().unwrap().len(), 1, "only RequestId: {json}");
    assert!(emu.image("cn-shanghai", &id).is_none());
    assert!(emu.images_in("cn-shanghai").is_empty());
    let listed = describe(&emu, "cn-shanghai", &[("Status", ALL_STATUSES)]);
    assert_eq!(listed["TotalCount"], 0);
    // The name is free again.
    copy(&emu, &[("DestinationImageName", "to-cancel")]).assert_ok();

    call(
        &emu,
        "CancelCopyImage",
        &[("RegionId", "cn-shanghai"), ("ImageId", &id)],
    )
    .assert_error(404, "InvalidImageId.NotFound");
    call(
        &emu,
        "CancelCopyImage",
        &[("RegionId", SOURCE_REGION), ("ImageId", SOURCE_IMAGE_ID)],
    )
    .assert_error(400, "ImageCreatedNotFromCopy");
    call(&emu, "CancelCopyImage", &[("RegionId", "cn-shanghai")])
        .assert_error(400, "MissingParameter");
    call(&emu, "CancelCopyImage", &[("ImageId", &id)]).assert_error(400, "MissingParameter");
}

// ------------------------------------------------------------------ lifecycle

#[test]
fn dropping_the_emulator_stops_the_server() {
    let emu = Emulator::start();
    let addr = emu.addr();
    assert_eq!(emu.endpoint(), format!("http://127.0.0.1:{}", addr.port()));
    call(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]).assert_ok();
    let started = Instant::now();
    drop(emu);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "still accepting after drop"
    );
}

// ------------------------------------------------------------------- faults

/// The request line and headers for a POST of `query` (`Connection: close`).
fn post_head(emu: &Emulator, query: &str) -> String {
    format!(
        "POST /?{query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        emu.addr()
    )
}

/// A signed query for `action` with a fresh nonce and the current time.
fn signed(action: &str, extra: &[(&str, &str)]) -> String {
    let params = with(common(action, ACCESS_KEY_ID), extra);
    signed_query("POST", &params, ACCESS_KEY_SECRET)
}

const COPY_TO_SHANGHAI: &[(&str, &str)] = &[
    ("RegionId", SOURCE_REGION),
    ("ImageId", SOURCE_IMAGE_ID),
    ("DestinationRegionId", "cn-shanghai"),
];

fn copy_params<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut params = COPY_TO_SHANGHAI.to_vec();
    params.extend_from_slice(extra);
    params
}

/// The fault names recorded, in order.
fn recorded_faults(emu: &Emulator) -> Vec<Option<String>> {
    emu.requests().into_iter().map(|r| r.fault).collect()
}

#[test]
fn a_dropped_connection_gets_no_answer_and_makes_no_copy() {
    let emu = Emulator::start_with(slow_config());
    emu.inject(Some("CopyImage"), vec![Fault::Drop]);
    assert_eq!(emu.pending_faults(), 1);
    let query = signed("CopyImage", COPY_TO_SHANGHAI);
    let raw = exchange(
        emu.addr(),
        post_head(&emu, &query).as_bytes(),
        Duration::from_secs(3),
    );
    assert!(
        raw.bytes.is_empty(),
        "no byte of an answer: {:?}",
        String::from_utf8_lossy(&raw.bytes)
    );
    assert!(
        matches!(
            raw.error,
            None | Some(
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            )
        ),
        "closed, not timed out: {:?}",
        raw.error
    );
    assert_eq!(emu.pending_faults(), 0);
    assert!(emu.images_in("cn-shanghai").is_empty(), "no copy was made");

    let recorded = emu.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].fault.as_deref(), Some("Drop"));
    assert_eq!(recorded[0].action(), Some("CopyImage"));
    assert_eq!((recorded[0].status, recorded[0].code.as_deref()), (0, None));
    assert_eq!(recorded[0].raw_query, query);

    // The server still serves, and the dropped request's nonce was not used:
    // the very same request now succeeds.
    let json = http(&emu, "POST", &query).assert_ok();
    assert_eq!(emu.images_in("cn-shanghai").len(), 1);
    assert_eq!(
        emu.images_in("cn-shanghai")[0].image_id,
        json["ImageId"].as_str().unwrap()
    );
    assert_eq!(recorded_faults(&emu), vec![Some("Drop".to_string()), None]);
}

#[test]
fn a_delayed_answer_comes_late_but_the_copy_exists_at_once() {
    let emu = Emulator::start_with(slow_config());
    let delay = Duration::from_millis(700);
    emu.inject(Some("CopyImage"), vec![Fault::Delay(delay)]);
    let head = post_head(&emu, &signed("CopyImage", COPY_TO_SHANGHAI));
    let addr = emu.addr();
    let started = Instant::now();
    let client = std::thread::spawn(move || {
        let raw = exchange(addr, head.as_bytes(), Duration::from_secs(5));
        (raw, started.elapsed())
    });
    // The copy is made before the answer is sent.
    while emu.images_in("cn-shanghai").is_empty() {
        assert!(
            started.elapsed() < delay / 2,
            "the copy should exist while the answer waits"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!client.is_finished(), "answered before the delay");
    let (raw, elapsed) = client.join().unwrap();
    assert!(elapsed >= delay, "answered after {elapsed:?}");
    assert_eq!(raw.error, None);
    let answer = parse_answer(&raw.bytes).expect("an HTTP answer");
    let json = answer.assert_ok();
    let copies = emu.images_in("cn-shanghai");
    assert_eq!(copies.len(), 1);
    assert_eq!(json["ImageId"].as_str(), Some(copies[0].image_id.as_str()));
    let recorded = &emu.requests()[0];
    assert_eq!(recorded.fault.as_deref(), Some("Delay"));
    assert_eq!(recorded.status, 200);
}

#[test]
fn status_faults_answer_ecs_errors_or_gateway_pages_without_processing() {
    let emu = Emulator::start_with(slow_config());
    emu.inject(
        None,
        vec![
            Fault::Status(503),
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(504),
        ],
    );
    let query = signed("CopyImage", COPY_TO_SHANGHAI);

    let answer = http(&emu, "POST", &query);
    let json = answer.assert_error(503, "ServiceUnavailable");
    assert!(json["RequestId"].is_string());
    assert_eq!(json["HostId"], "ecs.cn-hangzhou.aliyuncs.com");
    assert_eq!(
        answer.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert!(answer.header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(
        answer.header("x-acs-request-id"),
        json["RequestId"].as_str()
    );

    http(&emu, "POST", &query).assert_error(500, "InternalError");

    for status in [502, 504] {
        let answer = http(&emu, "POST", &query);
        assert_eq!(answer.status, status, "{}", answer.body);
        assert_eq!(answer.header("content-type"), Some("text/html"));
        assert!(
            answer.body.contains(&format!("<h1>{status} ")),
            "{}",
            answer.body
        );
        assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    }
    assert!(emu.images_in("cn-shanghai").is_empty(), "nothing processed");
    // None of them used the nonce: the same request goes through now.
    http(&emu, "POST", &query).assert_ok();

    let recorded = emu.requests();
    let seen: Vec<(u16, Option<&str>, Option<&str>)> = recorded
        .iter()
        .map(|r| (r.status, r.code.as_deref(), r.fault.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (503, Some("ServiceUnavailable"), Some("Status")),
            (500, Some("InternalError"), Some("Status")),
            (502, None, Some("Status")),
            (504, None, Some("Status")),
            (200, None, None),
        ]
    );
    assert!(recorded.iter().all(|r| r.action() == Some("CopyImage")));
}

#[test]
fn throttling_answers_400_with_and_without_retry_after() {
    let emu = Emulator::start();
    emu.inject(
        Some("DescribeImages"),
        vec![
            Fault::Throttle {
                retry_after_ms: Some(1500),
            },
            Fault::Throttle {
                retry_after_ms: None,
            },
        ],
    );
    let describe_query = || signed("DescribeImages", &[("RegionId", SOURCE_REGION)]);

    let answer = http(&emu, "POST", &describe_query());
    let json = answer.assert_error(400, "Throttling");
    assert_eq!(
        json["Message"],
        "Request was denied due to request throttling."
    );
    assert_eq!(answer.header("x-acs-retry-after"), Some("1500"));

    let answer = http(&emu, "POST", &describe_query());
    answer.assert_error(400, "Throttling");
    assert_eq!(answer.header("x-acs-retry-after"), None);

    let answer = http(&emu, "POST", &describe_query());
    answer.assert_ok();
    assert_eq!(answer.header("x-acs-retry-after"), None);
    assert_eq!(
        recorded_faults(&emu),
        [
            Some("Throttle".to_string()),
            Some("Throttle".to_string()),
            None
        ]
    );
    assert_eq!(emu.requests()[0].code.as_deref(), Some("Throttling"));
}

#[test]
fn garbage_answers_200_with_a_body_that_is_not_json() {
    let emu = Emulator::start_with(slow_config());
    emu.inject(Some("CopyImage"), vec![Fault::Garbage]);
    let answer = http(&emu, "POST", &signed("CopyImage", COPY_TO_SHANGHAI));
    assert_eq!(answer.status, 200);
    assert!(!answer.body.is_empty());
    assert!(
        serde_json::from_str::<Value>(&answer.body).is_err(),
        "parsed as JSON: {}",
        answer.body
    );
    assert!(emu.images_in("cn-shanghai").is_empty(), "nothing processed");
    let recorded = &emu.requests()[0];
    assert_eq!(
        (recorded.status, recorded.fault.as_deref()),
        (200, Some("Garbage"))
    );
}

#[test]
fn a_lost_answer_leaves_the_copy_and_a_client_token_replay_returns_it() {
    let emu = Emulator::start_with(slow_config());
    emu.inject(Some("CopyImage"), vec![Fault::LoseAnswer]);
    let token = "lost-answer-token-0001";
    let copy_with_token = copy_params(&[("ClientToken", token)]);

    let raw = exchange(
        emu.addr(),
        post_head(&emu, &signed("CopyImage", &copy_with_token)).as_bytes(),
        Duration::from_secs(3),
    );
    // The head goes out, then only a few bytes of the body it announces.
    let partial = parse_answer(&raw.bytes).unwrap_or_else(|| {
        panic!(
            "no answer head: {:?} {:?}",
            String::from_utf8_lossy(&raw.bytes),
            raw.error
        )
    });
    assert_eq!(partial.status, 200);
    let announced: usize = partial
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .expect("a Content-Length");
    assert!(
        partial.body.len() < announced,
        "a complete answer got through: {}",
        partial.body
    );
    assert!(
        !partial.body.contains("m-"),
        "the ImageId leaked: {}",
        partial.body
    );
    let copies = emu.images_in("cn-shanghai");
    assert_eq!(copies.len(), 1, "the request was processed");
    assert_eq!(copies[0].client_token.as_deref(), Some(token));
    let recorded = &emu.requests()[0];
    assert_eq!(
        (recorded.status, recorded.fault.as_deref()),
        (0, Some("LoseAnswer"))
    );

    // The retry: same parameters and token, new nonce, timestamp, signature.
    let json = copy(&emu, &[("ClientToken", token)]).assert_ok();
    assert_eq!(json["ImageId"].as_str(), Some(copies[0].image_id.as_str()));
    assert_eq!(emu.images_in("cn-shanghai").len(), 1, "no second copy");
}

#[test]
fn faults_fire_only_on_their_action_in_order_and_count_down() {
    let emu = Emulator::start_with(slow_config());
    emu.inject(
        Some("CopyImage"),
        vec![
            Fault::Status(503),
            Fault::Throttle {
                retry_after_ms: None,
            },
        ],
    );
    emu.inject(Some("DescribeImages"), vec![Fault::Status(500)]);
    assert_eq!(emu.pending_faults(), 3);
    let describe = || call(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]);

    describe().assert_error(500, "InternalError");
    assert_eq!(emu.pending_faults(), 2);
    describe().assert_ok();
    call(
        &emu,
        "CancelCopyImage",
        &[("RegionId", "cn-shanghai"), ("ImageId", "m-none")],
    )
    .assert_error(404, "InvalidImageId.NotFound");
    assert_eq!(emu.pending_faults(), 2);
    copy(&emu, &[]).assert_error(503, "ServiceUnavailable");
    assert_eq!(emu.pending_faults(), 1);
    describe().assert_ok();
    copy(&emu, &[]).assert_error(400, "Throttling");
    assert_eq!(emu.pending_faults(), 0);
    copy(&emu, &[]).assert_ok();
    assert_eq!(
        recorded_faults(&emu)
            .iter()
            .map(|f| f.as_deref().unwrap_or("-"))
            .collect::<Vec<_>>(),
        ["Status", "-", "-", "Status", "-", "Throttle", "-"]
    );

    // `None` matches any request, even one whose action cannot be read.
    emu.inject(None, vec![Fault::Garbage, Fault::Status(503)]);
    let answer = http(&emu, "GET", "Action=%ZZ");
    assert_eq!(answer.status, 200);
    assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    let answer = http(&emu, "GET", "");
    assert_eq!(answer.status, 503);
    assert_eq!(emu.pending_faults(), 0);
    http(&emu, "GET", "").assert_error(400, "MissingParameter");
}

#[test]
fn odd_fault_arguments_neither_panic_nor_hold_the_server() {
    let emu = Emulator::start();
    emu.inject(
        None,
        vec![
            Fault::Status(0),
            Fault::Status(101),
            Fault::Status(u16::MAX),
            Fault::Status(429),
            Fault::Throttle {
                retry_after_ms: Some(u64::MAX),
            },
        ],
    );
    let describe = || call(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]);
    describe().assert_error(500, "InternalError");
    describe().assert_error(500, "InternalError");
    describe().assert_error(500, "InternalError");
    describe().assert_error(429, "InternalError");
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 500, 429], "recorded as answered");
    let answer = describe();
    answer.assert_error(400, "Throttling");
    assert_eq!(
        answer.header("x-acs-retry-after"),
        Some(u64::MAX.to_string().as_str())
    );
    // Extreme clock skews still answer (the timestamp is refused).
    for skew in [chrono::TimeDelta::MAX, chrono::TimeDelta::MIN] {
        emu.set_clock_skew(skew);
        let answer = describe();
        answer.assert_error(400, "InvalidTimeStamp.Expired");
        assert!(answer.header("date").is_some());
    }
    emu.set_clock_skew(chrono::TimeDelta::zero());
    describe().assert_ok();

    // A delay that never ends does not keep the emulator from stopping,
    // even while the client still waits on its connection.
    emu.inject(None, vec![Fault::Delay(Duration::MAX)]);
    let mut stream = TcpStream::connect(emu.addr()).unwrap();
    let query = signed("DescribeImages", &[("RegionId", SOURCE_REGION)]);
    stream
        .write_all(post_head(&emu, &query).as_bytes())
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1024];
    let waiting = stream.read(&mut buf);
    assert!(
        matches!(&waiting, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "still waiting for the answer: {waiting:?}"
    );
    let started = Instant::now();
    drop(emu);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "stopping took {:?}",
        started.elapsed()
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let closed = stream.read(&mut buf);
    assert!(
        matches!(&closed, Ok(0))
            || matches!(&closed, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection was closed: {closed:?}"
    );
}

/// Reads one answer (head, then `Content-Length` bytes of body) from a
/// kept-alive connection; `None` if the connection ends first.
fn read_one_answer(stream: &mut TcpStream) -> Option<HttpAnswer> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            _ => return None,
        }
    }
    let head = parse_answer(&raw)?;
    let length: usize = head.header("content-length")?.parse().ok()?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    raw.extend_from_slice(&body);
    parse_answer(&raw)
}

#[test]
fn faults_on_a_kept_alive_connection_hit_only_their_request() {
    let emu = Emulator::start_with(slow_config());
    emu.inject(
        Some("CopyImage"),
        vec![
            Fault::Throttle {
                retry_after_ms: Some(10),
            },
            Fault::LoseAnswer,
        ],
    );
    let mut stream = TcpStream::connect(emu.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut send = |query: &str| {
        let head = format!(
            "POST /?{query} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            emu.addr()
        );
        stream.write_all(head.as_bytes()).unwrap();
        read_one_answer(&mut stream)
    };
    send(&signed("DescribeImages", &[("RegionId", SOURCE_REGION)]))
        .expect("an answer")
        .assert_ok();
    send(&signed("CopyImage", COPY_TO_SHANGHAI))
        .expect("an answer")
        .assert_error(400, "Throttling");
    send(&signed("DescribeImages", &[("RegionId", SOURCE_REGION)]))
        .expect("an answer")
        .assert_ok();
    assert!(
        send(&signed("CopyImage", COPY_TO_SHANGHAI)).is_none(),
        "the lost answer is incomplete"
    );
    assert_eq!(emu.images_in("cn-shanghai").len(), 1);
    // The broken connection is gone; a new one is served.
    call(&emu, "DescribeImages", &[("RegionId", "cn-shanghai")]).assert_ok();
    assert_eq!(
        recorded_faults(&emu)
            .iter()
            .map(|f| f.as_deref().unwrap_or("-"))
            .collect::<Vec<_>>(),
        ["-", "Throttle", "-", "LoseAnswer", "-"]
    );
}

/// Seconds from the real clock to an answer's `Date` header.
fn date_offset_secs(answer: &HttpAnswer) -> i64 {
    let date = answer.header("date").expect("a Date header");
    let parsed = chrono::DateTime::parse_from_rfc2822(date)
        .unwrap_or_else(|e| panic!("Date {date:?} is not RFC 7231 ({e})"));
    assert!(date.ends_with(" GMT"), "{date}");
    (parsed.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

#[test]
fn a_skewed_clock_moves_the_timestamp_window_and_the_date_header() {
    let emu = Emulator::start_with(Config {
        clock_skew: chrono::TimeDelta::hours(1),
        ..Config::default()
    });
    let at = |offset: chrono::TimeDelta| {
        let mut params = with(
            common("DescribeImages", ACCESS_KEY_ID),
            &[("RegionId", SOURCE_REGION)],
        );
        for (k, v) in params.iter_mut() {
            if k == "Timestamp" {
                *v = timestamp(offset);
            }
        }
        http(
            &emu,
            "POST",
            &signed_query("POST", &params, ACCESS_KEY_SECRET),
        )
    };
    // A correctly-timed request is an hour late for this server…
    let answer = at(chrono::TimeDelta::zero());
    answer.assert_error(400, "InvalidTimeStamp.Expired");
    let offset = date_offset_secs(&answer);
    assert!((3590..=3610).contains(&offset), "Date is {offset} s ahead");
    // …and one signed with the server's time is accepted.
    let answer = at(chrono::TimeDelta::hours(1));
    answer.assert_ok();
    assert!((3590..=3610).contains(&date_offset_secs(&answer)));

    // Changed at run time: half an hour behind.
    emu.set_clock_skew(chrono::TimeDelta::minutes(-30));
    let answer = at(chrono::TimeDelta::zero());
    answer.assert_error(400, "InvalidTimeStamp.Expired");
    let offset = date_offset_secs(&answer);
    assert!((-1810..=-1790).contains(&offset), "Date is {offset} s off");
    at(chrono::TimeDelta::minutes(-30)).assert_ok();

    emu.set_clock_skew(chrono::TimeDelta::zero());
    let answer = at(chrono::TimeDelta::zero());
    answer.assert_ok();
    assert!(date_offset_secs(&answer).abs() <= 10);
}

// ---------------------------------------------------------------------- STS

const STS_VERSION: &str = "2015-04-01";

/// Common parameters for an STS call (`Version=2015-04-01`).
fn sts_common(action: &str, key_id: &str) -> Vec<(String, String)> {
    common(action, key_id)
        .into_iter()
        .map(|(k, v)| {
            if k == "Version" {
                (k, STS_VERSION.to_string())
            } else {
                (k, v)
            }
        })
        .collect()
}

/// A signed STS call, all parameters in the query string.
fn sts_call_as(
    emu: &Emulator,
    key: (&str, &str, Option<&str>),
    action: &str,
    extra: &[(&str, &str)],
) -> HttpAnswer {
    let (id, secret, token) = key;
    let mut params = with(sts_common(action, id), extra);
    if let Some(token) = token {
        params.push(("SecurityToken".to_string(), token.to_string()));
    }
    http(emu, "POST", &signed_query("POST", &params, secret))
}

/// `AssumeRole` signed with the plain key.
fn assume_role(emu: &Emulator, extra: &[(&str, &str)]) -> HttpAnswer {
    sts_call_as(
        emu,
        (ACCESS_KEY_ID, ACCESS_KEY_SECRET, None),
        "AssumeRole",
        extra,
    )
}

/// (AccessKeyId, AccessKeySecret, SecurityToken, Expiration) of an answer.
fn credentials_of(json: &Value) -> (String, String, String, chrono::DateTime<chrono::Utc>) {
    let c = &json["Credentials"];
    let text = |name: &str| {
        c[name]
            .as_str()
            .unwrap_or_else(|| panic!("Credentials.{name} in {json}"))
            .to_string()
    };
    let expiration = text("Expiration");
    assert_eq!(expiration.len(), 20, "{expiration}");
    let at = chrono::NaiveDateTime::parse_from_str(&expiration, "%Y-%m-%dT%H:%M:%SZ")
        .unwrap_or_else(|e| panic!("Expiration {expiration}: {e}"))
        .and_utc();
    (
        text("AccessKeyId"),
        text("AccessKeySecret"),
        text("SecurityToken"),
        at,
    )
}

/// DescribeImages signed with `id`/`secret` (and `token`).
fn describe_with(emu: &Emulator, id: &str, secret: &str, token: Option<&str>) -> HttpAnswer {
    let mut params = with(common("DescribeImages", id), &[("RegionId", SOURCE_REGION)]);
    if let Some(token) = token {
        params.push(("SecurityToken".to_string(), token.to_string()));
    }
    http(emu, "POST", &signed_query("POST", &params, secret))
}

fn describe_with_key(emu: &Emulator, key: &IssuedKey) -> HttpAnswer {
    describe_with(
        emu,
        &key.access_key_id,
        &key.access_key_secret,
        Some(&key.security_token),
    )
}

#[track_caller]
fn assert_looks_issued(id: &str, secret: &str, token: &str) {
    let suffix = id.strip_prefix("STS.").expect("an STS. key id");
    assert_eq!(suffix.len(), 20, "{id}");
    assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    assert!(secret.len() >= 30, "{secret}");
    assert!(
        token.contains('/') && token.contains('+') && token.contains('='),
        "{token}"
    );
}

/// Seconds from now to `at` (negative: past).
fn secs_until(at: chrono::DateTime<chrono::Utc>) -> i64 {
    (at - chrono::Utc::now()).num_seconds()
}

#[test]
fn assume_role_signed_by_the_plain_key_issues_credentials_ecs_accepts() {
    let emu = Emulator::start();
    let policy =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}"#;
    let json = assume_role(
        &emu,
        &[
            ("RoleArn", ROLE_ARN),
            ("RoleSessionName", "copy-image@ci_1.x-y"),
            ("DurationSeconds", "900"),
            ("Policy", policy),
            ("ExternalId", "ext-42"),
        ],
    )
    .assert_ok();
    let (id, secret, token, expiration) = credentials_of(&json);
    assert_looks_issued(&id, &secret, &token);
    let left = secs_until(expiration);
    assert!((898..=902).contains(&left), "expires in {left} s");
    assert_eq!(
        json["AssumedRoleUser"]["Arn"],
        format!("{ROLE_ARN}/copy-image@ci_1.x-y")
    );
    let role_id = json["AssumedRoleUser"]["AssumedRoleId"].as_str().unwrap();
    assert!(role_id.ends_with(":copy-image@ci_1.x-y"), "{role_id}");

    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 1);
    let key = &issued[0];
    assert_eq!(
        (
            key.access_key_id.as_str(),
            key.access_key_secret.as_str(),
            key.security_token.as_str()
        ),
        (id.as_str(), secret.as_str(), token.as_str())
    );
    assert_eq!(key.expiration, expiration);
    assert_eq!(key.issued_by, "AssumeRole");
    assert_eq!(key.caller.as_deref(), Some(ACCESS_KEY_ID));
    let assumed = emu.assumed_roles();
    assert_eq!(assumed.len(), 1);
    assert_eq!(assumed[0].role_arn, ROLE_ARN);
    assert_eq!(assumed[0].role_session_name, "copy-image@ci_1.x-y");
    assert_eq!(assumed[0].duration_seconds, Some(900));
    assert_eq!(assumed[0].policy.as_deref(), Some(policy));
    assert_eq!(assumed[0].external_id.as_deref(), Some("ext-42"));
    assert_eq!(assumed[0].issued_access_key_id, id);
    assert_eq!(emu.requests()[0].action(), Some("AssumeRole"));

    // ECS accepts the new key with its token, and only with it.
    let listed = describe_with(&emu, &id, &secret, Some(&token)).assert_ok();
    assert_eq!(listed_ids(&listed), vec![SOURCE_IMAGE_ID.to_string()]);
    describe_with(&emu, &id, &secret, None).assert_error(400, "MissingSecurityToken");
    describe_with(&emu, &id, &secret, Some(STS_SECURITY_TOKEN))
        .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
    describe_with(&emu, &id, "not-the-secret", Some(&token))
        .assert_error(400, "SignatureDoesNotMatch");

    // The issued key may itself assume a role (default duration: 1 h).
    let json = sts_call_as(
        &emu,
        (&id, &secret, Some(&token)),
        "AssumeRole",
        &[("RoleArn", ROLE_ARN), ("RoleSessionName", "chained")],
    )
    .assert_ok();
    let (chained_id, ..) = credentials_of(&json);
    let left = secs_until(credentials_of(&json).3);
    assert!((3598..=3602).contains(&left), "expires in {left} s");
    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[1].access_key_id, chained_id);
    assert_eq!(issued[1].caller.as_deref(), Some(id.as_str()));
    assert_ne!(chained_id, id);
}

#[test]
fn assume_role_must_be_signed() {
    let emu = Emulator::start();
    let extra = [("RoleArn", ROLE_ARN), ("RoleSessionName", "session")];
    // No signature at all.
    let params = with(sts_common("AssumeRole", ACCESS_KEY_ID), &extra);
    let json =
        http(&emu, "POST", &canonicalized_query(&params)).assert_error(400, "IncompleteSignature");
    assert_eq!(json["HostId"], "sts.aliyuncs.com");
    assert!(
        json["Recommend"].as_str().unwrap().contains("product=Sts"),
        "{json}"
    );
    // No access key.
    let params = without(
        with(sts_common("AssumeRole", ACCESS_KEY_ID), &extra),
        "AccessKeyId",
    );
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "MissingParameter");
    // Signed with the wrong secret, or for GET and sent as POST.
    sts_call_as(
        &emu,
        (ACCESS_KEY_ID, "wrong-secret", None),
        "AssumeRole",
        &extra,
    )
    .assert_error(400, "SignatureDoesNotMatch");
    let params = with(sts_common("AssumeRole", ACCESS_KEY_ID), &extra);
    http(
        &emu,
        "POST",
        &signed_query("GET", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "SignatureDoesNotMatch");
    // An STS caller without its token.
    sts_call_as(
        &emu,
        (STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, None),
        "AssumeRole",
        &extra,
    )
    .assert_error(400, "MissingSecurityToken");
    assert!(emu.issued_keys().is_empty());
    // …and with it, accepted.
    sts_call_as(
        &emu,
        (
            STS_ACCESS_KEY_ID,
            STS_ACCESS_KEY_SECRET,
            Some(STS_SECURITY_TOKEN),
        ),
        "AssumeRole",
        &extra,
    )
    .assert_ok();
    assert_eq!(
        emu.issued_keys()[0].caller.as_deref(),
        Some(STS_ACCESS_KEY_ID)
    );
}

#[test]
fn assume_role_checks_the_role_and_the_session_name() {
    let emu = Emulator::start();
    let session =
        |name: &str| assume_role(&emu, &[("RoleArn", ROLE_ARN), ("RoleSessionName", name)]);
    let json = assume_role(
        &emu,
        &[
            ("RoleArn", "acs:ram::1234567890123456:role/someone-else"),
            ("RoleSessionName", "session"),
        ],
    )
    .assert_error(404, "EntityNotExist.Role");
    assert!(json["Message"].as_str().unwrap().contains("someone-else"));
    for arn in [
        "copy-image-test",
        "acs:ram::12ab:role/copy-image-test",
        "acs:ram::1234567890123456:user/copy-image-test",
        "acs:ram::1234567890123456:role/",
        "acs:ram:cn-hangzhou:1234567890123456:role/copy-image-test",
        "acs:ram::1234567890123456:role/has space",
    ] {
        assume_role(&emu, &[("RoleArn", arn), ("RoleSessionName", "session")])
            .assert_error(400, "InvalidParameter.RoleArn");
    }
    let too_long = "s".repeat(65);
    for bad in [
        "a",
        too_long.as_str(),
        "has space",
        "slash/no",
        "ünï",
        "a:b",
    ] {
        session(bad).assert_error(400, "InvalidParameter.RoleSessionName");
    }
    session("ab").assert_ok();
    session(&"s".repeat(64)).assert_ok();
    session("A.b_c@d-9").assert_ok();
    assume_role(&emu, &[("RoleSessionName", "session")]).assert_error(400, "MissingParameter");
    let json = assume_role(&emu, &[("RoleArn", ROLE_ARN)]).assert_error(400, "MissingParameter");
    assert!(json["Message"]
        .as_str()
        .unwrap()
        .contains("RoleSessionName"));
    assert_eq!(emu.issued_keys().len(), 3);

    // The roles come from the configuration.
    let other = "acs:ram::42:role/other.role";
    let emu = Emulator::start_with(Config {
        roles: vec![other.to_string()],
        ..Config::default()
    });
    assume_role(&emu, &[("RoleArn", ROLE_ARN), ("RoleSessionName", "s1")])
        .assert_error(404, "EntityNotExist.Role");
    assume_role(&emu, &[("RoleArn", other), ("RoleSessionName", "s1")]).assert_ok();
}

#[test]
fn duration_seconds_must_be_between_900_and_43200() {
    let emu = Emulator::start();
    let with_duration = |d: &str| {
        assume_role(
            &emu,
            &[
                ("RoleArn", ROLE_ARN),
                ("RoleSessionName", "session"),
                ("DurationSeconds", d),
            ],
        )
    };
    for bad in ["899", "43201", "0", "-900", "abc", "3600.0", " 3600", "1e4"] {
        with_duration(bad).assert_error(400, "InvalidParameter.DurationSeconds");
    }
    assert!(emu.issued_keys().is_empty());
    for (d, secs) in [("900", 900), ("43200", 43200)] {
        let left = secs_until(credentials_of(&with_duration(d).assert_ok()).3);
        assert!((secs - 2..=secs + 2).contains(&left), "{d}: {left}");
    }
}

#[test]
fn assume_role_parameters_in_a_form_body_are_signed_and_used() {
    let emu = Emulator::start();
    let query_params = sts_common("AssumeRole", ACCESS_KEY_ID);
    let body_params = owned(&[
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "from-the-body"),
        ("DurationSeconds", "1800"),
        ("Policy", r#"{"Statement": []}"#),
    ]);
    let mut all = query_params.clone();
    all.extend(body_params.clone());
    let query = format!(
        "{}&Signature={}",
        canonicalized_query(&query_params),
        percent_encode(&sign("POST", &all, ACCESS_KEY_SECRET))
    );
    let json = http_form(&emu, &query, &canonicalized_query(&body_params)).assert_ok();
    assert_eq!(
        json["AssumedRoleUser"]["Arn"],
        format!("{ROLE_ARN}/from-the-body")
    );
    let left = secs_until(credentials_of(&json).3);
    assert!((1798..=1802).contains(&left), "{left}");
    assert_eq!(
        emu.assumed_roles()[0].policy.as_deref(),
        Some(r#"{"Statement": []}"#)
    );
    assert_eq!(
        emu.requests()[0].param("RoleSessionName"),
        Some("from-the-body")
    );

    // The same body left out of the signature is refused.
    let query = signed_query(
        "POST",
        &sts_common("AssumeRole", ACCESS_KEY_ID),
        ACCESS_KEY_SECRET,
    );
    http_form(&emu, &query, &canonicalized_query(&body_params))
        .assert_error(400, "SignatureDoesNotMatch");
    assert_eq!(emu.issued_keys().len(), 1);
}

#[test]
fn the_version_picks_the_product() {
    let emu = Emulator::start();
    let role = [("RoleArn", ROLE_ARN), ("RoleSessionName", "session")];
    // AssumeRole with the ECS version.
    call(&emu, "AssumeRole", &role).assert_error(404, "InvalidAction.NotFound");
    // An ECS action with the STS version.
    sts_call_as(
        &emu,
        (ACCESS_KEY_ID, ACCESS_KEY_SECRET, None),
        "DescribeImages",
        &[("RegionId", SOURCE_REGION)],
    )
    .assert_error(404, "InvalidAction.NotFound");
    // A version that is neither.
    let params = with(
        common("AssumeRole", ACCESS_KEY_ID)
            .into_iter()
            .map(|(k, v)| {
                if k == "Version" {
                    (k, "2019-01-01".to_string())
                } else {
                    (k, v)
                }
            })
            .collect(),
        &role,
    );
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "InvalidVersion");
    // AssumeRoleWithOIDC with the ECS version.
    let params = oidc_params(&[("Version", "2014-05-26")]);
    http(&emu, "POST", &canonicalized_query(&params)).assert_error(404, "InvalidAction.NotFound");
    assert!(emu.issued_keys().is_empty());
}

/// An unsigned AssumeRoleWithOIDC: `Action`, `Version`, `Format`,
/// `Timestamp` and the three OIDC parameters; `overrides` replace (or, with
/// an empty value, remove) entries and add new ones.
fn oidc_params(overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let now = timestamp(chrono::Duration::zero());
    let base = [
        ("Action", "AssumeRoleWithOIDC"),
        ("Version", STS_VERSION),
        ("Format", "JSON"),
        ("Timestamp", now.as_str()),
        ("RoleArn", ROLE_ARN),
        ("OIDCProviderArn", OIDC_PROVIDER_ARN),
        ("OIDCToken", OIDC_TOKEN),
    ];
    let mut params: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    params.extend(
        overrides
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    params
}

/// Sends an OIDC call the way credentials-go does: the envelope in the
/// query string, the rest in a form body.
fn oidc_call(emu: &Emulator, overrides: &[(&str, &str)]) -> HttpAnswer {
    let params = oidc_params(overrides);
    let envelope = [
        "Action",
        "Version",
        "Format",
        "Timestamp",
        "Signature",
        "AccessKeyId",
    ];
    let (query, body): (Vec<_>, Vec<_>) = params
        .into_iter()
        .partition(|(k, _)| envelope.contains(&k.as_str()));
    let query: String = query
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    http_form(emu, &query, &canonicalized_query(&body))
}

#[test]
fn assume_role_with_oidc_needs_no_signature_and_issues_credentials_ecs_accepts() {
    let emu = Emulator::start();
    let json = oidc_call(&emu, &[]).assert_ok();
    let (id, secret, token, expiration) = credentials_of(&json);
    assert_looks_issued(&id, &secret, &token);
    let left = secs_until(expiration);
    assert!((3598..=3602).contains(&left), "{left}");
    assert_eq!(
        json["OIDCTokenInfo"]["Subject"],
        "system:serviceaccount:default:copy-image"
    );
    assert!(json["OIDCTokenInfo"]["Issuer"].is_string(), "{json}");
    let arn = json["AssumedRoleUser"]["Arn"].as_str().unwrap();
    assert!(arn.starts_with(&format!("{ROLE_ARN}/")), "{arn}");

    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].access_key_id, id);
    assert_eq!(issued[0].issued_by, "AssumeRoleWithOIDC");
    assert_eq!(issued[0].caller, None);
    let assumed = &emu.assumed_roles()[0];
    assert!(assumed.session_name_generated);
    assert_eq!(format!("{ROLE_ARN}/{}", assumed.role_session_name), arn);
    assert_eq!(
        assumed.oidc_provider_arn.as_deref(),
        Some(OIDC_PROVIDER_ARN)
    );

    describe_with(&emu, &id, &secret, Some(&token)).assert_ok();

    // A session name, duration and policy are taken; a stray signature and
    // access key are ignored.
    let json = oidc_call(
        &emu,
        &[
            ("RoleSessionName", "rrsa-pod"),
            ("DurationSeconds", "7200"),
            ("Policy", r#"{"Statement":[]}"#),
            ("Signature", "bm90IGEgc2lnbmF0dXJl"),
            ("AccessKeyId", "LTAI-nobody"),
        ],
    )
    .assert_ok();
    assert_eq!(
        json["AssumedRoleUser"]["Arn"],
        format!("{ROLE_ARN}/rrsa-pod")
    );
    let left = secs_until(credentials_of(&json).3);
    assert!((7198..=7202).contains(&left), "{left}");
    let assumed = &emu.assumed_roles()[1];
    assert!(!assumed.session_name_generated);
    assert_eq!(assumed.policy.as_deref(), Some(r#"{"Statement":[]}"#));

    // Its own common parameters are still checked.
    for missing in ["Timestamp", "Format", "Version"] {
        let json = oidc_call(&emu, &[(missing, "")]).assert_error(400, "MissingParameter");
        assert!(json.is_null() || json["Message"].as_str().unwrap().contains(missing));
    }
    let stale = timestamp(chrono::Duration::hours(-1));
    oidc_call(&emu, &[("Timestamp", &stale)]).assert_error(400, "InvalidTimeStamp.Expired");
    oidc_call(&emu, &[("RoleSessionName", "bad name")])
        .assert_error(400, "InvalidParameter.RoleSessionName");
    oidc_call(&emu, &[("DurationSeconds", "600")])
        .assert_error(400, "InvalidParameter.DurationSeconds");
    assert_eq!(emu.issued_keys().len(), 2);
}

#[test]
fn assume_role_with_oidc_checks_provider_token_and_role() {
    let emu = Emulator::start();
    let json = oidc_call(&emu, &[("OIDCToken", "eyJhbGciOiJSUzI1NiJ9.e30.forged")])
        .assert_error(400, "AuthenticationFail.OIDCToken.Invalid");
    assert_eq!(json["HostId"], "sts.aliyuncs.com");
    let with_newline = format!("{OIDC_TOKEN}\n");
    oidc_call(&emu, &[("OIDCToken", &with_newline)])
        .assert_error(400, "AuthenticationFail.OIDCToken.Invalid");
    oidc_call(
        &emu,
        &[(
            "OIDCProviderArn",
            "acs:ram::1234567890123456:oidc-provider/other",
        )],
    )
    .assert_error(404, "EntityNotExist.OIDCProvider");
    oidc_call(&emu, &[("OIDCProviderArn", "ack-rrsa-test")])
        .assert_error(400, "InvalidParameter.OIDCProviderArn");
    oidc_call(&emu, &[("RoleArn", "acs:ram::1234567890123456:role/other")])
        .assert_error(404, "EntityNotExist.Role");
    oidc_call(&emu, &[("RoleArn", "other")]).assert_error(400, "InvalidParameter.RoleArn");
    for missing in ["RoleArn", "OIDCProviderArn", "OIDCToken"] {
        oidc_call(&emu, &[(missing, "")]).assert_error(400, "MissingParameter");
    }
    assert!(emu.issued_keys().is_empty());
    assert!(emu.assumed_roles().is_empty());
}

#[test]
fn an_issued_key_is_refused_once_expired() {
    let emu = Emulator::start_with(Config {
        sts_lifetime: Some(Duration::from_secs(1)),
        ..Config::default()
    });
    // DurationSeconds is still validated, but the lifetime wins.
    let json = assume_role(
        &emu,
        &[
            ("RoleArn", ROLE_ARN),
            ("RoleSessionName", "short"),
            ("DurationSeconds", "3600"),
        ],
    )
    .assert_ok();
    let (id, secret, token, expiration) = credentials_of(&json);
    let left = expiration - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::zero() && left <= chrono::TimeDelta::seconds(2),
        "{left}"
    );
    describe_with(&emu, &id, &secret, Some(&token)).assert_ok();
    let oidc = emu_key_from(&oidc_call(&emu, &[]).assert_ok());

    let wait = (expiration - chrono::Utc::now() + chrono::TimeDelta::milliseconds(100))
        .to_std()
        .unwrap_or_default();
    std::thread::sleep(wait);
    let json = describe_with(&emu, &id, &secret, Some(&token))
        .assert_error(400, "InvalidSecurityToken.Expired");
    assert_eq!(json["Message"], "Specified SecurityToken is expired.");
    // An expired key cannot assume a role either.
    sts_call_as(
        &emu,
        (&id, &secret, Some(&token)),
        "AssumeRole",
        &[("RoleArn", ROLE_ARN), ("RoleSessionName", "again")],
    )
    .assert_error(400, "InvalidSecurityToken.Expired");
    describe_with(&emu, &oidc.0, &oidc.1, Some(&oidc.2))
        .assert_error(400, "InvalidSecurityToken.Expired");
    // A fresh one works.
    let json =
        assume_role(&emu, &[("RoleArn", ROLE_ARN), ("RoleSessionName", "fresh")]).assert_ok();
    let fresh = emu_key_from(&json);
    describe_with(&emu, &fresh.0, &fresh.1, Some(&fresh.2)).assert_ok();
}

fn emu_key_from(json: &Value) -> (String, String, String) {
    let (id, secret, token, _) = credentials_of(json);
    (id, secret, token)
}

#[test]
fn issue_sts_key_registers_a_key_that_expires_on_the_emulator_clock() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(300));
    assert_looks_issued(
        &key.access_key_id,
        &key.access_key_secret,
        &key.security_token,
    );
    assert_eq!(key.issued_by, "issue_sts_key");
    assert_eq!(key.caller, None);
    let left = secs_until(key.expiration);
    assert!((299..=301).contains(&left), "{left}");
    assert_eq!(key.expiration_text().len(), 20);
    assert_eq!(emu.issued_keys(), vec![key.clone()]);
    describe_with_key(&emu, &key).assert_ok();
    // Ten minutes later on the emulator's clock (still within the
    // timestamp window) the key has expired.
    emu.set_clock_skew(chrono::TimeDelta::minutes(10));
    describe_with_key(&emu, &key).assert_error(400, "InvalidSecurityToken.Expired");
    emu.set_clock_skew(chrono::TimeDelta::zero());
    describe_with_key(&emu, &key).assert_ok();
    let other = emu.issue_sts_key(Duration::from_secs(300));
    assert_ne!(other.access_key_id, key.access_key_id);
    assert_ne!(other.security_token, key.security_token);
}

// ------------------------------------------------------- metadata service

/// One request to a fake's `addr` (`Connection: close`).
fn http_to(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpAnswer {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    send_raw(addr, &head, b"")
}

const IMDS_TOKEN_PATH: &str = "/latest/api/token";
const IMDS_ROLES_PATH: &str = "/latest/meta-data/ram/security-credentials/";
const TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";

fn imds_token(imds: &Imds, ttl: &str) -> HttpAnswer {
    http_to(imds.addr(), "PUT", IMDS_TOKEN_PATH, &[(TTL_HEADER, ttl)])
}

fn imds_get(imds: &Imds, path: &str, token: Option<&str>) -> HttpAnswer {
    let headers: Vec<(&str, &str)> = token.map(|t| (TOKEN_HEADER, t)).into_iter().collect();
    http_to(imds.addr(), "GET", path, &headers)
}

/// Checks a metadata/credentials-URI JSON answer hands out `key`.
#[track_caller]
fn assert_hands_out(body: &str, key: &IssuedKey) -> Value {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["Code"], "Success", "{body}");
    assert_eq!(json["AccessKeyId"], key.access_key_id.as_str());
    assert_eq!(json["AccessKeySecret"], key.access_key_secret.as_str());
    assert_eq!(json["SecurityToken"], key.security_token.as_str());
    assert_eq!(json["Expiration"], key.expiration_text().as_str());
    json
}

#[test]
fn imds_hands_out_the_key_after_the_token_dance() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let imds = Imds::start(ImdsConfig::new(key.clone()));
    assert_eq!(imds.endpoint(), format!("http://{}", imds.addr()));

    let answer = imds_token(&imds, "21600");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body.clone();
    assert!(token.len() >= 20, "{token}");
    let roles = imds_get(&imds, IMDS_ROLES_PATH, Some(&token));
    assert_eq!(
        (roles.status, roles.body.as_str()),
        (200, "copy-image-ecs-role")
    );
    let path = format!("{IMDS_ROLES_PATH}copy-image-ecs-role");
    let answer = imds_get(&imds, &path, Some(&token));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let json = assert_hands_out(&answer.body, &key);
    let updated = json["LastUpdated"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(updated, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "{updated}"
    );
    // What it hands out works against the emulator.
    describe_with(
        &emu,
        json["AccessKeyId"].as_str().unwrap(),
        json["AccessKeySecret"].as_str().unwrap(),
        json["SecurityToken"].as_str(),
    )
    .assert_ok();

    let requests = imds.requests();
    let seen: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("PUT", IMDS_TOKEN_PATH),
            ("GET", IMDS_ROLES_PATH),
            ("GET", path.as_str())
        ]
    );
    assert_eq!(
        requests[0].header("x-aliyun-ecs-metadata-token-ttl-seconds"),
        Some("21600")
    );
    assert!(requests[0]
        .headers
        .iter()
        .any(|(k, v)| k == "x-aliyun-ecs-metadata-token-ttl-seconds" && v == "21600"));
    assert!(requests[2]
        .headers
        .iter()
        .any(|(k, v)| k == "x-aliyun-ecs-metadata-token" && *v == token));

    // A bad or missing TTL; a GET for a token.
    for ttl in ["0", "21601", "abc", "", "-1", "60s"] {
        assert_eq!(imds_token(&imds, ttl).status, 400, "ttl {ttl:?}");
    }
    assert_eq!(
        http_to(imds.addr(), "PUT", IMDS_TOKEN_PATH, &[]).status,
        400
    );
    assert_eq!(imds_token(&imds, "1").status, 200);
    assert_eq!(
        http_to(imds.addr(), "GET", IMDS_TOKEN_PATH, &[(TTL_HEADER, "60")]).status,
        405
    );
    // A token it never issued is refused, even though none is required.
    assert_eq!(
        imds_get(&imds, IMDS_ROLES_PATH, Some("forged-token")).status,
        401
    );
    assert_eq!(imds_get(&imds, &path, Some("")).status, 401);
    // Another role, another path.
    let other = format!("{IMDS_ROLES_PATH}another-role");
    assert_eq!(imds_get(&imds, &other, Some(&token)).status, 404);
    assert_eq!(
        imds_get(&imds, "/latest/meta-data/instance-id", None).status,
        404
    );

    // After set_key, the new key is handed out.
    let next = emu.issue_sts_key(Duration::from_secs(3600));
    imds.set_key(next.clone());
    assert_eq!(imds.key(), next);
    let answer = imds_get(&imds, &path, Some(&token));
    assert_hands_out(&answer.body, &next);
}

#[test]
fn imds_v1_only_refuses_tokens_and_serves_without_one() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let imds = Imds::start(ImdsConfig {
        tokens_supported: false,
        ..ImdsConfig::new(key.clone())
    });
    assert_eq!(imds_token(&imds, "21600").status, 404);
    let roles = imds_get(&imds, IMDS_ROLES_PATH, None);
    assert_eq!(
        (roles.status, roles.body.as_str()),
        (200, "copy-image-ecs-role")
    );
    let answer = imds_get(
        &imds,
        &format!("{IMDS_ROLES_PATH}copy-image-ecs-role"),
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_hands_out(&answer.body, &key);
    assert!(imds.issued_tokens().is_empty());
    assert_eq!(imds.requests().len(), 3);

    // The default configuration hands out a key no emulator knows.
    let imds = Imds::start(ImdsConfig::default());
    let key = imds.key();
    assert_eq!(key.issued_by, "unregistered");
    let answer = imds_get(
        &imds,
        &format!("{IMDS_ROLES_PATH}copy-image-ecs-role"),
        None,
    );
    assert_hands_out(&answer.body, &key);
    describe_with_key(&emu, &key).assert_error(404, "InvalidAccessKeyId.NotFound");
}

#[test]
fn imds_require_token_refuses_gets_without_a_valid_token() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let imds = Imds::start(ImdsConfig {
        role_name: "hardened-role".to_string(),
        require_token: true,
        ..ImdsConfig::new(key.clone())
    });
    let path = format!("{IMDS_ROLES_PATH}hardened-role");
    assert_eq!(imds_get(&imds, IMDS_ROLES_PATH, None).status, 401);
    assert_eq!(imds_get(&imds, &path, None).status, 401);
    assert_eq!(imds_get(&imds, &path, Some("forged")).status, 401);
    let token = imds_token(&imds, "21600").body;
    let roles = imds_get(&imds, IMDS_ROLES_PATH, Some(&token));
    assert_eq!((roles.status, roles.body.as_str()), (200, "hardened-role"));
    assert_hands_out(&imds_get(&imds, &path, Some(&token)).body, &key);
    assert_eq!(imds.issued_tokens(), vec![token]);
    // A token outlives its TTL.
    let short = imds_token(&imds, "1").body;
    assert_eq!(imds_get(&imds, &path, Some(&short)).status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(imds_get(&imds, &path, Some(&short)).status, 401);
}

// --------------------------------------------------------- credentials URI

#[test]
fn the_credentials_uri_hands_out_its_key_or_its_broken_answer() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(900));
    let uri = CredentialsUri::start(key.clone());
    assert_eq!(uri.url(), format!("http://{}/credentials", uri.addr()));
    assert_eq!(uri.requests(), 0);
    let answer = http_to(uri.addr(), "GET", "/credentials", &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let json = assert_hands_out(&answer.body, &key);
    describe_with(
        &emu,
        json["AccessKeyId"].as_str().unwrap(),
        json["AccessKeySecret"].as_str().unwrap(),
        json["SecurityToken"].as_str(),
    )
    .assert_ok();
    assert_eq!(uri.requests(), 1);
    assert_eq!(http_to(uri.addr(), "GET", "/other", &[]).status, 404);
    assert_eq!(http_to(uri.addr(), "POST", "/credentials", &[]).status, 405);
    assert_eq!(uri.requests(), 3);
    let next = emu.issue_sts_key(Duration::from_secs(900));
    uri.set_key(next.clone());
    assert_hands_out(&http_to(uri.addr(), "GET", "/credentials", &[]).body, &next);

    let broken = CredentialsUri::start_with_body(500, r#"{"Code":"InternalError"}"#.to_string());
    let answer = http_to(broken.addr(), "GET", "/credentials", &[]);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (500, r#"{"Code":"InternalError"}"#)
    );
    let garbled = CredentialsUri::start_with_body(200, "not json".to_string());
    let answer = http_to(garbled.addr(), "GET", "/credentials", &[]);
    assert_eq!((answer.status, answer.body.as_str()), (200, "not json"));
    assert_eq!((broken.requests(), garbled.requests()), (1, 1));
}

// ------------------------------------------------------------ signature V3

/// The official worked example of the V3 documentation ("fixed parameter
/// values"): ECS RunInstances in cn-shanghai, POST, empty body.
const V3_OFFICIAL_CANONICAL_REQUEST: &str = "POST
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
const V3_OFFICIAL_AUTHORIZATION: &str = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn v3_verifier_reproduces_the_official_worked_example() {
    use signature_v3::*;
    assert_eq!(sha256_hex(b""), EMPTY_SHA256);

    let auth = parse_authorization(V3_OFFICIAL_AUTHORIZATION).expect("parses");
    assert_eq!(auth.access_key_id, "YourAccessKeyId");
    assert_eq!(
        auth.signature,
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    );
    assert_eq!(
        auth.signed_header_list(),
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    );

    // Received in another order and case, with headers that are not signed.
    let query = owned(&[
        ("RegionId", "cn-shanghai"),
        (
            "ImageId",
            "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
        ),
    ]);
    let headers = owned(&[
        ("user-agent", "not signed"),
        ("X-Acs-Version", "2014-05-26"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        ("Host", "ecs.cn-shanghai.aliyuncs.com"),
        ("x-acs-date", " 2023-10-26T10:22:32Z "),
        ("x-acs-action", "RunInstances"),
        ("x-acs-content-sha256", EMPTY_SHA256),
        ("authorization", V3_OFFICIAL_AUTHORIZATION),
    ]);
    let query_part = canonical_query(&query);
    assert_eq!(
        query_part,
        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
    );
    let headers_part = canonical_headers(&auth.signed_headers, &headers).unwrap();
    let request = canonical_request(
        "POST",
        "/",
        &query_part,
        &headers_part,
        &auth.signed_header_list(),
        EMPTY_SHA256,
    );
    assert_eq!(request, V3_OFFICIAL_CANONICAL_REQUEST);
    let sts = string_to_sign(&request);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    );
    assert_eq!(hmac_sha256_hex("YourAccessKeySecret", &sts), auth.signature);

    // The hand signer gives the official Authorization (it signs every header given).
    let signed = owned(&[
        ("x-acs-version", "2014-05-26"),
        ("host", "ecs.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "RunInstances"),
        ("x-acs-date", "2023-10-26T10:22:32Z"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        ("x-acs-content-sha256", EMPTY_SHA256),
    ]);
    assert_eq!(
        authorization_for(
            "POST",
            "/",
            &query,
            &signed,
            "YourAccessKeyId",
            "YourAccessKeySecret"
        ),
        V3_OFFICIAL_AUTHORIZATION
    );

    // A signed header the request lacks is named.
    assert_eq!(
        canonical_headers(&auth.signed_headers, &headers[..3]),
        Err("host".to_string())
    );
}

#[test]
fn v3_verifier_reproduces_the_derived_copy_image_vectors() {
    use signature_v3::*;
    let query = owned(&[
        ("RegionId", "cn-hangzhou"),
        ("ImageId", "m-bp1h46wfpjsjastc****"),
        ("DestinationRegionId", "cn-shanghai"),
        ("DestinationImageName", "my-copy"),
        ("DestinationDescription", "copied by copy-image *~ é"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "prod"),
    ]);
    let mut headers = owned(&[
        ("host", "ecs.cn-hangzhou.aliyuncs.com"),
        ("x-acs-action", "CopyImage"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-date", "2024-01-02T03:04:05Z"),
        ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
        ("x-acs-content-sha256", EMPTY_SHA256),
    ]);
    let names: Vec<String> = {
        let mut n: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        n.sort();
        n
    };
    let request = canonical_request(
        "POST",
        "/",
        &canonical_query(&query),
        &canonical_headers(&names, &headers).unwrap(),
        &names.join(";"),
        EMPTY_SHA256,
    );
    assert_eq!(
        string_to_sign(&request),
        "ACS3-HMAC-SHA256\n84c0eb04ebdc6049a5f81a00afac04f9c087e9ecd32f6a387e1039d55b2e61fe"
    );
    let plain = authorization_for("POST", "/", &query, &headers, "testid", "testsecret");
    assert!(
        plain.ends_with(
            ",Signature=d3e02e6e6cd88dfff09fd01f76d4e9bfc38d614b02d005dc70349606dbfe373f"
        ),
        "{plain}"
    );
    headers.push((
        "x-acs-security-token".to_string(),
        "CAIS/sts+token==".to_string(),
    ));
    assert_eq!(
        authorization_for("POST", "/", &query, &headers, "testid", "testsecret"),
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;\
         x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,\
         Signature=14a1db4d73ff5e8fea78ec4620c2d114964f20b9c68a79040d675fe216deeea8"
    );
}

#[test]
fn v3_authorization_parsing_refuses_what_is_malformed() {
    use signature_v3::parse_authorization;
    let ok = parse_authorization(
        " ACS3-HMAC-SHA256  Credential=id , SignedHeaders=x-acs-date;Host;host,Signature=ab",
    )
    .unwrap();
    assert_eq!(ok.access_key_id, "id");
    assert_eq!(ok.signed_headers, vec!["host", "x-acs-date"]);
    assert_eq!(ok.signature, "ab");
    for bad in [
        "",
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=id,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host;;x-acs-date,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host,Signature=ab,Signature=cd",
        "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host,Signature",
        "ACS3-HMAC-SM3 Credential=id,SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256X Credential=id,SignedHeaders=host,Signature=ab",
    ] {
        assert!(parse_authorization(bad).is_err(), "accepted {bad:?}");
    }
}

/// One V3 call, built by hand: every header in `signed` is signed.
struct V3Call {
    method: &'static str,
    query: Vec<(String, String)>,
    /// Lower-case names; `host` included.
    signed: Vec<(String, String)>,
    /// Sent but left out of SignedHeaders.
    unsigned: Vec<(String, String)>,
    body: Vec<u8>,
    key_id: String,
    secret: String,
}

impl V3Call {
    /// A call with the plain key, a fresh nonce, the current time, no body.
    fn new(emu: &Emulator, action: &str, version: &str, query: &[(&str, &str)]) -> V3Call {
        V3Call {
            method: "POST",
            query: owned(query),
            signed: owned(&[
                ("host", &emu.addr().to_string()),
                ("x-acs-action", action),
                ("x-acs-version", version),
                ("x-acs-date", &timestamp(chrono::Duration::zero())),
                (
                    "x-acs-signature-nonce",
                    &uuid::Uuid::new_v4().simple().to_string(),
                ),
                ("x-acs-content-sha256", EMPTY_SHA256),
            ]),
            unsigned: Vec::new(),
            body: Vec::new(),
            key_id: ACCESS_KEY_ID.to_string(),
            secret: ACCESS_KEY_SECRET.to_string(),
        }
    }

    fn ecs(emu: &Emulator, action: &str, query: &[(&str, &str)]) -> V3Call {
        V3Call::new(emu, action, "2014-05-26", query)
    }

    /// Sets (or adds) a signed header.
    fn with(mut self, name: &str, value: &str) -> V3Call {
        self.signed.retain(|(n, _)| n != name);
        self.signed.push((name.to_string(), value.to_string()));
        self
    }

    fn without(mut self, name: &str) -> V3Call {
        self.signed.retain(|(n, _)| n != name);
        self
    }

    fn unsigned(mut self, name: &str, value: &str) -> V3Call {
        self.unsigned.push((name.to_string(), value.to_string()));
        self
    }

    fn key(mut self, id: &str, secret: &str) -> V3Call {
        self.key_id = id.to_string();
        self.secret = secret.to_string();
        self
    }

    /// A form body, its hash and content type signed.
    fn form(self, body: &str) -> V3Call {
        let mut call = self
            .with("content-type", "application/x-www-form-urlencoded")
            .with(
                "x-acs-content-sha256",
                &signature_v3::sha256_hex(body.as_bytes()),
            );
        call.body = body.as_bytes().to_vec();
        call
    }

    fn authorization(&self) -> String {
        signature_v3::authorization_for(
            self.method,
            "/",
            &self.query,
            &self.signed,
            &self.key_id,
            &self.secret,
        )
    }

    /// What the server should compute as the string to sign.
    fn string_to_sign(&self) -> String {
        let mut names: Vec<String> = self.signed.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        signature_v3::string_to_sign(&signature_v3::canonical_request(
            self.method,
            "/",
            &signature_v3::canonical_query(&self.query),
            &signature_v3::canonical_headers(&names, &self.signed).unwrap(),
            &names.join(";"),
            &signature_v3::sha256_hex(&self.body),
        ))
    }

    fn send(&self, emu: &Emulator) -> HttpAnswer {
        self.send_with(emu, &self.authorization())
    }

    /// Sends with this `Authorization` value.
    fn send_with(&self, emu: &Emulator, authorization: &str) -> HttpAnswer {
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        let mut head = format!("{} /?{} HTTP/1.1\r\n", self.method, query.join("&"));
        for (name, value) in self.signed.iter().chain(&self.unsigned) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Authorization: {authorization}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            self.body.len()
        ));
        send_raw(emu.addr(), &head, &self.body)
    }
}

fn v3_copy_query() -> Vec<(&'static str, &'static str)> {
    vec![
        ("RegionId", SOURCE_REGION),
        ("ImageId", SOURCE_IMAGE_ID),
        ("DestinationRegionId", "cn-shanghai"),
    ]
}

#[test]
fn a_v3_copy_image_signed_by_hand_is_accepted_and_creates_a_copy() {
    let emu = Emulator::start();
    let mut query = v3_copy_query();
    query.extend([
        ("DestinationImageName", "v3-copy"),
        ("DestinationDescription", "copied by V3 *~ é"),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "prod"),
    ]);
    let answer = V3Call::ecs(&emu, "CopyImage", &query).send(&emu);
    let json = answer.assert_ok();
    assert_eq!(
        answer.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let id = json["ImageId"].as_str().expect("an ImageId");
    let image = emu.image("cn-shanghai", id).expect("the copy exists");
    assert_eq!(image.name, "v3-copy");
    assert_eq!(image.description, "copied by V3 *~ é");
    assert_eq!(image.tags, owned(&[("env", "prod")]));
    assert_eq!(image.source_image_id.as_deref(), Some(SOURCE_IMAGE_ID));

    let recorded = emu.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.signature_version(), Some("v3"));
    assert_eq!(r.action(), Some("CopyImage"));
    assert_eq!(r.param("Action"), None);
    assert_eq!(r.param("DestinationImageName"), Some("v3-copy"));
    assert_eq!((r.status, r.code.as_deref()), (200, None));
    assert!(r
        .header("authorization")
        .is_some_and(|a| a.starts_with("ACS3-HMAC-SHA256 Credential=")));

    // A V1 request is still V1.
    copy(&emu, &[("DestinationRegionId", "cn-beijing")]).assert_ok();
    let v1 = &emu.requests()[1];
    assert_eq!(v1.signature_version(), Some("v1"));
    assert_eq!(v1.action(), Some("CopyImage"));
}

#[test]
fn a_v3_describe_images_works_and_a_form_body_is_hashed_and_used() {
    let emu = Emulator::start();
    let json = V3Call::ecs(
        &emu,
        "DescribeImages",
        &[("RegionId", SOURCE_REGION), ("Status", ALL_STATUSES)],
    )
    .send(&emu)
    .assert_ok();
    let mut ids = listed_ids(&json);
    ids.sort();
    assert_eq!(
        ids,
        vec![CREATING_IMAGE_ID.to_string(), SOURCE_IMAGE_ID.to_string()]
    );
    assert_eq!(json["RegionId"], SOURCE_REGION);

    // The API parameters in a form body: the body is covered by its hash.
    let json = V3Call::ecs(&emu, "DescribeImages", &[])
        .form("RegionId=cn-hangzhou&ImageId=m-bp1sourceimage000001")
        .send(&emu)
        .assert_ok();
    assert_eq!(listed_ids(&json), vec![SOURCE_IMAGE_ID.to_string()]);

    // Format=XML in the query asks for XML, as with V1.
    let answer = V3Call::ecs(
        &emu,
        "DescribeImages",
        &[("RegionId", SOURCE_REGION), ("Format", "XML")],
    )
    .send(&emu);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.starts_with("<?xml") && answer.body.contains("<DescribeImagesResponse>"),
        "{}",
        answer.body
    );
}

#[test]
fn a_flipped_v3_signature_is_refused_and_the_string_to_sign_echoed() {
    let emu = Emulator::start();
    let call = V3Call::ecs(&emu, "CopyImage", &v3_copy_query());
    let mut authorization = call.authorization().into_bytes();
    let last = authorization.len() - 1;
    authorization[last] = if authorization[last] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let json = call
        .send_with(&emu, std::str::from_utf8(&authorization).unwrap())
        .assert_error(400, "SignatureDoesNotMatch");
    assert_eq!(
        json["Message"].as_str().unwrap(),
        format!(
            "Specified signature is not matched with our calculation. server string to sign is:{}",
            call.string_to_sign()
        )
    );
    assert_eq!(json["HostId"], "ecs.cn-hangzhou.aliyuncs.com");
    assert!(emu.images_in("cn-shanghai").is_empty(), "no copy was made");

    // Another secret, another method: refused too.
    V3Call::ecs(&emu, "CopyImage", &v3_copy_query())
        .key(ACCESS_KEY_ID, "not-the-secret")
        .send(&emu)
        .assert_error(400, "SignatureDoesNotMatch");
    let mut get = V3Call::ecs(&emu, "CopyImage", &v3_copy_query());
    let signed_as_post = get.authorization();
    get.method = "GET";
    get.send_with(&emu, &signed_as_post)
        .assert_error(400, "SignatureDoesNotMatch");
    // A changed query parameter after signing.
    let call = V3Call::ecs(&emu, "CopyImage", &v3_copy_query());
    let authorization = call.authorization();
    let mut tampered = call;
    tampered.query[2].1 = "cn-beijing".to_string();
    tampered
        .send_with(&emu, &authorization)
        .assert_error(400, "SignatureDoesNotMatch");
    // An unknown Credential.
    V3Call::ecs(&emu, "CopyImage", &v3_copy_query())
        .key("LTAInobody", "x")
        .send(&emu)
        .assert_error(404, "InvalidAccessKeyId.NotFound");
    assert!(emu.images_in("cn-shanghai").is_empty(), "no copy was made");
    let codes: Vec<Option<String>> = emu.requests().into_iter().map(|r| r.code).collect();
    assert_eq!(codes.len(), 5);
}

#[test]
fn a_malformed_v3_authorization_is_an_incomplete_signature() {
    let emu = Emulator::start();
    let call = V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]);
    let good = call.authorization();
    let (_, signature) = good.rsplit_once("Signature=").unwrap();
    for bad in [
        "ACS3-HMAC-SHA256".to_string(),
        format!("ACS3-HMAC-SHA256 Credential={ACCESS_KEY_ID},Signature={signature}"),
        good.replace(",Signature=", ",Sig="),
        good.replace("Credential=", "Cred="),
        good.replace("ACS3-HMAC-SHA256 ", "ACS3-HMAC-SM3 "),
        format!("ACS3-HMAC-SHA256 Credential={ACCESS_KEY_ID},SignedHeaders=,Signature={signature}"),
    ] {
        let json = call
            .send_with(&emu, &bad)
            .assert_error(400, "IncompleteSignature");
        assert!(
            json["Message"]
                .as_str()
                .unwrap()
                .contains("Authorization header is malformed"),
            "{bad}: {json}"
        );
    }
    // The well-formed one passes (nonce not consumed by the refusals).
    call.send(&emu).assert_ok();
}

#[test]
fn v3_headers_must_be_present_and_signed() {
    let emu = Emulator::start();
    let describe = || V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]);

    // Each envelope header is required (the signature covers whatever is sent).
    for name in [
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        let json = describe()
            .without(name)
            .send(&emu)
            .assert_error(400, "MissingParameter");
        assert!(
            json["Message"].as_str().unwrap().contains(name),
            "{name}: {json}"
        );
    }

    // An x-acs-* header, or host, left out of SignedHeaders.
    let json = describe()
        .unsigned("x-acs-accesskey-id", ACCESS_KEY_ID)
        .send(&emu)
        .assert_error(400, "IncompleteSignature");
    assert!(
        json["Message"]
            .as_str()
            .unwrap()
            .contains("\"x-acs-accesskey-id\" is not in SignedHeaders"),
        "{json}"
    );
    let call = describe();
    let without_host = call
        .authorization()
        .replace("SignedHeaders=host;", "SignedHeaders=");
    let json = call
        .send_with(&emu, &without_host)
        .assert_error(400, "IncompleteSignature");
    assert!(
        json["Message"].as_str().unwrap().contains("\"host\""),
        "{json}"
    );
    // A signed header that is not sent.
    let call = describe();
    let listed_more = call
        .authorization()
        .replace(";x-acs-version,", ";x-acs-version;x-acs-extra,");
    let json = call
        .send_with(&emu, &listed_more)
        .assert_error(400, "IncompleteSignature");
    assert!(
        json["Message"]
            .as_str()
            .unwrap()
            .contains("\"x-acs-extra\""),
        "{json}"
    );

    // The official SDKs sign more than the minimum: accepted.
    describe()
        .with("accept", "application/json")
        .with("user-agent", "AlibabaCloud (Linux) Python/3.12 TeaDSL/1")
        .with("x-acs-accesskey-id", ACCESS_KEY_ID)
        .send(&emu)
        .assert_ok();
    // Headers that need no signing may go unsigned.
    describe()
        .unsigned("accept", "application/json")
        .unsigned("user-agent", "test")
        .send(&emu)
        .assert_ok();

    // Refused before any V3 check (a bad escape, a wrong path): still JSON.
    let call = describe();
    let head = format!(
        "POST /?RegionId=cn-hangzhou&bad=%G0 HTTP/1.1\r\nhost: {}\r\n\
         Authorization: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        emu.addr(),
        call.authorization()
    );
    send_raw(emu.addr(), &head, b"").assert_error(400, "InvalidParameter");

    // The version and the action are the headers'.
    describe()
        .with("x-acs-version", "2016-01-01")
        .send(&emu)
        .assert_error(400, "InvalidVersion");
    V3Call::ecs(&emu, "RunInstances", &[("RegionId", SOURCE_REGION)])
        .send(&emu)
        .assert_error(404, "InvalidAction.NotFound");
    // A query `Action` does not override the header.
    let json = V3Call::ecs(
        &emu,
        "DescribeImages",
        &[("RegionId", SOURCE_REGION), ("Action", "CopyImage")],
    )
    .send(&emu)
    .assert_ok();
    assert!(json["Images"].is_object(), "{json}");
}

#[test]
fn a_wrong_v3_content_sha256_is_refused() {
    let emu = Emulator::start();
    // Signed consistently, but the body is not the one hashed.
    let json = V3Call::ecs(&emu, "CopyImage", &v3_copy_query())
        .with("x-acs-content-sha256", &signature_v3::sha256_hex(b"other"))
        .send(&emu)
        .assert_error(400, "SignatureDoesNotMatch");
    assert!(
        json["Message"]
            .as_str()
            .unwrap()
            .contains("x-acs-content-sha256"),
        "{json}"
    );
    let mut call = V3Call::ecs(&emu, "DescribeImages", &[]).form("RegionId=cn-hangzhou");
    call.body = b"RegionId=cn-beijing".to_vec();
    call.send(&emu).assert_error(400, "SignatureDoesNotMatch");
    assert!(emu.images_in("cn-shanghai").is_empty(), "no copy was made");
}

#[test]
fn v3_nonce_and_date_are_checked_like_v1() {
    let emu = Emulator::start();
    let call = V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)]);
    call.send(&emu).assert_ok();
    call.send(&emu).assert_error(400, "SignatureNonceUsed");
    // The nonce is per key, shared with V1: a V1 call with the same nonce is refused.
    let nonce = call
        .signed
        .iter()
        .find(|(n, _)| n == "x-acs-signature-nonce")
        .unwrap()
        .1
        .clone();
    let params = with(
        without(common("DescribeImages", ACCESS_KEY_ID), "SignatureNonce"),
        &[("SignatureNonce", &nonce), ("RegionId", SOURCE_REGION)],
    );
    http(
        &emu,
        "POST",
        &signed_query("POST", &params, ACCESS_KEY_SECRET),
    )
    .assert_error(400, "SignatureNonceUsed");

    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .with("x-acs-date", &timestamp(chrono::Duration::minutes(-16)))
        .send(&emu)
        .assert_error(400, "InvalidTimeStamp.Expired");
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .with("x-acs-date", &timestamp(chrono::Duration::minutes(16)))
        .send(&emu)
        .assert_error(400, "InvalidTimeStamp.Expired");
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .with("x-acs-date", "2024-01-02 03:04:05")
        .send(&emu)
        .assert_error(400, "IllegalTimestamp");
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .with("x-acs-date", &timestamp(chrono::Duration::minutes(-14)))
        .send(&emu)
        .assert_ok();
    // The emulator's skewed clock moves the window.
    emu.set_clock_skew(chrono::TimeDelta::minutes(30));
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .send(&emu)
        .assert_error(400, "InvalidTimeStamp.Expired");
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .with("x-acs-date", &timestamp(chrono::Duration::minutes(30)))
        .send(&emu)
        .assert_ok();
}

#[test]
fn v3_sts_keys_need_their_token_header_and_sts_issues_keys_over_v3() {
    let emu = Emulator::start();
    let sts_describe = || {
        V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
            .key(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET)
    };
    sts_describe()
        .with("x-acs-security-token", STS_SECURITY_TOKEN)
        .send(&emu)
        .assert_ok();
    sts_describe()
        .send(&emu)
        .assert_error(400, "MissingSecurityToken");
    sts_describe()
        .with("x-acs-security-token", "CAIS/other+token==")
        .send(&emu)
        .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
    // The token is an x-acs-* header: it must be signed.
    sts_describe()
        .unsigned("x-acs-security-token", STS_SECURITY_TOKEN)
        .send(&emu)
        .assert_error(400, "IncompleteSignature");
    // A query SecurityToken does not count for V3.
    V3Call::ecs(
        &emu,
        "DescribeImages",
        &[
            ("RegionId", SOURCE_REGION),
            ("SecurityToken", STS_SECURITY_TOKEN),
        ],
    )
    .key(STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET)
    .send(&emu)
    .assert_error(400, "MissingSecurityToken");
    // A plain key with a token.
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .with("x-acs-security-token", STS_SECURITY_TOKEN)
        .send(&emu)
        .assert_error(400, "InvalidSecurityToken.Malformed");

    // AssumeRole over V3 issues a key that V3 ECS calls accept with its token.
    let json = V3Call::new(
        &emu,
        "AssumeRole",
        "2015-04-01",
        &[("RoleArn", ROLE_ARN), ("RoleSessionName", "v3-session")],
    )
    .send(&emu)
    .assert_ok();
    let (id, secret, token, _) = credentials_of(&json);
    assert_eq!(emu.issued_keys()[0].caller.as_deref(), Some(ACCESS_KEY_ID));
    assert_eq!(emu.requests().last().unwrap().action(), Some("AssumeRole"));
    V3Call::ecs(&emu, "CopyImage", &v3_copy_query())
        .key(&id, &secret)
        .with("x-acs-security-token", &token)
        .send(&emu)
        .assert_ok();
    V3Call::ecs(&emu, "CopyImage", &v3_copy_query())
        .key(&id, &secret)
        .send(&emu)
        .assert_error(400, "MissingSecurityToken");
}

#[test]
fn faults_match_v3_requests_by_their_action_header() {
    let emu = Emulator::start();
    emu.inject(
        Some("CopyImage"),
        vec![Fault::Throttle {
            retry_after_ms: Some(250),
        }],
    );
    // Another action passes the fault by.
    V3Call::ecs(&emu, "DescribeImages", &[("RegionId", SOURCE_REGION)])
        .send(&emu)
        .assert_ok();
    let answer = V3Call::ecs(&emu, "CopyImage", &v3_copy_query()).send(&emu);
    // JSON, as the V3 request would have been answered.
    answer.assert_error(400, "Throttling");
    assert_eq!(answer.header("x-acs-retry-after"), Some("250"));
    assert_eq!(emu.pending_faults(), 0);
    let recorded = emu.requests();
    assert_eq!(recorded[1].action(), Some("CopyImage"));
    assert_eq!(recorded[1].fault.as_deref(), Some("Throttle"));
    assert!(emu.images_in("cn-shanghai").is_empty(), "no copy was made");
}
