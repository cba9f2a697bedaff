//! The main scenarios again, signed with `--signature-version v3` (ACS3-HMAC-SHA256): the
//! emulator verifies every request with its own V3 implementation.

mod emulator;
mod support;

use std::collections::HashSet;
use std::time::Duration;

use assert_cmd::Command;
use emulator::{Config, Emulator, Fault};
use support::{stderr, stdout};

/// A copy to Shanghai, signed with V3.
fn copy(emu: &Emulator) -> Command {
    let mut cmd = support::copy_of(emu, emulator::SOURCE_IMAGE_ID, DEST);
    cmd.args(["--signature-version", "v3"]);
    cmd
}

const DEST: &str = "cn-shanghai";

/// Every request was V3, and none was refused for its signature.
fn all_v3(emu: &Emulator) -> Vec<emulator::RecordedRequest> {
    let requests = emu.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.signature_version(), Some("v3"), "{r:?}");
        assert!(
            r.param("Signature").is_none() && r.param("Action").is_none(),
            "V3 keeps them out of the query: {r:?}"
        );
        assert_ne!(r.code.as_deref(), Some("SignatureDoesNotMatch"), "{r:?}");
        assert_ne!(r.code.as_deref(), Some("IncompleteSignature"), "{r:?}");
    }
    requests
}

#[test]
fn a_full_copy_with_every_property_and_unicode_is_accepted() {
    let emu = Emulator::start();
    let name = "测试镜像.v1:copy_2-b";
    let description = "copied by copy-image * ~ + / & = % 中文 😀 end";
    let out = copy(&emu)
        .args([
            "--destination-image-name",
            name,
            "--destination-description",
            description,
        ])
        .args([
            "--encrypted",
            "--kms-key-id",
            "key-1",
            "--resource-group-id",
            "rg-acfmxazb4ph6aiy",
        ])
        .args([
            "--tag",
            "team=a b*c~d+e/f&g=h%i 值 🚀",
            "--tag",
            "环境=生产",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_owned();
    let image = emu.image(DEST, &id).unwrap();
    assert_eq!(
        (image.name.as_str(), image.description.as_str()),
        (name, description)
    );
    assert_eq!(
        image.tags[0],
        ("team".to_owned(), "a b*c~d+e/f&g=h%i 值 🚀".to_owned())
    );
    let request = all_v3(&emu).pop().unwrap();
    assert_eq!(request.action(), Some("CopyImage"));
    let header = |n: &str| request.header(n).map(str::to_owned);
    assert_eq!(header("x-acs-version").as_deref(), Some("2014-05-26"));
    let auth = header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!(
            "ACS3-HMAC-SHA256 Credential={},SignedHeaders=",
            emulator::ACCESS_KEY_ID
        )),
        "{auth}"
    );
    assert!(auth.contains("x-acs-signature-nonce"), "{auth}");
}

#[test]
fn wait_polls_with_v3_too() {
    let emu = Emulator::start_with(Config {
        queue_time: Duration::from_millis(200),
        copy_time: Duration::from_millis(600),
        ..Config::default()
    });
    let out = copy(&emu)
        .args(["--wait", "--poll-interval", "200ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = all_v3(&emu);
    assert!(
        requests
            .iter()
            .filter(|r| r.action() == Some("DescribeImages"))
            .count()
            >= 2
    );
}

#[test]
fn a_retried_fault_is_signed_afresh_and_copies_once() {
    let emu = Emulator::start();
    emu.inject(
        Some("CopyImage"),
        vec![Fault::Status(503), Fault::LoseAnswer],
    );
    let out = copy(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(emu.images_in(DEST).len(), 1);
    let requests = all_v3(&emu);
    assert_eq!(requests.len(), 3);
    let nonces: HashSet<_> = requests
        .iter()
        .map(|r| r.header("x-acs-signature-nonce").unwrap().to_owned())
        .collect();
    assert_eq!(nonces.len(), 3, "a fresh nonce per attempt");
    let tokens: HashSet<_> = requests
        .iter()
        .map(|r| r.param("ClientToken").unwrap().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "one ClientToken");
}

#[test]
fn sts_credentials_send_the_token_header() {
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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let request = all_v3(&emu).pop().unwrap();
    assert_eq!(
        request.header("x-acs-security-token"),
        Some(emulator::STS_SECURITY_TOKEN)
    );
    assert!(request.param("SecurityToken").is_none());
    assert!(
        request
            .header("authorization")
            .unwrap()
            .contains("x-acs-security-token"),
        "the token is signed"
    );
}

#[test]
fn a_skewed_clock_is_corrected_with_v3() {
    let emu = Emulator::start_with(Config {
        clock_skew: chrono::TimeDelta::minutes(45),
        ..Config::default()
    });
    let out = copy(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("behind the server's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        emu.requests()[0].code.as_deref(),
        Some("InvalidTimeStamp.Expired")
    );
}

#[test]
fn a_wrong_secret_exits_4_and_the_echoed_string_to_sign_hides_the_token() {
    let emu = Emulator::start();
    let out = copy(&emu)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::STS_ACCESS_KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret-at-all")
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", emulator::STS_SECURITY_TOKEN)
        .arg("-vv")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("SignatureDoesNotMatch"), "{all}");
    for secret in [
        "not-the-secret-at-all",
        emulator::STS_SECURITY_TOKEN,
        "CAIS",
    ] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

#[test]
fn v1_stays_the_default() {
    let emu = Emulator::start();
    let out = support::with_keys(&emu.endpoint())
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--image-id",
            emulator::SOURCE_IMAGE_ID,
        ])
        .args(["--destination-region", DEST])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(emu.requests()[0].signature_version(), Some("v1"));
}
