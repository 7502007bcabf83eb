//! The environment fingerprint: what decided a child's execution, without secrets.
//!
//! A fingerprint records, for the variables that decide how an agent CLI runs
//! (PATH, HOME, SHELL, USER, TMPDIR, the auth variables of the known CLIs and
//! their feature-flag variables), whether each is present and a keyed hash of
//! its value; the presence of the CLIs' credential and config files; and the
//! PATH entries themselves, which are not secret and are what operators need.
//! Two dispatches with equal fingerprints ran in equivalent environments; a
//! differing hash says *which* variable differed without saying its value.
//!
//! The hash key is per install (see [`crate::home`]), so hashes cannot be
//! matched against a dictionary of likely values from outside.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Variables that decide execution for every CLI.
pub const BASE_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "LANG",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "NODE_OPTIONS",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
];

/// Auth and home variables of the known agent CLIs.
pub const AUTH_VARS: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_HOME",
    "CODEX_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "DASHSCOPE_API_KEY",
    "OPENROUTER_API_KEY",
    "AWS_PROFILE",
    "AWS_REGION",
];

/// Prefixes of feature-flag variables (subagents, sandbox modes, telemetry).
pub const FLAG_PREFIXES: &[&str] = &[
    "CODEX_",
    "CLAUDE_CODE_",
    "CLAUDE_",
    "GEMINI_",
    "QWEN_",
    "OPENCODE_",
    "AIDER_",
    "ANTHROPIC_",
    "OPENAI_",
];

/// Credential and config files of the known CLIs, relative to the child's HOME.
pub const CREDENTIAL_FILES: &[&str] = &[
    ".codex/auth.json",
    ".codex/config.toml",
    ".claude.json",
    ".claude/.credentials.json",
    ".claude/settings.json",
    ".gemini/settings.json",
    ".gemini/oauth_creds.json",
    ".gemini/google_accounts.json",
    ".qwen/settings.json",
    ".qwen/oauth_creds.json",
    ".aider.conf.yml",
    ".config/opencode/opencode.json",
    ".local/share/opencode/auth.json",
];

/// Presence and keyed hash of one variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarPrint {
    /// Whether the variable is set.
    pub present: bool,
    /// Keyed hash of the value (16 hex digits), when present.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hash: Option<String>,
}

/// The fingerprint of one child environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvFingerprint {
    /// Keyed hash over everything below: equal ids, equivalent environments.
    pub id: String,
    /// The PATH entries, in order (not secret; what operators need).
    pub path_entries: Vec<String>,
    /// Presence and hash per deciding variable.
    pub vars: BTreeMap<String, VarPrint>,
    /// Presence per credential/config file, keyed by path relative to HOME.
    pub files: BTreeMap<String, bool>,
    /// The names of every variable in the environment (names are not secret).
    pub var_count: usize,
}

/// Keyed hash of a value: 16 hex digits of BLAKE3 in keyed mode.
pub fn keyed_hash(key: &[u8; 32], value: &[u8]) -> String {
    let hash = blake3::keyed_hash(key, value);
    hash.to_hex()[..16].to_string()
}

