//! Command-line parsing: turns argv into an ordered list of [`Action`]s.
//!
//! Flag names must be UTF-8; values are kept as `OsString`/`PathBuf` so that
//! arbitrary bytes survive the round trip. A value is always the next
//! argument verbatim, even if it starts with `-` (so `--stdout --help`
//! prints "--help").

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One step of the script given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write text to stdout (`--stdout`, `--stdout-raw`, `--json-event`).
    Stdout {
        text: OsString,
        newline: bool,
    },
    /// Write text to stderr (`--stderr`, `--stderr-raw`).
    Stderr {
        text: OsString,
        newline: bool,
    },
    /// Exit now with this code.
    Exit(u8),
    /// Kill ourselves with this signal.
    Signal(i32),
    Sleep(Duration),
    Hang,
    IgnoreTerm,
    /// Write this many bytes of 100-byte ASCII lines to the stream.
    Spew {
        bytes: u64,
        stream: Stream,
    },
    Binary,
    EchoStdin,
    EchoArgs,
    Cat(PathBuf),
    PrintEnv(OsString),
    PrintCwd,
    PidFile(PathBuf),
    /// Fork a helper that lives on for the given time.
    Grandchild {
        hold: Duration,
        escape: bool,
    },
    GrandchildPidFile(PathBuf),
    RunLog(PathBuf),
    WriteFile {
        path: PathBuf,
        text: OsString,
    },
    FailAfterStdin,
    Help,
    Version,
}

/// Which output stream an action writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Why the command line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    MissingValue {
        flag: &'static str,
    },
    UnknownFlag(String),
    NotUtf8(OsString),
    BadValue {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingValue { flag } => write!(f, "missing value for {flag}"),
            Self::UnknownFlag(flag) if flag.starts_with('-') => {
                write!(f, "unknown flag '{flag}' (see --help)")
            }
            Self::UnknownFlag(arg) => write!(f, "unexpected argument '{arg}' (see --help)"),
            Self::NotUtf8(arg) => write!(f, "argument {arg:?} is not valid UTF-8"),
            Self::BadValue {
                flag,
                value,
                expected,
            } => {
                write!(f, "invalid value '{value}' for {flag}: expected {expected}")
            }
        }
    }
}

pub const USAGE: &str = "\
fake-agent: a scriptable stand-in for a coding-agent CLI.

Usage: fake-agent [ACTION]...

Actions run strictly in the order given. Without --exit, --signal or --hang
the process exits 0 after the last action. Bad arguments exit 2.

Output
  --stdout TEXT             write TEXT and a newline to stdout
  --stderr TEXT             write TEXT and a newline to stderr
  --stdout-raw TEXT         write TEXT to stdout, no newline
  --stderr-raw TEXT         write TEXT to stderr, no newline
  --json-event JSON         write JSON as one line to stdout
  --binary                  write invalid UTF-8 and NUL bytes to stdout
  --spew BYTES              write BYTES of 100-byte ASCII lines to stdout
  --spew-stderr BYTES       same, to stderr (BYTES accepts K, M, G suffixes)

Input and environment
  --echo-stdin              copy all of stdin to stdout
  --fail-after-stdin        read all of stdin; exit 3 if it was empty
  --echo-args               print each argument as 'arg: <value>'
  --cat FILE                print FILE's contents
  --print-env NAME          print 'NAME=<value>' or 'NAME is unset'
  --print-cwd               print the current directory
  --write-file FILE TEXT    write TEXT to FILE

Termination
  --exit N                  exit with code N (0-255)
  --signal N                kill ourselves with signal N (number or name)
  --sleep SECS              sleep SECS seconds (fractions allowed)
  --hang                    sleep forever
  --ignore-term             ignore SIGTERM, SIGINT and SIGHUP

