//! One run: the copies of the plan, started concurrently (bounded), each reported as soon as
//! it starts, then with `--wait` followed to the end. No started copy is ever lost: its
//! ImageId is printed whatever happens to the others.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Semaphore;

use crate::cli::{IfExists, OutputFormat};
use crate::client::EcsClient;
use crate::error::Error;
use crate::log::Log;
use crate::output::{render_all, Report};
use crate::plan::{CopyPlan, PlannedCopy};
use crate::progress::{self, ProgressView, Views};
use crate::request::CopyImageRequest;
use crate::settings::WaitSettings;
use crate::wait::{self, Outcome, Phase, WaitOptions};

/// CopyImage calls in flight at once: a region runs only a few copies at a time anyway, and
/// each destination here is a different region.
const MAX_CONCURRENT_STARTS: usize = 4;
/// How long a new copy may stay unlisted before the wait calls it gone.
const COPY_LISTING_GRACE: Duration = Duration::from_secs(60);

/// What came of starting one copy.
enum Started {
    /// Copying (or reused, or the source kept): this image is the result.
    Image(Report),
    /// `--dry-run`: the service accepted the request.
    DryRun,
}

pub struct Run<'a> {
    pub client: &'a EcsClient,
    pub log: Log,
    pub output: OutputFormat,
    pub wait: Option<WaitSettings>,
}

