//! The failure classes: the stable, public labels a dispatch ends with.
//!
//! The labels are a contract (scripts, dashboards and the runbook match on
//! them), so they never change spelling. Each class carries the text that
//! `agentlane explain` prints: what it means, its usual causes, how to repair
//! it and how the queue treats it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a dispatch ended, named for the boundary problem behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The agent ran and exited zero, and no rule saw a hidden failure.
    Ok,
    /// The payload broke its contract; nothing was spawned.
    PayloadInvalid,
    /// The working directory does not exist or cannot be entered.
    CwdMissing,
    /// The executable does not resolve on the child's PATH.
    CliMissing,
    /// The executable exists but cannot be executed.
    CliNotExecutable,
    /// The script's shebang interpreter (e.g. `node`) does not resolve.
    InterpreterMissing,
    /// Policy does not allow this job on this route.
    RouteNotAllowed,
    /// The supervisor's timeout ended the run and nothing more specific was seen.
    Timeout,
    /// The agent exited zero but did no work: its result reports nothing
    /// done, or it broke its route's success contract.
    EmptySuccess,
    /// The CLI has no usable credentials in this environment.
    AuthUnavailable,
    /// A sandbox or policy denied a path, a command or an escalation.
    SandboxOrPolicyBlock,
    /// The provider throttled the request (HTTP 429 and friends).
    RateLimited,
    /// A usage quota or spending limit is exhausted until a reset.
    QuotaExhausted,
    /// The network or DNS is unavailable from this environment.
    NetworkUnavailable,
    /// A transient I/O or server-side failure (5xx, overloaded, EIO).
    TransientIo,
    /// The CLI's or agentlane's configuration is invalid.
    ConfigInvalid,
    /// The agent died by a signal nobody in agentlane sent.
    KilledBySignal,
    /// The worker running the attempt disappeared (lease expired).
    WorkerLost,
    /// Non-zero exit that no rule recognised; the code is kept.
    UnknownExit(i32),
}

/// Every class with a fixed label, in the order the runbook lists them.
pub const NAMED_CLASSES: &[Class] = &[
    Class::Ok,
    Class::PayloadInvalid,
    Class::CwdMissing,
    Class::CliMissing,
    Class::CliNotExecutable,
    Class::InterpreterMissing,
    Class::RouteNotAllowed,
    Class::Timeout,
    Class::EmptySuccess,
    Class::AuthUnavailable,
    Class::SandboxOrPolicyBlock,
    Class::RateLimited,
    Class::QuotaExhausted,
    Class::NetworkUnavailable,
    Class::TransientIo,
    Class::ConfigInvalid,
    Class::KilledBySignal,
    Class::WorkerLost,
];

impl Class {
    /// The stable snake_case label.
    pub fn label(&self) -> String {
        match self {
            Class::UnknownExit(code) => format!("unknown_exit_{code}"),
            other => other.static_label().to_string(),
        }
    }