Process bookkeeping
  --pid-file FILE           write our pid to FILE
  --run-log FILE            append a JSON 'start' line now and an 'end' line
                            when exiting (pid, ppid, time_ms, args, job,
                            dispatch, attempt from AGENTLANE_ATTEMPT; end
                            lines add exit_code). SIGTERM writes an 'end' line
                            with signal 15 and exits 143 (unless
                            --ignore-term); other signals write nothing
  --grandchild-pid-file FILE
                            where later --grandchild-* actions write their pid
  --grandchild-hold SECS    fork a setsid'd, TERM-ignoring child that keeps
                            stdout/stderr open for SECS seconds
  --grandchild-escape SECS  same, but the child points stdin/stdout/stderr at
                            /dev/null (it holds no pipes)

Other
  --help                    print this text and exit 0
  --version                 print 'fake-agent 0.1.0' and exit 0
";

/// Parses the arguments (without argv\[0\]) into actions.
pub fn parse(args: &[OsString]) -> Result<Vec<Action>, ParseError> {
    let mut args = args.iter();
    let mut actions = Vec::new();
    while let Some(arg) = args.next() {
        let flag = arg
            .to_str()
            .ok_or_else(|| ParseError::NotUtf8(arg.clone()))?;
        actions.push(parse_flag(flag, &mut args)?);
    }
    Ok(actions)
}

/// Parses one flag, pulling its value(s) from `rest`.
fn parse_flag<'a>(
    flag: &str,
    rest: &mut impl Iterator<Item = &'a OsString>,
) -> Result<Action, ParseError> {
    let mut value = |flag: &'static str| {
        rest.next()
            .cloned()
            .ok_or(ParseError::MissingValue { flag })
    };
    let action = match flag {
        "--stdout" => Action::Stdout {
            text: value("--stdout")?,
            newline: true,
        },
        "--stderr" => Action::Stderr {
            text: value("--stderr")?,
            newline: true,
        },
        "--stdout-raw" => Action::Stdout {
            text: value("--stdout-raw")?,
            newline: false,
        },
        "--stderr-raw" => Action::Stderr {
            text: value("--stderr-raw")?,
            newline: false,
        },
        "--json-event" => Action::Stdout {
            text: value("--json-event")?,
            newline: true,
        },
        "--exit" => Action::Exit(parse_exit_code(&value("--exit")?)?),
        "--signal" => Action::Signal(parse_signal(&value("--signal")?)?),
        "--sleep" => Action::Sleep(parse_secs("--sleep", &value("--sleep")?)?),
        "--hang" => Action::Hang,
        "--ignore-term" => Action::IgnoreTerm,
        "--spew" => Action::Spew {
            bytes: parse_size("--spew", &value("--spew")?)?,
            stream: Stream::Stdout,
        },
        "--spew-stderr" => Action::Spew {
            bytes: parse_size("--spew-stderr", &value("--spew-stderr")?)?,
            stream: Stream::Stderr,
        },
        "--binary" => Action::Binary,
        "--echo-stdin" => Action::EchoStdin,
        "--echo-args" => Action::EchoArgs,
        "--cat" => Action::Cat(value("--cat")?.into()),
        "--print-env" => Action::PrintEnv(value("--print-env")?),
        "--print-cwd" => Action::PrintCwd,
        "--pid-file" => Action::PidFile(value("--pid-file")?.into()),
        "--grandchild-hold" => Action::Grandchild {
            hold: parse_secs("--grandchild-hold", &value("--grandchild-hold")?)?,
            escape: false,
        },
        "--grandchild-escape" => Action::Grandchild {
            hold: parse_secs("--grandchild-escape", &value("--grandchild-escape")?)?,
            escape: true,
        },
        "--grandchild-pid-file" => {
            Action::GrandchildPidFile(value("--grandchild-pid-file")?.into())
        }
        "--run-log" => Action::RunLog(value("--run-log")?.into()),
        "--write-file" => Action::WriteFile {
            path: value("--write-file")?.into(),
            text: value("--write-file")?,
        },
        "--fail-after-stdin" => Action::FailAfterStdin,
        "--help" | "-h" => Action::Help,
        "--version" | "-V" => Action::Version,
        other => return Err(ParseError::UnknownFlag(other.to_owned())),
    };
    Ok(action)
}

