//! Executes the parsed actions in order.
//!
//! Every action returns `Ok(())` to go on with the next one or a [`Stop`]
//! that ends the process. All exits go through [`Runner::exit`], which
//! writes the `--run-log` end records first. Death by a signal writes none,
//! except SIGTERM while a run log is active (see [`crate::term`]).

use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::{Action, Stream, USAGE};
use crate::{json, sys, term};

/// Why the action loop ends early.
enum Stop {
    /// Deliberate exit with this code, nothing more to print.
    Exit(u8),
    /// Something went wrong: print `fake-agent: <message>`, exit 2.
    Fail(String),
}

type Step = Result<(), Stop>;

fn fail(what: impl std::fmt::Display, err: io::Error) -> Stop {
    Stop::Fail(format!("{what}: {err}"))
}

/// Bytes written by `--binary`: invalid UTF-8 and NUL bytes.
const BINARY: &[u8] = b"bin:\xff\xfe\x00\x01 ok\n";

/// Length of one `--spew` line, newline included.
const SPEW_LINE: usize = 100;
/// Size of the prebuilt `--spew` buffer: whole lines, just under 64 KiB.
const SPEW_BUFFER: usize = (64 * 1024 / SPEW_LINE) * SPEW_LINE;

pub struct Runner {
    /// The command line without argv[0], for `--echo-args` and run logs.
    args: Vec<OsString>,
    /// Files that get an `end` record when we exit.
    run_logs: Vec<PathBuf>,
    /// Where the next grandchild writes its pid.
    grandchild_pid_file: Option<PathBuf>,
    /// All of stdin, once an action has read it.
    stdin: Option<Vec<u8>>,
    /// `--ignore-term` ran: a later `--run-log` must not catch SIGTERM.
    term_ignored: bool,
}

impl Runner {
    pub fn new(args: Vec<OsString>) -> Self {
        Self {
            args,
            run_logs: Vec::new(),
            grandchild_pid_file: None,
            stdin: None,
            term_ignored: false,
        }
    }

    /// Runs all actions, then exits 0 unless an action ended things first.
    pub fn run(mut self, actions: &[Action]) -> ! {
        for action in actions {
            match self.step(action) {
                Ok(()) => {}
                Err(Stop::Exit(code)) => self.exit(code),
                Err(Stop::Fail(message)) => {
                    eprintln!("fake-agent: {message}");
                    self.exit(2)
                }
            }
        }
        self.exit(0)
    }

    fn step(&mut self, action: &Action) -> Step {
        match action {
            Action::Stdout { text, newline } => write_text(Stream::Stdout, text, *newline),
            Action::Stderr { text, newline } => write_text(Stream::Stderr, text, *newline),
            Action::Exit(code) => Err(Stop::Exit(*code)),
            Action::Signal(signal) => kill_self(*signal),
            Action::Sleep(duration) => {
                thread::sleep(*duration);
                Ok(())
            }
            Action::Hang => hang(),
            Action::IgnoreTerm => {
                self.term_ignored = true;
                ignore_term()
            }
            Action::Spew { bytes, stream } => spew(*stream, *bytes),
            Action::Binary => write_out(Stream::Stdout, BINARY),
            Action::EchoStdin => {
                let input = self.read_stdin()?.to_vec();
                write_out(Stream::Stdout, &input)
            }
            Action::EchoArgs => self.echo_args(),
            Action::Cat(path) => cat(path),
            Action::PrintEnv(name) => print_env(name),
            Action::PrintCwd => print_cwd(),
            Action::PidFile(path) => write_pid_file(path),
            Action::Grandchild { hold, escape } => self.spawn_grandchild(*hold, *escape),
            Action::GrandchildPidFile(path) => {
                self.grandchild_pid_file = Some(path.clone());
                Ok(())
            }
            Action::RunLog(path) => self.start_run_log(path),
            Action::WriteFile { path, text } => fs::write(path, text.as_bytes())
                .map_err(|err| fail(format_args!("cannot write {}", path.display()), err)),
            Action::FailAfterStdin => self.fail_after_stdin(),
            Action::Help => write_out(Stream::Stdout, USAGE.as_bytes()).and(Err(Stop::Exit(0))),
            Action::Version => {
                let line = concat!("fake-agent ", env!("CARGO_PKG_VERSION"), "\n");
                write_out(Stream::Stdout, line.as_bytes()).and(Err(Stop::Exit(0)))
            }
        }
    }

