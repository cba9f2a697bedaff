//! copy-image: copy an Alibaba Cloud ECS custom image to another region.
//!
//! ```text
//! argv ─ clap ─▶ Cli (+ --template/--properties) ─ Settings::new ─▶ CopyPlan: one validated
//!        CopyImageRequest per destination, client options, wait settings  (exit 2, nothing sent)
//! environment + files ─ credentials::find ─▶ candidates ─ Provider::fetch ─▶ Credentials (exit 3)
//! run::Run: the copies start concurrently; each attempt of each call goes through
//!   retry::run ─ sign::sign (V1 or V3) ─ HTTP ─ response::interpret ─▶ value | error (4, 5)
//!   each ImageId printed as its copy starts; with --wait, wait::wait follows each (6, 7, 130)
//! output: results alone on stdout; progress, messages and errors on stderr
//! ```

pub mod cli;
pub mod client;
pub mod credentials;
pub mod endpoint;
pub mod env;
pub mod error;
pub mod log;
pub mod model;
pub mod output;
pub mod plan;
pub mod progress;
pub mod request;
pub mod response;
pub mod retry;
pub mod rpc;
pub mod run;
pub mod settings;
pub mod shell;
pub mod sign;
pub mod template;
pub mod wait;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::cli::Cli;
use crate::client::EcsClient;
use crate::credentials::{Lookup, Provider};
use crate::env::Env;
use crate::error::{Error, Exit, UsageError};
use crate::model::Rule;
use crate::rpc::RpcClient;
use crate::run::Run;
use crate::settings::Settings;
use crate::template::CopyProperties;

/// The whole program: parse `args`, run, print the result or one error, return the exit code.
pub fn main_with(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &Env,
) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    if cli.completions.is_some() || cli.man {
        return match shell::generate(&cli, &mut std::io::stdout().lock()) {
            Ok(()) => Exit::Success.into(),
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Internal.into()
            }
        };
    }
    match run(&cli, env, &mut std::io::stdout().lock()) {
        Ok(()) => Exit::Success.into(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit().into()
        }
    }
}

/// Validates, finds credentials, starts the copies and, with `--wait`, follows them. The
/// result goes to `stdout`: in text mode each ImageId as soon as its copy starts, before any
/// waiting, so that a caller keeps the id of a copy that is running (and billed) whatever
/// happens next.
pub fn run(cli: &Cli, env: &Env, stdout: &mut dyn Write) -> Result<(), Error> {
    let lookup = Lookup {
        env,
        profile_flag: cli.profile.as_deref(),
    };
    let template = read_template(cli)?;
    // A broken config.json is reported by the credential chain below, with its reason.
    let profile_region = credentials::profile_region(lookup).ok().flatten();
    let Settings {
        plan,
        client: options,
        log,
        output,
        wait,
        color,
    } = Settings::new(cli, template.as_ref(), profile_region.as_deref())?;
    color.apply(env.get("NO_COLOR").is_some());
    let candidates = credentials::find(lookup)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let rpc = Arc::new(RpcClient::new(&options, log)?);
        let credentials = Provider::fetch(candidates, rpc.clone()).await?;
        let client = EcsClient::new(rpc, credentials, &options);
        Run {
            client: &client,
            log,
            output,
            wait,
        }
        .execute(plan, stdout)
        .await
    })
}

/// `--template FILE` or `--properties FILE`, read and understood (exit 2 when it cannot be).
fn read_template(cli: &Cli) -> Result<Option<CopyProperties>, Error> {
    let (path, flag) = match (&cli.template, &cli.properties) {
        (Some(path), _) => (path, "--template"),
        (None, Some(path)) => (path, "--properties"),
        (None, None) => return Ok(None),
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| UsageError::Invalid {
        flag: flag.to_owned(),
        value: shown.clone(),
        rule: Rule(format!("cannot be read: {e}")),
    })?;
    let parsed = if cli.template.is_some() {
        let parameters = cli
            .parameters
            .iter()
            .map(|p| match p.split_once('=') {
                Some((k, v)) => Ok((k.trim().to_owned(), v.to_owned())),
                None => Err(UsageError::Invalid {
                    flag: "--parameter".into(),
                    value: p.clone(),
                    rule: Rule("must be KEY=VALUE".into()),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        template::from_template(&shown, &text, &parameters, cli.resource.as_deref())
    } else {
        template::from_properties(&shown, &text)
    };
    parsed.map(Some).map_err(|e| {
        Error::Usage(UsageError::Invalid {
            flag: flag.to_owned(),
            value: shown.clone(),
            rule: Rule(e.problem),
        })
    })
}
