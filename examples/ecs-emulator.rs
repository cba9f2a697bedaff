//! Runs the local ECS emulator on its own, for trying `copy-image` by hand.
//!
//! ```text
//! cargo run --example ecs-emulator [-- [--port N] [--clock-skew SECONDS]
//!                                       [--fault ACTION:KIND[:ARG]]...]
//! ```
//!
//! Prints the `export` lines to paste into another shell, then serves until
//! Ctrl-C, logging one line per request to stderr (with the fault that
//! fired on it, if any).
//!
//! The same server is also STS (`ALIBABA_CLOUD_STS_ENDPOINT`): `AssumeRole`
//! for the role printed in the comment lines, and `AssumeRoleWithOIDC` for the
//! OIDC provider and token printed there.
//!
//! `--fault` (repeatable) queues a fault for the next request whose `Action`
//! is ACTION (`any` for any request); each fires once, in the order given:
//!
//! - `drop`: close the connection without answering (request not processed)
//! - `delay:DURATION`: process, then answer after DURATION (`40s`, `500ms`,
//!   `2m`; a bare number is seconds)
//! - `status:CODE`: answer CODE without processing (500 `InternalError`,
//!   503 `ServiceUnavailable`, 502/504 an HTML gateway page)
//! - `throttle[:MS]`: answer 400 `Throttling`, with `x-acs-retry-after: MS`
//!   if given
//! - `garbage`: answer 200 with a body that is not JSON
//! - `lose-answer`: process (the copy is made), then cut the answer off mid-body
//!
//! `--clock-skew SECONDS` runs the emulator's clock ahead (or, negative,
//! behind) the real one: the `Timestamp` check and the `Date` header use it.
//!
//! Example: `--fault CopyImage:throttle:1000 --fault CopyImage:lose-answer`
//! makes the first CopyImage throttled and the second lose its answer, so the
//! CLI's third attempt (same ClientToken) gets the ImageId made by the second.

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use emulator::{
    Config, Emulator, Fault, CREATING_IMAGE_ID, OIDC_PROVIDER_ARN, OIDC_TOKEN, ROLE_ARN,
    SOURCE_IMAGE_ID, SOURCE_REGION, STS_ACCESS_KEY_ID, STS_ACCESS_KEY_SECRET, STS_SECURITY_TOKEN,
};

const USAGE: &str = "\
usage: cargo run --example ecs-emulator [-- [--port N] [--clock-skew SECONDS]
                                              [--fault ACTION:KIND[:ARG]]...]

  --port N, -p N        listen on 127.0.0.1:N (default: any free port)
  --clock-skew SECONDS  the emulator's clock runs this far ahead (negative: behind)
  --fault ACTION:KIND[:ARG]
                        queue a fault for the next request with this Action
                        (ACTION `any`: any request); repeatable, fired in order.
                        KIND: drop | delay:DURATION | status:CODE | throttle[:MS]
                              | garbage | lose-answer
                        e.g. --fault CopyImage:throttle:1000  --fault any:drop
                             --fault CopyImage:lose-answer   --fault any:status:503
                             --fault any:delay:40s";

/// What the command line asks for.
#[derive(Debug, Default)]
struct Options {
    port: u16,
    clock_skew: chrono::TimeDelta,
    faults: Vec<(Option<String>, Fault)>,
}

/// `40s`, `500ms`, `2m`, `1h`, `1.5s`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("not a duration: {text:?} (e.g. 40s, 500ms, 2m)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// `ACTION:KIND[:ARG]`.
fn parse_fault(spec: &str) -> Result<(Option<String>, Fault), String> {
    let mut parts = spec.splitn(3, ':');
    let action = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
    let arg = parts.next();
    if action.is_empty() || kind.is_empty() {
        return Err(format!("--fault {spec:?}: expected ACTION:KIND[:ARG]"));
    }
    let action = match action {
        "any" | "*" => None,
        named => Some(named.to_string()),
    };
    let needs_arg = |what: &str| format!("--fault {spec:?}: {kind} needs {what}");
    let no_arg = || match arg {
        None => Ok(()),
        Some(_) => Err(format!("--fault {spec:?}: {kind} takes no argument")),
    };
    let fault = match kind.as_str() {
        "drop" => no_arg().map(|()| Fault::Drop)?,
        "garbage" => no_arg().map(|()| Fault::Garbage)?,
        "lose-answer" | "lose" => no_arg().map(|()| Fault::LoseAnswer)?,
        "delay" => {
            let arg = arg.ok_or_else(|| needs_arg("a duration (delay:40s)"))?;
            Fault::Delay(parse_duration(arg).map_err(|e| format!("--fault {spec:?}: {e}"))?)
        }
        "status" => {
            let arg = arg.ok_or_else(|| needs_arg("an HTTP status (status:503)"))?;
            let code = arg
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| format!("--fault {spec:?}: not an HTTP status: {arg:?}"))?;
            Fault::Status(code)
        }
        "throttle" => {
            let retry_after_ms = match arg {
                None => None,
                Some(ms) => Some(ms.parse::<u64>().map_err(|_| {
                    format!("--fault {spec:?}: not a number of milliseconds: {ms:?}")
                })?),
            };
            Fault::Throttle { retry_after_ms }
        }
        other => {
            return Err(format!(
                "--fault {spec:?}: unknown kind {other:?} \
                 (drop, delay, status, throttle, garbage, lose-answer)"
            ))
        }
    };
    Ok((action, fault))
}

