//! The real binary against the local ECS emulator. Every command runs with an emptied
//! environment, so a developer's own credentials, profile or endpoint can never leak in.

mod emulator;
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use assert_cmd::Command;
use emulator::Emulator;
use support::{bare, stderr, stdout, with_keys};

const DEST: &str = "cn-shanghai";

/// A minimal copy of the emulator's source image to Shanghai.
fn copy(emu: &Emulator) -> Command {
    let mut cmd = with_keys(&emu.endpoint());
    cmd.args([
        "--source-region",
        emulator::SOURCE_REGION,
        "--image-id",
        emulator::SOURCE_IMAGE_ID,
        "--destination-region",
        DEST,
    ]);
    cmd
}

fn only_request(emu: &Emulator) -> emulator::RecordedRequest {
    let requests = emu.requests();
    assert_eq!(requests.len(), 1, "exactly one request: {requests:?}");
    requests.into_iter().next().unwrap()
}

// --- success -------------------------------------------------------------------------------

#[test]
fn text_output_is_the_new_image_id_alone() {
    let emu = Emulator::start();
    let out = copy(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let id = stdout(&out);
    assert!(id.ends_with('\n') && id.lines().count() == 1, "{id:?}");
    let id = id.trim_end();
    assert!(id.starts_with("m-"), "{id}");
    assert_eq!(stderr(&out), "", "nothing on stderr on success");

    let image = emu
        .image(DEST, id)
        .expect("the copy exists in the destination region");
    assert_eq!(
        image.source_image_id.as_deref(),
        Some(emulator::SOURCE_IMAGE_ID)
    );
    let req = only_request(&emu);
    assert_eq!(req.status, 200);
    assert_eq!(req.action(), Some("CopyImage"));
}

#[test]
fn json_output_is_one_object_with_the_documented_fields() {
    let emu = Emulator::start();
    let out = copy(&emu).args(["--output", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 4, "{v}");
    let id = v["ImageId"].as_str().unwrap();
    assert!(emu.image(DEST, id).is_some());
    assert_eq!(v["SourceRegionId"], emulator::SOURCE_REGION);
    assert_eq!(v["DestinationRegionId"], DEST);
    let request_id = v["RequestId"].as_str().unwrap();
    assert!(request_id.len() >= 32, "{request_id}");
}

/// Every property, with the characters that break naive encoders: the emulator checks the
/// signature with its own implementation, so a wrong byte anywhere fails the copy.
#[test]
fn full_copy_with_unicode_and_reserved_characters_is_signed_correctly() {
    let emu = Emulator::start();
    let name = "测试镜像.v1:copy_2-b";
    let description = "copied by copy-image * ~ + / & = % 中文 😀 end";
    let tag_value = "a b*c~d+e/f&g=h%i 值 🚀";
    let out = copy(&emu)
        .args(["--destination-image-name", name])
        .args(["--destination-description", description])
        .args([
            "--encrypted",
            "--kms-key-id",
            "0e478b7a-4262-4802-b8cb-00d3fb408a3e",
        ])
        .args(["--resource-group-id", "rg-acfmxazb4ph6aiy"])
        .args(["--tag", &format!("team={tag_value}")])
        .args(["--tag", "环境=生产"])
        .args(["--tag", "empty="])
        .args(["--tag", "bare"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let id = stdout(&out).trim_end().to_owned();

    let image = emu.image(DEST, &id).expect("copy exists");
    assert_eq!(image.name, name);
    assert_eq!(image.description, description);
    assert_eq!(image.encrypted, Some(true));
    assert_eq!(
        image.kms_key_id.as_deref(),
        Some("0e478b7a-4262-4802-b8cb-00d3fb408a3e")
    );
    assert_eq!(
        image.resource_group_id.as_deref(),
        Some("rg-acfmxazb4ph6aiy")
    );
    let tags: Vec<(&str, &str)> = image
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        tags,
        [
            ("team", tag_value),
            ("环境", "生产"),
            ("empty", ""),
            ("bare", "")
        ]
    );

    let req = only_request(&emu);
    assert_eq!(req.param("Tag.1.Key"), Some("team"));
    assert_eq!(req.param("Tag.4.Key"), Some("bare"));
    assert_eq!(req.param("Tag.4.Value"), Some(""));
    assert_eq!(req.param("Encrypted"), Some("true"));
    assert_eq!(
        req.param("KMSKeyId"),
        Some("0e478b7a-4262-4802-b8cb-00d3fb408a3e")
    );
}

#[test]
fn request_goes_on_the_wire_as_the_official_sdks_send_it() {
    let emu = Emulator::start();
    let out = copy(&emu).arg("--no-encrypted").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let req = only_request(&emu);
    assert_eq!(req.method, "POST");
    assert_eq!(req.body, "", "parameters travel in the query string");
    for (name, value) in [
        ("Action", "CopyImage"),
        ("Version", "2014-05-26"),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", emulator::ACCESS_KEY_ID),
        ("RegionId", emulator::SOURCE_REGION),
        ("ImageId", emulator::SOURCE_IMAGE_ID),
        ("DestinationRegionId", DEST),
        ("Encrypted", "false"),
    ] {
        assert_eq!(req.param(name), Some(value), "{name}");
    }
    let ts = req.param("Timestamp").unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "Timestamp {ts}"
    );
    assert!(req.param("SignatureNonce").is_some_and(|n| n.len() >= 16));
    assert!(req.param("Signature").is_some());
    assert!(req.param("SecurityToken").is_none());
    for absent in [
        "DestinationImageName",
        "DestinationDescription",
        "KMSKeyId",
        "ResourceGroupId",
        "Tag.1.Key",
    ] {
        assert!(req.param(absent).is_none(), "{absent} must not be sent");
    }
    assert!(
        !req.raw_query.contains('+'),
        "space is %20, never +: {}",
        req.raw_query
    );
}

#[test]
fn encrypted_is_omitted_unless_asked_for() {
    let emu = Emulator::start();
    let out = copy(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(only_request(&emu).param("Encrypted"), None);
}

#[test]
fn every_run_signs_with_a_fresh_nonce() {
    let emu = Emulator::start();
    for _ in 0..2 {
        let out = copy(&emu).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    }
    let nonces: Vec<String> = emu
        .requests()
        .iter()
        .map(|r| r.param("SignatureNonce").unwrap().to_owned())
        .collect();
    assert_eq!(nonces.len(), 2);
    assert_ne!(nonces[0], nonces[1]);
}

#[test]
fn sts_credentials_send_the_security_token() {
    let emu = Emulator::start();
    let out = copy(&emu)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::STS_ACCESS_KEY_ID)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            emulator::STS_ACCESS_KEY_SECRET,
        )
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", emulator::STS_SECURITY_TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let req = only_request(&emu);
    assert_eq!(
        req.param("SecurityToken"),
        Some(emulator::STS_SECURITY_TOKEN)
    );
    assert_eq!(req.param("AccessKeyId"), Some(emulator::STS_ACCESS_KEY_ID));
}

#[test]
fn source_region_and_endpoint_come_from_the_environment() {
    let emu = Emulator::start();
    let out = with_keys(&emu.endpoint())
        .env("ALIBABA_CLOUD_REGION_ID", emulator::SOURCE_REGION)
        .args([
            "--image-id",
            emulator::SOURCE_IMAGE_ID,
            "--destination-region",
            DEST,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        only_request(&emu).param("RegionId"),
        Some(emulator::SOURCE_REGION)
    );
}

#[test]
fn region_flag_wins_over_the_environment() {
    let emu = Emulator::start();
    let out = copy(&emu)
        .env("ALIBABA_CLOUD_REGION_ID", "eu-central-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        only_request(&emu).param("RegionId"),
        Some(emulator::SOURCE_REGION)
    );
}

// --- exit 2: usage and validation, nothing sent ---------------------------------------------

#[test]
fn validation_errors_exit_2_name_flag_value_and_rule_and_send_nothing() {
    let emu = Emulator::start();
    let cases: &[(&[&str], &str)] = &[
        (&["--destination-image-name", "1st-copy"], "invalid value '1st-copy' for --destination-image-name: must start with a letter"),
        (&["--destination-image-name", "a"], "invalid value 'a' for --destination-image-name: must be 2 to 128 characters long (got 1)"),
        (&["--destination-image-name", "my copy"], "invalid value 'my copy' for --destination-image-name: may contain only"),
        (&["--destination-image-name", "aliyun-copy"], "for --destination-image-name: must not start with 'aliyun'"),
        (&["--destination-description", "https://x"], "invalid value 'https://x' for --destination-description: must not start with http:// or https://"),
        (&["--kms-key-id", "k1"], "invalid value 'k1' for --kms-key-id: requires --encrypted"),
        (&["--no-encrypted", "--kms-key-id", "k1"], "for --kms-key-id: not allowed with --no-encrypted"),
        (&["--tag", "acs:env=1"], "invalid value 'acs:env=1' for --tag: the tag key must not start with 'acs:'"),
        (&["--tag", "=v"], "invalid value '=v' for --tag: the tag key must not be empty"),
        (&["--tag", "a=1", "--tag", "a=2"], "invalid value 'a=2' for --tag: tag keys must be unique"),
        (&["--endpoint", "http://ecs.example.com"], "invalid value 'http://ecs.example.com' for --endpoint: http:// is allowed only for loopback hosts"),
    ];
    for (args, expected) in cases {
        let out = copy(&emu).args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err:?}"
        );
        assert_eq!(stdout(&out), "", "{args:?}");
    }
    assert!(
        emu.requests().is_empty(),
        "nothing may be sent: {:?}",
        emu.requests()
    );
}

