//! Many regions, safe re-runs and the ROS template as input, against the emulator.

mod emulator;
mod support;

use std::collections::HashSet;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use emulator::{Config, Emulator};
use support::{stderr, stdout};

/// The binary with the emulator's keys and endpoint, and nothing else.
fn bare(emu: &Emulator) -> Command {
    support::with_keys(&emu.endpoint())
}

fn copy_requests(emu: &Emulator) -> Vec<emulator::RecordedRequest> {
    support::requests_for(emu, "CopyImage")
}

const REGIONS: [&str; 3] = ["cn-shanghai", "cn-beijing", "ap-southeast-1"];

fn quick() -> Emulator {
    Emulator::start_with(Config {
        queue_time: Duration::from_millis(200),
        copy_time: Duration::from_millis(800),
        ..Config::default()
    })
}

/// A copy of the source image to `regions`.
fn copy_to(emu: &Emulator, regions: &str) -> Command {
    let mut cmd = bare(emu);
    cmd.args(["--source-region", emulator::SOURCE_REGION])
        .args(["--image-id", emulator::SOURCE_IMAGE_ID])
        .args(["--destination-region", regions]);
    cmd
}

/// `REGION<TAB>IMAGE-ID` lines, checked against the emulator.
fn lines(emu: &Emulator, out: &Output) -> Vec<(String, String)> {
    stdout(out)
        .lines()
        .map(|l| {
            let (region, id) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("not REGION<TAB>ID: {l:?}"));
            assert!(emu.image(region, id).is_some(), "{id} exists in {region}");
            (region.to_owned(), id.to_owned())
        })
        .collect()
}

// --- fan-out ----------------------------------------------------------------------------------

