//! `--wait` against the emulator: the ImageId first, then polls of DescribeImages in the
//! destination region until the copy ends, the time is up, or the user interrupts.

mod emulator;
mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use emulator::{Config, Emulator, Fault};
use support::{stderr, stdout};

const DEST: &str = "cn-shanghai";

/// Quick copies: queued 300 ms, then copying for 1.5 s.
fn quick() -> Emulator {
    Emulator::start_with(Config {
        queue_time: Duration::from_millis(300),
        copy_time: Duration::from_millis(1500),
        ..Config::default()
    })
}

/// Copies that take a minute: waits end by timeout or interruption.
fn slow() -> Emulator {
    Emulator::start_with(Config {
        queue_time: Duration::from_millis(100),
        copy_time: Duration::from_secs(60),
        ..Config::default()
    })
}

fn args(emu: &Emulator) -> Vec<String> {
    [
        "--source-region",
        emulator::SOURCE_REGION,
        "--image-id",
        emulator::SOURCE_IMAGE_ID,
        "--destination-region",
        DEST,
        "--wait",
        "--poll-interval",
        "200ms",
        "--endpoint",
        &emu.endpoint(),
    ]
    .map(String::from)
    .to_vec()
}

fn command(emu: &Emulator) -> Command {
    let mut cmd = support::with_keys(&emu.endpoint());
    cmd.args(args(emu));
    cmd
}

/// The same, as a child process to signal.
fn spawn(emu: &Emulator, extra: &[&str]) -> Child {
    std::process::Command::new(support::BINARY)
        .env_clear()
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            emulator::ACCESS_KEY_SECRET,
        )
        .args(args(emu))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn polls(emu: &Emulator) -> Vec<emulator::RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.action() == Some("DescribeImages"))
        .collect()
}

/// Waits (a bounded while) until the emulator has a copy in the destination region.
fn copy_appears(emu: &Emulator) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Some(image) = emu.images_in(DEST).first() {
            return image.image_id.clone();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no copy appeared");
}

/// Waits (a bounded while) until the copy is being copied and polled.
fn copying(emu: &Emulator, id: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if emu.image(DEST, id).is_some_and(|i| i.status == "Creating") && polls(emu).len() >= 2 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the copy did not start copying");
}

fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn waits_with_progress_until_available_polling_the_destination_with_every_status() {
    let emu = quick();
    let out = command(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_owned();
    assert_eq!(
        stdout(&out),
        format!("{id}\n"),
        "stdout is the ImageId alone"
    );
    assert_eq!(emu.image(DEST, &id).unwrap().status, "Available");

    let polls = polls(&emu);
    assert!(polls.len() >= 3, "{}", polls.len());
    for p in &polls {
        assert_eq!(
            p.param("RegionId"),
            Some(DEST),
            "polls the destination region"
        );
        assert_eq!(p.param("ImageId"), Some(id.as_str()));
        assert_eq!(
            p.param("Status"),
            Some("Creating,Waiting,Available,UnAvailable,CreateFailed")
        );
    }
    // Not a terminal: plain, timestamped lines, one per state.
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "Z {id} in {DEST}: queued: a region copies only a few images at a time"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("{id} in {DEST}: copying ")), "{err}");
    assert!(
        err.contains(&format!("the copy {id} in {DEST} is Available")),
        "{err}"
    );
    assert!(
        err.lines().count() <= 6,
        "lines only when the state changes: {err}"
    );
}

