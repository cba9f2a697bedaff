//! What the command line means: the validated request plus how to send it and how to report.
//! One fallible conversion from [`Cli`]; every refusal is exit 2 with nothing sent.

use std::time::Duration;

use crate::cli::{Cli, ColorChoice, OutputFormat};
use crate::client::ClientOptions;
use crate::endpoint::Endpoint;
use crate::error::UsageError;
use crate::log::{Level, Log};
use crate::model::parse_duration;
use crate::plan::CopyPlan;
use crate::retry::RetryPolicy;
use crate::template::CopyProperties;

#[derive(Debug, Clone)]
pub struct Settings {
    pub plan: CopyPlan,
    pub client: ClientOptions,
    pub output: OutputFormat,
    pub log: Log,
    /// With `--wait`.
    pub wait: Option<WaitSettings>,
    pub color: ColorChoice,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitSettings {
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub cancel_on_timeout: bool,
    pub cancel_on_interrupt: bool,
}

impl TryFrom<&Cli> for Settings {
    type Error = UsageError;

    fn try_from(cli: &Cli) -> Result<Self, UsageError> {
        Self::new(cli, None, None)
    }
}

impl Settings {
    /// `template`: the properties from `--template`/`--properties`; `profile_region`: the
    /// region of the aliyun CLI profile in use, if any.
    pub fn new(
        cli: &Cli,
        template: Option<&CopyProperties>,
        profile_region: Option<&str>,
    ) -> Result<Self, UsageError> {
        let plan = CopyPlan::new(cli, template, profile_region)?;
        let endpoint_override = cli
            .endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                Endpoint::parse_override(e).map_err(|rule| UsageError::Invalid {
                    flag: "--endpoint".into(),
                    value: e.to_owned(),
                    rule,
                })
            })
            .transpose()?;
        let duration = |flag: &str, value: &str| {
            parse_duration(value).map_err(|rule| UsageError::Invalid {
                flag: flag.to_owned(),
                value: value.to_owned(),
                rule,
            })
        };
        Ok(Self {
            plan,
            client: ClientOptions {
                endpoint_override,
                connect_timeout: duration("--connect-timeout", &cli.connect_timeout)?,
                read_timeout: duration("--read-timeout", &cli.read_timeout)?,
                retry: RetryPolicy {
                    max_attempts: cli.max_attempts,
                    ..RetryPolicy::default()
                },
                signature: cli.signature_version,
            },
            output: cli.output,
            log: Log::new(Level::from_flags(cli.quiet, cli.verbose)),
            wait: if cli.wait {
                Some(WaitSettings {
                    timeout: duration("--timeout", &cli.timeout)?,
                    poll_interval: duration("--poll-interval", &cli.poll_interval)?,
                    cancel_on_timeout: cli.cancel_on_timeout,
                    cancel_on_interrupt: cli.cancel_on_interrupt,
                })
            } else {
                None
            },
            color: cli.color,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    fn settings(extra: &[&str]) -> Result<Settings, UsageError> {
        let base = [
            "copy-image",
            "--image-id",
            "m-1",
            "--source-region",
            "cn-hangzhou",
            "--destination-region",
            "cn-shanghai",
        ];
        Settings::try_from(&Cli::try_parse_from(base.iter().chain(extra)).unwrap())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.client.connect_timeout, Duration::from_secs(10));
        assert_eq!(s.client.read_timeout, Duration::from_secs(30));
        assert_eq!(s.client.retry, RetryPolicy::default());
        assert_eq!(s.client.retry.max_attempts, 5);
        assert_eq!(s.client.endpoint_override, None);
        assert_eq!(s.log.level(), Level::Normal);
        assert_eq!(s.wait, None);
    }

    #[test]
    fn wait_flags() {
        let s = settings(&["--wait"]).unwrap();
        assert_eq!(
            s.wait,
            Some(WaitSettings {
                timeout: Duration::from_secs(7200),
                poll_interval: Duration::from_secs(5),
                cancel_on_timeout: false,
                cancel_on_interrupt: false,
            })
        );
        let s = settings(&[
            "--wait",
            "--timeout",
            "90m",
            "--poll-interval",
            "200ms",
            "--cancel-on-timeout",
        ])
        .unwrap();
        let w = s.wait.unwrap();
        assert_eq!(
            (w.timeout, w.poll_interval, w.cancel_on_timeout),
            (Duration::from_secs(5400), Duration::from_millis(200), true)
        );
        let e = settings(&["--wait", "--timeout", "0s"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid value '0s' for --timeout: must be greater than zero"
        );
    }

    #[test]
    fn connection_flags() {
        let s = settings(&[
            "--connect-timeout",
            "500ms",
            "--read-timeout",
            "2m",
            "--max-attempts",
            "2",
            "--endpoint",
            "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
            "-vv",
        ])
        .unwrap();
        assert_eq!(s.client.connect_timeout, Duration::from_millis(500));
        assert_eq!(s.client.read_timeout, Duration::from_secs(120));
        assert_eq!(s.client.retry.max_attempts, 2);
        assert_eq!(
            s.client.endpoint_override.unwrap().as_str(),
            "https://ecs-vpc.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(s.log.level(), Level::Debug);
    }

    #[test]
    fn bad_durations_name_the_flag() {
        let e = settings(&["--read-timeout", "0s"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid value '0s' for --read-timeout: must be greater than zero"
        );
        let e = settings(&["--connect-timeout", "ten"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid value 'ten' for --connect-timeout: must be a duration"),
            "{e}"
        );
    }
}
