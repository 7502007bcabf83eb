//! Which provider account a route spends: the unit a usage quota belongs to.
//!
//! A usage limit is the account's, not the job's or the route's: two routes
//! (or two lanes) that run Claude Code with the same API key share one quota,
//! and when it is exhausted every job of both waits for the same reset. The
//! account of a route is read from the environment its agent gets (the
//! route's own, built on the worker's): the first of the profile's auth
//! variables that is set, else the first of its credential files under the
//! child's HOME.
//!
//! The identity is a hash, never the credential: BLAKE3 of the profile and
//! the value under a fixed domain string (not the per-install key, so every
//! host of a fleet computes the same identity for the same key; an API key's
//! entropy makes the hash reveal nothing). The label people read shows the
//! key's last four characters, as providers' consoles do (`key …a1f3`). A
//! login stored in a credential file is an account of its host.
//!
//! Pure: the environment and a file probe are passed in.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Route;

pub use crate::model::Account;

/// Domain separation for account hashes (never change: identities would move).
const DOMAIN: &[u8] = b"agentlane account v1\0";

fn identity(parts: &[&[u8]]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN);
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_hex()[..16].to_string()
}

/// The account `route` spends when its agent runs with `env` (the child's
/// environment, as `dispatch::build_env` makes it) on `host`; `exists`
/// says whether a file is there. `None`: no credential is visible (the CLI
/// may still log in some other way; its quota is then the route's own).
pub fn of_route(
    route: &Route,
    env: &BTreeMap<String, String>,
    host: &str,
    exists: impl Fn(&Path) -> bool,
) -> Option<Account> {
    let profile = route.profile.name;
    for var in route.profile.auth_vars {
        let Some(value) = env.get(*var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let chars: Vec<char> = value.trim().chars().collect();
        // A short value shows nothing of itself.
        let suffix = if chars.len() >= 16 {
            format!(
                " (key …{})",
                chars[chars.len() - 4..].iter().collect::<String>()
            )
        } else {
            String::new()
        };
        return Some(Account {
            key: identity(&[profile.as_bytes(), b"var", value.trim().as_bytes()]),
            label: format!("{profile} account{suffix}"),
        });
    }
    let home = env.get("HOME")?;
    route.profile.credential_files.iter().find_map(|file| {
        let path = Path::new(home).join(file);
        exists(&path).then(|| Account {
            key: identity(&[
                profile.as_bytes(),
                b"file",
                host.as_bytes(),
                path.to_string_lossy().as_bytes(),
            ]),
            label: format!("{profile} login in {} on {host}", path.display()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(profile: &str, env: &[(&str, &str)]) -> (Route, BTreeMap<String, String>) {
        let toml = format!("[routes.r]\nprofile = \"{profile}\"\n");
        let config = crate::config::parse(Path::new("/tmp/agentlane.toml"), &toml).unwrap();
        let route = config.routes["r"].clone();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (route, env)
    }

    #[test]
    fn two_routes_with_one_key_share_an_account_and_the_label_shows_only_its_end() {
        let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123a1f3";
        let (a, env_a) = route("claude", &[("ANTHROPIC_API_KEY", key)]);
        let (b, env_b) = route("claude", &[("ANTHROPIC_API_KEY", key), ("HOME", "/other")]);
        let one = of_route(&a, &env_a, "h1", |_| false).unwrap();
        let two = of_route(&b, &env_b, "h2", |_| false).unwrap();
        assert_eq!(one, two, "the same key is the same account on every host");
        assert_eq!(one.label, "claude account (key …a1f3)");
        assert!(!one.key.contains("a1f3") && one.key.len() == 16);
    }

    #[test]
    fn another_key_or_another_cli_is_another_account() {
        let (a, env_a) = route(
            "claude",
            &[("ANTHROPIC_API_KEY", "sk-ant-api03-one-0000000000000000")],
        );
        let (_, env_b) = route(
            "claude",
            &[("ANTHROPIC_API_KEY", "sk-ant-api03-two-0000000000000000")],
        );
        let (c, env_c) = route(
            "codex",
            &[("OPENAI_API_KEY", "sk-ant-api03-one-0000000000000000")],
        );
        let one = of_route(&a, &env_a, "h", |_| false).unwrap();
        assert_ne!(one, of_route(&a, &env_b, "h", |_| false).unwrap());
        assert_ne!(one.key, of_route(&c, &env_c, "h", |_| false).unwrap().key);
    }

    #[test]
    fn a_login_file_is_an_account_of_its_host() {
        let (a, env) = route("claude", &[("HOME", "/home/svc")]);
        let exists = |p: &Path| p == Path::new("/home/svc/.claude/.credentials.json");
        let here = of_route(&a, &env, "h1", exists).unwrap();
        let there = of_route(&a, &env, "h2", exists).unwrap();
        assert_ne!(here.key, there.key);
        assert_eq!(
            here.label,
            "claude login in /home/svc/.claude/.credentials.json on h1"
        );
        assert_eq!(
            of_route(&a, &env, "h1", |_| false),
            None,
            "no credential, no account"
        );
    }

    #[test]
    fn a_short_value_is_not_shown_at_all() {
        let (a, env) = route("claude", &[("ANTHROPIC_API_KEY", "short")]);
        assert_eq!(
            of_route(&a, &env, "h", |_| false).unwrap().label,
            "claude account"
        );
    }
}
