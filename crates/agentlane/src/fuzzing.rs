//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), shared with the
//! corpus replay test (`tests/fuzz_corpus.rs`) so that both run the same code.
//!
//! Each function takes arbitrary bytes, feeds them to one parser or engine
//! and asserts only invariants that hold for every input: no panic, errors
//! with a message that points inside the text, the fixed secrets never in
//! anything written. A failed assertion is a panic: the fuzzer keeps the
//! input as a crash. Not an API: hidden from the documentation.

use std::borrow::Cow;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::OnceLock;

use crate::classify::{classify as classify_run, HintContext, Observed, RuleSet};
use crate::config::{Config, ConfigError};
use crate::input::InputError;
use crate::queue::admit::admit_with;
use crate::queue::jsonl;
use crate::redact::{env as redact_env, Redactor, Secrets, StreamRedactor, MAX_LITERAL};

/// A target's body: any bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its fuzz target and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("rules", rules),
    ("env_file", env_file),
    ("jsonl", jsonl),
    ("classify", classify),
    ("redact", redact),
    ("redact_setup", redact_setup),
    ("live", live),
];

/// The fixed environment of the redaction targets: secrets of several
/// layers (a name that says secret, a credential-like value under a harmless
/// name, a URL password, a JSON service-account key, a multi-line PEM key).
pub const SECRET_ENV: &[(&str, &str)] = &[
    (
        "OPENAI_API_KEY",
        "sk-proj-Qx7vT2mZ9pL4nR8sW1yK6dF3hJ5bC0aE",
    ),
    ("SLACK_HOOK", "https://hooks.slack.com/services/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"),
    ("DATABASE_URL", "postgresql://app:Zk4pQ9wX2mT7vL1s@db.internal:5432/app"),
    (
        "GOOGLE_CREDS",
        "{\"type\":\"service_account\",\"private_key_id\":\"4f1c9a2b7d3e8f6a0b5c1d9e2f7a3b8c6d4e0f1a\",\"client_email\":\"x@p.iam.gserviceaccount.com\"}",
    ),
    (
        "DEPLOY_KEY",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBk4mR2tY7pQ9xW3vN8sL1cJ6hF0aZ5bE2gT4iK7oU9yQAAAJgx2Mp1sNq\n-----END OPENSSH PRIVATE KEY-----",
    ),
];

/// The byte strings the redactor must never let through for [`SECRET_ENV`].
fn secret_literals() -> &'static [String] {
    static LITERALS: OnceLock<Vec<String>> = OnceLock::new();
    LITERALS.get_or_init(|| {
        SECRET_ENV
            .iter()
            .flat_map(|(name, value)| redact_env::literals(name, value))
            .collect()
    })
}

fn secret_redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(|| Redactor::new(&Secrets::from_env(SECRET_ENV.iter().copied())))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Panics when `out` holds one of the fixed secrets.
fn assert_no_secret(out: &[u8], what: &str) {
    for literal in secret_literals() {
        assert!(
            !contains(out, literal.as_bytes()),
            "{what} let a secret through ({} bytes): {:?}",
            literal.len(),
            String::from_utf8_lossy(out)
        );
    }
}

/// An error's line and column lie inside `text` (a column may be one past
/// the end of its line), and its message says something.
fn assert_inside(text: &str, line: usize, column: usize, message: &str, what: &str) {
    assert!(!message.trim().is_empty(), "{what}: an empty message");
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        line >= 1 && line <= lines.len(),
        "{what}: line {line} outside 1..={} ({message})",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    assert!(
        column >= 1 && column <= width + 1,
        "{what}: column {column} outside 1..={} on line {line} ({message})",
        width + 1
    );
}

/// Splits `data` at its first `n - 1` NUL bytes into at most `n` texts (lossy UTF-8).
fn parts(data: &[u8], n: usize) -> Vec<Cow<'_, str>> {
    data.splitn(n, |&b| b == 0)
        .map(String::from_utf8_lossy)
        .collect()
}

