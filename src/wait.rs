//! Waiting for a copy: a pure classifier of what DescribeImages says, a pure adaptive poll
//! schedule, and one bounded loop with injected polling, time (tokio's clock) and interruption.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// What DescribeImages says of the copy (in the destination region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageState {
    pub status: String,
    /// `Progress` as a number, 0..=100.
    pub progress: Option<u8>,
    /// The largest `DiskDeviceMapping.RemainTime`, in seconds, when the service gives one.
    pub remain_secs: Option<u64>,
}

/// Where the copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not (yet) listed: right after CopyImage this is normal for a while.
    NotListed,
    /// `Waiting`: queued, as a region copies only a few images at a time.
    Queued,
    /// `Creating`: copying.
    Copying { progress: u8 },
    /// `Available`.
    Done,
    /// `CreateFailed` or `UnAvailable`.
    Failed { status: String },
    /// A status this tool does not know: keep waiting, and show it.
    Other { status: String },
}

impl Phase {
    /// A word for people.
    pub fn label(&self) -> String {
        match self {
            Phase::NotListed => "starting".into(),
            Phase::Queued => "queued".into(),
            Phase::Copying { .. } => "copying".into(),
            Phase::Done => "done".into(),
            Phase::Failed { status } | Phase::Other { status } => status.clone(),
        }
    }

    pub fn progress(&self) -> u8 {
        match self {
            Phase::Copying { progress } => *progress,
            Phase::Done => 100,
            _ => 0,
        }
    }
}

/// The pure classification of one poll.
pub fn classify(image: Option<&ImageState>) -> Phase {
    let Some(image) = image else {
        return Phase::NotListed;
    };
    match image.status.as_str() {
        "Waiting" => Phase::Queued,
        "Creating" => Phase::Copying {
            progress: image.progress.unwrap_or(0).min(100),
        },
        "Available" => Phase::Done,
        "CreateFailed" | "UnAvailable" => Phase::Failed {
            status: image.status.clone(),
        },
        other => Phase::Other {
            status: other.to_owned(),
        },
    }
}

/// `"45%"` → 45.
pub fn parse_percent(s: &str) -> Option<u8> {
    s.trim()
        .trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .map(|p| p.clamp(0.0, 100.0) as u8)
}

/// When to poll next. Starts at the base interval, slows down (up to 60 s) while the copy is
/// queued or far from done, and tightens as the predicted end nears: the prediction is the
/// service's `RemainTime` when given, else the progress rate observed so far.
#[derive(Debug, Clone)]
pub struct Schedule {
    base: Duration,
    max: Duration,
    last: Duration,
    /// The first poll that showed progress: (elapsed, percent).
    first_progress: Option<(Duration, u8)>,
}

impl Schedule {
    pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

    pub fn new(base: Duration) -> Self {
        Self {
            base,
            max: Self::MAX_INTERVAL.max(base),
            last: base,
            first_progress: None,
        }
    }

    /// The predicted time left, from `RemainTime` or the observed rate.
    pub fn estimate(
        &mut self,
        elapsed: Duration,
        phase: &Phase,
        remain: Option<Duration>,
    ) -> Option<Duration> {
        let Phase::Copying { progress } = *phase else {
            return None;
        };
        if let Some(remain) = remain.filter(|r| !r.is_zero()) {
            return Some(remain);
        }
        let (t0, p0) = *self.first_progress.get_or_insert((elapsed, progress));
        if progress <= p0 || elapsed <= t0 {
            return None;
        }
        let rate = f64::from(progress - p0) / (elapsed - t0).as_secs_f64();
        Some(Duration::from_secs_f64(f64::from(100 - progress) / rate))
    }

    /// The wait before the next poll.
    pub fn next(&mut self, estimate: Option<Duration>, phase: &Phase) -> Duration {
        let next = match (phase, estimate) {
            (Phase::NotListed, _) => self.base,
            // Halving the predicted time left converges on the end without overshooting it by
            // more than the base interval.
            (_, Some(left)) => (left / 2).clamp(self.base, self.max),
            // Nothing to predict with: back off gently.
            (_, None) => self.last.mul_f64(1.5).clamp(self.base, self.max),
        };
        self.last = next;
        next
    }
}

/// What waiting ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed {
        status: String,
    },
    /// Listed no more (or never, past the grace period): cancelled or deleted.
    Vanished,
    TimedOut,
    Interrupted,
}

/// The last thing seen, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub phase: Phase,
    pub elapsed: Duration,
    pub estimate: Option<Duration>,
    pub polls: u32,
}

pub struct WaitOptions {
    pub poll_interval: Duration,
    pub timeout: Duration,
    /// How long the copy may stay unlisted (right after CopyImage, or after a glitch).
    pub grace: Duration,
}

