//! The credential chain end to end: the real binary with a fake home directory and a made-up
//! environment (never the developer's), against the emulator's ECS and STS, a fake metadata
//! service and a fake credentials URI, each of which checks what it receives.

mod emulator;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use emulator::{Config, CredentialsUri, Emulator, Fault, Imds, ImdsConfig};
use support::{stderr, stdout};

fn copy_requests(emu: &Emulator) -> Vec<emulator::RecordedRequest> {
    support::requests_for(emu, "CopyImage")
}

const DEST: &str = "cn-shanghai";

/// A temporary home directory, removed when dropped.
struct Home(PathBuf);

impl Home {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("copy-image-home-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn with(self, path: &str, text: &str) -> Self {
        let p = self.0.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    fn path(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy through the emulator with no credentials in the environment: only `home`, the ECS
/// and STS endpoints, and the metadata service disabled (tests that want it point it at a
/// fake).
fn copy(emu: &Emulator, home: &Path) -> Command {
    let mut cmd = support::bare();
    cmd.env("HOME", home)
        .env("ALIBABA_CLOUD_ECS_ENDPOINT", emu.endpoint())
        .env("ALIBABA_CLOUD_STS_ENDPOINT", emu.endpoint())
        .args([
            "--image-id",
            emulator::SOURCE_IMAGE_ID,
            "--destination-region",
            DEST,
        ]);
    cmd
}

/// The copy succeeded and was signed by `key_id` (with `token`, if any).
fn assert_copied_with(emu: &Emulator, out: &Output, key_id: &str, token: Option<&str>) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let id = stdout(out).trim_end().to_owned();
    assert!(emu.image(DEST, &id).is_some(), "the copy {id} exists");
    let last = copy_requests(emu).pop().expect("a CopyImage request");
    assert_eq!(last.status, 200);
    assert_eq!(last.param("AccessKeyId"), Some(key_id));
    assert_eq!(last.param("SecurityToken"), token);
}

fn config_json(profiles: &str, current: &str) -> String {
    format!(r#"{{"current": "{current}", "profiles": [{profiles}], "meta_path": ""}}"#)
}

fn ak_profile(name: &str, region: &str) -> String {
    format!(
        r#"{{"name": "{name}", "mode": "AK", "access_key_id": "{}", "access_key_secret": "{}", "region_id": "{region}"}}"#,
        emulator::ACCESS_KEY_ID,
        emulator::ACCESS_KEY_SECRET
    )
}

fn role_profile(name: &str) -> String {
    format!(
        r#"{{"name": "{name}", "mode": "RamRoleArn", "access_key_id": "{}", "access_key_secret": "{}",
            "ram_role_arn": "{}", "ram_session_name": "release-ci", "expired_seconds": 900,
            "region_id": "cn-hangzhou"}}"#,
        emulator::ACCESS_KEY_ID,
        emulator::ACCESS_KEY_SECRET,
        emulator::ROLE_ARN
    )
}

// --- config.json ----------------------------------------------------------------------------

#[test]
fn a_ram_role_arn_profile_assumes_the_role_and_signs_the_copy_with_sts_credentials() {
    let emu = Emulator::start();
    let home = Home::new().with(
        ".aliyun/config.json",
        &config_json(&role_profile("release"), "release"),
    );
    let out = copy(&emu, &home.0).args(["-vv"]).output().unwrap();

    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 1, "{issued:?}");
    let key = &issued[0];
    assert_eq!(key.issued_by, "AssumeRole");
    assert_eq!(
        key.caller.as_deref(),
        Some(emulator::ACCESS_KEY_ID),
        "AssumeRole signed with the profile's keys"
    );
    let roles = emu.assumed_roles();
    assert_eq!(roles[0].role_arn, emulator::ROLE_ARN);
    assert_eq!(roles[0].role_session_name, "release-ci");
    assert_eq!(roles[0].duration_seconds, Some(900));
    assert_copied_with(&emu, &out, &key.access_key_id, Some(&key.security_token));