/// `agentlane.toml` text → the configuration loader and validator.
///
/// The input is the configuration, then (after a NUL byte) the text served
/// for any `rules_file` it names, then (after another) the text served for
/// any `env_file`: nothing is read from disk.
pub fn config(data: &[u8]) {
    let parts = parts(data, 3);
    let text = parts.first().map_or("", |t| t.as_ref());
    let rules_text = parts.get(1);
    let env_text = parts.get(2);
    let read = |path: &Path, cap: u64, what: &str| -> Result<String, InputError> {
        let served = if what == "env_file" {
            env_text
        } else {
            rules_text
        };
        let shown = path.display().to_string();
        match served {
            Some(t) if t.len() as u64 > cap => Err(InputError::TooLarge {
                what: what.to_string(),
                source_name: shown,
                cap,
            }),
            Some(t) => Ok(t.to_string()),
            None => Err(InputError::Io {
                what: what.to_string(),
                source_name: shown,
                error: std::io::Error::from(ErrorKind::NotFound),
            }),
        }
    };
    let path = Path::new("/nonexistent-agentlane-fuzz/agentlane.toml");
    match crate::config::parse_with(path, text, &read) {
        Ok(cfg) => check_config(&cfg),
        Err(ConfigError {
            file,
            line,
            column,
            message,
        }) => {
            // The error is in the configuration, or in a file it names.
            let candidates = [
                Some(text),
                rules_text.map(|t| t.as_ref()),
                env_text.map(|t| t.as_ref()),
            ];
            let inside = |t: &str| {
                let lines: Vec<&str> = t.split('\n').collect();
                line >= 1
                    && line <= lines.len()
                    && column >= 1
                    && column <= lines[line - 1].chars().count() + 1
            };
            assert!(
                !message.trim().is_empty(),
                "config: an empty message in {file}"
            );
            if file == path.display().to_string() {
                assert_inside(text, line, column, &message, "config");
            } else {
                assert!(
                    candidates.into_iter().flatten().any(inside),
                    "config: {file}:{line}:{column} is inside no text given ({message})"
                );
            }
        }
    }
}

fn check_config(cfg: &Config) {
    for name in cfg.routes.keys() {
        assert!(
            cfg.route(name).is_ok(),
            "config: route {name} not found by name"
        );
    }
    for name in cfg.kinds.keys() {
        assert!(
            cfg.kind(name).is_ok(),
            "config: kind {name} not found by name"
        );
    }
}

/// A user rules file → the rule-file parser on top of the built-in rules,
/// then the resulting rule set over a fixed failed run.
pub fn rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match RuleSet::builtin().with_document("rules.toml", &text) {
        Ok(set) => {
            let observed = Observed {
                exit_code: Some(1),
                signal: None,
                timed_out: false,
                stdout_tail: b"{\"type\":\"error\",\"message\":\"rate limit exceeded\"}\n",
                stderr_tail: b"Error: 429 Too Many Requests\nplease retry after 30s\n",
                stdout_truncated: false,
                stderr_truncated: false,
            };
            let c = classify_run(&observed, || &set, &HintContext::default());
            assert!(!c.rule.is_empty(), "rules: no rule named");
            assert!(!c.repair_hint.trim().is_empty(), "rules: no hint for {c:?}");
        }
        Err(e) => assert_inside(&text, e.line, e.column, &e.message, "rules"),
    }
}

/// An env file → its parser: variables with valid names, or an error on a
/// line of the file.
pub fn env_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::dispatch::parse_env_file("agent.env", &text) {
        Ok(vars) => {
            for (key, _) in &vars {
                assert!(
                    !key.is_empty()
                        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !key.starts_with(|c: char| c.is_ascii_digit()),
                    "env_file: accepted the name {key:?}"
                );
            }
        }
        Err(e) => assert_inside(&text, e.line, e.column, &e.message, "env_file"),
    }
}

const JSONL_CONFIG: &str = r#"
[queue]
prompt_secrets = "refuse"

[routes.main]
program = "/bin/true"
prompt_via = "stdin"

[routes.backup]
program = "/bin/true"
prompt_via = "stdin"

[kinds.fix]
routes = ["main", "backup"]
max_prompt_bytes = 4096

[kinds.any]

[lanes.ci]
[lanes.nightly]
"#;

fn jsonl_configs() -> &'static [Config] {
    static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let path = Path::new("/nonexistent-agentlane-fuzz/agentlane.toml");
        [
            JSONL_CONFIG.to_string(),
            JSONL_CONFIG.replace("\"refuse\"", "\"redact\""),
        ]
        .iter()
        .filter_map(|t| crate::config::parse(path, t).ok())
        .collect()
    })
}

