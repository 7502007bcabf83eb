//! Preflight against scripts standing in for CLIs: each false boolean, its
//! class and hint, and the cache (no probe on a hit, a new probe when the
//! executable or the config changes).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::class::Class;
use crate::config;
use crate::dispatch::Dispatcher;
use crate::events::PreflightChecked;
use crate::home::Home;
use crate::store::sqlite::SqliteStore;
use crate::store::Reader;

struct World {
    dir: tempfile::TempDir,
    dispatcher: Dispatcher,
    store: Arc<SqliteStore>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(&dir.path().join("agentlane")).unwrap();
        let store = Arc::new(SqliteStore::open(&home.database()).unwrap());
        let dispatcher = Dispatcher::new(home, store.clone(), None);
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("user")).unwrap();
        World {
            dir,
            dispatcher,
            store,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(&format!("bin/{name}"));
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// A config with one claude-profile route `r` running `program` with a thin PATH and a private HOME.
    fn config(&self, program: &str, extra: &str) -> config::Config {
        let text = format!(
            "[routes.r]\nprofile = \"claude\"\nprogram = \"{program}\"\nenv_clear = true\nenv = {{ PATH = \"{}:/usr/bin:/bin\", HOME = \"{}\" {extra} }}\n[kinds.other]\nroutes = []\nmodels = [\"opus\"]\n",
            self.path("bin").display(),
            self.path("user").display()
        );
        config::parse(&self.path("agentlane.toml"), &text).unwrap()
    }

    async fn check(
        &self,
        pf: &Preflight,
        cfg: &config::Config,
        kind: Option<&str>,
    ) -> PreflightChecked {
        let kind = kind.map(|k| &cfg.kinds[k]);
        pf.check(
            &self.dispatcher,
            cfg,
            &cfg.routes["r"],
            kind,
            Options::default(),
        )
        .await
        .unwrap()
    }

    async fn dispatch_count(&self) -> usize {
        self.store.recent_dispatches(0).await.unwrap().len()
    }
}

fn preflight() -> Preflight {
    Preflight::new(config::PreflightSettings::default())
}

const CLI: &str = "#!/bin/sh\ncase \"$1\" in --version) echo '2.1.0 (fake)';; *) echo ok;; esac\n";

#[tokio::test]
async fn a_missing_cli_is_not_resolvable() {
    let w = World::new();
    let r = w
        .check(&preflight(), &w.config("claude-not-installed", ""), None)
        .await;
    assert!(!r.cli_resolves && !r.cli_ready && r.route_allowed);
    assert_eq!(r.classifier, Some(Class::CliMissing));
    assert!(r
        .repair_hint
        .unwrap()
        .contains("is not on this process's PATH"));
    assert!(
        r.probe_dispatches.is_empty(),
        "nothing is spawned for a missing CLI"
    );
}

#[tokio::test]
async fn an_npm_shim_without_node_is_interpreter_missing() {
    let w = World::new();
    w.script("claude", "#!/usr/bin/env node-not-on-this-path\n");
    let r = w.check(&preflight(), &w.config("claude", ""), None).await;
    assert!(!r.cli_resolves);
    assert_eq!(r.classifier, Some(Class::InterpreterMissing));
}

#[tokio::test]
async fn no_credentials_is_auth_unavailable_with_the_home_named() {
    let w = World::new();
    w.script("claude", CLI);
    let r = w.check(&preflight(), &w.config("claude", ""), None).await;
    assert!(r.cli_resolves && !r.cli_ready, "{r:?}");
    assert_eq!(r.classifier, Some(Class::AuthUnavailable));
    let hint = r.repair_hint.unwrap();
    assert!(
        hint.contains(&format!("HOME={}", w.path("user").display())),
        "{hint}"
    );
    assert!(hint.contains("ANTHROPIC_API_KEY"), "{hint}");
    assert_eq!(
        r.probe_dispatches.len(),
        1,
        "the version command ran through the dispatcher"
    );
}