    let assume = emu
        .requests()
        .into_iter()
        .find(|r| r.action() == Some("AssumeRole"))
        .unwrap();
    assert_eq!(assume.param("Version"), Some("2015-04-01"));
    assert!(
        assume.body.contains("RoleArn="),
        "role parameters travel in the form body: {assume:?}"
    );
    let copy = copy_requests(&emu).pop().unwrap();
    assert_eq!(
        copy.param("RegionId"),
        Some("cn-hangzhou"),
        "the source region comes from the profile"
    );

    let err = stderr(&out);
    assert!(
        err.contains("credentials from profile 'release' (RamRoleArn) in ~/.aliyun/config.json"),
        "{err}"
    );
    for secret in [
        emulator::ACCESS_KEY_SECRET,
        &key.access_key_secret,
        &key.security_token,
    ] {
        assert!(
            !format!("{}{err}", stdout(&out)).contains(secret),
            "{secret} leaked: {err}"
        );
    }
}

#[test]
fn an_ak_profile_and_the_current_profile() {
    let emu = Emulator::start();
    let profiles = format!(
        "{},{}",
        ak_profile("a", "cn-hangzhou"),
        ak_profile("b", "eu-central-1")
    );
    let home = Home::new().with(".aliyun/config.json", &config_json(&profiles, "a"));
    let out = copy(&emu, &home.0).output().unwrap();
    assert_copied_with(&emu, &out, emulator::ACCESS_KEY_ID, None);
    assert_eq!(
        copy_requests(&emu)[0].param("RegionId"),
        Some("cn-hangzhou")
    );

    // ALIBABA_CLOUD_PROFILE picks another profile, and with it another region.
    let out = copy(&emu, &home.0)
        .env("ALIBABA_CLOUD_PROFILE", "b")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "eu-central-1 has no such image: {}",
        stderr(&out)
    );
    assert_eq!(
        copy_requests(&emu)[1].param("RegionId"),
        Some("eu-central-1")
    );

    // The flag and the variable beat the profile's region.
    let out = copy(&emu, &home.0)
        .env("ALIBABA_CLOUD_PROFILE", "b")
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_sts_token_profile() {
    let emu = Emulator::start();
    let profile = format!(
        r#"{{"name": "sts", "mode": "StsToken", "access_key_id": "{}", "access_key_secret": "{}", "sts_token": "{}", "region_id": "cn-hangzhou"}}"#,
        emulator::STS_ACCESS_KEY_ID,
        emulator::STS_ACCESS_KEY_SECRET,
        emulator::STS_SECURITY_TOKEN
    );
    let home = Home::new().with(".aliyun/config.json", &config_json(&profile, "sts"));
    let out = copy(&emu, &home.0).output().unwrap();
    assert_copied_with(
        &emu,
        &out,
        emulator::STS_ACCESS_KEY_ID,
        Some(emulator::STS_SECURITY_TOKEN),
    );
}

#[test]
fn a_chainable_profile_assumes_a_role_with_another_roles_credentials() {
    let emu = Emulator::start_with(Config {
        roles: vec![
            emulator::ROLE_ARN.to_owned(),
            "acs:ram::1234567890123456:role/second".to_owned(),
        ],
        ..Config::default()
    });
    let chain = r#"{"name": "chain", "mode": "ChainableRamRoleArn", "source_profile": "release",
                    "ram_role_arn": "acs:ram::1234567890123456:role/second", "region_id": "cn-hangzhou"}"#;
    let home = Home::new().with(
        ".aliyun/config.json",
        &config_json(&format!("{},{chain}", role_profile("release")), "release"),
    );
    let out = copy(&emu, &home.0)
        .args(["--profile", "chain"])
        .output()
        .unwrap();
    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 2, "{issued:?}");
    assert_eq!(issued[0].caller.as_deref(), Some(emulator::ACCESS_KEY_ID));
    assert_eq!(
        issued[1].caller.as_deref(),
        Some(issued[0].access_key_id.as_str()),
        "second role assumed with the first's keys"
    );
    assert_copied_with(
        &emu,
        &out,
        &issued[1].access_key_id,
        Some(&issued[1].security_token),
    );
}