/// `Ok(None)`: `--help` was asked for.
fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (arg.as_str(), None),
        };
        if !matches!(name, "--port" | "-p" | "--clock-skew" | "--fault") {
            return Err(format!("unexpected argument {arg:?}\n{USAGE}"));
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?
                .as_str(),
        };
        match name {
            "--port" | "-p" => {
                options.port = value
                    .parse()
                    .map_err(|_| format!("not a port number: {value:?}\n{USAGE}"))?;
            }
            "--clock-skew" => {
                options.clock_skew = value
                    .parse::<i64>()
                    .ok()
                    .and_then(chrono::TimeDelta::try_seconds)
                    .ok_or_else(|| format!("not a number of seconds: {value:?}\n{USAGE}"))?;
            }
            _ => options
                .faults
                .push(parse_fault(value).map_err(|e| format!("{e}\n{USAGE}"))?),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let port = options.port;
    let emulator = match Emulator::try_start_with(Config {
        port,
        clock_skew: options.clock_skew,
        ..Config::default()
    }) {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("ecs-emulator: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (action, fault) in options.faults {
        emulator.inject(action.as_deref(), vec![fault]);
    }

    let mut out = std::io::stdout().lock();
    for (name, value) in emulator.env_vars() {
        let _ = writeln!(out, "export {name}={value}");
    }
    let _ = writeln!(
        out,
        "export ALIBABA_CLOUD_STS_ENDPOINT={}",
        emulator.sts_endpoint()
    );
    let _ = writeln!(
        out,
        "# source image: {SOURCE_IMAGE_ID} (Available, {SOURCE_REGION}); \
         {CREATING_IMAGE_ID} is still Creating"
    );
    let _ = writeln!(
        out,
        "# STS instead: ALIBABA_CLOUD_ACCESS_KEY_ID={STS_ACCESS_KEY_ID} \
         ALIBABA_CLOUD_ACCESS_KEY_SECRET={STS_ACCESS_KEY_SECRET} \
         ALIBABA_CLOUD_SECURITY_TOKEN='{STS_SECURITY_TOKEN}'"
    );
    let _ = writeln!(
        out,
        "# assume a role with the exported access key (AssumeRole): \
         ALIBABA_CLOUD_ROLE_ARN={ROLE_ARN}"
    );
    let _ = writeln!(
        out,
        "# OIDC instead: ALIBABA_CLOUD_ROLE_ARN={ROLE_ARN} \
         ALIBABA_CLOUD_OIDC_PROVIDER_ARN={OIDC_PROVIDER_ARN} \
         ALIBABA_CLOUD_OIDC_TOKEN_FILE=<a file holding exactly {OIDC_TOKEN}>"
    );
    let _ = out.flush();
    drop(out);
    eprintln!(
        "ecs-emulator: serving on {} (Ctrl-C to stop)",
        emulator.endpoint()
    );
    if !options.clock_skew.is_zero() {
        eprintln!(
            "ecs-emulator: clock skewed by {} s",
            options.clock_skew.num_seconds()
        );
    }
    let pending = emulator.pending_faults();
    if pending > 0 {
        eprintln!("ecs-emulator: {pending} fault(s) queued");
    }

    // Ctrl-C ends the process (default SIGINT handling); until then, log.
    let mut logged = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        for request in emulator.requests_from(logged) {
            logged += 1;
            let answered = if request.status == 0 {
                "(no answer)".to_string()
            } else {
                format!(
                    "{} {}",
                    request.status,
                    request.code.as_deref().unwrap_or("OK")
                )
            };
            let fault = match &request.fault {
                Some(fault) => format!("  [fault: {fault}]"),
                None => String::new(),
            };
            eprintln!(
                "{} {} -> {answered}{fault}",
                request.method,
                request.action().unwrap_or("-"),
            );
        }
    }
}
