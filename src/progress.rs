//! Progress of a wait, on stderr: a bar on a terminal, short timestamped lines in a CI log,
//! nothing with `-q`. stdout is never touched.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::log::Level;
use crate::wait::{Phase, Seen};

/// In a log, a line at most this often while the state stays the same.
const LINE_INTERVAL: Duration = Duration::from_secs(30);

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colors on a terminal, unless NO_COLOR is set
    Auto,
    /// Colors even when stderr is not a terminal
    Always,
    /// No colors
    Never,
}

impl ColorChoice {
    /// Applies the choice to everything drawn on stderr.
    pub fn apply(self, no_color_env: bool) {
        let enabled = match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                !no_color_env && console::Term::stderr().features().colors_supported()
            }
        };
        console::set_colors_enabled_stderr(enabled);
    }
}

/// The progress views of one run: on a terminal, one bar per copy, drawn together.
pub struct Views {
    level: Level,
    bars: Option<MultiProgress>,
}

impl Views {
    pub fn new(level: Level, terminal: bool) -> Self {
        Self {
            level,
            bars: (terminal && level > Level::Quiet)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A view for one copy, named by `label`.
    pub fn add(&self, label: String) -> ProgressView {
        let kind = match (&self.bars, self.level) {
            (_, Level::Quiet) => Kind::Hidden,
            (Some(bars), _) => Kind::Bar(bars.add(bar(&label))),
            (None, _) => Kind::Lines(LineState::default()),
        };
        ProgressView { label, kind }
    }
}

pub struct ProgressView {
    label: String,
    kind: Kind,
}

enum Kind {
    Bar(ProgressBar),
    Lines(LineState),
    Hidden,
}

/// What the last line said, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineState {
    state: String,
    percent: u8,
    at: Option<Instant>,
}

impl LineState {
    /// A new line when the state changes, or the percent does and the last line is
    /// 30 s old (`LINE_INTERVAL`).
    pub fn should_print(&self, state: &str, percent: u8, now: Instant) -> bool {
        match self.at {
            None => true,
            Some(_) if state != self.state => true,
            Some(at) => percent != self.percent && now.duration_since(at) >= LINE_INTERVAL,
        }
    }

    fn printed(&mut self, state: &str, percent: u8, now: Instant) {
        *self = Self {
            state: state.to_owned(),
            percent,
            at: Some(now),
        };
    }
}

impl ProgressView {
    pub fn show(&mut self, seen: &Seen) {
        match &mut self.kind {
            Kind::Hidden => {}
            Kind::Bar(bar) => {
                bar.set_position(u64::from(seen.phase.progress()));
                bar.set_message(status_text(seen));
            }
            Kind::Lines(last) => {
                let state = seen.phase.label();
                let percent = seen.phase.progress();
                let now = Instant::now();
                // The end is said once, by the caller's final message.
                if seen.phase != Phase::Done && last.should_print(&state, percent, now) {
                    eprintln!("{} {}: {}", timestamp(), self.label, line_text(seen));
                    last.printed(&state, percent, now);
                }
            }
        }
    }

    /// Removes the bar, so that the final message stands alone.
    pub fn finish(&mut self) {
        if let Kind::Bar(bar) = &self.kind {
            bar.finish_and_clear();
        }
    }
}

fn bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{spinner} {prefix} [{bar:30.cyan/blue}] {pos:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `3m 10s`: whole seconds are enough here.
pub fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// The bar's message: state, elapsed time and the time left.
fn status_text(seen: &Seen) -> String {
    let mut text = format!("{} · {} elapsed", seen.phase.label(), human(seen.elapsed));
    if let Some(left) = seen.estimate {
        text.push_str(&format!(" · about {} left", human(left)));
    }
    text
}

/// One log line's text.
pub fn line_text(seen: &Seen) -> String {
    let elapsed = human(seen.elapsed);
    match &seen.phase {
        Phase::NotListed => format!("starting, not listed yet ({elapsed} elapsed)"),
        Phase::Queued => {
            format!("queued: a region copies only a few images at a time ({elapsed} elapsed)")
        }
        Phase::Copying { progress } => match seen.estimate {
            Some(left) => format!(
                "copying {progress}% ({elapsed} elapsed, about {} left)",
                human(left)
            ),
            None => format!("copying {progress}% ({elapsed} elapsed)"),
        },
        Phase::Done => format!("done ({elapsed})"),
        Phase::Failed { status } => format!("failed: {status} ({elapsed} elapsed)"),
        Phase::Other { status } => format!("{status} ({elapsed} elapsed)"),
    }
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(phase: Phase, elapsed: u64, estimate: Option<u64>) -> Seen {
        Seen {
            phase,
            elapsed: Duration::from_secs(elapsed),
            estimate: estimate.map(Duration::from_secs),
            polls: 1,
        }
    }

    #[test]
    fn lines_say_state_percent_and_times() {
        assert_eq!(
            line_text(&seen(Phase::Copying { progress: 45 }, 190, Some(720))),
            "copying 45% (3m 10s elapsed, about 12m left)"
        );
        assert_eq!(
            line_text(&seen(Phase::Copying { progress: 5 }, 10, None)),
            "copying 5% (10s elapsed)"
        );
        assert!(line_text(&seen(Phase::Queued, 61, None))
            .starts_with("queued: a region copies only a few images at a time"));
        assert_eq!(
            line_text(&seen(
                Phase::Failed {
                    status: "CreateFailed".into()
                },
                5,
                None
            )),
            "failed: CreateFailed (5s elapsed)"
        );
    }

    #[test]
    fn lines_are_throttled_unless_the_state_changes() {
        let t0 = Instant::now();
        let mut last = LineState::default();
        assert!(last.should_print("queued", 0, t0), "the first line always");
        last.printed("queued", 0, t0);
        assert!(
            !last.should_print("queued", 0, t0 + Duration::from_secs(300)),
            "nothing new"
        );
        assert!(
            last.should_print("copying", 1, t0 + Duration::from_secs(1)),
            "a new state at once"
        );
        last.printed("copying", 1, t0 + Duration::from_secs(1));
        assert!(
            !last.should_print("copying", 2, t0 + Duration::from_secs(20)),
            "a new percent waits 30 s"
        );
        assert!(last.should_print("copying", 2, t0 + Duration::from_secs(31)));
        assert!(
            last.should_print("done", 100, t0 + Duration::from_secs(2)),
            "the end at once"
        );
    }

    #[test]
    fn quiet_hides_and_a_pipe_gets_lines() {
        assert!(matches!(
            Views::new(Level::Quiet, true).add("x".into()).kind,
            Kind::Hidden
        ));
        assert!(matches!(
            Views::new(Level::Quiet, false).add("x".into()).kind,
            Kind::Hidden
        ));
        assert!(matches!(
            Views::new(Level::Normal, false).add("x".into()).kind,
            Kind::Lines(_)
        ));
    }
}