    fn static_label(&self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::PayloadInvalid => "payload_invalid",
            Class::CwdMissing => "cwd_missing",
            Class::CliMissing => "cli_missing",
            Class::CliNotExecutable => "cli_not_executable",
            Class::InterpreterMissing => "interpreter_missing",
            Class::RouteNotAllowed => "route_not_allowed",
            Class::Timeout => "timeout",
            Class::EmptySuccess => "empty_success",
            Class::AuthUnavailable => "auth_unavailable",
            Class::SandboxOrPolicyBlock => "sandbox_or_policy_block",
            Class::RateLimited => "rate_limited",
            Class::QuotaExhausted => "quota_exhausted",
            Class::NetworkUnavailable => "network_unavailable",
            Class::TransientIo => "transient_io",
            Class::ConfigInvalid => "config_invalid",
            Class::KilledBySignal => "killed_by_signal",
            Class::WorkerLost => "worker_lost",
            Class::UnknownExit(_) => "unknown_exit_N",
        }
    }

    /// True for everything except [`Class::Ok`].
    pub fn is_failure(&self) -> bool {
        !matches!(self, Class::Ok)
    }

    /// True for a route-level hard stop: the cause is the route's (its
    /// credentials, its account's quota, its CLI, its interpreter, its
    /// configuration, its sandbox), not the job's, so every other job on the
    /// route would fail the same way. The first such failure blocks further
    /// claims on the route (on its host, when [`Class::is_host_local`]) until
    /// preflight passes with a changed environment or the incident is
    /// resolved. Pure.
    pub fn stops_route(&self) -> bool {
        matches!(
            self,
            Class::AuthUnavailable
                | Class::QuotaExhausted
                | Class::CliMissing
                | Class::CliNotExecutable
                | Class::InterpreterMissing
                | Class::ConfigInvalid
                | Class::SandboxOrPolicyBlock
        )
    }

    /// True when an attempt that ended in this class counts toward opening
    /// its route's circuit breaker (`crate::breaker`): the runtime side
    /// failed — the provider (5xx, overload, throttling), the network, a
    /// hang, a foreign kill, an exit nothing recognised. A refusal of the
    /// payload or by policy, a hard stop (its incident already blocks the
    /// route), an account's quota (parked per account), a success judged
    /// empty and a lost worker say nothing about the route's runtime. Pure.
    pub fn breaker_evidence(&self) -> bool {
        matches!(
            self,
            Class::TransientIo
                | Class::NetworkUnavailable
                | Class::Timeout
                | Class::RateLimited
                | Class::KilledBySignal
                | Class::UnknownExit(_)
        )
    }

    /// True when the cause lives on the host that saw it (its executables,
    /// credentials, directories, configuration, network), so the same
    /// failure on two hosts is two incidents, each naming its host. Pure.
    pub fn is_host_local(&self) -> bool {
        matches!(
            self,
            Class::CliMissing
                | Class::CliNotExecutable
                | Class::InterpreterMissing
                | Class::AuthUnavailable
                | Class::CwdMissing
                | Class::ConfigInvalid
                | Class::SandboxOrPolicyBlock
                | Class::NetworkUnavailable
        )
    }

    /// True when the class was decided before any process was spawned.
    pub fn is_pre_launch(&self) -> bool {
        matches!(
            self,
            Class::PayloadInvalid
                | Class::CwdMissing
                | Class::CliMissing
                | Class::CliNotExecutable
                | Class::InterpreterMissing
                | Class::RouteNotAllowed
                | Class::ConfigInvalid
        )
    }

    /// What `agentlane explain` prints for this class.
    #[allow(
        clippy::expect_used,
        reason = "CLASS_INFO has an entry for every class: a unit test checks each"
    )]
    pub fn info(&self) -> &'static ClassInfo {
        let label = self.static_label();
        CLASS_INFO
            .iter()
            .find(|info| info.label == label)
            .expect("every class has an entry in CLASS_INFO")
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Class::UnknownExit(code) => write!(f, "unknown_exit_{code}"),
            other => f.write_str(other.static_label()),
        }
    }
}

/// The error for a label that names no class.
#[derive(Debug, thiserror::Error)]
#[error("unknown class '{0}' (run `agentlane explain --list` for the labels)")]
pub struct UnknownClass(pub String);

impl FromStr for Class {
    type Err = UnknownClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(code) = s.strip_prefix("unknown_exit_") {
            return code
                .parse::<i32>()
                .map(Class::UnknownExit)
                .map_err(|_| UnknownClass(s.to_string()));
        }
        NAMED_CLASSES
            .iter()
            .copied()
            .find(|class| class.static_label() == s)
            .ok_or_else(|| UnknownClass(s.to_string()))
    }
}

impl Serialize for Class {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.label())
    }
}

impl<'de> Deserialize<'de> for Class {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = String::deserialize(deserializer)?;
        label.parse().map_err(serde::de::Error::custom)
    }
}

/// The explanation of one class: one source for `explain` and the runbook.
#[derive(Debug)]
pub struct ClassInfo {
    /// The label (`unknown_exit_N` for the family of unknown exits).
    pub label: &'static str,
    /// One sentence: what the class means.
    pub meaning: &'static str,
    /// Usual causes, most common first.
    pub causes: &'static [&'static str],
    /// Repair steps, in the order to try them.
    pub repair: &'static [&'static str],
    /// How a retry treats it (the queue's default retry table).
    pub retry: &'static str,
}