#[tokio::test]
async fn credentials_by_variable_or_file_make_it_ready() {
    let w = World::new();
    w.script("claude", CLI);
    let r = w
        .check(
            &preflight(),
            &w.config(
                "claude",
                ", ANTHROPIC_API_KEY = \"sk-ant-test-0000000000000000\"",
            ),
            None,
        )
        .await;
    assert!(r.passed(), "{r:?}");
    assert_eq!(r.classifier, None);
    std::fs::create_dir_all(w.path("user/.claude")).unwrap();
    std::fs::write(w.path("user/.claude/.credentials.json"), "{}").unwrap();
    let r = w.check(&preflight(), &w.config("claude", ""), None).await;
    assert!(r.passed(), "{r:?}");
}

#[tokio::test]
async fn a_broken_config_file_is_config_invalid_with_its_position() {
    let w = World::new();
    w.script("claude", CLI);
    std::fs::create_dir_all(w.path("user/.claude")).unwrap();
    std::fs::write(
        w.path("user/.claude/settings.json"),
        "{\n  \"model\": \"sonnet\",\n  oops\n}\n",
    )
    .unwrap();
    let r = w.check(&preflight(), &w.config("claude", ""), None).await;
    assert_eq!(r.classifier, Some(Class::ConfigInvalid));
    assert!(r.evidence.unwrap().contains("settings.json:3:3"));
}

#[tokio::test]
async fn a_failing_version_command_is_not_ready() {
    let w = World::new();
    w.script(
        "claude",
        "#!/bin/sh\necho 'segfault in the updater' >&2\nexit 3\n",
    );
    let r = w
        .check(
            &preflight(),
            &w.config(
                "claude",
                ", ANTHROPIC_API_KEY = \"sk-ant-test-0000000000000000\"",
            ),
            None,
        )
        .await;
    assert!(r.cli_resolves && !r.cli_ready);
    assert_eq!(r.classifier, Some(Class::UnknownExit(3)));
    assert!(r.evidence.unwrap().contains("segfault in the updater"));
}

#[tokio::test]
async fn policy_decides_route_allowed_for_a_kind() {
    let w = World::new();
    w.script("claude", CLI);
    let cfg = w.config(
        "claude",
        ", ANTHROPIC_API_KEY = \"sk-ant-test-0000000000000000\"",
    );
    let r = w.check(&preflight(), &cfg, Some("other")).await;
    assert!(r.cli_resolves && r.cli_ready && !r.route_allowed);
    assert_eq!(r.classifier, Some(Class::RouteNotAllowed));
}

#[tokio::test]
async fn a_cached_check_spawns_nothing_until_an_input_changes() {
    let w = World::new();
    let exe = w.script("claude", CLI);
    let cfg = w.config(
        "claude",
        ", ANTHROPIC_API_KEY = \"sk-ant-test-0000000000000000\"",
    );
    let pf = preflight();
    let first = w.check(&pf, &cfg, None).await;
    assert!(!first.cached && first.passed());
    let after_first = w.dispatch_count().await;
    assert_eq!(after_first, 1);

    let second = w.check(&pf, &cfg, None).await;
    assert!(second.cached);
    assert_eq!(
        w.dispatch_count().await,
        after_first,
        "a cache hit spawns no probe"
    );

    // The executable changes (reinstalled): the cache is invalid.
    std::fs::write(&exe, format!("{CLI}# reinstalled\n")).unwrap();
    let third = w.check(&pf, &cfg, None).await;
    assert!(!third.cached);
    assert_eq!(w.dispatch_count().await, after_first + 1);

    // The configuration changes: invalid again.
    let cfg2 = w.config(
        "claude",
        ", ANTHROPIC_API_KEY = \"sk-ant-test-0000000000000000\", X = \"1\"",
    );
    let fourth = w.check(&pf, &cfg2, None).await;
    assert!(!fourth.cached);

    // A credential file appears: invalid again.
    std::fs::create_dir_all(w.path("user/.claude")).unwrap();
    std::fs::write(w.path("user/.claude/.credentials.json"), "{}").unwrap();
    assert!(!w.check(&pf, &cfg2, None).await.cached);
    assert!(w.check(&pf, &cfg2, None).await.cached);
}

#[tokio::test]
async fn every_fresh_check_is_recorded_as_an_event() {
    let w = World::new();
    let cfg = w.config("claude-not-installed", "");
    let pf = preflight();
    w.check(&pf, &cfg, None).await;
    w.check(&pf, &cfg, None).await; // cached: not recorded again
    let events = w.store.recent_events("preflight_checked", 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body["cli_resolves"], false);
    assert_eq!(events[0].body["classifier"], "cli_missing");
}
