//! What networks and the service do to a CI job, injected by the emulator: the copy still
//! succeeds (or fails with the right exit code when the fault persists), exactly one image is
//! created, every attempt carries the same ClientToken and a fresh nonce, and no credential is
//! ever printed, even at `-vv`.

mod emulator;
mod support;

use std::collections::HashSet;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use emulator::{Config, Emulator, Fault};
use support::{stderr, stdout};

/// A copy of `image` to Shanghai through the emulator, with its plain AccessKey.
fn copy_of(emu: &Emulator, image: &str) -> Command {
    support::copy_of(emu, image, DEST)
}

fn copy(emu: &Emulator) -> Command {
    copy_of(emu, emulator::SOURCE_IMAGE_ID)
}

const DEST: &str = "cn-shanghai";

fn copy_attempts(emu: &Emulator) -> Vec<emulator::RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.action() == Some("CopyImage") || r.fault.as_deref() == Some("Drop"))
        .collect()
}

/// The invariants of a retried copy: one image in the destination, the one printed; every
/// attempt with the same ClientToken and its own nonce.
fn assert_copied_exactly_once(emu: &Emulator, out: &Output, attempts: usize, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(out));
    let printed = stdout(out).trim_end().to_owned();
    let images = emu.images_in(DEST);
    assert_eq!(images.len(), 1, "{what}: exactly one copy, got {images:?}");
    assert_eq!(
        images[0].image_id, printed,
        "{what}: the copy printed is the copy made"
    );

    let requests = copy_attempts(emu);
    assert_eq!(requests.len(), attempts, "{what}: attempts {requests:?}");
    let tokens: HashSet<_> = requests
        .iter()
        .filter_map(|r| r.param("ClientToken"))
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "{what}: one ClientToken on every attempt: {tokens:?}"
    );
    assert_eq!(
        images[0].client_token.as_deref(),
        tokens.into_iter().next(),
        "{what}: the copy carries that token"
    );
    let nonces: HashSet<_> = requests
        .iter()
        .filter_map(|r| r.param("SignatureNonce"))
        .collect();
    assert_eq!(nonces.len(), attempts, "{what}: a fresh nonce per attempt");
    let stamps: Vec<_> = requests
        .iter()
        .filter_map(|r| r.param("Signature"))
        .collect();
    assert_eq!(
        stamps.iter().collect::<HashSet<_>>().len(),
        attempts,
        "{what}: signed afresh"
    );
}