#[test]
fn json_with_wait_is_printed_once_at_the_end_with_status() {
    let emu = quick();
    let out = command(&emu)
        .args(["--output", "json", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "-q: no progress");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(v["Status"], "Available");
    assert_eq!(v["Progress"], 100);
    assert!(v["ElapsedSeconds"].as_u64().is_some_and(|s| s <= 10), "{v}");
    assert!(emu.image(DEST, v["ImageId"].as_str().unwrap()).is_some());
}

#[test]
fn a_failed_copy_exits_6_naming_image_and_status() {
    let emu = slow();
    let child = spawn(&emu, &[]);
    let id = copy_appears(&emu);
    emu.set_image_status(DEST, &id, "CreateFailed");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{id}\n"), "the id was printed first");
    assert!(
        stderr(&out).contains(&format!(
            "the copy {id} in {DEST} failed: its status is CreateFailed"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_timeout_exits_7_with_the_id_already_printed_and_the_cancel_hint() {
    let emu = slow();
    let out = command(&emu)
        .args(["--timeout", "1500ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let id = stdout(&out).trim_end().to_owned();
    assert!(id.starts_with("m-"), "{id}");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "gave up waiting after 1s: the copy {id} in {DEST} is still copying"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "aliyun ecs CancelCopyImage --RegionId {DEST} --ImageId {id}"
        )),
        "{err}"
    );
    assert!(emu.image(DEST, &id).is_some(), "the copy goes on");
}

#[test]
fn cancel_on_timeout_cancels_in_the_destination_region_and_still_exits_7() {
    let emu = slow();
    let out = command(&emu)
        .args(["--timeout", "1s", "--cancel-on-timeout", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("JSON even after a timeout");
    let id = v["ImageId"].as_str().unwrap().to_owned();
    assert_eq!(v["Status"], "Creating");
    assert!(
        stderr(&out).contains("it was cancelled (CancelCopyImage accepted"),
        "{}",
        stderr(&out)
    );
    let cancel = emu
        .requests()
        .into_iter()
        .find(|r| r.action() == Some("CancelCopyImage"))
        .expect("CancelCopyImage sent");
    assert_eq!(cancel.param("RegionId"), Some(DEST));
    assert_eq!(cancel.param("ImageId"), Some(id.as_str()));
    assert!(emu.image(DEST, &id).is_none(), "the copy is gone");
}

#[test]
fn a_copy_not_yet_listed_is_pending_not_failed() {
    let emu = Emulator::start_with(Config {
        queue_time: Duration::from_millis(100),
        copy_time: Duration::from_millis(500),
        listing_delay: Duration::from_millis(900),
        ..Config::default()
    });
    let out = command(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = polls(&emu).into_iter().next().unwrap();
    assert_eq!(first.status, 200);
    assert!(
        stderr(&out).contains("starting, not listed yet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_transient_error_while_polling_is_retried() {
    let emu = quick();
    emu.inject(
        Some("DescribeImages"),
        vec![Fault::Status(503), Fault::Drop],
    );
    let out = command(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(emu.pending_faults(), 0);
    let polls = polls(&emu);
    assert_eq!(polls[0].status, 503);
}

#[test]
fn a_permission_error_while_polling_stops_at_once_with_exit_4() {
    let emu = quick();
    emu.inject(
        Some("DescribeImages"),
        vec![Fault::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
        }],
    );
    let out = command(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("m-"), "the copy's id is kept");
    assert_eq!(polls(&emu).len(), 1, "not retried");
    assert!(stderr(&out).contains("Forbidden.RAM"), "{}", stderr(&out));
}

#[test]
fn ctrl_c_exits_130_and_the_copy_goes_on() {
    let emu = slow();
    let child = spawn(&emu, &[]);
    let id = copy_appears(&emu);
    copying(&emu, &id);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{id}\n"));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("interrupted: the copy {id} in {DEST} was copying")),
        "{err}"
    );
    assert!(
        err.contains("It goes on in the cloud. To cancel it: aliyun ecs CancelCopyImage"),
        "{err}"
    );
    assert!(emu.image(DEST, &id).is_some());
}

#[test]
fn ctrl_c_with_cancel_on_interrupt_cancels_the_copy() {
    let emu = slow();
    let child = spawn(&emu, &["--cancel-on-interrupt"]);
    let id = copy_appears(&emu);
    copying(&emu, &id);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it was cancelled"),
        "{}",
        stderr(&out)
    );
    assert!(emu.image(DEST, &id).is_none());
}

#[test]
fn wait_options_need_wait() {
    let emu = quick();
    let out = support::bare()
        .args([
            "--image-id",
            "m-1",
            "--destination-region",
            DEST,
            "--timeout",
            "5m",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--wait"), "{}", stderr(&out));
    assert!(emu.requests().is_empty());
}