impl Run<'_> {
    pub async fn execute(&self, mut plan: CopyPlan, stdout: &mut dyn Write) -> Result<(), Error> {
        if plan.copy_tags {
            let first = plan.copies[0].request();
            let tags = self
                .client
                .image_tags(&first.source_region_id, first.image_id.as_str())
                .await?;
            for copy in &mut plan.copies {
                copy.request_mut().add_source_tags(&tags)?;
            }
        }
        for copy in &mut plan.copies {
            copy.request_mut().ensure_client_token();
        }
        let single = plan.copies.len() == 1;

        // Start every copy, printing each as it starts.
        let limit = Semaphore::new(MAX_CONCURRENT_STARTS);
        let mut starting: FuturesUnordered<_> = plan
            .copies
            .iter()
            .enumerate()
            .map(|(i, copy)| {
                let limit = &limit;
                let if_exists = plan.if_exists;
                async move {
                    let _permit = limit.acquire().await;
                    (i, self.start(copy, if_exists).await)
                }
            })
            .collect();
        let mut reports: Vec<Option<Report>> = vec![None; plan.copies.len()];
        let mut failures: Vec<(usize, Error)> = Vec::new();
        let mut dry_runs: Vec<usize> = Vec::new();
        while let Some((i, started)) = starting.next().await {
            match started {
                Ok(Started::Image(report)) => {
                    if self.output == OutputFormat::Text {
                        let text = if single {
                            report.render(self.output)
                        } else {
                            report.line()
                        };
                        write_out(stdout, &text, &report)?;
                    }
                    reports[i] = Some(report);
                }
                Ok(Started::DryRun) => dry_runs.push(i),
                Err(e) => failures.push((i, e)),
            }
        }
        drop(starting);
        if !dry_runs.is_empty() {
            dry_runs.sort_unstable();
            let regions: Vec<String> = dry_runs
                .iter()
                .map(|&i| plan.copies[i].request().destination_region_id.to_string())
                .collect();
            self.log.say(format!(
                "dry run: the service accepted CopyImage of {} to {} (DryRunOperation); nothing was copied",
                plan.copies[0].request().image_id,
                regions.join(", ")
            ));
        }

        // Follow the started copies to their end.
        if let Some(wait) = &self.wait {
            let views = Views::new(self.log.level(), std::io::stderr().is_terminal());
            let mut following: FuturesUnordered<_> = reports
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.as_ref().map(|r| (i, r.clone())))
                .map(|(i, report)| {
                    let request = plan.copies[i].request();
                    let view = views.add(format!(
                        "{} in {}",
                        report.image_id.as_deref().unwrap_or_default(),
                        report.destination_region_id
                    ));
                    async move { (i, self.follow(request, report, wait, view).await) }
                })
                .collect();
            while let Some((i, (report, result))) = following.next().await {
                reports[i] = Some(report);
                if let Err(e) = result {
                    failures.push((i, e));
                }
            }
        }

        if self.output == OutputFormat::Json {
            let text = if single {
                reports[0].as_ref().map(|r| r.render(self.output))
            } else {
                let all: Vec<Report> = reports
                    .iter()
                    .zip(&plan.copies)
                    .zip(0..)
                    .map(|((r, copy), i)| {
                        let mut r = r.clone().unwrap_or_else(|| report_for(copy.request()));
                        r.error = failures
                            .iter()
                            .find(|(at, _)| *at == i)
                            .map(|(_, e)| one_line(e));
                        r
                    })
                    .filter(|r| r.image_id.is_some() || r.error.is_some())
                    .collect();
                (!all.is_empty()).then(|| render_all(&all))
            };
            if let Some(text) = text {
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|e| {
                        Error::Internal(format!("writing the result to stdout failed: {e}"))
                    })?;
            }
        }

        failures.sort_by_key(|(i, _)| *i);
        match (single, failures.len()) {
            (_, 0) => Ok(()),
            (true, _) => Err(failures.remove(0).1),
            (false, _) => Err(Error::Several(
                failures
                    .into_iter()
                    .map(|(i, e)| {
                        (
                            plan.copies[i].request().destination_region_id.to_string(),
                            e,
                        )
                    })
                    .collect(),
            )),
        }
    }

    /// Starts one copy: CopyImage, or the existing image (`--if-exists reuse`), or the source
    /// itself (`AllowCopyInSameRegion`).
    async fn start(&self, copy: &PlannedCopy, if_exists: IfExists) -> Result<Started, Error> {
        let request = copy.request();
        let mut report = report_for(request);
        if let PlannedCopy::KeepSource(_) = copy {
            report.image_id = Some(request.image_id.to_string());
            return Ok(Started::Image(report));
        }
        let region = &request.destination_region_id;
        if let (IfExists::Reuse, Some(name), false) =
            (if_exists, &request.destination_image_name, request.dry_run)
        {
            if let Some(existing) = self
                .client
                .images_named(region, name.as_str())
                .await?
                .into_iter()
                .next()
            {
                self.log.say(format!(
                    "{region}: reusing {} named '{name}' ({}) instead of copying",
                    existing.image_id, existing.status
                ));
                report.image_id = Some(existing.image_id);
                report.reused = Some(true);
                return Ok(Started::Image(report));
            }
        }
        match self.client.copy_image(request).await {
            Ok(started) => {
                report.image_id = Some(started.image_id);
                report.request_id = Some(started.request_id);
                Ok(Started::Image(report))
            }
            Err(Error::Api(api)) if request.dry_run && api.code == "DryRunOperation" => {
                Ok(Started::DryRun)
            }
            Err(Error::Api(api)) if api.code == "InvalidImageName.Duplicated" => {
                let name = request
                    .destination_image_name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                let existing = self
                    .client
                    .images_named(region, &name)
                    .await
                    .ok()
                    .and_then(|found| found.into_iter().next())
                    .map(|i| i.image_id);
                Err(Error::ImageExists {
                    name,
                    region: region.to_string(),
                    existing,
                    api,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `--wait` for one copy: polls it in its destination region until it ends, showing
    /// progress, and returns the report with the last status.
    async fn follow(
        &self,
        request: &CopyImageRequest,
        mut report: Report,
        settings: &WaitSettings,
        mut view: ProgressView,
    ) -> (Report, Result<(), Error>) {
        let region = &request.destination_region_id;
        let image_id = report.image_id.clone().unwrap_or_default();
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
            || self.client.describe_image(region, &image_id),
            interrupt,
            |seen| view.show(seen),
        )
        .await;
        view.finish();
        let (outcome, seen) = match waited {
            Ok(done) => done,
            Err(e) => return (report, Err(e)),
        };
        report.status = api_status(&seen.phase);
        report.progress = Some(seen.phase.progress());
        report.elapsed_seconds = Some(seen.elapsed.as_secs());
        let state = format!("{} ({}%)", seen.phase.label(), seen.phase.progress());
        let cancel = |wanted: bool| {
            let image_id = image_id.clone();
            async move {
                if !wanted {
                    return None;
                }
                Some(
                    match self.client.cancel_copy_image(region, &image_id).await {
                        Ok(request_id) => format!(
                            "it was cancelled (CancelCopyImage accepted, RequestId {request_id})"
                        ),
                        Err(e) => format!("CancelCopyImage failed, so it goes on: {}", e.summary()),
                    },
                )
            }
        };
        let result = match outcome {
            Outcome::Done => {
                self.log.say(format!(
                    "the copy {image_id} in {region} is Available ({})",
                    progress::human(seen.elapsed)
                ));
                Ok(())
            }
            Outcome::Failed { status } => Err(Error::CopyFailed {
                image_id: image_id.clone(),
                region: region.to_string(),
                why: format!("its status is {status}"),
            }),
            Outcome::Vanished => Err(Error::CopyFailed {
                image_id: image_id.clone(),
                region: region.to_string(),
                why: format!(
                    "it is not listed in {region} (cancelled or deleted, or it never started)"
                ),
            }),
            Outcome::TimedOut => Err(Error::WaitTimedOut {
                waited: progress::human(settings.timeout),
                state,
                cancel: cancel(settings.cancel_on_timeout).await,
                image_id: image_id.clone(),
                region: region.to_string(),
            }),
            Outcome::Interrupted => Err(Error::Interrupted {
                state,
                cancel: cancel(settings.cancel_on_interrupt).await,
                image_id: image_id.clone(),
                region: region.to_string(),
            }),
        };
        (report, result)
    }
}

fn report_for(request: &CopyImageRequest) -> Report {
    Report::new(
        request.source_region_id.to_string(),
        request.destination_region_id.to_string(),
    )
}

fn write_out(stdout: &mut dyn Write, text: &str, report: &Report) -> Result<(), Error> {
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            Error::Internal(format!(
                "the copy {} was started, but writing it to stdout failed: {e}",
                report.image_id.as_deref().unwrap_or_default()
            ))
        })
}

/// An error on one line, for the JSON report.
fn one_line(e: &Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

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
