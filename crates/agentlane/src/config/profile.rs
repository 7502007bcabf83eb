//! Built-in agent profiles: what agentlane knows about each CLI.
//!
//! A profile gives a route its defaults (program, non-interactive arguments,
//! prompt delivery, how to pass a model), and gives preflight what to probe:
//! the version command, the CLI's own cheap auth-status command, the auth
//! variables and credential files, the config files it can parse, and the
//! canary invocation. Facts come from the CLIs' docs and from running them
//! (docs/agent-clis.md).

use crate::dispatch::PromptVia;

/// How a config file of a CLI is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// JSON.
    Json,
    /// TOML.
    Toml,
}

/// Everything agentlane knows about one agent CLI.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The profile name used in `profile = "..."`.
    pub name: &'static str,
    /// The default program (bare name, looked up on the route's PATH).
    pub program: Option<&'static str>,
    /// The non-interactive invocation (with `{prompt}`/`{prompt_file}` placeholders).
    pub args: &'static [&'static str],
    /// How the default invocation takes the prompt.
    pub prompt_via: PromptVia,
    /// Arguments that select a model (with a `{model}` placeholder), added when a route sets one.
    pub model_args: &'static [&'static str],
    /// Arguments for machine-readable events, when the CLI has them.
    pub json_args: &'static [&'static str],
    /// The version command's arguments.
    pub version_args: &'static [&'static str],
    /// The CLI's own cheap auth-status command, when it has one (spends no tokens).
    pub auth_status_args: Option<&'static [&'static str]>,
    /// Variables any one of which is usable auth material.
    pub auth_vars: &'static [&'static str],
    /// Credential files (relative to HOME) any one of which is usable auth material.
    pub credential_files: &'static [&'static str],
    /// Config files (relative to HOME) that must parse when present.
    pub config_files: &'static [(&'static str, ConfigFormat)],
    /// Extra arguments that make the CLI louder on a diagnostic retry.
    pub verbose_args: &'static [&'static str],
    /// Variables that turn the CLI's silent internal retries down during probes.
    pub probe_env: &'static [(&'static str, &'static str)],
}

/// The seed's canary prompt.
pub const CANARY_PROMPT: &str = "Return the string ok and exit zero";

const NO_ARGS: &[&str] = &[];