    /// Exits with `code` after writing the run-log end records.
    fn exit(&self, code: u8) -> ! {
        // From here on a SIGTERM stays pending: one end record per run.
        term::block_term(true);
        for path in &self.run_logs {
            let line = self.run_log_record("end", Some(code));
            if let Err(err) = append_line(path, &line) {
                eprintln!("fake-agent: cannot append to {}: {err}", path.display());
            }
        }
        let _ = io::stdout().flush();
        std::process::exit(code.into())
    }

    /// Reads stdin to the end on first use; later calls see the same bytes.
    fn read_stdin(&mut self) -> Result<&[u8], Stop> {
        if self.stdin.is_none() {
            let mut input = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut input)
                .map_err(|err| fail("cannot read stdin", err))?;
            self.stdin = Some(input);
        }
        Ok(self.stdin.as_deref().unwrap_or_default())
    }

    fn fail_after_stdin(&mut self) -> Step {
        if self.read_stdin()?.is_empty() {
            eprintln!("fake-agent: empty prompt on stdin");
            return Err(Stop::Exit(3));
        }
        Ok(())
    }

    fn echo_args(&self) -> Step {
        let mut out = Vec::new();
        for arg in &self.args {
            out.extend_from_slice(b"arg: ");
            out.extend_from_slice(arg.as_bytes());
            out.push(b'\n');
        }
        write_out(Stream::Stdout, &out)
    }

    fn start_run_log(&mut self, path: &Path) -> Step {
        let line = self.run_log_record("start", None);
        append_line(path, &line)
            .map_err(|err| fail(format_args!("cannot append to {}", path.display()), err))?;
        self.run_logs.push(path.to_owned());
        if !self.term_ignored {
            let (prefix, rest) = self.run_log_parts("end");
            term::record_on_term(path, prefix, format!("{rest}{}", term_tail()))
                .map_err(|err| fail("cannot catch SIGTERM", err))?;
        }
        Ok(())
    }

    /// One run-log JSON line; `end` records also carry the exit code.
    fn run_log_record(&self, event: &str, exit_code: Option<u8>) -> String {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let (prefix, mut line) = self.run_log_parts(event);
        line.insert_str(0, &format!("{prefix}{time_ms}"));
        if let Some(code) = exit_code {
            line.push_str(&format!(r#","exit_code":{code}"#));
        }
        line.push_str("}\n");
        line
    }

    /// A run-log record cut at its time: the part up to `"time_ms":` and
    /// the fields after the time, without the closing brace.
    fn run_log_parts(&self, event: &str) -> (String, String) {
        let prefix = format!(
            r#"{{"event":"{event}","pid":{},"time_ms":"#,
            std::process::id()
        );
        let mut line = String::from(r#","args":["#);
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            json::push_str(&mut line, arg);
        }
        line.push_str(r#"],"job":"#);
        json::push_opt_str(&mut line, std::env::var_os("AGENTLANE_JOB_ID").as_deref());
        line.push_str(r#","dispatch":"#);
        json::push_opt_str(
            &mut line,
            std::env::var_os("AGENTLANE_DISPATCH_ID").as_deref(),
        );
        push_attempt(&mut line, std::env::var_os("AGENTLANE_ATTEMPT").as_deref());
        line.push_str(&format!(r#","ppid":{}"#, sys::parent_pid()));
        (prefix, line)
    }

    /// Forks a helper that outlives us in its own session. Returns once the
    /// child has called setsid, ignored SIGTERM and written its pid file, so
    /// tests can rely on all that as soon as the next action runs.
    fn spawn_grandchild(&self, hold: Duration, escape: bool) -> Step {
        let (parent_end, child_end) =
            UnixStream::pair().map_err(|err| fail("cannot create socket pair", err))?;
        let _ = io::stdout().flush();
        // A SIGTERM must not reach the child before it ignores SIGTERM: it
        // would run our run-log handler (see term.rs) in the child.
        term::block_term(true);
        let forked = sys::fork();
        if !matches!(forked, Ok(sys::Fork::Child)) {
            term::block_term(false);
        }
        match forked.map_err(|err| fail("fork failed", err))? {
            sys::Fork::Child => {
                drop(parent_end);
                self.become_grandchild(hold, escape, child_end)
            }
            sys::Fork::Parent => {
                drop(child_end);
                // The child closes its end once set up; EOF (or an error
                // if it died) is all we wait for.
                let _ = (&parent_end).read(&mut [0u8; 1]);
                Ok(())
            }
        }
    }

    fn become_grandchild(&self, hold: Duration, escape: bool, ready: UnixStream) -> ! {
        let mut problems = Vec::new();
        if let Err(err) = sys::setsid() {
            problems.push(format!("grandchild setsid failed: {err}"));
        }
        for signal in sys::TERM_SIGNALS {
            if let Err(err) = sys::ignore_signal(signal) {
                problems.push(format!("grandchild cannot ignore signal {signal}: {err}"));
            }
        }
        // Ignored now (a pending SIGTERM was discarded): unblock it again.
        term::block_term(false);
        if escape {
            if let Err(err) = sys::stdio_to_dev_null() {
                problems.push(format!("grandchild cannot redirect to /dev/null: {err}"));
            }
        }
        if let Some(path) = &self.grandchild_pid_file {
            if let Err(err) = write_pid_file(path) {
                problems.push(stop_message(err));
            }
        }
        for problem in problems {
            eprintln!("fake-agent: {problem}");
        }
        drop(ready);
        thread::sleep(hold);
        sys::exit_immediately(0)
    }
}

fn stop_message(stop: Stop) -> String {
    match stop {
        Stop::Exit(code) => format!("exit {code}"),
        Stop::Fail(message) => message,
    }
}

/// Writes all of `bytes` to the stream and flushes. A closed pipe ends the
/// process quietly with code 1, like a CLI killed by SIGPIPE would.
fn write_out(stream: Stream, bytes: &[u8]) -> Step {
    let result = match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        Stream::Stderr => io::stderr().lock().write_all(bytes),
    };
    result.map_err(|err| match err.kind() {
        io::ErrorKind::BrokenPipe => Stop::Exit(1),
        _ => fail(format_args!("cannot write to {stream:?}"), err),
    })
}

fn write_text(stream: Stream, text: &OsStr, newline: bool) -> Step {
    let mut bytes = text.as_bytes().to_vec();
    if newline {
        bytes.push(b'\n');
    }
    write_out(stream, &bytes)
}

/// One buffer of 100-byte printable ASCII lines, each line a different
/// rotation of the printable range so the output is not one repeated line.
fn spew_buffer() -> Vec<u8> {
    let mut buffer = Vec::with_capacity(SPEW_BUFFER);
    for line in 0..SPEW_BUFFER / SPEW_LINE {
        for column in 0..SPEW_LINE - 1 {
            buffer.push(b'!' + ((line + column) % 94) as u8);
        }
        buffer.push(b'\n');
    }
    buffer
}

/// Appends `,"attempt":N` (the dispatcher's AGENTLANE_ATTEMPT): a number,
/// the raw text if it is not one, or null when unset.
fn push_attempt(line: &mut String, attempt: Option<&OsStr>) {
    line.push_str(r#","attempt":"#);
    match attempt {
        Some(text) => match text.to_str().and_then(|a| a.parse::<u64>().ok()) {
            Some(n) => line.push_str(&n.to_string()),
            None => json::push_str(line, text),
        },
        None => line.push_str("null"),
    }
}

/// The end of the SIGTERM record (see [`term`]).
fn term_tail() -> String {
    format!(
        r#","signal":{}}}
"#,
        libc::SIGTERM
    )
}

/// Writes exactly `total` bytes of spew lines (the last line may be cut).
fn spew(stream: Stream, total: u64) -> Step {
    let buffer = spew_buffer();
    let mut left = total;
    while left > 0 {
        let chunk = usize::try_from(left).map_or(buffer.len(), |n| n.min(buffer.len()));
        write_out(stream, &buffer[..chunk])?;
        left -= chunk as u64;
    }
    Ok(())
}

fn kill_self(signal: libc::c_int) -> Step {
    let _ = io::stdout().flush();
    if signal != libc::SIGKILL && signal != libc::SIGSTOP {
        sys::default_signal(signal)
            .map_err(|err| fail(format_args!("cannot reset signal {signal}"), err))?;
    }
    sys::raise(signal).map_err(|err| fail(format_args!("cannot raise signal {signal}"), err))?;
    // Still here: the default action was to ignore (e.g. SIGCHLD) or to
    // stop and we were continued. Carry on with the next action.
    Ok(())
}

fn hang() -> Step {
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

fn ignore_term() -> Step {
    for signal in sys::TERM_SIGNALS {
        sys::ignore_signal(signal)
            .map_err(|err| fail(format_args!("cannot ignore signal {signal}"), err))?;
    }
    Ok(())
}

fn cat(path: &Path) -> Step {
    let contents =
        fs::read(path).map_err(|err| fail(format_args!("cannot read {}", path.display()), err))?;
    write_out(Stream::Stdout, &contents)
}

fn print_env(name: &OsStr) -> Step {
    let mut line = name.as_bytes().to_vec();
    match std::env::var_os(name) {
        Some(value) => {
            line.push(b'=');
            line.extend_from_slice(value.as_bytes());
        }
        None => line.extend_from_slice(b" is unset"),
    }
    line.push(b'\n');
    write_out(Stream::Stdout, &line)
}

fn print_cwd() -> Step {
    let cwd = std::env::current_dir().map_err(|err| fail("cannot get current directory", err))?;
    let mut line = cwd.into_os_string().into_vec();
    line.push(b'\n');
    write_out(Stream::Stdout, &line)
}

/// Writes our pid (no newline) via a temporary file and a rename, so a
/// reader never sees the file empty or half written.
fn write_pid_file(path: &Path) -> Step {
    let pid = std::process::id();
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".tmp.{pid}"));
    fs::write(&temp, pid.to_string())
        .and_then(|()| fs::rename(&temp, path))
        .map_err(|err| {
            fail(
                format_args!("cannot write pid file {}", path.display()),
                err,
            )
        })
}

/// Appends one line with a single write(2) on an O_APPEND descriptor, so
/// lines from concurrent processes never interleave.
fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let written = file.write(line.as_bytes())?;
    if written != line.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spew_buffer_is_whole_printable_lines() {
        let buffer = spew_buffer();
        assert_eq!(buffer.len(), SPEW_BUFFER);
        assert!(buffer.len() <= 64 * 1024 && buffer.len() > 60 * 1024);
        for line in buffer.chunks(SPEW_LINE) {
            assert_eq!(line.len(), SPEW_LINE);
            assert_eq!(line[SPEW_LINE - 1], b'\n');
            assert!(line[..SPEW_LINE - 1].iter().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn run_log_record_has_all_fields() {
        let runner = Runner::new(vec!["--stdout".into(), "a \"q\"".into()]);
        let line = runner.run_log_record("end", Some(7));
        let pid = std::process::id();
        assert!(line.starts_with(&format!(r#"{{"event":"end","pid":{pid},"time_ms":"#)));
        assert!(line.contains(r#","args":["--stdout","a \"q\""],"job":"#));
        assert!(line.ends_with(",\"exit_code\":7}\n"));
        assert_eq!(line.matches('\n').count(), 1);
        // SAFETY: getppid cannot fail.
        let ppid = unsafe { libc::getppid() };
        assert!(
            line.contains(r#","attempt":"#)
                && line.contains(&format!(r#","ppid":{ppid},"exit_code":7}}"#)),
            "{line}"
        );
    }

    #[test]
    fn attempt_is_a_number_the_raw_text_or_null() {
        let attempt = |value: Option<&str>| {
            let mut line = String::new();
            push_attempt(&mut line, value.map(OsStr::new));
            line
        };
        assert_eq!(attempt(Some("2")), r#","attempt":2"#);
        assert_eq!(attempt(Some("two")), r#","attempt":"two""#);
        assert_eq!(attempt(None), r#","attempt":null"#);
    }

    #[test]
    fn the_sigterm_record_is_the_end_record_with_a_signal() {
        let runner = Runner::new(vec!["--run-log".into(), "f".into()]);
        let (prefix, rest) = runner.run_log_parts("end");
        let pid = std::process::id();
        assert_eq!(prefix, format!(r#"{{"event":"end","pid":{pid},"time_ms":"#));
        let line = format!("{prefix}1700000000123{rest}{}", term_tail());
        assert!(line.starts_with(&format!(
            r#"{{"event":"end","pid":{pid},"time_ms":1700000000123,"args":["--run-log","f"],"job":"#
        )));
        assert!(line.ends_with(",\"signal\":15}\n"), "{line}");
        assert_eq!(line.matches('\n').count(), 1);
    }
}