/// `enqueue --jsonl` bytes (the bytes 1..=6 spliced into the fixed secrets,
/// as for [`redact`]) → the line reader, then every request through
/// admission (both `prompt_secrets` policies) with the fixed secrets: an
/// admitted job (prompt, fields) and a refusal's message never hold one.
pub fn jsonl(data: &[u8]) {
    let data = &with_secrets(data)[..];
    let newlines = data.iter().filter(|&&b| b == b'\n').count();
    let Ok(lines) = jsonl::read_lines(data) else {
        // Only the size caps refuse a whole input; bytes cannot reach them here.
        panic!("jsonl: {} bytes refused as a whole", data.len());
    };
    let mut previous = 0;
    for (n, line) in lines {
        assert!(
            n > previous && n <= newlines + 1,
            "jsonl: line {n} after {previous} in {newlines} newlines"
        );
        previous = n;
        let request = match line {
            Ok(r) => r,
            Err(reason) => {
                assert!(
                    !reason.reason.is_empty(),
                    "jsonl: line {n} refused without a reason"
                );
                continue;
            }
        };
        let configs = jsonl_configs();
        assert_eq!(configs.len(), 2, "jsonl: the fixed configurations load");
        for cfg in configs {
            match admit_with(cfg, request.clone(), secret_redactor()) {
                Ok(admitted) => {
                    assert_no_secret(admitted.job.prompt.as_bytes(), "jsonl: an admitted prompt");
                    let fields = serde_json::to_string(&admitted.job.fields).unwrap_or_default();
                    assert_no_secret(fields.as_bytes(), "jsonl: an admitted job's fields");
                    let key = admitted.job.key.unwrap_or_default();
                    assert_no_secret(key.as_bytes(), "jsonl: an admitted job's key");
                    assert!(cfg.routes.contains_key(&admitted.job.route));
                }
                Err(refusal) => {
                    assert!(!refusal.class.is_empty() && !refusal.message.trim().is_empty());
                    assert_no_secret(refusal.message.as_bytes(), "jsonl: a refusal");
                }
            }
        }
    }
}

/// Bytes → a finished run (exit code, signal, flags, stdout and stderr tails)
/// → the classifier with the built-in rules.
pub fn classify(data: &[u8]) {
    let (head, rest) = data.split_at(data.len().min(6));
    let byte = |i: usize| head.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let code = i32::from_le_bytes([byte(1), byte(2), byte(3), byte(4)]);
    let (stdout, stderr) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let observed = Observed {
        exit_code: (flags & 1 != 0).then_some(code),
        signal: (flags & 2 != 0).then_some(i32::from(byte(5))),
        timed_out: flags & 4 != 0,
        stdout_tail: stdout,
        stderr_tail: stderr,
        stdout_truncated: flags & 8 != 0,
        stderr_truncated: flags & 16 != 0,
    };
    let c = classify_run(&observed, RuleSet::builtin, &HintContext::default());
    assert!(!c.class.label().is_empty(), "classify: an empty class");
    assert!(!c.rule.is_empty(), "classify: no rule named for {c:?}");
    assert!(
        !c.repair_hint.trim().is_empty(),
        "classify: no hint for {c:?}"
    );
    if let Some(e) = &c.evidence {
        assert!(
            e.chars().count() <= crate::classify::rules::EVIDENCE_MAX + 1,
            "classify: evidence of {} characters",
            e.chars().count()
        );
    }
    if observed.exit_code.is_some_and(|c| c != 0) && !observed.timed_out {
        assert_ne!(
            c.class,
            crate::Class::Ok,
            "classify: a failed exit is ok ({})",
            c.rule
        );
    }
}

/// Expands the bytes 1..=5 of `data` into the fixed secrets (so the fuzzer
/// places whole secrets anywhere), and 6 into the first half of the next one.
fn with_secrets(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut half = 0;
    for &b in data {
        match b {
            1..=5 => out.extend_from_slice(SECRET_ENV[usize::from(b - 1)].1.as_bytes()),
            6 => {
                let s = SECRET_ENV[half % SECRET_ENV.len()].1.as_bytes();
                out.extend_from_slice(&s[..s.len() / 2]);
                half += 1;
            }
            _ => out.push(b),
        }
    }
    out
}

/// Bytes (with the fixed secrets spliced in) → the redactor of a fixed
/// environment, in one call and streamed in three chunks cut at points the
/// input chooses: no fixed secret is ever let through.
pub fn redact(data: &[u8]) {
    let (head, rest) = data.split_at(data.len().min(4));
    let input = with_secrets(rest);
    let cut = |i: usize| {
        let at = u16::from_le_bytes([
            head.get(i).copied().unwrap_or(0),
            head.get(i + 1).copied().unwrap_or(0),
        ]);
        usize::from(at) % (input.len() + 1)
    };
    let (a, b) = (cut(0), cut(2));
    let (a, b) = (a.min(b), a.max(b));
    let redactor = secret_redactor();
    let whole = redactor.redact_bytes(&input);
    assert_no_secret(&whole, "redact_bytes");
    if let Ok(text) = std::str::from_utf8(&input) {
        let redacted = redactor.redact(text);
        assert_no_secret(redacted.as_bytes(), "redact");
    }
    let mut out = Vec::new();
    let mut stream = StreamRedactor::new(redactor);
    for chunk in [&input[..a], &input[a..b], &input[b..]] {
        stream.push(chunk, &mut |bytes| out.extend_from_slice(bytes));
    }
    stream.finish(&mut |bytes| out.extend_from_slice(bytes));
    assert_no_secret(&out, "the stream redactor");
}