#[test]
fn too_many_tags_exit_2() {
    let emu = Emulator::start();
    let mut cmd = copy(&emu);
    for i in 1..=21 {
        cmd.args(["--tag", &format!("k{i}=v")]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out)
        .contains("invalid value 'k21=v' for --tag: at most 20 tags are allowed (got 21)"));
    assert!(emu.requests().is_empty());
}

#[test]
fn bad_ids_and_regions_exit_2() {
    let emu = Emulator::start();
    let run = |image: &str, source: &str, dest: &str| {
        with_keys(&emu.endpoint())
            .args([
                "--image-id",
                image,
                "--source-region",
                source,
                "--destination-region",
                dest,
            ])
            .output()
            .unwrap()
    };
    let cases = [
        (
            run("img-123", "cn-hangzhou", DEST),
            "invalid value 'img-123' for --image-id: must be a custom image id",
        ),
        (
            run("m-1", "Hangzhou", DEST),
            "invalid value 'Hangzhou' for --source-region: must be a region id",
        ),
        (
            run("m-1", "cn-hangzhou", "shanghai"),
            "invalid value 'shanghai' for --destination-region: must be a region id",
        ),
        (
            run("m-1", "cn-hangzhou", "cn-hangzhou"),
            "for --destination-region: must differ from the source region",
        ),
    ];
    for (out, expected) in cases {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{expected:?} in {:?}",
            stderr(&out)
        );
    }
    assert!(emu.requests().is_empty());
}