/// Polls until the copy is done, fails, vanishes, the time is up or `interrupt` completes.
/// `poll` asks DescribeImages (through the retry loop); its error ends the wait. `show` is
/// called after every poll.
pub async fn wait<P, PF, I>(
    options: &WaitOptions,
    mut poll: P,
    interrupt: I,
    mut show: impl FnMut(&Seen),
) -> Result<(Outcome, Seen), Error>
where
    P: FnMut() -> PF,
    PF: Future<Output = Result<Option<ImageState>, Error>>,
    I: Future<Output = ()>,
{
    let start = Instant::now();
    let deadline = start + options.timeout;
    let mut schedule = Schedule::new(options.poll_interval);
    let mut last_listed = start;
    let mut seen = Seen {
        phase: Phase::NotListed,
        elapsed: Duration::ZERO,
        estimate: None,
        polls: 0,
    };
    tokio::pin!(interrupt);
    loop {
        let image = tokio::select! {
            biased;
            () = &mut interrupt => return Ok((Outcome::Interrupted, seen)),
            () = tokio::time::sleep_until(deadline) => return Ok((Outcome::TimedOut, seen)),
            result = poll() => result?,
        };
        let now = Instant::now();
        let phase = classify(image.as_ref());
        let remain = image
            .as_ref()
            .and_then(|i| i.remain_secs)
            .map(Duration::from_secs);
        seen.elapsed = now - start;
        seen.estimate = schedule.estimate(seen.elapsed, &phase, remain);
        seen.polls += 1;
        seen.phase = phase.clone();
        show(&seen);
        match phase {
            Phase::Done => return Ok((Outcome::Done, seen)),
            Phase::Failed { status } => return Ok((Outcome::Failed { status }, seen)),
            Phase::NotListed if now - last_listed > options.grace => {
                return Ok((Outcome::Vanished, seen))
            }
            Phase::NotListed => {}
            _ => last_listed = now,
        }
        let pause = schedule.next(seen.estimate, &seen.phase);
        tokio::select! {
            biased;
            () = &mut interrupt => return Ok((Outcome::Interrupted, seen)),
            () = tokio::time::sleep_until(deadline.min(now + pause)) => {}
        }
        if Instant::now() >= deadline {
            return Ok((Outcome::TimedOut, seen));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    fn state(status: &str, progress: Option<u8>, remain: Option<u64>) -> ImageState {
        ImageState {
            status: status.into(),
            progress,
            remain_secs: remain,
        }
    }

    #[test]
    fn classification_table() {
        let cases = [
            (None, Phase::NotListed),
            (Some(state("Waiting", Some(0), None)), Phase::Queued),
            (
                Some(state("Creating", Some(45), None)),
                Phase::Copying { progress: 45 },
            ),
            (
                Some(state("Creating", None, None)),
                Phase::Copying { progress: 0 },
            ),
            (
                Some(state("Creating", Some(250), None)),
                Phase::Copying { progress: 100 },
            ),
            (Some(state("Available", Some(100), None)), Phase::Done),
            (
                Some(state("CreateFailed", None, None)),
                Phase::Failed {
                    status: "CreateFailed".into(),
                },
            ),
            (
                Some(state("UnAvailable", None, None)),
                Phase::Failed {
                    status: "UnAvailable".into(),
                },
            ),
            (
                Some(state("Deprecated", None, None)),
                Phase::Other {
                    status: "Deprecated".into(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(classify(input.as_ref()), expected, "{input:?}");
        }
    }

    #[test]
    fn percent_forms() {
        assert_eq!(parse_percent("45%"), Some(45));
        assert_eq!(parse_percent("100%"), Some(100));
        assert_eq!(parse_percent(" 7 % "), Some(7));
        assert_eq!(parse_percent("12.5%"), Some(12));
        assert_eq!(parse_percent("150%"), Some(100));
        assert_eq!(parse_percent(""), None);
        assert_eq!(parse_percent("n/a"), None);
    }

    #[test]
    fn schedule_backs_off_when_nothing_can_be_predicted_and_tightens_near_the_end() {
        let mut s = Schedule::new(Duration::from_secs(5));
        let queued = Phase::Queued;
        let waits: Vec<u64> = (0..8).map(|_| s.next(None, &queued).as_secs()).collect();
        assert_eq!(waits, [7, 11, 16, 25, 37, 56, 60, 60]);
        let copying = Phase::Copying { progress: 50 };
        assert_eq!(
            s.next(Some(Duration::from_secs(1000)), &copying),
            Duration::from_secs(60)
        );
        assert_eq!(
            s.next(Some(Duration::from_secs(60)), &copying),
            Duration::from_secs(30)
        );
        assert_eq!(
            s.next(Some(Duration::from_secs(4)), &copying),
            Duration::from_secs(5)
        );
        assert_eq!(s.next(None, &Phase::NotListed), Duration::from_secs(5));
    }

    #[test]
    fn estimate_from_remain_time_or_observed_rate() {
        let mut s = Schedule::new(Duration::from_secs(5));
        let at = |p| Phase::Copying { progress: p };
        assert_eq!(
            s.estimate(
                Duration::from_secs(10),
                &at(10),
                Some(Duration::from_secs(90))
            ),
            Some(Duration::from_secs(90))
        );
        let mut s = Schedule::new(Duration::from_secs(5));
        assert_eq!(
            s.estimate(Duration::from_secs(10), &at(10), None),
            None,
            "one point is no rate"
        );
        // 10% in 100 s: 80% left takes 800 s.
        assert_eq!(
            s.estimate(Duration::from_secs(110), &at(20), None),
            Some(Duration::from_secs(800))
        );
        assert_eq!(
            s.estimate(Duration::from_secs(120), &Phase::Queued, None),
            None
        );
    }

    /// A simulated copy on tokio's paused clock: queued for `queued`, then copying linearly
    /// for `copying`. Returns (polls, how long after the real end the wait noticed it).
    async fn simulate(
        queued: Duration,
        copying: Duration,
        with_remain_time: bool,
    ) -> (u32, Duration) {
        let start = Instant::now();
        let end = queued + copying;
        let options = WaitOptions {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(4 * 3600),
            grace: Duration::from_secs(60),
        };
        let (outcome, seen) = wait(
            &options,
            || async move {
                let t = start.elapsed();
                Ok(Some(if t < queued {
                    state("Waiting", Some(0), None)
                } else if t < end {
                    let done = (t - queued).as_secs_f64() / copying.as_secs_f64();
                    let left = (end - t).as_secs();
                    state(
                        "Creating",
                        Some((done * 100.0) as u8),
                        with_remain_time.then_some(left),
                    )
                } else {
                    state("Available", Some(100), None)
                }))
            },
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::Done);
        (seen.polls, start.elapsed() - end)
    }

    /// The README's figures: a 30-minute copy costs well under 60 DescribeImages calls and its
    /// end is noticed within 10 s, whether the service reports RemainTime or not.
    #[tokio::test(start_paused = true)]
    async fn a_thirty_minute_copy_costs_few_polls_and_is_noticed_quickly() {
        for (queued, with_remain) in [(0, false), (0, true), (120, false), (600, true)] {
            let (polls, late) = simulate(
                Duration::from_secs(queued),
                Duration::from_secs(30 * 60),
                with_remain,
            )
            .await;
            eprintln!("queued {queued} s, RemainTime {with_remain}: {polls} polls, end noticed {late:?} late");
            // While queued nothing can be predicted: about one poll a minute.
            let budget = 40 + queued / 60;
            assert!(
                u64::from(polls) < budget,
                "queued {queued} s, RemainTime {with_remain}: {polls} polls"
            );
            assert!(
                late <= Duration::from_secs(10),
                "queued {queued} s, RemainTime {with_remain}: noticed {late:?} late"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_copy_is_polled_at_the_base_interval() {
        let (polls, late) = simulate(Duration::ZERO, Duration::from_secs(20), false).await;
        assert!(polls <= 6, "{polls}");
        assert!(late <= Duration::from_secs(5), "{late:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn failure_ends_at_once() {
        let options = WaitOptions {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
            grace: Duration::from_secs(60),
        };
        let polls = Cell::new(0);
        let (outcome, seen) = wait(
            &options,
            || {
                polls.set(polls.get() + 1);
                let n = polls.get();
                async move {
                    Ok(Some(if n < 3 {
                        state("Creating", Some(10), None)
                    } else {
                        state("CreateFailed", None, None)
                    }))
                }
            },
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(
            outcome,
            Outcome::Failed {
                status: "CreateFailed".into()
            }
        );
        assert_eq!(seen.polls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_and_interrupt() {
        let options = WaitOptions {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(100),
            grace: Duration::from_secs(60),
        };
        let start = Instant::now();
        let creating = || async { Ok(Some(state("Creating", Some(1), None))) };
        let (outcome, seen) = wait(&options, creating, std::future::pending(), |_| {})
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::TimedOut);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(100),
            "ends at the deadline, not after a poll interval"
        );
        assert_eq!(seen.phase, Phase::Copying { progress: 1 });

        let start = Instant::now();
        let (outcome, _) = wait(
            &options,
            creating,
            tokio::time::sleep(Duration::from_secs(12)),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::Interrupted);
        assert_eq!(start.elapsed(), Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn not_listed_is_pending_for_the_grace_period_then_vanished() {
        let options = WaitOptions {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
            grace: Duration::from_secs(30),
        };
        let start = Instant::now();
        // Listed after 12 s: fine.
        let late_listing = || async move {
            Ok((start.elapsed() >= Duration::from_secs(12))
                .then(|| state("Available", Some(100), None)))
        };
        let (outcome, _) = wait(&options, late_listing, std::future::pending(), |_| {})
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Done);
        // Never listed: vanished after the grace period.
        let start = Instant::now();
        let (outcome, _) = wait(
            &options,
            || async { Ok(None) },
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::Vanished);
        assert!(
            start.elapsed() <= Duration::from_secs(40),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_error_ends_the_wait() {
        let options = WaitOptions {
            poll_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
            grace: Duration::from_secs(30),
        };
        let shown = RefCell::new(Vec::new());
        let err = wait(
            &options,
            || async { Err(Error::Internal("denied".into())) },
            std::future::pending(),
            |s| shown.borrow_mut().push(s.clone()),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("denied"));
        assert!(shown.borrow().is_empty());
    }
}