fn bad_value(flag: &'static str, value: &OsStr, expected: &'static str) -> ParseError {
    ParseError::BadValue {
        flag,
        value: value.to_string_lossy().into_owned(),
        expected,
    }
}

/// Parses an exit code in 0..=255.
pub fn parse_exit_code(value: &OsStr) -> Result<u8, ParseError> {
    value
        .to_str()
        .and_then(|s| s.parse::<u8>().ok())
        .ok_or_else(|| bad_value("--exit", value, "an integer from 0 to 255"))
}

/// Highest signal number on Linux (SIGRTMAX).
const MAX_SIGNAL: i32 = 64;

/// Parses a signal given as a number (`9`) or a name (`KILL`, `SIGKILL`).
pub fn parse_signal(value: &OsStr) -> Result<i32, ParseError> {
    let err = || {
        bad_value(
            "--signal",
            value,
            "a signal number from 1 to 64 or a name like TERM",
        )
    };
    let text = value.to_str().ok_or_else(err)?;
    if let Ok(number) = text.parse::<i32>() {
        return if (1..=MAX_SIGNAL).contains(&number) {
            Ok(number)
        } else {
            Err(err())
        };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    signal_by_name(name).ok_or_else(err)
}

fn signal_by_name(name: &str) -> Option<i32> {
    let signal = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "WINCH" => libc::SIGWINCH,
        _ => return None,
    };
    Some(signal)
}

/// Parses a non-negative, finite number of seconds (fractions allowed).
pub fn parse_secs(flag: &'static str, value: &OsStr) -> Result<Duration, ParseError> {
    value
        .to_str()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| bad_value(flag, value, "a non-negative number of seconds"))
}