// --- precedence ----------------------------------------------------------------------------

#[test]
fn the_environment_beats_config_json_unless_profile_is_given() {
    let emu = Emulator::start();
    let home = Home::new().with(
        ".aliyun/config.json",
        &config_json(&role_profile("release"), "release"),
    );
    let env_keys = |cmd: &mut Command| {
        cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::STS_ACCESS_KEY_ID)
            .env(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                emulator::STS_ACCESS_KEY_SECRET,
            )
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", emulator::STS_SECURITY_TOKEN)
            .args(["--region", "cn-hangzhou"]);
    };
    let mut cmd = copy(&emu, &home.0);
    env_keys(&mut cmd);
    let out = cmd.output().unwrap();
    assert_copied_with(
        &emu,
        &out,
        emulator::STS_ACCESS_KEY_ID,
        Some(emulator::STS_SECURITY_TOKEN),
    );
    assert!(emu.issued_keys().is_empty(), "config.json not used");

    let mut cmd = copy(&emu, &home.0);
    env_keys(&mut cmd);
    let out = cmd.args(["--profile", "release"]).output().unwrap();
    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 1, "--profile puts the profile first");
    assert_copied_with(
        &emu,
        &out,
        &issued[0].access_key_id,
        Some(&issued[0].security_token),
    );
}

#[test]
fn legacy_terraform_variables_work() {
    let emu = Emulator::start();
    let home = Home::new();
    let out = copy(&emu, &home.0)
        .env("ALICLOUD_ACCESS_KEY", emulator::ACCESS_KEY_ID)
        .env("ALICLOUD_SECRET_KEY", emulator::ACCESS_KEY_SECRET)
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_copied_with(&emu, &out, emulator::ACCESS_KEY_ID, None);
}

#[test]
fn blank_variables_count_as_unset() {
    let emu = Emulator::start();
    let home = Home::new().with(
        ".aliyun/config.json",
        &config_json(&ak_profile("a", "cn-hangzhou"), "a"),
    );
    let out = copy(&emu, &home.0)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "  ")
        .env("ALIBABA_CLOUD_PROFILE", "")
        .output()
        .unwrap();
    assert_copied_with(&emu, &out, emulator::ACCESS_KEY_ID, None);
}

// --- the shared credentials file -------------------------------------------------------------