/// Each transient fault once, then a normal answer.
fn transient_faults() -> Vec<(&'static str, Vec<Fault>, &'static [&'static str])> {
    vec![
        ("dropped connection", vec![Fault::Drop], &[]),
        ("HTTP 500", vec![Fault::Status(500)], &[]),
        ("HTTP 502 from a gateway", vec![Fault::Status(502)], &[]),
        ("HTTP 503", vec![Fault::Status(503)], &[]),
        ("HTTP 504 from a gateway", vec![Fault::Status(504)], &[]),
        (
            "throttled twice, with and without x-acs-retry-after",
            vec![
                Fault::Throttle {
                    retry_after_ms: None,
                },
                Fault::Throttle {
                    retry_after_ms: Some(300),
                },
            ],
            &[],
        ),
        ("garbage 200", vec![Fault::Garbage], &[]),
        (
            "answer lost after the copy started",
            vec![Fault::LoseAnswer],
            &[],
        ),
        (
            "answer slower than --read-timeout",
            vec![Fault::Delay(Duration::from_millis(2500))],
            &["--read-timeout", "1s"],
        ),
    ]
}

#[test]
fn every_transient_fault_still_copies_exactly_once() {
    for (what, faults, args) in transient_faults() {
        let emu = Emulator::start();
        let attempts = faults.len() + 1;
        emu.inject(Some("CopyImage"), faults);
        let out = copy(&emu).args(args).output().unwrap();
        assert_copied_exactly_once(&emu, &out, attempts, what);
        assert_eq!(emu.pending_faults(), 0, "{what}");
    }
}

#[test]
fn a_lost_answer_returns_the_copy_already_started() {
    let emu = Emulator::start();
    emu.inject(Some("CopyImage"), vec![Fault::LoseAnswer]);
    let out = copy(&emu).arg("-v").output().unwrap();
    assert_copied_exactly_once(&emu, &out, 2, "lost answer");
    let requests = copy_attempts(&emu);
    assert_eq!(requests[0].fault.as_deref(), Some("LoseAnswer"));
    let err = stderr(&out);
    assert!(err.contains("CopyImage attempt 1: no answer"), "{err}");
    assert!(err.contains("CopyImage attempt 2: HTTP 200"), "{err}");
}

#[test]
fn persistent_503_exits_5_after_max_attempts_and_copies_nothing() {
    let emu = Emulator::start();
    emu.inject(Some("CopyImage"), vec![Fault::Status(503); 3]);
    let out = copy(&emu).args(["--max-attempts", "3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(err.contains("CopyImage failed after 3 attempts"), "{err}");
    for n in 1..=3 {
        assert!(
            err.contains(&format!("attempt {n}: HTTP 503 ServiceUnavailable")),
            "{err}"
        );
    }
    assert_eq!(copy_attempts(&emu).len(), 3);
    assert!(emu.images_in(DEST).is_empty());
}

#[test]
fn default_policy_gives_up_on_503_after_five_attempts() {
    let emu = Emulator::start();
    emu.inject(Some("CopyImage"), vec![Fault::Status(503); 6]);
    let out = copy(&emu).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(
        copy_attempts(&emu).len(),
        5,
        "the documented default of 5 attempts"
    );
    assert_eq!(emu.pending_faults(), 1);
}

#[test]
fn a_client_error_is_not_retried() {
    let emu = Emulator::start();
    let out = copy_of(&emu, "m-bp1doesnotexist0000")
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(emu.requests().len(), 1);
    assert!(stderr(&out).contains("not retried"), "{}", stderr(&out));
}

#[test]
fn retry_after_from_the_service_sets_the_wait() {
    let emu = Emulator::start();
    emu.inject(
        Some("CopyImage"),
        vec![Fault::Throttle {
            retry_after_ms: Some(1500),
        }],
    );
    let out = copy(&emu).arg("-v").output().unwrap();
    assert_copied_exactly_once(&emu, &out, 2, "retry-after");
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 400 Throttling; retrying in 1.50 s"),
        "{err}"
    );
}

#[test]
fn a_skewed_clock_is_corrected_once_with_a_warning() {
    let emu = Emulator::start_with(Config {
        clock_skew: chrono::TimeDelta::hours(1),
        ..Config::default()
    });
    let out = copy(&emu).output().unwrap();
    assert_copied_exactly_once(&emu, &out, 2, "skewed clock");
    let requests = copy_attempts(&emu);
    assert_eq!(
        requests[0].code.as_deref(),
        Some("InvalidTimeStamp.Expired")
    );
    let err = stderr(&out);
    assert!(err.contains("warning: the local clock is 3"), "{err}");
    assert!(err.contains("behind the server's"), "{err}");
    assert_eq!(err.lines().count(), 1, "one warning, nothing else: {err}");
}

#[test]
fn a_clock_ahead_is_corrected_too_and_quiet_hides_the_warning() {
    let emu = Emulator::start_with(Config {
        clock_skew: chrono::TimeDelta::minutes(-40),
        ..Config::default()
    });
    let out = copy(&emu).arg("-q").output().unwrap();
    assert_copied_exactly_once(&emu, &out, 2, "clock ahead");
    assert_eq!(stderr(&out), "", "-q prints nothing but the result");
}

#[test]
fn the_same_client_token_on_a_rerun_returns_the_same_copy() {
    let emu = Emulator::start();
    let first = copy(&emu)
        .args(["--client-token", "pipeline-1234-shanghai"])
        .output()
        .unwrap();
    let second = copy(&emu)
        .args(["--client-token", "pipeline-1234-shanghai"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(stdout(&first), stdout(&second));
    assert_eq!(emu.images_in(DEST).len(), 1);
    for r in emu.requests() {
        assert_eq!(r.param("ClientToken"), Some("pipeline-1234-shanghai"));
    }
}

#[test]
fn without_a_client_token_each_run_is_a_new_copy() {
    let emu = Emulator::start();
    for _ in 0..2 {
        let out = copy(&emu).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let tokens: HashSet<_> = emu
        .requests()
        .iter()
        .map(|r| r.param("ClientToken").expect("always sent").to_owned())
        .collect();
    assert_eq!(tokens.len(), 2, "a new token per run");
    assert_eq!(emu.images_in(DEST).len(), 2);
}

#[test]
fn a_reused_token_with_other_parameters_exits_4_with_a_hint() {
    let emu = Emulator::start();
    let first = copy(&emu).args(["--client-token", "t-1"]).output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = copy(&emu)
        .args(["--client-token", "t-1", "--destination-image-name", "other"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(err.contains("IdempotentParameterMismatch"), "{err}");
    assert!(
        err.contains("hint: this --client-token was already used"),
        "{err}"
    );
}

#[test]
fn bad_client_tokens_and_durations_exit_2() {
    let emu = Emulator::start();
    let long = "x".repeat(65);
    let cases: [(&[&str], &str); 5] = [
        (
            &["--client-token", &long],
            "for --client-token: must be at most 64 characters long (got 65)",
        ),
        (
            &["--client-token", "令牌"],
            "for --client-token: may contain only printable ASCII",
        ),
        (
            &["--read-timeout", "0s"],
            "invalid value '0s' for --read-timeout: must be greater than zero",
        ),
        (
            &["--connect-timeout", "fast"],
            "invalid value 'fast' for --connect-timeout: must be a duration",
        ),
        (
            &["--max-attempts", "0"],
            "invalid value '0' for '--max-attempts <N>'",
        ),
    ];
    for (args, expected) in cases {
        let out = copy(&emu).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(emu.requests().is_empty());
}

#[test]
fn verbose_shows_each_attempt_and_vv_the_masked_parameters() {
    let emu = Emulator::start();
    emu.inject(Some("CopyImage"), vec![Fault::Status(503)]);
    let out = copy(&emu).arg("-v").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let endpoint = emu.endpoint();
    assert!(
        err.contains(&format!("CopyImage attempt 1: POST {endpoint}")),
        "{err}"
    );
    assert!(
        err.contains("CopyImage attempt 1: HTTP 503 ServiceUnavailable (RequestId "),
        "{err}"
    );
    assert!(err.contains("; retrying in "), "{err}");
    assert!(
        err.contains("CopyImage attempt 2: HTTP 200 RequestId "),
        "{err}"
    );
    assert!(err.contains("CopyImage: ClientToken "), "{err}");
    assert!(
        !err.contains("parameters:"),
        "-v does not show parameters: {err}"
    );

    let out = copy(&emu).arg("-vv").output().unwrap();
    let err = stderr(&out);
    assert!(err.contains("CopyImage attempt 1 parameters: "), "{err}");
    assert!(err.contains("AccessKeyId=(masked)"), "{err}");
    assert!(err.contains("Signature=(masked)"), "{err}");
    assert!(
        err.contains(&format!("ImageId=\"{}\"", emulator::SOURCE_IMAGE_ID)),
        "{err}"
    );
    assert!(!err.contains(emulator::ACCESS_KEY_ID), "{err}");
}

/// A scenario for the secret-leak check: faults to inject, extra arguments, expected exit.
struct Scenario {
    name: &'static str,
    image: &'static str,
    faults: Vec<Fault>,
    args: Vec<String>,
    secret: &'static str,
    exit: i32,
    skew: chrono::TimeDelta,
}

fn scenario(name: &'static str, faults: Vec<Fault>, args: &[&str], exit: i32) -> Scenario {
    Scenario {
        name,
        image: emulator::SOURCE_IMAGE_ID,
        faults,
        args: args.iter().map(|s| s.to_string()).collect(),
        secret: emulator::STS_ACCESS_KEY_SECRET,
        exit,
        skew: chrono::TimeDelta::zero(),
    }
}

#[test]
fn no_scenario_prints_the_secret_or_the_token_even_at_vv() {
    let mut scenarios = vec![
        scenario("success", vec![], &[], 0),
        scenario("json output", vec![], &["--output", "json"], 0),
        scenario(
            "every property",
            vec![],
            &[
                "--destination-image-name",
                "测试镜像.v1:copy_2-b",
                "--destination-description",
                "a b*c~d+e/f&g=h%i 😀",
                "--encrypted",
                "--kms-key-id",
                "key-1",
                "--tag",
                "k=v w",
            ],
            0,
        ),
        Scenario {
            image: "m-bp1doesnotexist0000",
            ..scenario("unknown image", vec![], &[], 4)
        },
        scenario(
            "persistent 503",
            vec![Fault::Status(503); 2],
            &["--max-attempts", "2"],
            5,
        ),
        scenario(
            "garbage, then 500",
            vec![Fault::Garbage, Fault::Status(500)],
            &[],
            0,
        ),
        scenario("lost answer", vec![Fault::LoseAnswer], &[], 0),
        scenario("dropped", vec![Fault::Drop], &[], 0),
        scenario(
            "throttled",
            vec![Fault::Throttle {
                retry_after_ms: Some(100),
            }],
            &[],
            0,
        ),
    ];
    // The service echoes its string to sign, token included, when the signature is wrong.
    let mut wrong = scenario("wrong secret", vec![], &[], 4);
    wrong.secret = "not-the-right-secret-value";
    scenarios.push(wrong);
    let mut skewed = scenario("skewed clock", vec![], &[], 0);
    skewed.skew = chrono::TimeDelta::hours(2);
    scenarios.push(skewed);
    let mut hidden_token_forms = vec![emulator::STS_SECURITY_TOKEN.to_owned()];
    hidden_token_forms.push(
        emulator::STS_SECURITY_TOKEN
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D"),
    );
    hidden_token_forms.push(hidden_token_forms[1].replace('%', "%25"));

    for s in scenarios {
        let emu = Emulator::start();
        emu.set_clock_skew(s.skew);
        emu.inject(Some("CopyImage"), s.faults);
        let out = copy_of(&emu, s.image)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::STS_ACCESS_KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", s.secret)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", emulator::STS_SECURITY_TOKEN)
            .arg("-vv")
            .args(&s.args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(s.exit),
            "{}: {}",
            s.name,
            stderr(&out)
        );
        let all = format!("{}\n{}", stdout(&out), stderr(&out));
        assert!(all.contains("parameters:"), "{}: ran at -vv", s.name);
        for hidden in hidden_token_forms
            .iter()
            .map(String::as_str)
            .chain([s.secret, "CAIS"])
        {
            assert!(
                !all.contains(hidden),
                "{}: {hidden:?} leaked:\n{all}",
                s.name
            );
        }
    }
}