/// Parses a byte count with an optional K, M or G suffix (powers of 1024).
pub fn parse_size(flag: &'static str, value: &OsStr) -> Result<u64, ParseError> {
    let err = || bad_value(flag, value, "a byte count like 4096, 64K, 10M or 1G");
    let text = value.to_str().ok_or_else(err)?;
    let (digits, multiplier) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&text[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn size(text: &str) -> Result<u64, ParseError> {
        parse_size("--spew", OsStr::new(text))
    }

    #[test]
    fn sizes_accept_suffixes() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("100"), Ok(100));
        assert_eq!(size("64K"), Ok(64 * 1024));
        assert_eq!(size("64k"), Ok(64 * 1024));
        assert_eq!(size("10M"), Ok(10 * 1024 * 1024));
        assert_eq!(size("1G"), Ok(1 << 30));
        assert_eq!(size("3g"), Ok(3 << 30));
    }

    #[test]
    fn sizes_reject_garbage() {
        for bad in [
            "",
            "K",
            "1T",
            "1.5M",
            "-1",
            "+1",
            " 1",
            "1KB",
            "abc",
            "99999999999999999999",
        ] {
            assert!(size(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(size("17179869184G").is_err(), "overflow must be an error");
    }

    #[test]
    fn parses_actions_in_order() {
        let parsed = parse(&args(&[
            "--stdout",
            "hello",
            "--stderr",
            "Error: 429",
            "--exit",
            "1",
        ]));
        assert_eq!(
            parsed,
            Ok(vec![
                Action::Stdout {
                    text: "hello".into(),
                    newline: true
                },
                Action::Stderr {
                    text: "Error: 429".into(),
                    newline: true
                },
                Action::Exit(1),
            ])
        );
    }

    #[test]
    fn values_may_look_like_flags() {
        let parsed = parse(&args(&[
            "--stdout-raw",
            "--help",
            "--write-file",
            "f",
            "--x",
        ]));
        assert_eq!(
            parsed,
            Ok(vec![
                Action::Stdout {
                    text: "--help".into(),
                    newline: false
                },
                Action::WriteFile {
                    path: "f".into(),
                    text: "--x".into()
                },
            ])
        );
    }

    #[test]
    fn parses_every_flag() {
        let script = "--stdout a --stderr b --stdout-raw c --stderr-raw d --json-event {} \
            --exit 255 --signal 9 --sleep 0.25 --hang --ignore-term --spew 1K \
            --spew-stderr 2 --binary --echo-stdin --echo-args --cat f --print-env \
            HOME --print-cwd --pid-file p --grandchild-pid-file g \
            --grandchild-hold 1 --grandchild-escape 2.5 --run-log r --write-file w \
            t --fail-after-stdin --help --version";
        let all = args(&script.split_whitespace().collect::<Vec<_>>());
        let parsed = parse(&all).expect("all flags parse");
        assert_eq!(parsed.len(), 27);
        assert_eq!(parsed[7], Action::Sleep(Duration::from_millis(250)));
        assert_eq!(
            parsed[10],
            Action::Spew {
                bytes: 1024,
                stream: Stream::Stdout
            }
        );
        assert_eq!(
            parsed[21],
            Action::Grandchild {
                hold: Duration::from_millis(2500),
                escape: true
            }
        );
    }

    #[test]
    fn missing_value_is_reported() {
        assert_eq!(
            parse(&args(&["--stdout", "x", "--exit"])),
            Err(ParseError::MissingValue { flag: "--exit" })
        );
        assert_eq!(
            parse(&args(&["--write-file", "only-path"])),
            Err(ParseError::MissingValue {
                flag: "--write-file"
            })
        );
    }

    #[test]
    fn unknown_flags_and_stray_arguments_are_reported() {
        let err = parse(&args(&["--nope"])).unwrap_err();
        assert_eq!(err, ParseError::UnknownFlag("--nope".into()));
        assert_eq!(err.to_string(), "unknown flag '--nope' (see --help)");
        let err = parse(&args(&["stray"])).unwrap_err();
        assert_eq!(err.to_string(), "unexpected argument 'stray' (see --help)");
    }

    #[test]
    fn bad_numbers_are_reported() {
        for (flag, value) in [
            ("--exit", "256"),
            ("--exit", "-1"),
            ("--exit", "one"),
            ("--signal", "0"),
            ("--signal", "65"),
            ("--signal", "NOPE"),
            ("--sleep", "-1"),
            ("--sleep", "inf"),
            ("--sleep", "NaN"),
            ("--grandchild-hold", "soon"),
            ("--spew", "lots"),
        ] {
            let err = parse(&args(&[flag, value])).unwrap_err();
            assert!(
                matches!(err, ParseError::BadValue { flag: f, .. } if f == flag),
                "{flag} {value}: {err:?}"
            );
        }
        let err = parse(&args(&["--exit", "300"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value '300' for --exit: expected an integer from 0 to 255"
        );
    }

    #[test]
    fn signals_by_number_or_name() {
        let sig = |s: &str| parse_signal(OsStr::new(s));
        assert_eq!(sig("9"), Ok(libc::SIGKILL));
        assert_eq!(sig("TERM"), Ok(libc::SIGTERM));
        assert_eq!(sig("sigsegv"), Ok(libc::SIGSEGV));
        assert_eq!(sig("64"), Ok(64));
    }

    #[test]
    fn non_utf8_flag_is_an_error_but_value_is_fine() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(vec![b'-', b'-', 0xff]);
        assert!(matches!(
            parse(std::slice::from_ref(&raw)),
            Err(ParseError::NotUtf8(_))
        ));
        let parsed = parse(&[OsString::from("--stdout"), raw.clone()]);
        assert_eq!(
            parsed,
            Ok(vec![Action::Stdout {
                text: raw,
                newline: true
            }])
        );
    }
}
