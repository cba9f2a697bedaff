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
pub mod progress;
pub mod request;
pub mod response;
pub mod retry;
pub mod rpc;
pub mod settings;
pub mod sign;
pub mod wait;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, OutputFormat};
use crate::client::EcsClient;
use crate::credentials::{Lookup, Provider};
use crate::env::Env;
use crate::error::{Error, Exit};
use crate::log::Log;
use crate::output::Report;
use crate::progress::ProgressView;
use crate::request::CopyImageRequest;
use crate::rpc::RpcClient;
use crate::settings::{Settings, WaitSettings};
use crate::wait::{Outcome, Phase, WaitOptions};

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
    match run(&cli, env, &mut std::io::stdout().lock()) {
        Ok(()) => Exit::Success.into(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit().into()
        }
    }
}

/// Validates, finds credentials, starts the copy and, with `--wait`, follows it. The result
/// goes to `stdout`: in text mode the ImageId at once, before any waiting, so that a caller
/// keeps the id of a copy that is running (and billed) whatever happens next.
pub fn run(cli: &Cli, env: &Env, stdout: &mut dyn Write) -> Result<(), Error> {
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
        output,
        wait,
        color,
    } = Settings::new(cli, profile_region.as_deref())?;
    color.apply(env.get("NO_COLOR").is_some());
    let candidates = credentials::find(lookup)?;
    request.ensure_client_token();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let rpc = Arc::new(RpcClient::new(&options, log)?);
        let credentials = Provider::fetch(candidates, rpc.clone()).await?;
        let client = EcsClient::new(rpc, credentials, options.endpoint_override.clone());
        let started = client.copy_image(&request).await?;
        let mut report = Report {
            image_id: started.image_id,
            request_id: started.request_id,
            source_region_id: request.source_region_id.to_string(),
            destination_region_id: request.destination_region_id.to_string(),
            status: None,
            progress: None,
            elapsed_seconds: None,
        };
        if output == OutputFormat::Text {
            print(stdout, &report, output)?;
        }
        let waited = match wait {
            Some(wait) => follow(&client, &request, &mut report, &wait, log).await,
            None => Ok(()),
        };
        if output == OutputFormat::Json {
            print(stdout, &report, output)?;
        }
        waited
    })
}

fn print(stdout: &mut dyn Write, report: &Report, output: OutputFormat) -> Result<(), Error> {
    stdout
        .write_all(report.render(output).as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            Error::Internal(format!(
                "the copy {} was started, but writing it to stdout failed: {e}",
                report.image_id
            ))
        })
}

/// `--wait`: polls the copy in the destination region until it ends, showing progress, and
/// records the last status in `report`.
async fn follow(
    client: &EcsClient,
    request: &CopyImageRequest,
    report: &mut Report,
    settings: &WaitSettings,
    log: Log,
) -> Result<(), Error> {
    let region = &request.destination_region_id;
    let image_id = report.image_id.clone();
    let mut view = ProgressView::new(
        log.level(),
        std::io::stderr().is_terminal(),
        format!("{image_id} in {region}"),
    );
    let options = WaitOptions {
        poll_interval: settings.poll_interval,
        timeout: settings.timeout,
        grace: COPY_LISTING_GRACE,
    };
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let waited = wait::wait(
        &options,
        || client.describe_image(region, &image_id),
        interrupt,
        |seen| view.show(seen),
    )
    .await;
    view.finish();
    let (outcome, seen) = waited?;
    report.status = api_status(&seen.phase);
    report.progress = Some(seen.phase.progress());
    report.elapsed_seconds = Some(seen.elapsed.as_secs());
    let state = seen.phase.label();
    let cancel = |wanted: bool| {
        let image_id = image_id.clone();
        async move {
            if !wanted {
                return None;
            }
            Some(match client.cancel_copy_image(region, &image_id).await {
                Ok(request_id) => {
                    format!("it was cancelled (CancelCopyImage accepted, RequestId {request_id})")
                }
                Err(e) => format!("CancelCopyImage failed, so it goes on: {}", e.summary()),
            })
        }
    };
    match outcome {
        Outcome::Done => {
            log.warn_free(format!(
                "the copy {image_id} in {region} is Available ({})",
                progress::human(seen.elapsed)
            ));
            Ok(())
        }
        Outcome::Failed { status } => Err(Error::CopyFailed {
            image_id,
            region: region.to_string(),
            why: format!("its status is {status}"),
        }),
        Outcome::Vanished => Err(Error::CopyFailed {
            why: format!(
                "it is not listed in {region} (cancelled or deleted, or it never started)"
            ),
            image_id,
            region: region.to_string(),
        }),
        Outcome::TimedOut => Err(Error::WaitTimedOut {
            waited: progress::human(settings.timeout),
            state: format!("{state} ({}%)", seen.phase.progress()),
            cancel: cancel(settings.cancel_on_timeout).await,
            image_id: image_id.clone(),
            region: region.to_string(),
        }),
        Outcome::Interrupted => Err(Error::Interrupted {
            state: format!("{state} ({}%)", seen.phase.progress()),
            cancel: cancel(settings.cancel_on_interrupt).await,
            image_id: image_id.clone(),
            region: region.to_string(),
        }),
    }
}

/// How long a new copy may stay unlisted before the wait calls it gone.
const COPY_LISTING_GRACE: Duration = Duration::from_secs(60);

/// The API's name of a phase, for the JSON report.
fn api_status(phase: &Phase) -> Option<String> {
    match phase {
        Phase::NotListed => None,
        Phase::Queued => Some("Waiting".into()),
        Phase::Copying { .. } => Some("Creating".into()),
        Phase::Done => Some("Available".into()),
        Phase::Failed { status } | Phase::Other { status } => Some(status.clone()),
    }
}