#[test]
fn the_credentials_file_default_section_and_a_named_ram_role_section() {
    let emu = Emulator::start();
    let ini = format!(
        "[default]\ntype = access_key\naccess_key_id = {id}\naccess_key_secret = {secret}\n\n\
         [copier]\ntype = ram_role_arn\naccess_key_id = {id}\naccess_key_secret = {secret}\nrole_arn = {role}\nrole_session_name = ini-session\n",
        id = emulator::ACCESS_KEY_ID,
        secret = emulator::ACCESS_KEY_SECRET,
        role = emulator::ROLE_ARN
    );
    let home = Home::new().with(".alibabacloud/credentials", &ini);
    let out = copy(&emu, &home.0)
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_copied_with(&emu, &out, emulator::ACCESS_KEY_ID, None);

    let out = copy(&emu, &home.0)
        .args(["--region", "cn-hangzhou", "--profile", "copier", "-v"])
        .output()
        .unwrap();
    let issued = emu.issued_keys();
    assert_eq!(emu.assumed_roles()[0].role_session_name, "ini-session");
    assert_copied_with(
        &emu,
        &out,
        &issued[0].access_key_id,
        Some(&issued[0].security_token),
    );
    assert!(
        stderr(&out)
            .contains("credentials from [copier] in ~/.alibabacloud/credentials (ram_role_arn)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_credentials_file_can_be_named_and_ini_is_read_too() {
    let emu = Emulator::start();
    let ini = format!(
        "[default]\ntype = sts\naccess_key_id = {}\naccess_key_secret = {}\nsecurity_token = {}\n",
        emulator::STS_ACCESS_KEY_ID,
        emulator::STS_ACCESS_KEY_SECRET,
        emulator::STS_SECURITY_TOKEN
    );
    let home = Home::new()
        .with(".alibabacloud/credentials.ini", &ini)
        .with("elsewhere/creds", &ini);
    let out = copy(&emu, &home.0)
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_copied_with(
        &emu,
        &out,
        emulator::STS_ACCESS_KEY_ID,
        Some(emulator::STS_SECURITY_TOKEN),
    );
    let empty = Home::new();
    let out = copy(&emu, &empty.0)
        .env(
            "ALIBABA_CLOUD_CREDENTIALS_FILE",
            home.path("elsewhere/creds"),
        )
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_copied_with(
        &emu,
        &out,
        emulator::STS_ACCESS_KEY_ID,
        Some(emulator::STS_SECURITY_TOKEN),
    );
}

// --- OIDC --------------------------------------------------------------------------------------

#[test]
fn oidc_from_the_environment_assumes_the_role_without_a_signature() {
    let emu = Emulator::start();
    let home = Home::new().with("token", emulator::OIDC_TOKEN);
    let out = copy(&emu, &home.0)
        .env("ALIBABA_CLOUD_ROLE_ARN", emulator::ROLE_ARN)
        .env(
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            emulator::OIDC_PROVIDER_ARN,
        )
        .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", home.path("token"))
        .env("ALIBABA_CLOUD_ROLE_SESSION_NAME", "pod-session")
        .args(["--region", "cn-hangzhou", "-vv"])
        .output()
        .unwrap();
    let issued = emu.issued_keys();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].issued_by, "AssumeRoleWithOIDC");
    assert_copied_with(
        &emu,
        &out,
        &issued[0].access_key_id,
        Some(&issued[0].security_token),
    );
    let oidc = emu
        .requests()
        .into_iter()
        .find(|r| r.action() == Some("AssumeRoleWithOIDC"))
        .unwrap();
    assert!(
        oidc.param("Signature").is_none() && oidc.param("AccessKeyId").is_none(),
        "{oidc:?}"
    );
    assert_eq!(oidc.param("RoleSessionName"), Some("pod-session"));
    assert!(
        !stderr(&out).contains(emulator::OIDC_TOKEN),
        "the OIDC token is a secret"
    );
}

#[test]
fn a_wrong_oidc_token_is_an_sts_error_exit_3() {
    let emu = Emulator::start();
    let home = Home::new().with("token", "eyJ.not-the-token.x");
    let out = copy(&emu, &home.0)
        .env("ALIBABA_CLOUD_ROLE_ARN", emulator::ROLE_ARN)
        .env(
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            emulator::OIDC_PROVIDER_ARN,
        )
        .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", home.path("token"))
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("STS AssumeRoleWithOIDC"), "{err}");
    assert!(
        err.contains("AuthenticationFail.OIDCToken.Invalid"),
        "{err}"
    );
    assert!(copy_requests(&emu).is_empty());
}

// --- the ECS metadata service ----------------------------------------------------------------

fn with_metadata(cmd: &mut Command, imds: &Imds) {
    cmd.env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", imds.endpoint())
        .args(["--region", "cn-hangzhou"]);
}