/// The catalogue behind [`Class::info`].
pub const CLASS_INFO: &[ClassInfo] = &[
    ClassInfo {
        label: "ok",
        meaning: "The agent ran, exited zero, and no rule found a failure hidden behind the zero.",
        causes: &["The dispatch worked."],
        repair: &["Nothing to repair."],
        retry: "Not retried.",
    },
    ClassInfo {
        label: "payload_invalid",
        meaning: "The prompt or job payload broke its contract, so no process was spawned.",
        causes: &[
            "An empty prompt, or a prompt that is not text (binary, invalid UTF-8).",
            "A prompt delivered as an argument that contains a NUL byte or exceeds the kernel's 128 KiB per-argument limit.",
            "A payload over the job kind's max_prompt_bytes or missing a required field.",
            "The argument template uses {prompt} but no prompt was given.",
        ],
        repair: &[
            "Fix the producer that built the payload: the error names the broken rule.",
            "For large prompts use prompt_via = \"stdin\" or \"file\" instead of \"arg\".",
        ],
        retry: "Hard stop: never retried. Enqueue refuses such a payload; one found after a claim is parked, and resolving its incident releases it once the producer is fixed.",
    },
    ClassInfo {
        label: "cwd_missing",
        meaning: "The working directory the dispatch asked for does not exist, is not a directory, or cannot be entered.",
        causes: &[
            "A repository path that was never cloned on this host, or was moved.",
            "A relative path resolved against a service's different working directory.",
            "A directory the worker's user has no permission to enter.",
        ],
        repair: &[
            "Create or clone the directory, or fix the route's cwd.",
            "Use absolute paths in service configuration.",
            "Check permissions for the worker's user: `sudo -u USER test -x DIR`.",
        ],
        retry: "Hard stop: parked until preflight for the lane changes.",
    },
    ClassInfo {
        label: "cli_missing",
        meaning: "The program does not resolve on the PATH the child really gets (not the operator's shell PATH).",
        causes: &[
            "A service (cron, systemd, launchd) started with a thin PATH like /usr/bin:/bin while the CLI lives in ~/.local/bin, ~/.npm-global/bin or an nvm directory.",
            "The CLI is not installed on this host.",
            "A wrapper script whose inner command is not found (exit 127, `command not found`).",
        ],
        repair: &[
            "Add the directory agentlane found the CLI in to the worker's PATH (route env or the service unit).",
            "Or set the route's program to the absolute path.",
            "Or install the CLI for the worker's user.",
        ],
        retry: "Hard stop: parked until the executable resolves (preflight flips).",
    },
    ClassInfo {
        label: "cli_not_executable",
        meaning: "The program resolves to a file that cannot be executed.",
        causes: &[
            "The file lacks the execute bit (copied or unpacked without modes).",
            "The path is a directory.",
            "A file with an exec bit that is neither a binary for this machine nor a script with a shebang (ENOEXEC).",
            "A noexec mount.",
        ],
        repair: &[
            "`chmod +x` the file, or point the route at the real executable.",
            "Reinstall the CLI for this platform.",
        ],
        retry: "Hard stop: parked until preflight flips.",
    },
    ClassInfo {
        label: "interpreter_missing",
        meaning: "The CLI is a script whose shebang interpreter does not resolve on the child's PATH.",
        causes: &[
            "An npm-installed CLI (`#!/usr/bin/env node`) run by a service whose PATH lacks node (nvm, volta and Homebrew put node outside /usr/bin).",
            "A Python CLI whose virtualenv interpreter was removed.",
        ],
        repair: &[
            "Add node's directory (agentlane names where it found node) to the worker's PATH.",
            "Or install node system-wide, or set the program to a wrapper that uses an absolute interpreter path.",
        ],
        retry: "Hard stop: parked until preflight flips.",
    },
    ClassInfo {
        label: "route_not_allowed",
        meaning: "Policy does not allow this job kind on this route, model or lane.",
        causes: &[
            "The job kind's allowed routes or models do not include the selected ones.",
            "A safety gate (e.g. a human flag) is required and absent.",
            "Subagents are disabled for the route.",
        ],
        repair: &[
            "Route the job to an allowed route, or change the policy in agentlane.toml.",
        ],
        retry: "Hard stop: enqueue refuses a route its policy forbids; a job found forbidden after a claim (the policy changed) is parked until its incident is resolved.",
    },
    ClassInfo {
        label: "timeout",
        meaning: "The supervisor's timeout ended the run and the output named no more specific cause.",
        causes: &[
            "The task needs more time than the route's timeout.",
            "The CLI waits for input that never comes (a prompt on a terminal, stdin left open).",
            "A silent retry loop inside the CLI (network, auth) that printed nothing useful.",
        ],
        repair: &[
            "Read the tails: a CLI retrying silently is a network or auth problem.",
            "Raise the route's timeout if the work is legitimately long.",
        ],
        retry: "Retried with a larger timeout (factor, cap), bounded attempts.",
    },
    ClassInfo {
        label: "empty_success",
        meaning: "The agent exited 0 but did no work: its result reports zero turns or nothing generated, or the run broke its route's success contract (expected output, non-empty result, turns, a changed work tree, a file).",
        causes: &[
            "The prompt never reached the model (an empty prompt, a flag that swallowed it, stdin closed).",
            "The model answered without doing the task (refused, asked a question, ran out of turns).",
            "The route's success contract is stricter than what the task produces.",
        ],
        repair: &[
            "Read the final message in the tails (`agentlane show ID`): a refusal or a question names what is missing.",
            "Check how the prompt reaches the CLI (`prompt_via`, the argument template) with `agentlane exec --route R`.",
            "Relax or fix the route's `[routes.R.success]` contract if it asks for the wrong thing.",
        ],
        retry: "Retried once after a short backoff (a second try may do the work); then failed.",
    },
    ClassInfo {
        label: "auth_unavailable",
        meaning: "The CLI has no usable credentials in the environment the worker gives it.",
        causes: &[
            "Credentials live in the operator's HOME while the worker runs with another HOME or user.",
            "An API key variable present in the shell profile but not in the service environment.",
            "An expired or revoked login or key (401).",
        ],
        repair: &[
            "Log in as the worker's user (the hint names the HOME the child used), or pass the API key variable through the route's env.",
            "Compare environments with the env fingerprint of a passing and a failing dispatch.",
        ],
        retry: "Hard stop: parked until preflight sees credentials.",
    },
    ClassInfo {
        label: "sandbox_or_policy_block",
        meaning: "A sandbox, an approval policy or the filesystem denied something the agent needed.",
        causes: &[
            "The CLI's sandbox mode forbids writes or network access the task needs.",
            "An approval mode that refuses escalations in non-interactive runs.",
            "An untrusted workspace (Gemini CLI exit 55) or a denied path (EACCES/EPERM).",
        ],
        repair: &[
            "Trust the directory or pick the sandbox mode the task needs in the route's args.",
            "Fix ownership and permissions of the denied path for the worker's user.",
        ],
        retry: "Hard stop: parked until configuration changes.",
    },
    ClassInfo {
        label: "rate_limited",
        meaning: "The provider throttled the request (HTTP 429 or equivalent).",
        causes: &["Too many concurrent agents on one key.", "A burst after an outage."],
        repair: &[
            "Lower the lane's concurrency, or spread work across keys/routes.",
            "Retries honour the Retry-After hint when the CLI printed one.",
        ],
        retry: "Retried with exponential backoff and jitter, capped attempts.",
    },
    ClassInfo {
        label: "quota_exhausted",
        meaning: "A usage quota, plan limit or spending cap is exhausted until it resets.",
        causes: &["A plan's usage limit (resets at a stated time).", "insufficient_quota / billing limits."],
        repair: &["Wait for the reset, raise the limit, or route to another account."],
        retry: "Never retried on a timer: every job of every route spending the same account is parked behind one incident, and released at the reset (plus jitter) once a preflight passes; with no reset time (a spend cap), when an operator resolves the incident.",
    },
    ClassInfo {
        label: "network_unavailable",
        meaning: "The CLI could not reach its provider: DNS, connection refused or reset, proxy.",
        causes: &[
            "No network or DNS inside the service's environment or sandbox.",
            "A proxy variable present in the shell but missing in the worker (or the reverse).",
        ],
        repair: &[
            "Check DNS and connectivity from the worker's environment, and its proxy variables.",
        ],
        retry: "Retried with exponential backoff and jitter, capped attempts.",
    },
    ClassInfo {
        label: "transient_io",
        meaning: "A transient failure on the provider's side or the local disk (5xx, overloaded, EIO).",
        causes: &["Provider outage or overload (500, 502, 503, 529).", "A full or failing disk (ENOSPC, EIO)."],
        repair: &["Wait and retry; check the disk if the evidence names ENOSPC/EIO."],
        retry: "Retried with exponential backoff and jitter, capped attempts.",
    },
    ClassInfo {
        label: "config_invalid",
        meaning: "A configuration file the CLI or agentlane reads is invalid.",
        causes: &["A syntax error in the CLI's settings file.", "An unknown model or flag in the route."],
        repair: &["Fix the file the evidence names (agentlane names file, line and column for its own)."],
        retry: "Hard stop: parked until configuration changes.",
    },
    ClassInfo {
        label: "killed_by_signal",
        meaning: "The agent died by a signal that agentlane did not send for a timeout.",
        causes: &[
            "The kernel's OOM killer (SIGKILL).",
            "A crash (SIGSEGV, SIGABRT).",
            "An operator or service manager stopping the run.",
        ],
        repair: &["Check `dmesg` for the OOM killer and the memory limits of the service."],
        retry: "Not retried by default.",
    },
    ClassInfo {
        label: "worker_lost",
        meaning: "The worker running the attempt disappeared: a runner_prepare with no runner_exit, found when its lease expired.",
        causes: &["The worker was killed (kill -9, OOM, power loss) or cut off from the store."],
        repair: &["Look at the worker host's logs; the job is re-run by another worker."],
        retry: "Retried (the job is reclaimed).",
    },
    ClassInfo {
        label: "unknown_exit_N",
        meaning: "A non-zero exit N that no rule recognised. agentlane keeps the whole context so the next run can name it.",
        causes: &["A failure mode no rule covers yet."],
        repair: &[
            "Read the stderr/stdout tails and the artifacts with `agentlane show DISPATCH_ID`.",
            "Turn the evidence line into a rule: `agentlane rules suggest DISPATCH_ID --class CLASS` proposes one and lists the stored verdicts it would change; `agentlane rules add --from DISPATCH_ID --class CLASS` appends it to your rules file after that replay, so the next occurrence is named.",
        ],
        retry: "Retried once with expanded diagnostics, then failed.",
    },
];

