//! The watchdog: ends a run whose outcome is already known, or that went silent.
//!
//! Besides the wall-clock timeout, three things stop a running agent early
//! (all decided here, purely, from lines and times the capture feeds in;
//! `supervise.rs` does the stopping):
//! - **idle**: no byte on either stream for the route's `idle_timeout`.
//!   The run is a `timeout` whose evidence says how long it was silent and
//!   what it said last; a snapshot of its process tree is kept first.
//! - **terminal**: a line matched a rule marked `terminal = true` (Codex
//!   without network prints why and then reconnects forever). After a settle
//!   time with no sign of recovery (a structured event that is not an error,
//!   or the answer's stream speaking when the error was on the other), the
//!   run is stopped and classified by that rule: "stopped early: …".
//! - **done**: the CLI printed its final verdict event (Claude Code's
//!   `result`, Codex's `turn.completed`) and has not exited after a grace.
//!   The work is done: the run is stopped and judged as if it had exited
//!   zero (a failed verdict stays a failure), with a warning.
//!
//! Pure: every method takes `now`; tests drive it with made-up instants.

use std::time::{Duration, Instant};

use crate::classify::live::{self, LineKind, Origin};
use crate::classify::rules::{Rule, Stream};
use crate::classify::RuleSet;

/// What the watchdog does for one dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// Stop after this long with no output (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// How long a terminal match must stand before the run is stopped
    /// (`None`: terminal rules never stop a run).
    pub terminal_settle: Option<Duration>,
    /// How long a CLI may take to exit after its final verdict event.
    pub done_grace: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            idle_timeout: None,
            terminal_settle: Some(DEFAULT_TERMINAL_SETTLE),
            done_grace: DEFAULT_DONE_GRACE,
        }
    }
}

/// Default settle time of a terminal match.
pub const DEFAULT_TERMINAL_SETTLE: Duration = Duration::from_secs(5);
/// Default grace for a CLI to exit after its final verdict.
pub const DEFAULT_DONE_GRACE: Duration = Duration::from_secs(5);

/// Why the watchdog stopped a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// No output for the idle timeout.
    Idle {
        /// The idle timeout.
        silent_for: Duration,
        /// The last line printed, if any (redacted, clipped).
        last_line: Option<String>,
        /// The last structured event's kind, if any.
        last_event: Option<String>,
    },
    /// A terminal rule matched and stood for the settle time.
    Terminal {
        /// The rule's id.
        rule: String,
        /// The line it matched (redacted, clipped).
        evidence: String,
        /// When it first matched, from the start of the run.
        matched_after: Duration,
    },
    /// A final verdict event was printed and the CLI did not exit.
    Done {
        /// The verdict's event kind.
        event: String,
        /// Whether the verdict is a success.
        ok: bool,
        /// The grace it was given.
        grace: Duration,
    },
}

#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    order: i64,
    rule: String,
    evidence: String,
    origin: Origin,
}

/// The watchdog's state for one running dispatch.
pub struct Watch<'r> {
    settings: WatchSettings,
    terminal: Vec<&'r Rule>,
    started: Instant,
    last_activity: Instant,
    /// The last non-blank line (clipped), kept in one reused buffer: no
    /// allocation per line of a chatty child.
    last_line: String,
    last_event: Option<String>,
    hit: Option<Hit>,
    done: Option<(Instant, String, bool)>,
    /// Whether a terminal rule reads plain lines of stdout, of stderr.
    reads_plain: (bool, bool),
    /// Where the terminal rules come from, until they are loaded.
    rules: Option<&'r (dyn Fn() -> &'r RuleSet + Sync)>,
    /// Whether `terminal` and `reads_plain` are set.
    loaded: bool,
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("settings", &self.settings)
            .field("terminal", &self.terminal.len())
            .field("hit", &self.hit)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Longest line the watchdog keeps for "last output" evidence.
const LAST_LINE_CHARS: usize = 200;

