//! A private PostgreSQL cluster for the tests that restart the server: the
//! shared one must not be disturbed. initdb into a temporary directory,
//! pg_ctl on a free loopback port with the socket in that directory; as
//! user `postgres` (via runuser) when the tests run as root, since initdb
//! refuses root. Stopped (immediate) and removed when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::harness::{free_port, try_psql, wait_for};

/// Where initdb and pg_ctl are: `AGENTLANE_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`, else whatever PATH has.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENTLANE_TEST_PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_default()
}

pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    /// Server options beyond the defaults (`-c name=value ...`).
    extra: String,
}

impl Cluster {
    pub fn start() -> Cluster {
        Cluster::start_with("", |_| {})
    }

    /// A cluster started with `extra` server options, after `prepare` has
    /// written what they need into the data directory (files it writes are
    /// given to the server's user).
    pub fn start_with(extra: &str, prepare: impl FnOnce(&std::path::Path)) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let pw = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .expect("running as root: the private cluster needs a 'postgres' user");
            std::os::unix::fs::chown(dir.path(), Some(pw.uid.as_raw()), Some(pw.gid.as_raw()))
                .unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let cluster = Cluster {
            dir,
            port: free_port(),
            bin: pg_bin(),
            as_postgres,
            extra: extra.to_string(),
        };
        let data = cluster.data();
        let out = cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        prepare(&data);
        if cluster.as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .output()
                .expect("chown");
            assert!(out.status.success(), "chown the data directory");
        }
        cluster.pg_ctl(&["start"]);
        cluster.wait_ready();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let exe = if exe.exists() {
            exe
        } else {
            PathBuf::from(tool)
        };
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{tool} does not run: {e}"))
    }

    /// `pg_ctl ACTION ... -w` with the cluster's options.
    pub fn pg_ctl(&self, action: &[&str]) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 {}",
            self.port,
            self.dir.path().display(),
            self.extra
        );
        let data = self.data();
        let log = self.log();
        let mut args = action.to_vec();
        args.extend([
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
            "-t",
            "60",
        ]);
        let out = self.run("pg_ctl", &args);
        assert!(
            out.status.success(),
            "pg_ctl {action:?}: {}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    /// `pg_ctl restart -m MODE` (fast or immediate), waiting until it answers.
    pub fn restart(&self, mode: &str) {
        self.pg_ctl(&["restart", "-m", mode]);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        wait_for(
            "the private cluster to answer",
            std::time::Duration::from_secs(30),
            std::time::Duration::from_millis(100),
            || try_psql(&self.url(), "SELECT 1").ok(),
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run(
            "pg_ctl",
            &[
                "stop",
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
            ],
        );
    }
}