#[test]
fn the_instance_role_is_read_with_a_session_token() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let imds = Imds::start(ImdsConfig {
        require_token: true,
        ..ImdsConfig::new(key.clone())
    });
    let home = Home::new();
    let mut cmd = copy(&emu, &home.0);
    with_metadata(&mut cmd, &imds);
    let out = cmd.output().unwrap();
    assert_copied_with(&emu, &out, &key.access_key_id, Some(&key.security_token));
    let requests = imds.requests();
    let paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/ram/security-credentials/"),
            (
                "GET",
                "/latest/meta-data/ram/security-credentials/copy-image-ecs-role"
            ),
        ]
    );
    assert_eq!(
        requests[0].header("x-aliyun-ecs-metadata-token-ttl-seconds"),
        Some("21600")
    );
    let token = &imds.issued_tokens()[0];
    assert_eq!(
        requests[1].header("x-aliyun-ecs-metadata-token"),
        Some(token.as_str())
    );
    assert_eq!(
        requests[2].header("x-aliyun-ecs-metadata-token"),
        Some(token.as_str())
    );
}

#[test]
fn a_named_role_skips_the_listing_and_an_old_service_works_without_a_token() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let imds = Imds::start(ImdsConfig {
        tokens_supported: false,
        ..ImdsConfig::new(key.clone())
    });
    let home = Home::new();
    let mut cmd = copy(&emu, &home.0);
    with_metadata(&mut cmd, &imds);
    let out = cmd
        .env("ALIBABA_CLOUD_ECS_METADATA", "copy-image-ecs-role")
        .output()
        .unwrap();
    assert_copied_with(&emu, &out, &key.access_key_id, Some(&key.security_token));
    let requests = imds.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests[1].path,
        "/latest/meta-data/ram/security-credentials/copy-image-ecs-role"
    );
    assert_eq!(requests[1].header("x-aliyun-ecs-metadata-token"), None);
}

#[test]
fn imdsv1_disabled_refuses_the_tokenless_fallback() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let imds = Imds::start(ImdsConfig {
        tokens_supported: false,
        ..ImdsConfig::new(key)
    });
    let home = Home::new();
    let mut cmd = copy(&emu, &home.0);
    with_metadata(&mut cmd, &imds);
    let out = cmd
        .env("ALIBABA_CLOUD_ECS_METADATA", "copy-image-ecs-role")
        .env("ALIBABA_CLOUD_IMDSV1_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ALIBABA_CLOUD_IMDSV1_DISABLED=true forbids"),
        "{}",
        stderr(&out)
    );
    assert!(emu.requests().is_empty());
}

