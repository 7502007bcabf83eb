//! Chaos proofs of the queue on PostgreSQL (issue 7): real `agentlane
//! worker` processes against a real server, with fake-agent writing a run
//! log (job, attempt, pid, worker pid, start, end) in which any overlap of
//! two runs of one job is a double run.
//!
//! - [`racing`]: 8 workers racing over 10,000 jobs run each exactly once.
//! - [`killed`]: `kill -9` of a worker mid-job; its agents die with it, the
//!   jobs are rescued as `worker_lost` and re-run.
//! - [`partition`]: a loopback TCP proxy cuts one worker off; it stops its
//!   agent before its lease expires, and its late settlement is rejected.
//! - [`restart`]: a private PostgreSQL cluster restarted (fast, immediate)
//!   while workers drain.
//! - [`terminate`]: backends terminated with `pg_terminate_backend`.
//! - [`leader`]: the maintenance leader killed, then stopped; another worker
//!   takes over within a lease and rescues expired leases.
//! - [`storm`]: 10,000 identical failures from 4 workers make one incident.
//! - [`tls`]: TLS with libpq's `sslmode`, against a cluster with a test CA.
//! - [`bouncer`]: workers drain a lane through PgBouncer in session pooling.
//! - [`saturated`]: the server out of connection slots mid-run; leases are
//!   renewed on the kept connection, settlements wait, nothing is lost.
//!
//! The tests run one at a time ([`harness::serial`]): they measure time
//! against leases on a two-core machine.
//!
//! Server: `AGENTLANE_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`), a fresh schema per test; the
//! tests that need it skip where it does not answer, or fail under
//! `AGENTLANE_REQUIRE_PG=1` ([`pg::server`]). The
//! restart tests start their own cluster with initdb/pg_ctl
//! (`AGENTLANE_TEST_PG_BIN` names their directory; default: the newest
//! `/usr/lib/postgresql/*/bin`), as user `postgres` when run as root.

mod cluster;
mod harness;
#[path = "../common/pg.rs"]
mod pg;
mod proxy;
mod runlog;
mod verdict;

mod bouncer;
mod killed;
mod leader;
mod partition;
mod racing;
mod restart;
mod saturated;
mod storm;
mod terminate;
mod tls;
