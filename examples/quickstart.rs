//! Runs a real copy against the built-in local ECS emulator: no account, no network.
//!
//! ```sh
//! cargo run --example quickstart                      # prints the new ImageId
//! cargo run --example quickstart -- --output json     # any copy-image flag can be added
//! ```
//!
//! It starts the emulator on 127.0.0.1, gives its test AccessKey to copy-image, and runs
//! copy-image's own entry point (the one `main` calls), which validates, signs and sends the
//! CopyImage request over HTTP; the emulator checks the signature as ECS does.

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::process::ExitCode;

use copy_image::env::Env;

fn main() -> ExitCode {
    let emu = emulator::Emulator::start();
    let endpoint = emu.endpoint();
    let user: Vec<String> = std::env::args().skip(1).collect();
    let defaults = [
        ("--source-region", emulator::SOURCE_REGION),
        ("--image-id", emulator::SOURCE_IMAGE_ID),
        ("--destination-region", "cn-shanghai"),
        ("--endpoint", endpoint.as_str()),
    ];
    let mut args = vec!["copy-image".to_owned()];
    for (flag, value) in defaults {
        let given = user.iter().any(|a| {
            a == flag
                || a.starts_with(&format!("{flag}="))
                || (flag == "--source-region" && a == "--region")
        });
        if !given {
            args.extend([flag.to_owned(), value.to_owned()]);
        }
    }
    args.extend(user);
    eprintln!("quickstart: local ECS emulator listening at {endpoint}");
    eprintln!("quickstart: {}", args.join(" "));

    let env: Env = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            emulator::ACCESS_KEY_SECRET,
        ),
    ]
    .into_iter()
    .collect();
    copy_image::main_with(args, &env)
}