impl<'r> Watch<'r> {
    /// A watch over a run that started at `started`, with these terminal rules.
    pub fn new(settings: WatchSettings, terminal: Vec<&'r Rule>, started: Instant) -> Watch<'r> {
        let mut w = Watch::lazy(settings, None, started);
        w.set_terminal(terminal);
        w
    }

    /// A watch whose terminal rules are taken from `rules` only when a line
    /// first needs them: a run that prints nothing never loads the rule set
    /// (parsing the built-in rules is the costliest step of a trivial dispatch).
    pub fn lazy(
        settings: WatchSettings,
        rules: Option<&'r (dyn Fn() -> &'r RuleSet + Sync)>,
        started: Instant,
    ) -> Watch<'r> {
        Watch {
            reads_plain: (false, false),
            settings,
            terminal: Vec::new(),
            rules,
            loaded: rules.is_none(),
            started,
            last_activity: started,
            last_line: String::new(),
            last_event: None,
            hit: None,
            done: None,
        }
    }

    fn set_terminal(&mut self, terminal: Vec<&'r Rule>) {
        self.terminal = if self.settings.terminal_settle.is_some() {
            terminal
        } else {
            Vec::new()
        };
        let reads = |origin: Stream| {
            self.terminal
                .iter()
                .any(|r| r.stream == origin || r.stream == Stream::Any)
        };
        self.reads_plain = (reads(Stream::Stdout), reads(Stream::Stderr));
        self.loaded = true;
    }

    /// Loads the terminal rules, once.
    fn load(&mut self) {
        if self.loaded {
            return;
        }
        let rules = match (self.rules, self.settings.terminal_settle) {
            (Some(rules), Some(_)) => live::terminal_rules(rules()),
            _ => Vec::new(),
        };
        self.set_terminal(rules);
    }

    /// Bytes arrived on a stream.
    pub fn activity(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// A complete line (redacted, without its newline) arrived. Returns
    /// whether the state changed in a way that moves a deadline.
    pub fn line(&mut self, origin: Origin, line: &str, now: Instant) -> bool {
        self.activity(now);
        self.set_last_line(line);
        self.read_line(origin, line, now)
    }

    /// Whether a line of `origin` that starts (after blanks) with `first`
    /// needs reading: a JSON event always does; a plain line only when a
    /// terminal rule reads its stream, or when it could show recovery from
    /// a terminal match on the other stream. The capture skips the others
    /// (most of a chatty child's output) without decoding them.
    pub fn wants(&mut self, origin: Origin, first: Option<u8>) -> bool {
        if first == Some(b'{') {
            return true;
        }
        self.load();
        let reads = match origin {
            Origin::Stdout => self.reads_plain.0,
            Origin::Stderr => self.reads_plain.1,
        };
        reads
            || (origin == Origin::Stdout
                && self
                    .hit
                    .as_ref()
                    .is_some_and(|h| h.origin == Origin::Stderr))
    }

    /// Keeps `line` as the last line printed, for an idle stop's evidence
    /// (only when there is an idle timeout: nobody reads it otherwise).
    pub fn set_last_line(&mut self, line: &str) {
        if self.settings.idle_timeout.is_none() {
            return;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return;
        }
        self.last_line.clear();
        match trimmed.char_indices().nth(LAST_LINE_CHARS) {
            Some((cut, _)) => {
                self.last_line.push_str(&trimmed[..cut]);
                self.last_line.push('…');
            }
            None => self.last_line.push_str(trimmed),
        }
    }

    /// Reads one line (its activity and last-line already counted by the
    /// caller): a final verdict, progress, a terminal rule's match.
    pub fn read_line(&mut self, origin: Origin, line: &str, now: Instant) -> bool {
        self.load();
        let kind = live::line_kind(line);
        if let Some(k) = kind.event_kind() {
            if self.last_event.as_deref() != Some(k) {
                self.last_event = Some(k.to_string());
            }
        }
        let mut changed = false;
        match &kind {
            LineKind::Final { kind, ok } if self.done.is_none() => {
                self.done = Some((now, kind.clone(), *ok));
                changed = true;
            }
            LineKind::Event { .. } if self.hit.is_some() => {
                // Progress: the CLI recovered from what looked terminal.
                self.hit = None;
                changed = true;
            }
            LineKind::Plain
                if origin == Origin::Stdout
                    && self
                        .hit
                        .as_ref()
                        .is_some_and(|h| h.origin == Origin::Stderr)
                    && live::terminal_match(&self.terminal, origin, line, &kind).is_none() =>
            {
                // The answer's stream spoke after an error on the other one.
                self.hit = None;
                changed = true;
            }
            _ => {}
        }
        if let Some((rule, evidence)) = live::terminal_match(&self.terminal, origin, line, &kind) {
            let better = self.hit.as_ref().is_none_or(|h| rule.order < h.order);
            if better {
                let at = self.hit.as_ref().map_or(now, |h| h.at);
                self.hit = Some(Hit {
                    at,
                    order: rule.order,
                    rule: rule.id.clone(),
                    evidence,
                    origin,
                });
                changed = true;
            }
        }
        changed
    }

    /// A line too long to keep whole arrived; `prefix` is what was kept of
    /// it. Only a final verdict is read from it (a long answer in a
    /// `result`); anything else is activity. Whether a deadline moved.
    pub fn long_line(&mut self, prefix: &str, now: Instant) -> bool {
        self.activity(now);
        match live::truncated_final(prefix) {
            Some(LineKind::Final { kind, ok }) if self.done.is_none() => {
                self.last_event = Some(kind.clone());
                self.done = Some((now, kind, ok));
                true
            }
            _ => false,
        }
    }

    /// The stop due at `now`, else the next instant one may become due.
    pub fn poll(&self, now: Instant) -> Result<Stop, Option<Instant>> {
        let mut next: Option<Instant> = None;
        let mut soonest = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some((at, event, ok)) = &self.done {
            let due = *at + self.settings.done_grace;
            if now >= due {
                return Ok(Stop::Done {
                    event: event.clone(),
                    ok: *ok,
                    grace: self.settings.done_grace,
                });
            }
            soonest(due);
        }
        if let (Some(hit), Some(settle)) = (&self.hit, self.settings.terminal_settle) {
            let due = hit.at + settle;
            if now >= due {
                return Ok(Stop::Terminal {
                    rule: hit.rule.clone(),
                    evidence: hit.evidence.clone(),
                    matched_after: hit.at.saturating_duration_since(self.started),
                });
            }
            soonest(due);
        }
        if let Some(idle) = self.settings.idle_timeout {
            let due = self.last_activity + idle;
            if now >= due {
                return Ok(Stop::Idle {
                    silent_for: idle,
                    last_line: (!self.last_line.is_empty()).then(|| self.last_line.clone()),
                    last_event: self.last_event.clone(),
                });
            }
            soonest(due);
        }
        Err(next)
    }
}