#[test]
fn no_metadata_service_means_not_on_ecs_and_the_chain_moves_on() {
    let emu = Emulator::start();
    let key = emu.issue_sts_key(Duration::from_secs(3600));
    let uri = CredentialsUri::start(key.clone());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let home = Home::new();
    let out = copy(&emu, &home.0)
        .env_remove("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        .env(
            "ALIBABA_CLOUD_ECS_METADATA_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        )
        .env("ALIBABA_CLOUD_CREDENTIALS_URI", uri.url())
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_copied_with(&emu, &out, &key.access_key_id, Some(&key.security_token));
    assert_eq!(uri.requests(), 1);
}

#[test]
fn a_broken_credentials_uri_answer_exits_3() {
    let emu = Emulator::start();
    let uri = CredentialsUri::start_with_body(200, r#"{"Code":"Failed"}"#.to_owned());
    let home = Home::new();
    let out = copy(&emu, &home.0)
        .env("ALIBABA_CLOUD_CREDENTIALS_URI", uri.url())
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the answer's Code is 'Failed'"),
        "{}",
        stderr(&out)
    );
}

// --- refresh ----------------------------------------------------------------------------------

#[test]
fn temporary_credentials_are_fetched_again_before_they_expire() {
    // Credentials that live one minute are inside the three-minute refresh margin: every
    // attempt fetches new ones.
    let emu = Emulator::start_with(Config {
        sts_lifetime: Some(Duration::from_secs(60)),
        ..Config::default()
    });
    emu.inject(Some("CopyImage"), vec![Fault::Status(503)]);
    let home = Home::new().with(
        ".aliyun/config.json",
        &config_json(&role_profile("release"), "release"),
    );
    let out = copy(&emu, &home.0).arg("-v").output().unwrap();
    let issued = emu.issued_keys();
    assert!(issued.len() >= 2, "{issued:?}");
    let last = issued.last().unwrap();
    assert_copied_with(&emu, &out, &last.access_key_id, Some(&last.security_token));
    let attempts = copy_requests(&emu);
    assert_eq!(attempts.len(), 2);
    assert_ne!(
        attempts[0].param("AccessKeyId"),
        attempts[1].param("AccessKeyId"),
        "the retry used new credentials"
    );
    assert!(
        stderr(&out).contains("expire soon: fetching new ones"),
        "{}",
        stderr(&out)
    );
}

// --- broken configuration and nothing found ----------------------------------------------------

#[test]
fn broken_configuration_stops_the_chain_with_exit_3_naming_what_is_wrong() {
    let emu = Emulator::start();
    let cases: Vec<(Home, Vec<&str>, &str)> = vec![
        (
            Home::new().with(".aliyun/config.json", "{\"current\": "),
            vec![],
            "credentials from ~/.aliyun/config.json: is not valid JSON",
        ),
        (
            Home::new().with(".aliyun/config.json", &config_json(r#"{"name": "x", "mode": "CloudSSO"}"#, "x")),
            vec![],
            "profile 'x' (CloudSSO) in ~/.aliyun/config.json: mode 'CloudSSO' is not supported",
        ),
        (
            Home::new().with(".aliyun/config.json", &config_json(r#"{"name": "x", "mode": "AK", "access_key_id": "a"}"#, "x")),
            vec![],
            "access_key_secret is missing or empty",
        ),
        (
            Home::new().with(".aliyun/config.json", &config_json(&ak_profile("a", "cn-hangzhou"), "a")),
            vec!["--profile", "nope"],
            "profile 'nope' (from --profile): there is no such profile in ~/.aliyun/config.json nor a [nope] section",
        ),
        (
            Home::new().with(".alibabacloud/credentials", "[default\ntype = access_key\n"),
            vec![],
            "~/.alibabacloud/credentials: is not a valid INI file",
        ),
        (
            Home::new().with(".alibabacloud/credentials", "[default]\ntype = magic\n"),
            vec![],
            "[default] in ~/.alibabacloud/credentials: type 'magic' is not supported",
        ),
        (
            Home::new().with(
                ".aliyun/config.json",
                &config_json(
                    &format!(
                        r#"{{"name": "r", "mode": "RamRoleArn", "access_key_id": "{}", "access_key_secret": "{}", "ram_role_arn": "acs:ram::1234567890123456:role/unknown"}}"#,
                        emulator::ACCESS_KEY_ID,
                        emulator::ACCESS_KEY_SECRET
                    ),
                    "r",
                ),
            ),
            vec![],
            "EntityNotExist.Role",
        ),
    ];
    for (home, args, expected) in cases {
        let out = copy(&emu, &home.0)
            .args(["--region", "cn-hangzhou"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{expected}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "expected {expected:?} in {}",
            stderr(&out)
        );
    }
    assert!(
        copy_requests(&emu).is_empty(),
        "nothing copied with broken credentials"
    );
}

#[test]
fn nothing_configured_lists_every_source_in_order() {
    let emu = Emulator::start();
    let home = Home::new();
    let out = copy(&emu, &home.0)
        .args(["--region", "cn-hangzhou"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    let expected = [
        "  1. environment variables ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET: not set",
        "  2. OIDC",
        "  3. the aliyun CLI config ~/.aliyun/config.json: no such file",
        "  4. the shared credentials file ~/.alibabacloud/credentials: no such file",
        "  5. the ECS metadata service: disabled by ALIBABA_CLOUD_ECS_METADATA_DISABLED",
        "  6. ALIBABA_CLOUD_CREDENTIALS_URI: not set",
        "To use an AccessKey, set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    ];
    let mut at = 0;
    for line in expected {
        let found = err[at..]
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} (in order) in {err}"));
        at += found + line.len();
    }
    assert!(emu.requests().is_empty());
}
