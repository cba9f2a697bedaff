//! What the integration tests share: the real binary with an environment they control, and its
//! output as text. Included with `mod support;` next to `mod emulator;`.
#![allow(dead_code)]

use std::process::Output;

use assert_cmd::Command;

use crate::emulator;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_copy-image");

/// The binary with an empty environment: no credentials, no endpoint, no region, no home, and
/// the ECS metadata service disabled, so the credential chain never leaves this machine.
pub fn bare() -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.env_clear()
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    cmd
}

/// The binary pointed at `endpoint` for ECS and STS, with the emulator's AccessKey in the
/// environment.
pub fn with_keys(endpoint: &str) -> Command {
    let mut cmd = bare();
    cmd.env("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID)
        .env(
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            emulator::ACCESS_KEY_SECRET,
        )
        .env("ALIBABA_CLOUD_ECS_ENDPOINT", endpoint)
        .env("ALIBABA_CLOUD_STS_ENDPOINT", endpoint);
    cmd
}

/// A copy of `image` from the emulator's source region to `destination`, with its AccessKey.
pub fn copy_of(emu: &emulator::Emulator, image: &str, destination: &str) -> Command {
    let mut cmd = with_keys(&emu.endpoint());
    cmd.args(["--source-region", emulator::SOURCE_REGION])
        .args(["--image-id", image])
        .args(["--destination-region", destination]);
    cmd
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The requests the emulator received for `action`, in order.
pub fn requests_for(emu: &emulator::Emulator, action: &str) -> Vec<emulator::RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.action() == Some(action))
        .collect()
}