/// The most bytes [`redact_setup`] builds values of.
const SETUP_MAX: usize = 256 * 1024;

/// Bytes → an environment (NUL-separated names and values; the first byte
/// repeats each value up to 64 times, so values pass [`MAX_LITERAL`]) → the
/// redactor built from it, which then removes each secret value it chose.
pub fn redact_setup(data: &[u8]) {
    let Some((&repeat, rest)) = data.split_first() else {
        return;
    };
    let repeat = usize::from(repeat % 64) + 1;
    let fields = parts(rest, usize::MAX);
    let mut env: Vec<(String, String)> = Vec::new();
    let mut budget = SETUP_MAX;
    for pair in fields.chunks(2) {
        let name = pair[0].to_string();
        let value = pair.get(1).map_or("", |v| v.as_ref());
        let value = value.repeat(repeat.min(budget / value.len().max(1)).max(1));
        budget = budget.saturating_sub(value.len());
        env.push((name, value));
    }
    let secrets = Secrets::from_env(env.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let redactor = Redactor::new(&secrets);
    let labels: Vec<String> = env.iter().map(|(n, _)| format!("[REDACTED:{n}]")).collect();
    for (name, value) in &env {
        for literal in redact_env::literals(name, value) {
            // A literal the labels themselves spell would come back through them.
            if literal.len() > MAX_LITERAL || labels.iter().any(|l| l.contains(literal.as_str())) {
                continue;
            }
            let out = redactor.redact_bytes(literal.as_bytes());
            assert!(
                !contains(&out, literal.as_bytes()),
                "redact_setup: the literal {literal:?} of {name} survives its own redactor"
            );
        }
    }
}

/// Bytes → lines of a running child, fed to the watchdog at instants a
/// second apart (the first byte picks the settings), then the same bytes as
/// a finished run's stdout → its account of its work and the built-in
/// emptiness checks. Invariants: nothing panics; with no idle timeout a
/// watch stops only on a line the CLI printed (a final verdict or a
/// terminal rule's match), never on its own; a run without a `result`
/// event is never judged empty by the built-in checks.
pub fn live(data: &[u8]) {
    use crate::classify::live::{self as live_lines, LineKind, Origin};
    use crate::dispatch::watch::{Stop, Watch, WatchSettings};
    use std::time::{Duration, Instant};
    let (head, rest) = data.split_at(data.len().min(1));
    let flags = head.first().copied().unwrap_or(0);
    let settings = WatchSettings {
        idle_timeout: (flags & 1 != 0).then(|| Duration::from_secs(3)),
        terminal_settle: (flags & 2 != 0).then(|| Duration::from_secs(2)),
        done_grace: Duration::from_secs(1),
    };
    let rules = live_lines::terminal_rules(RuleSet::builtin());
    let t0 = Instant::now();
    let mut watch = Watch::new(settings, rules.clone(), t0);
    let text = String::from_utf8_lossy(rest);
    let mut now = t0;
    let mut decisive = false;
    for (i, line) in text.split('\n').enumerate() {
        now += Duration::from_secs(1);
        let origin = if i % 2 == 0 {
            Origin::Stdout
        } else {
            Origin::Stderr
        };
        let kind = live_lines::line_kind(line);
        decisive |= matches!(kind, LineKind::Final { .. })
            || live_lines::terminal_match(&rules, origin, line, &kind).is_some();
        watch.line(origin, line, now);
        if let Ok(stop) = watch.poll(now) {
            assert!(!stop.evidence().is_empty(), "live: a stop without evidence");
        }
    }
    match watch.poll(now + Duration::from_secs(3600)) {
        Ok(Stop::Idle { .. }) => assert!(
            settings.idle_timeout.is_some(),
            "live: idle without an idle timeout"
        ),
        Ok(_) => assert!(decisive, "live: stopped with no decisive line"),
        Err(_) => {}
    }
    let facts = crate::classify::success::run_facts(rest, flags & 4 != 0);
    let broken = crate::classify::success::judge(&facts, None, Default::default());
    if facts.source != Some("result") {
        assert!(
            broken.is_none(),
            "live: judged empty without a result event: {broken:?}"
        );
    }
}
