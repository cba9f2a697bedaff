//! copy-image: copy an Alibaba Cloud ECS custom image to another region.
//!
//! ```text
//! argv ─ clap ─▶ Cli ─ Settings::try_from ─▶ validated request + client options (exit 2, nothing sent)
//! environment ─ credentials::Chain ─▶ Credentials                              (exit 3)
//! EcsClient: request.to_params() + ClientToken
//!   └ retry::run: each attempt signed afresh (sign::v1) ─ HTTP ─ response::interpret
//!                 ─▶ ImageId | error (4 rejected, 5 unreachable/failing)
//! output: the ImageId alone on stdout; messages on stderr (log: -q, -v, -vv)
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
pub mod request;
pub mod response;
pub mod retry;
pub mod rpc;
pub mod settings;
pub mod sign;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::cli::Cli;
use crate::client::EcsClient;
use crate::credentials::{Lookup, Provider};
use crate::env::Env;
use crate::error::{Error, Exit};
use crate::output::Report;
use crate::rpc::RpcClient;
use crate::settings::Settings;

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
    match run(&cli, env) {
        Ok(report) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(report.render(cli.output).as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => Exit::Success.into(),
                Err(e) => {
                    eprintln!(
                        "error: the copy {} was started, but writing its ImageId to stdout failed: {e}",
                        report.image_id
                    );
                    Exit::Internal.into()
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit().into()
        }
    }
}

/// Validates, finds credentials, and starts the copy.
pub fn run(cli: &Cli, env: &Env) -> Result<Report, Error> {
    let lookup = Lookup {
        env,
        profile_flag: cli.profile.as_deref(),
    };
    // A broken config.json is reported by the credential chain below, with its reason.
    let profile_region = credentials::profile_region(lookup).ok().flatten();
    let Settings {
        mut request,
        client: options,
        log,
        ..
    } = Settings::new(cli, profile_region.as_deref())?;
    let candidates = credentials::find(lookup)?;
    request.ensure_client_token();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let response = runtime.block_on(async {
        let rpc = Arc::new(RpcClient::new(&options, log)?);
        let credentials = Provider::fetch(candidates, rpc.clone()).await?;
        let client = EcsClient::new(rpc, credentials, options.endpoint_override.clone());
        client.copy_image(&request).await
    })?;
    Ok(Report {
        image_id: response.image_id,
        request_id: response.request_id,
        source_region_id: request.source_region_id.to_string(),
        destination_region_id: request.destination_region_id.to_string(),
    })
}
