//! `fake-agent`: a test double for coding-agent CLIs.
//!
//! agentlane runs agent CLIs unattended and must survive every way they
//! misbehave: non-zero exits, death by signal, hangs, ignoring SIGTERM,
//! floods of output, invalid UTF-8, daemonised helpers that keep the output
//! pipes open after the agent exits, descendants that escape the process
//! group, rate-limit and auth messages that need classifying, and so on.
//! Real agents do these things only occasionally and never on demand, so the
//! integration tests run the real `agentlane` binary against this program
//! instead.
//!
//! The command line is a script: every flag is an action, executed strictly
//! in order, so tests can compose behaviours, e.g.
//!
//! ```text
//! fake-agent --stdout "hello" --stderr "Error: 429 Too Many Requests" --exit 1
//! ```
//!
//! Parsing is done up front (see [`cli`]); a bad command line never panics,
//! it prints `fake-agent: <what is wrong>` to stderr and exits with code 2.
//! Only `std` and `libc` are used, and only Linux is supported.

mod cli;
mod json;
mod run;
mod sys;
mod term;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    match cli::parse(&args) {
        Ok(actions) => run::Runner::new(args).run(&actions),
        Err(err) => {
            eprintln!("fake-agent: {err}");
            ExitCode::from(2)
        }
    }
}