#[test]
fn three_regions_in_text_one_line_each_with_its_own_token() {
    let emu = quick();
    let out = copy_to(&emu, "cn-shanghai,cn-beijing")
        .args(["--destination-region", "ap-southeast-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = lines(&emu, &out);
    let regions: HashSet<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(regions, REGIONS.into_iter().collect());
    let requests = copy_requests(&emu);
    assert_eq!(requests.len(), 3);
    let tokens: HashSet<_> = requests
        .iter()
        .map(|r| r.param("ClientToken").unwrap().to_owned())
        .collect();
    assert_eq!(tokens.len(), 3, "one ClientToken per copy");
    for r in &requests {
        assert_eq!(r.param("RegionId"), Some(emulator::SOURCE_REGION));
    }
}

#[test]
fn three_regions_in_json_with_wait() {
    let emu = quick();
    let out = copy_to(&emu, "cn-shanghai,cn-beijing,ap-southeast-1")
        .args(["--output", "json", "--wait", "--poll-interval", "200ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("a JSON array");
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 3);
    for (item, region) in items.iter().zip(REGIONS) {
        assert_eq!(item["DestinationRegionId"], region, "in the order given");
        assert_eq!(item["Status"], "Available");
        let id = item["ImageId"].as_str().unwrap();
        assert_eq!(emu.image(region, id).unwrap().status, "Available");
    }
    // One progress line per copy and state, each naming its copy.
    let err = stderr(&out);
    for region in REGIONS {
        assert!(
            err.contains(&format!(" in {region}: queued"))
                || err.contains(&format!(" in {region}: copying")),
            "{err}"
        );
        assert!(err.contains(&format!(" in {region} is Available")), "{err}");
    }
}

#[test]
fn three_regions_in_text_with_wait() {
    let emu = quick();
    let out = copy_to(&emu, "cn-shanghai,cn-beijing,ap-southeast-1")
        .args(["--wait", "--poll-interval", "200ms", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(lines(&emu, &out).len(), 3);
    for (region, id) in lines(&emu, &out) {
        assert_eq!(emu.image(&region, &id).unwrap().status, "Available");
    }
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_partial_failure_still_prints_every_started_copy() {
    let emu = quick();
    // A well-formed region the emulator does not know: the service refuses it.
    let out = copy_to(&emu, "cn-shanghai,xx-nowhere-1,cn-beijing")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let got = lines(&emu, &out);
    let regions: HashSet<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(regions, ["cn-shanghai", "cn-beijing"].into_iter().collect());
    let err = stderr(&out);
    assert!(
        err.contains("error: xx-nowhere-1: CopyImage failed"),
        "{err}"
    );
    assert!(err.contains("DestinationRegion.NotFound"), "{err}");

    let out = copy_to(&emu, "cn-shanghai,xx-nowhere-1")
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v[0]["ImageId"].as_str().is_some());
    assert_eq!(v[1]["DestinationRegionId"], "xx-nowhere-1");
    assert!(
        v[1]["Error"]
            .as_str()
            .unwrap()
            .contains("DestinationRegion.NotFound"),
        "{v}"
    );
}

#[test]
fn the_most_severe_exit_code_wins() {
    let emu = Emulator::start_with(Config {
        queue_time: Duration::from_millis(100),
        copy_time: Duration::from_secs(60),
        ..Config::default()
    });
    // xx-nowhere-1: refused (4); cn-beijing: times out (7). 4 is more severe.
    let out = copy_to(&emu, "xx-nowhere-1,cn-beijing")
        .args(["--wait", "--timeout", "1s", "--poll-interval", "200ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cn-beijing: gave up waiting"),
        "{}",
        stderr(&out)
    );
    assert_eq!(lines(&emu, &out).len(), 1);
}

#[test]
fn kms_keys_per_region() {
    let emu = quick();
    let out = copy_to(&emu, "cn-shanghai,cn-beijing")
        .args([
            "--encrypted",
            "--kms-key-id",
            "key-for-all",
            "--kms-key-id",
            "cn-beijing=key-bj",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (region, id) in lines(&emu, &out) {
        let expected = if region == "cn-beijing" {
            "key-bj"
        } else {
            "key-for-all"
        };
        assert_eq!(
            emu.image(&region, &id).unwrap().kms_key_id.as_deref(),
            Some(expected)
        );
    }
}

// --- safe re-runs -----------------------------------------------------------------------------

#[test]
fn reuse_returns_the_existing_image_instead_of_copying_again() {
    let emu = quick();
    let first = copy_to(&emu, "cn-shanghai")
        .args(["--destination-image-name", "release-7"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // A similar name must not match: the service's name filter is fuzzy.
    let other = copy_to(&emu, "cn-shanghai")
        .args(["--destination-image-name", "release-77"])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(0));

    let again = copy_to(&emu, "cn-shanghai")
        .args([
            "--destination-image-name",
            "release-7",
            "--if-exists",
            "reuse",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let v: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(
        format!("{}\n", v["ImageId"].as_str().unwrap()),
        stdout(&first)
    );
    assert_eq!(v["Reused"], true);
    assert_eq!(copy_requests(&emu).len(), 2, "no third copy");
    let lookup = emu
        .requests()
        .into_iter()
        .find(|r| r.action() == Some("DescribeImages"))
        .expect("looked up by name");
    assert_eq!(lookup.param("RegionId"), Some("cn-shanghai"));
    assert_eq!(lookup.param("ImageName"), Some("release-7"));
    assert_eq!(lookup.param("ImageOwnerAlias"), Some("self"));
    assert_eq!(
        lookup.param("Status"),
        Some("Creating,Waiting,Available,UnAvailable,CreateFailed")
    );

    // A region without it gets a copy.
    let out = copy_to(&emu, "cn-beijing")
        .args([
            "--destination-image-name",
            "release-7",
            "--if-exists",
            "reuse",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(copy_requests(&emu).len(), 3);
}

#[test]
fn fail_on_an_existing_name_exits_4_naming_the_existing_image() {
    let emu = quick();
    let first = copy_to(&emu, "cn-shanghai")
        .args(["--destination-image-name", "release-8"])
        .output()
        .unwrap();
    let existing = stdout(&first).trim_end().to_owned();
    let again = copy_to(&emu, "cn-shanghai")
        .args(["--destination-image-name", "release-8"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(4), "{}", stderr(&again));
    let err = stderr(&again);
    assert!(
        err.contains(&format!(
            "an image named 'release-8' already exists in cn-shanghai ({existing})"
        )),
        "{err}"
    );
    assert!(err.contains("--if-exists reuse"), "{err}");
    assert!(err.contains("InvalidImageName.Duplicated"), "{err}");
    assert_eq!(
        copy_requests(&emu).len(),
        2,
        "one round trip per run in fail mode"
    );
}

#[test]
fn copy_tags_merges_the_source_tags_with_explicit_ones_winning() {
    let emu = quick();
    emu.set_image_tags(
        emulator::SOURCE_REGION,
        emulator::SOURCE_IMAGE_ID,
        &[
            ("env", "dev"),
            ("acs:ecs:from", "x"),
            ("owner", "platform"),
            ("aliyun-sys", "y"),
        ],
    );
    let out = copy_to(&emu, "cn-shanghai")
        .args(["--copy-tags", "--tag", "env=prod", "--tag", "build=42"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_owned();
    let tags = emu.image("cn-shanghai", &id).unwrap().tags;
    let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        tags,
        [("env", "prod"), ("build", "42"), ("owner", "platform")]
    );
}

#[test]
fn copy_tags_beyond_twenty_is_a_clear_error() {
    let emu = quick();
    let many: Vec<(String, String)> = (0..20).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    emu.set_image_tags(emulator::SOURCE_REGION, emulator::SOURCE_IMAGE_ID, &many);
    let out = copy_to(&emu, "cn-shanghai")
        .args(["--copy-tags", "--tag", "extra=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("at most 20 tags are allowed (got 21)"),
        "{}",
        stderr(&out)
    );
    assert!(copy_requests(&emu).is_empty(), "nothing copied");
}

#[test]
fn dry_run_sends_dry_run_and_copies_nothing() {
    let emu = quick();
    let out = copy_to(&emu, "cn-shanghai,cn-beijing")
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing on stdout");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("dry run: the service accepted CopyImage"),
        "{err}"
    );
    let requests = copy_requests(&emu);
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.param("DryRun") == Some("true")));
    assert!(emu.images_in("cn-shanghai").is_empty() && emu.images_in("cn-beijing").is_empty());
}

#[test]
fn dry_run_still_reports_a_refusal() {
    let emu = quick();
    let out = bare(&emu)
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--image-id",
            "m-bp1doesnotexist0000",
        ])
        .args(["--destination-region", "cn-shanghai", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

// --- the ROS template -------------------------------------------------------------------------

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_seed_templates_run_unchanged_with_parameters() {
    for file in ["ros-copy-image.json", "ros-copy-image.yaml"] {
        let emu = quick();
        let out = bare(&emu)
            .args([
                "--source-region",
                emulator::SOURCE_REGION,
                "--template",
                &data(file),
            ])
            .args([
                "--parameter",
                &format!("ImageId={}", emulator::SOURCE_IMAGE_ID),
            ])
            .args(["--parameter", "DestinationRegionId=cn-shanghai"])
            .args(["--parameter", "DestinationImageName=from-ros"])
            .args([
                "--parameter",
                "DestinationDescription=copied from a ROS template",
            ])
            .args(["--parameter", "Encrypted=True"])
            .args([
                "--parameter",
                r#"Tag=[{"Key":"env","Value":"prod"},{"Key":"team","Value":"web"}]"#,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let id = stdout(&out).trim_end().to_owned();
        let image = emu.image("cn-shanghai", &id).expect("copied");
        assert_eq!(image.name, "from-ros", "{file}");
        assert_eq!(image.description, "copied from a ROS template");
        assert_eq!(image.encrypted, Some(true));
        assert_eq!(
            image.kms_key_id, None,
            "KMSKeyId has no default: left unset"
        );
        assert_eq!(
            image.tags,
            [
                ("env".to_owned(), "prod".to_owned()),
                ("team".to_owned(), "web".to_owned())
            ]
        );
    }
}

#[test]
fn flags_override_the_template_and_bad_parameters_exit_2() {
    let emu = quick();
    let out = bare(&emu)
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--template",
            &data("ros-copy-image.yaml"),
        ])
        .args([
            "--parameter",
            &format!("ImageId={}", emulator::SOURCE_IMAGE_ID),
        ])
        .args(["--parameter", "DestinationRegionId=cn-shanghai"])
        .args(["--parameter", "DestinationImageName=from-ros"])
        .args([
            "--destination-image-name",
            "from-flag",
            "--destination-region",
            "cn-beijing",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_owned();
    assert_eq!(emu.image("cn-beijing", &id).unwrap().name, "from-flag");

    let out = bare(&emu)
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--template",
            &data("ros-copy-image.json"),
        ])
        .args([
            "--parameter",
            &format!("ImageId={}", emulator::SOURCE_IMAGE_ID),
        ])
        .args([
            "--parameter",
            "DestinationRegionId=cn-shanghai",
            "--parameter",
            "Encrypted=yes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("Encrypted"), "{}", stderr(&out));

    let out = bare(&emu)
        .args([
            "--source-region",
            emulator::SOURCE_REGION,
            "--template",
            &data("ros-copy-image.json"),
        ])
        .args([
            "--parameter",
            &format!("ImageId={}", emulator::SOURCE_IMAGE_ID),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing DestinationRegionId: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--destination-region is required"),
        "{}",
        stderr(&out)
    );
    assert!(copy_requests(&emu).len() == 1);
}

#[test]
fn a_properties_file_and_same_region_allowed() {
    let emu = quick();
    let dir = std::env::temp_dir().join(format!(
        "copy-image-props-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let same = dir.join("same.yaml");
    std::fs::write(
        &same,
        format!(
            "ImageId: {}\nSourceRegionId: cn-hangzhou\nDestinationRegionId: cn-hangzhou\nAllowCopyInSameRegion: true\n",
            emulator::SOURCE_IMAGE_ID
        ),
    )
    .unwrap();
    let out = bare(&emu).arg("--properties").arg(&same).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}\n", emulator::SOURCE_IMAGE_ID),
        "the source image itself"
    );
    assert!(copy_requests(&emu).is_empty(), "nothing copied");

    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"ImageId": {"Fn::Join": ["", ["m-", "x"]]}, "DestinationRegionId": "cn-shanghai"}"#,
    )
    .unwrap();
    let out = bare(&emu)
        .arg("--properties")
        .arg(&bad)
        .arg("--region")
        .arg("cn-hangzhou")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("Fn::Join"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
