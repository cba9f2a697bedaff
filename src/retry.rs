//! The one retry loop every call goes through.
//!
//! Classification follows the official tools (retry transport errors, HTTP 500/502/503/504,
//! throttling and the service's "try again" codes; never another 4xx). Waits grow exponentially
//! with jitter, capped, and honour the service's `x-acs-retry-after`. The loop stops at the
//! attempt limit or when the time budget is spent; the final error lists every attempt.

use std::future::Future;
use std::time::Duration;

use backon::BackoffBuilder as _;
use tokio::time::Instant;

use crate::error::Error;
use crate::log::Log;

/// Codes the service uses for "not now": the request may succeed when repeated.
const RETRYABLE_CODES: &[&str] = &[
    "ServiceUnavailable",
    "InternalError",
    "UnknownError",
    "InvalidOperation.Conflict",
    "OperationConflict",
];
const RETRYABLE_STATUSES: &[u16] = &[500, 502, 503, 504];
/// The service may ask for a longer pause than our own backoff, but not for minutes.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// No attempt starts later than this after the first one.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(120),
        }
    }
}

/// Why a failed attempt may be repeated, or `None` when repeating cannot help.
pub fn retry_reason(error: &Error) -> Option<String> {
    match error {
        Error::Transport { detail, .. } => Some(format!("no answer ({detail})")),
        Error::Api(api)
            if RETRYABLE_STATUSES.contains(&api.status)
                || api.code.contains("Throttling")
                || RETRYABLE_CODES.contains(&api.code.as_str()) =>
        {
            Some(format!("HTTP {} {}", api.status, api.code))
        }
        // A 2xx whose body cannot be read may have done its work; repeating it is safe for
        // CopyImage only because every attempt carries the same ClientToken.
        Error::UnexpectedResponse { status, .. }
            if (200..300).contains(status) || RETRYABLE_STATUSES.contains(status) =>
        {
            Some(format!("HTTP {status} with an unreadable body"))
        }
        _ => None,
    }
}

/// A failed attempt and what the answer said about retrying.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    /// The service's `x-acs-retry-after`.
    pub retry_after: Option<Duration>,
    /// Repeat at once whatever the classification says (the clock was just corrected).
    pub retry_now: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
            retry_now: false,
        }
    }
}

/// Runs `attempt` (given the attempt number, from 1) until it succeeds, fails for good, or the
/// policy says stop.
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    log: &Log,
    action: &str,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let mut history: Vec<String> = Vec::new();
    let max_attempts = policy.max_attempts.max(1);

    for n in 1..=max_attempts {
        let failure = match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let reason = if failure.retry_now {
            Some("clock corrected".to_owned())
        } else {
            retry_reason(&failure.error)
        };
        history.push(failure.error.summary());

        let Some(reason) = reason else {
            log.verbose(|| format!("{action}: not retried: {}", failure.error.summary()));
            return Err(exhausted(action, history, failure.error));
        };
        if n == max_attempts {
            log.verbose(|| {
                format!("{action}: {reason}; no attempts left (--max-attempts {max_attempts})")
            });
            return Err(exhausted(action, history, failure.error));
        }
        let delay = if failure.retry_now {
            Duration::ZERO
        } else {
            let ours = backoff.next().unwrap_or(policy.max_delay);
            failure
                .retry_after
                .map_or(ours, |asked| asked.min(MAX_RETRY_AFTER))
        };
        if started.elapsed() + delay > policy.budget {
            log.verbose(|| {
                format!(
                    "{action}: {reason}; the retry budget of {} is spent",
                    humantime::format_duration(policy.budget)
                )
            });
            return Err(exhausted(action, history, failure.error));
        }
        log.verbose(|| format!("{action}: {reason}; retrying in {}", seconds(delay)));
        tokio::time::sleep(delay).await;
    }
    unreachable!("the loop returns on its last attempt")
}

fn exhausted(action: &str, history: Vec<String>, last: Error) -> Error {
    if history.len() <= 1 {
        return last;
    }
    Error::Exhausted {
        action: action.to_owned(),
        attempts: history,
        last: Box::new(last),
    }
}