/// The built-in profiles.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "codex",
        program: Some("codex"),
        // On stdin (`-`): after `--` codex still reads the prompt `-` as
        // "read stdin", and clap takes `-c key=value` before it as a config override.
        args: &["exec", "--skip-git-repo-check", "-"],
        prompt_via: PromptVia::Stdin,
        model_args: &["--model", "{model}"],
        json_args: &["--json"],
        version_args: &["--version"],
        auth_status_args: Some(&["login", "status"]),
        auth_vars: &["OPENAI_API_KEY", "CODEX_API_KEY"],
        credential_files: &[".codex/auth.json"],
        config_files: &[(".codex/config.toml", ConfigFormat::Toml)],
        verbose_args: NO_ARGS,
        probe_env: &[],
    },
    Profile {
        name: "claude",
        program: Some("claude"),
        // `-p` is a boolean (print mode); the prompt is a positional, literal after `--`.
        args: &["-p", "--", "{prompt}"],
        prompt_via: PromptVia::Arg,
        model_args: &["--model", "{model}"],
        json_args: &["--output-format", "stream-json", "--verbose"],
        version_args: &["--version"],
        auth_status_args: None,
        auth_vars: &[
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
        ],
        credential_files: &[".claude/.credentials.json"],
        config_files: &[
            (".claude/settings.json", ConfigFormat::Json),
            (".claude.json", ConfigFormat::Json),
        ],
        verbose_args: &["--verbose"],
        // Claude Code retries an unreachable API 10 times (~3 minutes) by default.
        probe_env: &[
            ("CLAUDE_CODE_MAX_RETRIES", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_TELEMETRY", "1"),
        ],
    },
    Profile {
        name: "gemini",
        program: Some("gemini"),
        // yargs reads `-p --version` as two flags; the attached value is literal.
        args: &["--prompt={prompt}"],
        prompt_via: PromptVia::Arg,
        model_args: &["--model", "{model}"],
        json_args: &["--output-format", "json"],
        version_args: &["--version"],
        auth_status_args: None,
        auth_vars: &[
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ],
        credential_files: &[".gemini/oauth_creds.json"],
        config_files: &[(".gemini/settings.json", ConfigFormat::Json)],
        verbose_args: &["--debug"],
        probe_env: &[],
    },
    Profile {
        name: "qwen",
        program: Some("qwen"),
        // yargs, as gemini: the attached value is literal.
        args: &["--prompt={prompt}"],
        prompt_via: PromptVia::Arg,
        model_args: &["--model", "{model}"],
        json_args: &["--output-format", "json"],
        version_args: &["--version"],
        auth_status_args: None,
        auth_vars: &["DASHSCOPE_API_KEY", "OPENAI_API_KEY", "QWEN_API_KEY"],
        credential_files: &[".qwen/oauth_creds.json"],
        config_files: &[(".qwen/settings.json", ConfigFormat::Json)],
        verbose_args: &["--debug"],
        probe_env: &[],
    },
    Profile {
        name: "aider",
        program: Some("aider"),
        // A file: argparse reads `--message '-c x'` as its `-c` (config file)
        // option, and strips `--message=--` to nothing.
        args: &[
            "--yes-always",
            "--no-auto-commits",
            "--message-file={prompt_file}",
        ],
        prompt_via: PromptVia::File,
        model_args: &["--model", "{model}"],
        json_args: NO_ARGS,
        version_args: &["--version"],
        auth_status_args: None,
        auth_vars: &[
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "OPENROUTER_API_KEY",
            "DEEPSEEK_API_KEY",
        ],
        credential_files: &[".aider.conf.yml", ".env"],
        config_files: NO_CONFIGS,
        verbose_args: &["--verbose"],
        probe_env: &[],
    },
    Profile {
        name: "opencode",
        program: Some("opencode"),
        // On stdin: `run -- {prompt}` is literal for yargs, but opencode
        // re-joins its message arguments and wraps any holding a space in
        // double quotes; stdin reaches the model as it was written.
        args: &["run"],
        prompt_via: PromptVia::Stdin,
        model_args: &["--model", "{model}"],
        json_args: NO_ARGS,
        version_args: &["--version"],
        auth_status_args: None,
        auth_vars: &[
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "GEMINI_API_KEY",
            "OPENROUTER_API_KEY",
        ],
        credential_files: &[".local/share/opencode/auth.json"],
        config_files: &[(".config/opencode/opencode.json", ConfigFormat::Json)],
        verbose_args: &["--print-logs"],
        probe_env: &[],
    },
    Profile {
        name: "generic",
        program: None,
        args: NO_ARGS,
        prompt_via: PromptVia::Stdin,
        model_args: NO_ARGS,
        json_args: NO_ARGS,
        version_args: NO_ARGS,
        auth_status_args: None,
        auth_vars: NO_ARGS,
        credential_files: NO_ARGS,
        config_files: NO_CONFIGS,
        verbose_args: NO_ARGS,
        probe_env: &[],
    },
];

const NO_CONFIGS: &[(&str, ConfigFormat)] = &[];

/// The profile with this name.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// The profile names, for error messages.
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

impl Profile {
    /// Whether this profile needs auth material at all.
    pub fn needs_auth(&self) -> bool {
        !self.auth_vars.is_empty() || !self.credential_files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_named_in_the_contract_exists() {
        for name in [
            "codex", "claude", "gemini", "qwen", "aider", "opencode", "generic",
        ] {
            assert!(profile(name).is_some(), "{name}");
        }
    }

    #[test]
    fn default_invocations_take_the_prompt_the_way_they_say() {
        for p in PROFILES.iter().filter(|p| p.program.is_some()) {
            let token = match p.prompt_via {
                PromptVia::Arg => "{prompt}",
                PromptVia::File => "{prompt_file}",
                PromptVia::Stdin => continue,
            };
            assert!(
                p.args.iter().any(|a| a.contains(token)),
                "{} args lack {token}",
                p.name
            );
            assert!(
                p.model_args.iter().any(|a| a.contains("{model}")),
                "{}",
                p.name
            );
        }
    }
}