fn is_deciding_var(name: &str) -> bool {
    BASE_VARS.contains(&name)
        || AUTH_VARS.contains(&name)
        || FLAG_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Computes the fingerprint. Pure: file presence is given, not probed.
pub fn env_fingerprint(
    env: &BTreeMap<String, String>,
    files: &BTreeMap<String, bool>,
    key: &[u8; 32],
) -> EnvFingerprint {
    let mut vars = BTreeMap::new();
    for name in BASE_VARS.iter().chain(AUTH_VARS) {
        vars.insert(
            name.to_string(),
            VarPrint {
                present: false,
                hash: None,
            },
        );
    }
    for (name, value) in env.iter().filter(|(n, _)| is_deciding_var(n)) {
        vars.insert(
            name.clone(),
            VarPrint {
                present: true,
                hash: Some(keyed_hash(key, value.as_bytes())),
            },
        );
    }
    let path_entries = env
        .get("PATH")
        .map(|p| p.split(':').map(str::to_string).collect())
        .unwrap_or_default();
    let mut canonical = String::new();
    for (name, print) in &vars {
        canonical.push_str(name);
        canonical.push('=');
        canonical.push_str(print.hash.as_deref().unwrap_or("-"));
        canonical.push('\n');
    }
    for (file, present) in files {
        canonical.push_str(&format!("file:{file}={present}\n"));
    }
    EnvFingerprint {
        id: keyed_hash(key, canonical.as_bytes()),
        path_entries,
        vars,
        files: files.clone(),
        var_count: env.len(),
    }
}

/// Probes which credential files exist under `home` (the edge for [`env_fingerprint`]).
pub fn probe_credential_files(
    home: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> BTreeMap<String, bool> {
    let mut files = BTreeMap::new();
    let Some(home) = home else {
        return files;
    };
    for rel in CREDENTIAL_FILES {
        files.insert(format!("~/{rel}"), home.join(rel).exists());
    }
    if let Some(codex_home) = env.get("CODEX_HOME") {
        let auth = PathBuf::from(codex_home).join("auth.json");
        files.insert("$CODEX_HOME/auth.json".into(), auth.exists());
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_never_appear_only_presence_and_hash() {
        let fp = env_fingerprint(
            &env(&[
                ("PATH", "/usr/bin:/bin"),
                ("OPENAI_API_KEY", "sk-secret-value-123456"),
            ]),
            &BTreeMap::new(),
            &KEY,
        );
        let json = serde_json::to_string(&fp).unwrap();
        assert!(!json.contains("sk-secret"));
        assert!(fp.vars["OPENAI_API_KEY"].present);
        assert!(!fp.vars["ANTHROPIC_API_KEY"].present);
        assert_eq!(fp.path_entries, vec!["/usr/bin", "/bin"]);
    }

    #[test]
    fn a_changed_value_changes_its_hash_and_the_id() {
        let a = env_fingerprint(&env(&[("HOME", "/home/a")]), &BTreeMap::new(), &KEY);
        let b = env_fingerprint(&env(&[("HOME", "/home/b")]), &BTreeMap::new(), &KEY);
        assert_ne!(a.vars["HOME"].hash, b.vars["HOME"].hash);
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn irrelevant_variables_do_not_change_the_id() {
        let a = env_fingerprint(
            &env(&[("HOME", "/h"), ("RANDOM_THING", "1")]),
            &BTreeMap::new(),
            &KEY,
        );
        let b = env_fingerprint(
            &env(&[("HOME", "/h"), ("RANDOM_THING", "2")]),
            &BTreeMap::new(),
            &KEY,
        );
        assert_eq!(a.id, b.id);
    }

    #[test]
    fn feature_flags_are_fingerprinted() {
        let fp = env_fingerprint(
            &env(&[("CLAUDE_CODE_SUBAGENTS", "1")]),
            &BTreeMap::new(),
            &KEY,
        );
        assert!(fp.vars["CLAUDE_CODE_SUBAGENTS"].present);
    }

    #[test]
    fn credential_file_presence_changes_the_id() {
        let mut files = BTreeMap::new();
        files.insert("~/.codex/auth.json".to_string(), false);
        let a = env_fingerprint(&BTreeMap::new(), &files, &KEY);
        files.insert("~/.codex/auth.json".to_string(), true);
        let b = env_fingerprint(&BTreeMap::new(), &files, &KEY);
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn the_key_changes_every_hash() {
        let e = env(&[("HOME", "/h")]);
        let a = env_fingerprint(&e, &BTreeMap::new(), &KEY);
        let b = env_fingerprint(&e, &BTreeMap::new(), &[8; 32]);
        assert_ne!(a.vars["HOME"].hash, b.vars["HOME"].hash);
    }
}
