//! A worker kind's user (issue 15's security defect): a kind that names a
//! user who does not exist on this host refuses the worker with the name and
//! the fix, and no agent runs — never the agent as the worker's own user (as
//! root, when the worker is root).

mod common;

use common::*;

#[test]
fn a_worker_kind_whose_user_does_not_exist_refuses_and_runs_nothing() {
    let sb = Sandbox::new();
    let marker = sb.path("agent-ran");
    write_exe(
        &sb.path("agent.sh"),
        &format!("#!/bin/sh\ntouch '{}'\necho done\n", marker.display()),
        0o755,
    );
    let config = sb.path("agentlane.toml");
    std::fs::write(
        &config,
        format!(
            "[routes.r]\nprofile = \"generic\"\nprogram = \"{}\"\n\n[kinds.k]\nroutes = [\"r\"]\n\n[lanes.main]\nroutes = [\"r\"]\n\n[workers.svc]\nuser = \"nosuchuser-agentlane\"\n",
            sb.path("agent.sh").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = sb.run(&[
        "--config", config, "enqueue", "--kind", "k", "--lane", "main", "--prompt", "hello",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sb.run(&[
        "--config",
        config,
        "worker",
        "--lane",
        "main",
        "--worker-kind",
        "svc",
        "--drain",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("'nosuchuser-agentlane'")
            && stderr.contains("[workers.svc]")
            && stderr.contains(config),
        "the error names the user, where to fix it and the file: {stderr}"
    );
    assert!(!marker.exists(), "no agent ran");

    // The job is still queued, untouched, for a worker that can run it.
    let out = sb.run(&["--config", config, "jobs", "--json"]);
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("jobs --json");
    let jobs = jobs
        .as_array()
        .or_else(|| jobs["jobs"].as_array())
        .expect("a list");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["state"], "queued", "{jobs:?}");
    assert_eq!(jobs[0]["attempts"], 0, "{jobs:?}");

    // The same kind with a user who exists runs it.
    let ok_config = std::fs::read_to_string(config)
        .unwrap()
        .replace("nosuchuser-agentlane", &whoami());
    std::fs::write(config, ok_config).unwrap();
    let out = sb.run(&[
        "--config",
        config,
        "worker",
        "--lane",
        "main",
        "--worker-kind",
        "svc",
        "--drain",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(marker.exists(), "the agent ran as an existing user");
}

fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .expect("the test's own user has a name")
}