/// `1.25 s`: durations in log lines.
fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::log::Level;
    use std::cell::Cell;

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

    fn transport() -> Error {
        Error::Transport {
            action: "CopyImage",
            endpoint: "https://e".into(),
            detail: "connection reset".into(),
        }
    }

    fn unexpected(status: u16) -> Error {
        Error::UnexpectedResponse {
            action: "CopyImage",
            endpoint: "https://e".into(),
            status,
            problem: "p".into(),
            excerpt: "x".into(),
        }
    }

    #[test]
    fn classification_follows_the_official_tools() {
        let retried = [
            transport(),
            api(500, "InternalError"),
            api(502, "BadGateway"),
            api(503, "ServiceUnavailable"),
            api(504, "GatewayTimeout"),
            api(400, "Throttling"),
            api(400, "Throttling.User"),
            api(400, "Throttling.Api"),
            api(400, "UnknownError"),
            api(409, "InvalidOperation.Conflict"),
            api(409, "OperationConflict"),
            unexpected(200),
            unexpected(502),
        ];
        for e in &retried {
            assert!(retry_reason(e).is_some(), "{e:?} should be retried");
        }
        let final_ = [
            api(400, "InvalidParameter"),
            api(404, "InvalidImageId.NotFound"),
            api(403, "Forbidden.RAM"),
            api(400, "SignatureDoesNotMatch"),
            api(400, "IdempotentParameterMismatch"),
            api(400, "InvalidTimeStamp.Expired"),
            api(501, "NotImplemented"),
            unexpected(404),
            Error::Internal("x".into()),
        ];
        for e in &final_ {
            assert!(retry_reason(e).is_none(), "{e:?} must not be retried");
        }
    }

    fn quiet() -> Log {
        Log::new(Level::Quiet)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_with_growing_capped_waits() {
        let calls = Cell::new(0u32);
        let started = Instant::now();
        let result = run(&RetryPolicy::default(), &quiet(), "CopyImage", |n| {
            calls.set(n);
            async move {
                if n < 4 {
                    Err(Failure::from(api(503, "ServiceUnavailable")))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 4);
        assert_eq!(calls.get(), 4);
        // 3 waits: [0.5,1) + [1,2) + [2,4) seconds with jitter.
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(3500), "{waited:?}");
        assert!(waited < Duration::from_secs(7), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_is_not_retried() {
        let calls = Cell::new(0u32);
        let err = run(&RetryPolicy::default(), &quiet(), "CopyImage", |n| {
            calls.set(n);
            async { Err::<(), _>(Failure::from(api(404, "InvalidImageId.NotFound"))) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 1);
        assert!(
            matches!(err, Error::Api(_)),
            "a single attempt reports the error alone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_listing_each_failure() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let err = run(&policy, &quiet(), "CopyImage", |n| async move {
            let e = if n == 2 {
                transport()
            } else {
                api(503, "ServiceUnavailable")
            };
            Err::<(), _>(Failure::from(e))
        })
        .await
        .unwrap_err();
        let Error::Exhausted { attempts, last, .. } = &err else {
            panic!("expected Exhausted, got {err:?}");
        };
        assert_eq!(attempts.len(), 3);
        assert!(
            attempts[0].contains("503 ServiceUnavailable"),
            "{attempts:?}"
        );
        assert!(attempts[1].contains("connection reset"), "{attempts:?}");
        assert!(matches!(**last, Error::Api(_)));
        assert_eq!(err.exit(), crate::error::Exit::Unavailable);
        let text = err.to_string();
        assert!(text.contains("CopyImage failed after 3 attempts"), "{text}");
        assert!(text.contains("attempt 2: "), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_and_caps_it() {
        let started = Instant::now();
        let result = run(
            &RetryPolicy::default(),
            &quiet(),
            "CopyImage",
            |n| async move {
                if n == 1 {
                    Err(Failure {
                        error: api(400, "Throttling"),
                        retry_after: Some(Duration::from_millis(7300)),
                        retry_now: false,
                    })
                } else if n == 2 {
                    Err(Failure {
                        error: api(400, "Throttling"),
                        retry_after: Some(Duration::from_secs(3600)),
                        retry_now: false,
                    })
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(7300) + MAX_RETRY_AFTER
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_the_budget_is_spent() {
        let policy = RetryPolicy {
            max_attempts: 100,
            budget: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let calls = Cell::new(0u32);
        let started = Instant::now();
        let err = run(&policy, &quiet(), "CopyImage", |n| {
            calls.set(n);
            async { Err::<(), _>(Failure::from(api(503, "ServiceUnavailable"))) }
        })
        .await
        .unwrap_err();
        assert!(
            started.elapsed() <= Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        assert!(calls.get() < 100 && calls.get() >= 4, "{}", calls.get());
        assert_eq!(err.exit(), crate::error::Exit::Unavailable);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_now_repeats_at_once_even_for_a_final_code() {
        let started = Instant::now();
        let result = run(
            &RetryPolicy::default(),
            &quiet(),
            "CopyImage",
            |n| async move {
                if n == 1 {
                    Err(Failure {
                        error: api(400, "InvalidTimeStamp.Expired"),
                        retry_after: None,
                        retry_now: true,
                    })
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 2);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn one_attempt_means_no_retry() {
        let policy = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let calls = Cell::new(0u32);
        let err = run(&policy, &quiet(), "CopyImage", |n| {
            calls.set(n);
            async { Err::<(), _>(Failure::from(api(503, "ServiceUnavailable"))) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 1);
        assert!(matches!(err, Error::Api(_)));
    }
}