/// Which layer of the classifier decided a verdict, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Facts agentlane knows itself: pre-launch refusals, policy, timeout,
    /// signals, exit zero.
    #[default]
    Fact,
    /// A CLI's own rules (built in): exact wordings, highest precision.
    Cli,
    /// The operator's rules file.
    User,
    /// Signals shared by every profile ([`crate::classify::generic`]).
    Generic,
    /// No rule and no signal: `unknown_exit_N`.
    Unknown,
}

impl Layer {
    /// The label in reports and events.
    pub fn label(self) -> &'static str {
        match self {
            Layer::Fact => "fact",
            Layer::Cli => "cli",
            Layer::User => "user",
            Layer::Generic => "generic",
            Layer::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_class_round_trips_through_its_label() {
        for class in NAMED_CLASSES {
            let parsed: Class = class.label().parse().unwrap();
            assert_eq!(&parsed, class);
            assert_eq!(class.info().label, class.label());
        }
    }

    #[test]
    fn unknown_exit_keeps_its_code() {
        let class: Class = "unknown_exit_3".parse().unwrap();
        assert_eq!(class, Class::UnknownExit(3));
        assert_eq!(class.label(), "unknown_exit_3");
        assert_eq!(class.info().label, "unknown_exit_N");
    }

    #[test]
    fn a_misspelled_label_is_an_error() {
        assert!("cli_mising".parse::<Class>().is_err());
        assert!("unknown_exit_x".parse::<Class>().is_err());
    }
}
