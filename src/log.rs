//! Messages on stderr, by verbosity. stdout is for the result only, so nothing here writes there.
//!
//! - `-q`: nothing but errors;
//! - default: errors and warnings (e.g. a skewed clock);
//! - `-v`: one line per attempt: action, endpoint, status, RequestId, retry decision, time;
//! - `-vv`: also the request parameters, with Signature, SecurityToken and AccessKeyId masked.

use std::fmt::Display;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

impl Level {
    pub fn from_flags(quiet: bool, verbose: u8) -> Self {
        match (quiet, verbose) {
            (true, _) => Level::Quiet,
            (false, 0) => Level::Normal,
            (false, 1) => Level::Verbose,
            (false, _) => Level::Debug,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log {
    level: Level,
}

impl Log {
    pub fn new(level: Level) -> Self {
        Self { level }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    pub fn warn(&self, message: impl Display) {
        if self.level >= Level::Normal {
            eprintln!("warning: {message}");
        }
    }

    /// A message for people (e.g. "the copy is Available"), shown unless `-q`.
    pub fn say(&self, message: impl Display) {
        if self.level >= Level::Normal {
            eprintln!("{message}");
        }
    }

    /// `-v`: the message is built only when it will be shown.
    pub fn verbose(&self, message: impl FnOnce() -> String) {
        if self.level >= Level::Verbose {
            eprintln!("copy-image: {}", message());
        }
    }

    /// `-vv`.
    pub fn debug(&self, message: impl FnOnce() -> String) {
        if self.level >= Level::Debug {
            eprintln!("copy-image: {}", message());
        }
    }
}

/// Text from the network made safe for a terminal: control characters (escape sequences
/// included) become spaces and bidirectional overrides, which can make text read differently
/// than it is, are dropped.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .filter(|c| !is_bidi_control(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_flags() {
        assert_eq!(Level::from_flags(false, 0), Level::Normal);
        assert_eq!(Level::from_flags(false, 1), Level::Verbose);
        assert_eq!(Level::from_flags(false, 2), Level::Debug);
        assert_eq!(Level::from_flags(false, 7), Level::Debug);
        assert_eq!(Level::from_flags(true, 0), Level::Quiet);
    }

    #[test]
    fn terminal_safe_removes_escapes_and_bidi_overrides() {
        let hostile = "ok\x1b[31mred\x07\r\n\u{202E}evil\u{2066}x\u{200F}";
        assert_eq!(terminal_safe(hostile), "ok [31mred   evilx");
        assert_eq!(terminal_safe("中文 😀 plain"), "中文 😀 plain");
    }
}
