//! The variables that differ, grouped by what they can do to an agent:
//! credentials (present, absent or different — never a value), the ones
//! that change how Node and Python CLIs reach the network or trust
//! certificates (flagged), the rest one per line, and the harmless ones
//! (terminal, shell bookkeeping, session) folded into a count. Pure.

use serde::Serialize;

use super::{EnvDiff, VarChange, VarPresence};

/// How a variable differs between side a and side b.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Set on side a only.
    OnlyA,
    /// Set on side b only.
    OnlyB,
    /// Set on both, to different values.
    Differs,
}

/// One differing variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Differing {
    /// Its name.
    pub name: String,
    /// How it differs.
    pub presence: Presence,
}

/// The differing variables by group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Groups {
    /// Credentials (names that say they hold a secret).
    pub credentials: Vec<Differing>,
    /// Proxies, CA bundles and Node/Python options: how CLIs reach the
    /// network and which certificates they trust.
    pub network: Vec<Differing>,
    /// Everything else that differs.
    pub other: Vec<Differing>,
    /// Harmless variables that differ (terminal, shell, session), folded.
    pub harmless: Vec<String>,
}

/// Variables that change how Node and Python CLIs reach the network or
/// trust certificates (matched without case: `https_proxy` too).
pub const NETWORK_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_OPTIONS",
    "NODE_USE_ENV_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "GLOBAL_AGENT_HTTP_PROXY",
];

/// Harmless variables: they differ between any shell and any service and
/// change nothing an agent does.
const HARMLESS: &[&str] = &[
    "_",
    "SHLVL",
    "PWD",
    "OLDPWD",
    "TERM",
    "COLORTERM",
    "COLUMNS",
    "LINES",
    "HISTFILE",
    "HISTSIZE",
    "HISTCONTROL",
    "PS1",
    "PS2",
    "PROMPT_COMMAND",
    "LS_COLORS",
    "LESSOPEN",
    "LESSCLOSE",
    "MAIL",
    "MOTD_SHOWN",
    "DISPLAY",
    "WINDOWID",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "SYSTEMD_EXEC_PID",
    "MANAGERPID",
    "NOTIFY_SOCKET",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "WT_SESSION",
];

/// Prefixes of harmless variables (terminal emulators, SSH and desktop sessions).
const HARMLESS_PREFIXES: &[&str] = &[
    "TERM_",
    "SSH_",
    "XDG_SESSION_",
    "XDG_SEAT",
    "XDG_VTNR",
    "VTE_",
    "KONSOLE_",
    "ITERM_",
    "LC_TERMINAL",
    "GNOME_TERMINAL_",
    "DBUS_SESSION_",
];

/// Whether a name changes how CLIs reach the network or trust certificates.
pub fn is_network(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    NETWORK_VARS.contains(&upper.as_str())
}

/// Whether a name is harmless to differ.
pub fn is_harmless(name: &str) -> bool {
    HARMLESS.contains(&name) || HARMLESS_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Groups the variables that differ in `d`. Pure.
pub fn group(d: &EnvDiff) -> Groups {
    let mut g = Groups::default();
    let mut put = |name: &str, secret: bool, presence: Presence| {
        let item = Differing {
            name: name.to_string(),
            presence,
        };
        if is_network(name) {
            g.network.push(item);
        } else if secret {
            g.credentials.push(item);
        } else if is_harmless(name) {
            g.harmless.push(item.name);
        } else {
            g.other.push(item);
        }
    };
    let each = |v: &[VarPresence], p: Presence, put: &mut dyn FnMut(&str, bool, Presence)| {
        for x in v {
            put(&x.name, x.secret, p);
        }
    };
    each(&d.only_in_a, Presence::OnlyA, &mut put);
    each(&d.only_in_b, Presence::OnlyB, &mut put);
    for VarChange { name, secret, .. } in &d.differs {
        put(name, *secret, Presence::Differs);
    }
    for list in [&mut g.credentials, &mut g.network, &mut g.other] {
        list.sort_by(|x, y| x.name.cmp(&y.name));
    }
    g.harmless.sort();
    g
}

/// PATH side by side: each entry of either side, in side a's order then
/// side b's, with whether each side has it. Pure.
pub fn path_side_by_side(a: &[String], b: &[String]) -> Vec<(String, bool, bool)> {
    let mut rows: Vec<(String, bool, bool)> = Vec::new();
    for e in a.iter().chain(b) {
        if !rows.iter().any(|(x, _, _)| x == e) {
            rows.push((e.clone(), a.contains(e), b.contains(e)));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envdiff::PathDiff;

    fn presence(name: &str, secret: bool) -> VarPresence {
        VarPresence {
            name: name.into(),
            secret,
            hash: "h".into(),
        }
    }

    fn diff_of(only_a: &[(&str, bool)], only_b: &[(&str, bool)], differs: &[&str]) -> EnvDiff {
        EnvDiff {
            a: "shell".into(),
            b: "worker".into(),
            only_in_a: only_a.iter().map(|(n, s)| presence(n, *s)).collect(),
            only_in_b: only_b.iter().map(|(n, s)| presence(n, *s)).collect(),
            differs: differs
                .iter()
                .map(|n| VarChange {
                    name: n.to_string(),
                    secret: crate::redact::is_secret_name(n),
                    hash_a: "1".into(),
                    hash_b: "2".into(),
                })
                .collect(),
            path: PathDiff {
                a: vec![],
                b: vec![],
                missing_from_a: vec![],
                missing_from_b: vec![],
                same: true,
            },
            identity: vec![],
            resolution: None,
            credential_files: vec![],
            groups: Groups::default(),
        }
    }

    #[test]
    fn each_variable_lands_in_its_group() {
        let d = diff_of(
            &[
                ("ANTHROPIC_API_KEY", true),
                ("https_proxy", false),
                ("TERM", false),
                ("SSH_CONNECTION", false),
                ("NVM_DIR", false),
            ],
            &[("NODE_EXTRA_CA_CERTS", false), ("XDG_SESSION_ID", false)],
            &["OPENAI_API_KEY", "LANG", "NODE_OPTIONS", "SHLVL"],
        );
        let g = group(&d);
        let names = |v: &[Differing]| -> Vec<(String, Presence)> {
            v.iter().map(|x| (x.name.clone(), x.presence)).collect()
        };
        assert_eq!(
            names(&g.credentials),
            [
                ("ANTHROPIC_API_KEY".to_string(), Presence::OnlyA),
                ("OPENAI_API_KEY".to_string(), Presence::Differs)
            ]
        );
        assert_eq!(
            names(&g.network),
            [
                ("NODE_EXTRA_CA_CERTS".to_string(), Presence::OnlyB),
                ("NODE_OPTIONS".to_string(), Presence::Differs),
                ("https_proxy".to_string(), Presence::OnlyA),
            ]
        );
        assert_eq!(
            names(&g.other),
            [
                ("LANG".to_string(), Presence::Differs),
                ("NVM_DIR".to_string(), Presence::OnlyA)
            ]
        );
        assert_eq!(
            g.harmless,
            ["SHLVL", "SSH_CONNECTION", "TERM", "XDG_SESSION_ID"]
        );
    }

    #[test]
    fn path_entries_sit_side_by_side_in_order() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            path_side_by_side(&s(&["/a", "/usr/bin", "/b"]), &s(&["/usr/bin", "/c"])),
            vec![
                ("/a".to_string(), true, false),
                ("/usr/bin".to_string(), true, true),
                ("/b".to_string(), true, false),
                ("/c".to_string(), false, true),
            ]
        );
    }
}