#[test]
fn missing_source_region_exits_2_and_says_how_to_set_it() {
    let emu = Emulator::start();
    let out = with_keys(&emu.endpoint())
        .args([
            "--image-id",
            emulator::SOURCE_IMAGE_ID,
            "--destination-region",
            DEST,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--source-region is required"), "{err}");
    assert!(err.contains("ALIBABA_CLOUD_REGION_ID"), "{err}");
    assert!(emu.requests().is_empty());
}

#[test]
fn validation_comes_before_credentials() {
    let out = bare()
        .args([
            "--image-id",
            "nope",
            "--source-region",
            "cn-hangzhou",
            "--destination-region",
            DEST,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2_with_a_snapshot() {
    let out = bare()
        .args(["--destination-region", DEST])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    insta::assert_snapshot!("missing_image_id", stderr(&out));

    let out = bare()
        .args([
            "--image-id",
            "m-1",
            "--destination-region",
            DEST,
            "--encrypted",
            "--no-encrypted",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("encrypted_conflict", stderr(&out));

    let out = bare()
        .args([
            "--image-id",
            "m-1",
            "--destination-region",
            DEST,
            "--output",
            "yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("bad_output_format", stderr(&out));
}

#[test]
fn help_is_on_stdout_and_matches_the_snapshot() {
    let out = bare().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
    insta::assert_snapshot!("help", stdout(&out));
}

#[test]
fn version_is_the_crate_version() {
    let out = bare().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("copy-image {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// --- exit 3: credentials ------------------------------------------------------------------

#[test]
fn no_credentials_exit_3_list_what_was_tried_and_send_nothing() {
    let emu = Emulator::start();
    let out = bare()
        .env("ALIBABA_CLOUD_ECS_ENDPOINT", emu.endpoint())
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--image-id",
            emulator::SOURCE_IMAGE_ID,
        ])
        .args(["--destination-region", DEST])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no credentials found"), "{err}");
    assert!(err.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{err}");
    assert_eq!(stdout(&out), "");
    assert!(emu.requests().is_empty());
}

#[test]
fn half_a_key_pair_exits_3() {
    let emu = Emulator::start();
    let out = copy(&emu)
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out)
        .contains("ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"));
    assert!(emu.requests().is_empty());
}

// --- exit 4: the API said no ----------------------------------------------------------------

#[test]
fn unknown_image_exits_4_with_code_message_and_request_id() {
    let emu = Emulator::start();
    let out = with_keys(&emu.endpoint())
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--image-id",
            "m-bp1doesnotexist0000",
        ])
        .args(["--destination-region", DEST])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let req = only_request(&emu);
    assert_eq!(req.code.as_deref(), Some("InvalidImageId.NotFound"));
    assert!(err.contains("Code:      InvalidImageId.NotFound"), "{err}");
    assert!(
        err.contains("Message:   The specified ImageId does not exist."),
        "{err}"
    );
    assert!(err.contains("RequestId: "), "{err}");
    assert!(err.contains("HTTP 404"), "{err}");
}

#[test]
fn image_not_available_exits_4() {
    let emu = Emulator::start();
    let out = with_keys(&emu.endpoint())
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--image-id",
            emulator::CREATING_IMAGE_ID,
        ])
        .args(["--destination-region", DEST])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("IncorrectImageStatus"));
}

#[test]
fn wrong_secret_exits_4_and_never_shows_secret_or_token() {
    let emu = Emulator::start();
    let wrong = "this-is-not-the-secret-0123";
    let out = copy(&emu)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::STS_ACCESS_KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", emulator::STS_SECURITY_TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(
        err.contains("(redacted)"),
        "the echoed string to sign is masked: {err}"
    );
    let all = format!("{}{err}", stdout(&out));
    for secret in [
        wrong,
        emulator::STS_SECURITY_TOKEN,
        "CAIS%252Femulator",
        "CAIS%2Femulator",
    ] {
        assert!(!all.contains(secret), "{secret:?} leaked: {all}");
    }
}

#[test]
fn unknown_access_key_exits_4() {
    let emu = Emulator::start();
    let out = copy(&emu)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tUnknownKey0000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("InvalidAccessKeyId.NotFound"));
}

#[test]
fn duplicate_name_in_destination_exits_4() {
    let emu = Emulator::start();
    let first = copy(&emu)
        .args(["--destination-image-name", "release-1"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = copy(&emu)
        .args(["--destination-image-name", "release-1"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
    assert!(stderr(&second).contains("InvalidImageName.Duplicated"));
}

// --- exit 5: the service could not be reached or failed -------------------------------------

/// Arguments for a copy sent to a stand-in server, with two attempts.
const TWO_ATTEMPTS: [&str; 8] = [
    "--source-region",
    "cn-hangzhou",
    "--image-id",
    "m-1",
    "--destination-region",
    DEST,
    "--max-attempts",
    "2",
];

#[test]
fn unreachable_endpoint_exits_5_after_retrying() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: connections are refused
    let out = with_keys(&format!("http://127.0.0.1:{port}"))
        .args(TWO_ATTEMPTS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("CopyImage failed after 2 attempts"), "{err}");
    assert!(err.contains("could not reach"), "{err}");
    assert!(err.contains("connection failed"), "{err}");
    assert!(
        !err.contains("Signature="),
        "no signed URL in messages: {err}"
    );
    assert_eq!(stdout(&out), "");
}

/// A stand-in HTTP server that answers up to `connections` connections with `status` and
/// `body`, and counts them.
fn canned_server(
    status: &str,
    content_type: &str,
    body: &str,
    connections: usize,
) -> (String, std::thread::JoinHandle<usize>) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        while served < connections {
            let Ok((mut stream, _)) = listener.accept() else {
                break;
            };
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
            served += 1;
        }
        served
    });
    (endpoint, handle)
}

#[test]
fn gateway_html_error_is_retried_then_exits_5_with_status_and_excerpt() {
    let (endpoint, server) = canned_server(
        "502 Bad Gateway",
        "text/html",
        "<html><body>Bad Gateway</body></html>\n",
        2,
    );
    let out = with_keys(&endpoint).args(TWO_ATTEMPTS).output().unwrap();
    assert_eq!(
        server.join().unwrap(),
        2,
        "both attempts reached the server"
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("failed after 2 attempts"), "{err}");
    assert!(err.contains("HTTP 502"), "{err}");
    assert!(err.contains("<html><body>Bad Gateway"), "{err}");
}

#[test]
fn service_unavailable_code_exits_5() {
    let (endpoint, server) = canned_server(
        "503 Service Unavailable",
        "application/json",
        r#"{"RequestId":"R-503","HostId":"ecs.cn-hangzhou.aliyuncs.com","Code":"ServiceUnavailable","Message":"x"}"#,
        2,
    );
    let out = with_keys(&endpoint).args(TWO_ATTEMPTS).output().unwrap();
    assert_eq!(server.join().unwrap(), 2);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Code:      ServiceUnavailable"), "{err}");
    assert!(err.contains("RequestId: R-503"), "{err}");
    assert!(
        err.contains("attempt 2: HTTP 503 ServiceUnavailable (RequestId R-503)"),
        "{err}"
    );
}

#[test]
fn a_success_status_without_json_is_reported_not_a_panic() {
    let (endpoint, server) = canned_server("200 OK", "text/plain", "not json\n", 2);
    let out = with_keys(&endpoint).args(TWO_ATTEMPTS).output().unwrap();
    assert_eq!(server.join().unwrap(), 2, "an unreadable 2xx is retried");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unexpected answer"), "{err}");
    assert!(err.contains("not json"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_proxy_refusal_is_not_retried_and_exits_4() {
    let (endpoint, server) = canned_server(
        "403 Forbidden",
        "text/html",
        "<html>blocked by proxy</html>",
        1,
    );
    let out = with_keys(&endpoint).args(TWO_ATTEMPTS).output().unwrap();
    assert_eq!(server.join().unwrap(), 1);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!stderr(&out).contains("attempts"), "{}", stderr(&out));
}

/// A TLS server on loopback whose certificate no public authority signed: the tool must
/// refuse it (certificate verification cannot be turned off), and send it nothing.
#[test]
fn an_untrusted_certificate_is_refused() {
    use std::sync::Arc;

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut received = Vec::new();
        if let Ok((tcp, _)) = listener.accept() {
            let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut buf = [0u8; 4096];
            if let Ok(n) = tls.read(&mut buf) {
                received.extend_from_slice(&buf[..n]);
            }
        }
        received
    });
    let out = with_keys(&format!("https://localhost:{port}"))
        .args(["--source-region", "cn-hangzhou", "--image-id", "m-1"])
        .args(["--destination-region", DEST, "--max-attempts", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("certificate"), "{err}");
    assert!(
        server.join().unwrap().is_empty(),
        "no request may cross an untrusted connection"
    );
}

#[test]
fn completions_and_man_page_come_from_the_binary() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bare().args(["--completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("destination-region"), "{shell}");
        assert_eq!(stderr(&out), "");
    }
    let out = bare().arg("--man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(".TH copy-image 1"));
}
