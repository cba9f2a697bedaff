//! The one error type of a run. Its variants are the user's categories; [`Error::exit`]
//! is the one place they map to exit codes.

use std::fmt;
use std::process::ExitCode;

use crate::credentials::CredentialsError;
use crate::model::Rule;

/// Exit codes, documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Success = 0,
    Internal = 1,
    Usage = 2,
    Credentials = 3,
    Rejected = 4,
    Unavailable = 5,
    CopyFailed = 6,
    WaitTimedOut = 7,
    Interrupted = 130,
}

impl Exit {
    /// Which of several outcomes decides the exit code: a definite failure (internal, copy
    /// failed, rejected, credentials) before one that may clear up (unavailable, timed out,
    /// interrupted), before a usage error.
    pub fn severity(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Usage => 1,
            Exit::Interrupted => 2,
            Exit::WaitTimedOut => 3,
            Exit::Unavailable => 4,
            Exit::Credentials => 5,
            Exit::Rejected => 6,
            Exit::CopyFailed => 7,
            Exit::Internal => 8,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Bad input found before anything is sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    #[error("invalid value '{}' for {flag}: {rule}", value.escape_debug())]
    Invalid {
        /// The flag, or the template property and where it came from.
        flag: String,
        value: String,
        rule: Rule,
    },
    #[error("{flag} is required: {hint}")]
    Missing {
        flag: &'static str,
        hint: &'static str,
    },
}

/// An error answer from the API: always Code, Message and RequestId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub action: &'static str,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: String,
    pub host_id: Option<String>,
    pub recommend: Option<String>,
}

impl ApiError {
    /// Whether the service, rather than the request, is at fault: 5xx or throttling. Those
    /// exit 5 (try again later); everything else exits 4 (fix the request).
    pub fn is_service_side(&self) -> bool {
        self.status >= 500
            || self.code.contains("Throttling")
            || self.code.starts_with("ServiceUnavailable")
            || self.code == "InternalError"
    }

    /// What to do next, for the codes whose remedy is known.
    fn hint(&self) -> Option<&'static str> {
        Some(match self.code.as_str() {
            "SignatureDoesNotMatch" => {
                "the AccessKey secret does not match the AccessKey id: check ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            }
            "InvalidAccessKeyId.NotFound" | "InvalidAccessKeyId.Inactive" => {
                "the AccessKey id is unknown or disabled: check ALIBABA_CLOUD_ACCESS_KEY_ID"
            }
            "InvalidTimeStamp.Expired" | "IllegalTimestamp" => {
                "the local clock is probably wrong: synchronize it (e.g. with NTP) and retry"
            }
            "InvalidImageId.NotFound" => {
                "check the image id and that --source-region is the region the image is in"
            }
            "IncorrectImageStatus" => "only an Available custom image can be copied",
            "InvalidImageName.Duplicated" => {
                "an image with this name already exists in the destination region: choose another --destination-image-name"
            }
            "IdempotentParameterMismatch" => {
                "this --client-token was already used for a copy with other parameters: \
                 use a new token, or repeat the first copy's parameters exactly"
            }
            "IncorrectDestinationRegion" => "the destination region must differ from the source region",
            "Forbidden.RAM" | "Forbidden" | "Forbbiden" => {
                "the RAM identity lacks permission: it needs ecs:CopyImage on the source image"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: the service answered HTTP {}\n  Code:      {}\n  Message:   {}\n  RequestId: {}",
            self.action, self.status, self.code, self.message, self.request_id
        )?;
        if let Some(host) = &self.host_id {
            write!(f, "\n  HostId:    {host}")?;
        }
        if let Some(url) = &self.recommend {
            write!(f, "\n  Recommend: {url}")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The request did not get an answer: DNS, connect, TLS, reset, time-out.
    #[error("{action} could not reach {endpoint}: {detail}")]
    Transport {
        action: &'static str,
        endpoint: String,
        detail: String,
    },
    /// An answer that is not what the API documents (e.g. an HTML page from a proxy).
    #[error("{action}: unexpected answer from {endpoint} (HTTP {status}): {problem}; body starts: {excerpt}")]
    UnexpectedResponse {
        action: &'static str,
        endpoint: String,
        status: u16,
        problem: String,
        excerpt: String,
    },
    /// The copy ended in a failed state, or stopped being listed.
    #[error("the copy {image_id} in {region} failed: {why}")]
    CopyFailed {
        image_id: String,
        region: String,
        why: String,
    },
    /// `--timeout` passed; the copy goes on unless it was cancelled.
    #[error(
        "gave up waiting after {waited}: the copy {image_id} in {region} is still {state}{}",
        after_stop(image_id, region, cancel)
    )]
    WaitTimedOut {
        image_id: String,
        region: String,
        waited: String,
        state: String,
        cancel: Option<String>,
    },
    /// Ctrl-C while waiting.
    #[error(
        "interrupted: the copy {image_id} in {region} was {state}{}",
        after_stop(image_id, region, cancel)
    )]
    Interrupted {
        image_id: String,
        region: String,
        state: String,
        cancel: Option<String>,
    },
    /// `--if-exists fail` (the default) and the name is taken in the destination region.
    #[error(
        "an image named '{name}' already exists in {region}{}: use another --destination-image-name, \
         or --if-exists reuse to take that image\n{api}",
        existing.as_deref().map(|id| format!(" ({id})")).unwrap_or_default()
    )]
    ImageExists {
        name: String,
        region: String,
        existing: Option<String>,
        api: Box<ApiError>,
    },
    /// Several destinations, several failures: each with its region; the most severe decides
    /// the exit code.
    #[error("{}", .0.iter().map(|(region, e)| format!("{region}: {e}")).collect::<Vec<_>>().join("\nerror: "))]
    Several(Vec<(String, Error)>),
    /// Several attempts failed; `last` decides the exit code.
    #[error(
        "{action} failed after {} attempts:\n{}\nthe last answer:\n{last}",
        attempts.len(),
        attempts.iter().enumerate().map(|(i, a)| format!("  attempt {}: {a}", i + 1)).collect::<Vec<_>>().join("\n")
    )]
    Exhausted {
        action: String,
        attempts: Vec<String>,
        last: Box<Error>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) => Exit::Usage,
            Error::Credentials(_) => Exit::Credentials,
            Error::Api(api) if api.is_service_side() => Exit::Unavailable,
            Error::Api(_) => Exit::Rejected,
            Error::Transport { .. } => Exit::Unavailable,
            Error::UnexpectedResponse { status, .. } if (400..500).contains(status) => {
                Exit::Rejected
            }
            Error::UnexpectedResponse { .. } => Exit::Unavailable,
            Error::Exhausted { last, .. } => last.exit(),
            Error::CopyFailed { .. } => Exit::CopyFailed,
            Error::ImageExists { .. } => Exit::Rejected,
            Error::Several(errors) => errors
                .iter()
                .map(|(_, e)| e.exit())
                .max_by_key(|e| e.severity())
                .unwrap_or(Exit::Internal),
            Error::WaitTimedOut { .. } => Exit::WaitTimedOut,
            Error::Interrupted { .. } => Exit::Interrupted,
            Error::Internal(_) => Exit::Internal,
        }
    }

    /// One line for the list of attempts.
    pub fn summary(&self) -> String {
        match self {
            Error::Api(api) => format!(
                "HTTP {} {} (RequestId {})",
                api.status, api.code, api.request_id
            ),
            Error::Transport { detail, .. } => format!("no answer: {detail}"),
            Error::UnexpectedResponse {
                status, problem, ..
            } => format!("HTTP {status}: {problem}"),
            other => other.to_string(),
        }
    }
}

