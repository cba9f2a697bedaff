//! Runs the local ECS emulator on its own, for trying `copy-image` by hand.
//!
//! ```text
//! cargo run --example ecs-emulator [-- --port N]
//! ```
//!
//! Prints the `export` lines to paste into another shell, then serves until
//! Ctrl-C, logging one line per request to stderr.

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use emulator::{
    Config, Emulator, CREATING_IMAGE_ID, SOURCE_IMAGE_ID, SOURCE_REGION, STS_ACCESS_KEY_ID,
    STS_ACCESS_KEY_SECRET, STS_SECURITY_TOKEN,
};

const USAGE: &str = "usage: cargo run --example ecs-emulator [-- --port N]";

fn parse_port(args: &[String]) -> Result<u16, String> {
    let mut port = 0;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--port" || arg == "-p" {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))?
                .as_str()
        } else if let Some(value) = arg.strip_prefix("--port=") {
            value
        } else if arg == "--help" || arg == "-h" {
            return Err(USAGE.to_string());
        } else {
            return Err(format!("unexpected argument {arg:?}\n{USAGE}"));
        };
        port = value
            .parse()
            .map_err(|_| format!("not a port number: {value:?}\n{USAGE}"))?;
    }
    Ok(port)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match parse_port(&args) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::try_start_with(Config {
        port,
        ..Config::default()
    }) {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("ecs-emulator: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut out = std::io::stdout().lock();
    for (name, value) in emulator.env_vars() {
        let _ = writeln!(out, "export {name}={value}");
    }
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
    let _ = out.flush();
    drop(out);
    eprintln!(
        "ecs-emulator: serving on {} (Ctrl-C to stop)",
        emulator.endpoint()
    );

    // Ctrl-C ends the process (default SIGINT handling); until then, log.
    let mut logged = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        for request in emulator.requests_from(logged) {
            logged += 1;
            eprintln!(
                "{} {} -> {} {}",
                request.method,
                request.action().unwrap_or("-"),
                request.status,
                request.code.as_deref().unwrap_or("OK"),
            );
        }
    }
}