impl Stop {
    /// The evidence line the report carries for this stop.
    pub fn evidence(&self) -> String {
        match self {
            Stop::Idle {
                silent_for,
                last_line,
                last_event,
            } => {
                let silent = humantime::format_duration(*silent_for);
                match (last_event, last_line) {
                    (Some(event), _) => format!("no output for {silent}; last event: {event}"),
                    (None, Some(line)) => format!("no output for {silent}; last line: {line}"),
                    (None, None) => format!("no output for {silent}; nothing was ever printed"),
                }
            }
            Stop::Terminal {
                evidence,
                matched_after,
                ..
            } => format!(
                "stopped early: {evidence} (printed after {}; the CLI would only retry until the timeout)",
                humantime::format_duration(Duration::from_millis(matched_after.as_millis() as u64))
            ),
            Stop::Done { event, grace, .. } => format!(
                "the CLI printed its final `{event}` event and was still running {} later; stopped, the result kept",
                humantime::format_duration(*grace)
            ),
        }
    }

    /// The watchdog kind, as stored: `idle`, `terminal` or `done`.
    pub fn kind(&self) -> &'static str {
        match self {
            Stop::Idle { .. } => "idle",
            Stop::Terminal { .. } => "terminal",
            Stop::Done { .. } => "done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::RuleSet;

    fn rules() -> RuleSet {
        RuleSet::default()
            .with_document(
                "t.toml",
                r#"
[[rule]]
id = "t.net"
class = "network_unavailable"
stream = "stderr"
pattern = '^ERROR: Reconnecting\.\.\. waiting for network'
terminal = true
order = 20

[[rule]]
id = "t.dns"
class = "network_unavailable"
stream = "stderr"
pattern = '^ERROR: failed to lookup address information'
terminal = true
order = 10
"#,
            )
            .unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn settings(idle: Option<u64>) -> WatchSettings {
        WatchSettings {
            idle_timeout: idle.map(secs),
            terminal_settle: Some(secs(5)),
            done_grace: secs(3),
        }
    }

    #[test]
    fn a_silent_child_is_stopped_at_its_idle_timeout_with_its_last_line() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(settings(Some(60)), live::terminal_rules(&set), t0);
        w.line(Origin::Stdout, "working on it", t0 + secs(10));
        assert_eq!(w.poll(t0 + secs(69)), Err(Some(t0 + secs(70))));
        let stop = w.poll(t0 + secs(70)).unwrap();
        assert_eq!(stop.kind(), "idle");
        assert_eq!(
            stop.evidence(),
            "no output for 1m; last line: working on it"
        );
    }

    #[test]
    fn bytes_without_a_newline_keep_a_child_alive() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(settings(Some(60)), live::terminal_rules(&set), t0);
        w.activity(t0 + secs(50));
        assert_eq!(w.poll(t0 + secs(100)), Err(Some(t0 + secs(110))));
    }