/// What became of a copy the wait stopped following: cancelled, or still running (and
/// billed) with the command that cancels it.
fn after_stop(image_id: &str, region: &str, cancel: &Option<String>) -> String {
    match cancel {
        Some(outcome) => format!("; {outcome}"),
        None => format!(
            ". It goes on in the cloud. To cancel it: aliyun ecs CancelCopyImage --RegionId {region} --ImageId {image_id}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Error {
        Error::Api(Box::new(ApiError {
            action: "CopyImage",
            status,
            code: code.into(),
            message: "m".into(),
            request_id: "r".into(),
            host_id: None,
            recommend: None,
        }))
    }

    #[test]
    fn api_errors_split_between_rejected_and_unavailable() {
        assert_eq!(api(404, "InvalidImageId.NotFound").exit(), Exit::Rejected);
        assert_eq!(api(400, "SignatureDoesNotMatch").exit(), Exit::Rejected);
        assert_eq!(api(403, "Forbidden.RAM").exit(), Exit::Rejected);
        assert_eq!(api(400, "Throttling").exit(), Exit::Unavailable);
        assert_eq!(api(400, "Throttling.User").exit(), Exit::Unavailable);
        assert_eq!(api(503, "ServiceUnavailable").exit(), Exit::Unavailable);
        assert_eq!(api(500, "InternalError").exit(), Exit::Unavailable);
    }

    #[test]
    fn api_error_shows_code_message_request_id() {
        let text = api(404, "InvalidImageId.NotFound").to_string();
        assert!(
            text.contains("Code:      InvalidImageId.NotFound"),
            "{text}"
        );
        assert!(text.contains("Message:   m"), "{text}");
        assert!(text.contains("RequestId: r"), "{text}");
        assert!(text.contains("hint: check the image id"), "{text}");
    }

    #[test]
    fn several_failures_exit_with_the_most_severe() {
        let e = Error::Several(vec![
            ("cn-shanghai".into(), api(503, "ServiceUnavailable")),
            ("cn-beijing".into(), api(404, "InvalidImageId.NotFound")),
        ]);
        assert_eq!(e.exit(), Exit::Rejected);
        let text = e.to_string();
        assert!(text.starts_with("cn-shanghai: CopyImage failed"), "{text}");
        assert!(
            text.contains("\nerror: cn-beijing: CopyImage failed"),
            "{text}"
        );
    }

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        let codes = [
            (Exit::Success, 0),
            (Exit::Internal, 1),
            (Exit::Usage, 2),
            (Exit::Credentials, 3),
            (Exit::Rejected, 4),
            (Exit::Unavailable, 5),
            (Exit::CopyFailed, 6),
            (Exit::WaitTimedOut, 7),
            (Exit::Interrupted, 130),
        ];
        for (exit, n) in codes {
            assert_eq!(exit as u8, n);
        }
    }

    #[test]
    fn usage_error_names_flag_value_and_rule() {
        let e = UsageError::Invalid {
            flag: "--image-id".into(),
            value: "bad\nvalue".into(),
            rule: Rule("must be good".into()),
        };
        assert_eq!(
            e.to_string(),
            "invalid value 'bad\\nvalue' for --image-id: must be good"
        );
    }
}