    #[test]
    fn no_idle_timeout_means_no_idle_stop() {
        let set = rules();
        let t0 = Instant::now();
        let w = Watch::new(settings(None), live::terminal_rules(&set), t0);
        assert_eq!(w.poll(t0 + secs(100_000)), Err(None));
    }

    #[test]
    fn a_terminal_line_stops_the_run_after_the_settle_time() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(settings(None), live::terminal_rules(&set), t0);
        assert!(w.line(
            Origin::Stderr,
            "ERROR: Reconnecting... waiting for network",
            t0 + secs(2)
        ));
        assert_eq!(w.poll(t0 + secs(4)), Err(Some(t0 + secs(7))));
        // A better (earlier-ordered) rule during the settle keeps the first time.
        w.line(
            Origin::Stderr,
            "ERROR: failed to lookup address information: x",
            t0 + secs(3),
        );
        match w.poll(t0 + secs(7)).unwrap() {
            Stop::Terminal {
                rule,
                evidence,
                matched_after,
            } => {
                assert_eq!(rule, "t.dns");
                assert_eq!(evidence, "ERROR: failed to lookup address information: x");
                assert_eq!(matched_after, secs(2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recovery_before_the_settle_clears_a_terminal_match() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(settings(None), live::terminal_rules(&set), t0);
        w.line(
            Origin::Stderr,
            "ERROR: Reconnecting... waiting for network",
            t0,
        );
        w.line(
            Origin::Stdout,
            r#"{"type":"item.completed","item":{}}"#,
            t0 + secs(1),
        );
        assert_eq!(w.poll(t0 + secs(60)), Err(None));
        // The answer's stream speaking in text mode is recovery too.
        w.line(
            Origin::Stderr,
            "ERROR: Reconnecting... waiting for network",
            t0 + secs(61),
        );
        w.line(Origin::Stdout, "Here is the answer", t0 + secs(62));
        assert_eq!(w.poll(t0 + secs(120)), Err(None));
        // More noise on stderr is not recovery.
        w.line(
            Origin::Stderr,
            "ERROR: Reconnecting... waiting for network",
            t0 + secs(130),
        );
        w.line(Origin::Stderr, "warning: falling back", t0 + secs(131));
        assert!(w.poll(t0 + secs(135)).is_ok());
    }

    #[test]
    fn without_a_settle_time_terminal_rules_never_stop_a_run() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(
            WatchSettings {
                terminal_settle: None,
                ..settings(None)
            },
            live::terminal_rules(&set),
            t0,
        );
        w.line(
            Origin::Stderr,
            "ERROR: Reconnecting... waiting for network",
            t0,
        );
        assert_eq!(w.poll(t0 + secs(600)), Err(None));
    }

    #[test]
    fn a_final_result_then_no_exit_is_done_after_the_grace() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(settings(Some(60)), live::terminal_rules(&set), t0);
        w.line(
            Origin::Stdout,
            r#"{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"done"}"#,
            t0 + secs(10),
        );
        assert_eq!(w.poll(t0 + secs(12)), Err(Some(t0 + secs(13))));
        let stop = w.poll(t0 + secs(13)).unwrap();
        assert_eq!(
            stop,
            Stop::Done {
                event: "result.success".into(),
                ok: true,
                grace: secs(3)
            }
        );
        assert!(stop.evidence().contains("final `result.success` event"));
    }

    #[test]
    fn the_idle_evidence_names_the_last_event() {
        let set = rules();
        let t0 = Instant::now();
        let mut w = Watch::new(settings(Some(600)), live::terminal_rules(&set), t0);
        w.line(Origin::Stdout, r#"{"type":"item.started","item":{}}"#, t0);
        assert_eq!(
            w.poll(t0 + secs(600)).unwrap().evidence(),
            "no output for 10m; last event: item.started"
        );
        let quiet = Watch::new(settings(Some(5)), Vec::new(), t0);
        assert_eq!(
            quiet.poll(t0 + secs(5)).unwrap().evidence(),
            "no output for 5s; nothing was ever printed"
        );
    }
}
