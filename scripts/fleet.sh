#!/usr/bin/env bash
# A fleet on one PostgreSQL (issue 19): N worker processes (as N hosts would run them) against a
# private PostgreSQL cluster, optionally through PgBouncer, with jobs that sleep. Reports:
#   idle    the server's CPU per idle worker-second (workers started, the lane empty)
#   run     wall time against the ideal (ceil(jobs / slots) x sleep), connections at peak
#           (pg_stat_activity, the workers' role), the server's CPU per job, the workers' CPU
#   verdict every job ran exactly once (fake-agent's run log: one start and one end each, exit
#           0, the store says succeeded on attempt 1), and what the server's log and the
#           workers' logs say about refused connections, outages and lost leases
# Usage: scripts/fleet.sh            (settings from the environment, defaults in brackets)
#   WORKERS [100] CONCURRENCY [10] JOBS [3000] SLEEP [2] (seconds a job sleeps)
#   MAX_CONNECTIONS [100] (the private server's max_connections)
#   POOLER [none]: none (workers connect to the server) or transaction (PgBouncer in
#       transaction pooling; POOL_SIZE [20] server connections; the URL gets pool_mode=transaction)
#   STORE_QUERY [] more URL parameters for the workers, e.g. "max_connections=2"
#   IDLE [20] seconds of the idle measurement   CONFIG_EXTRA [] TOML appended to agentlane.toml
#   AGENTLANE [target/release/agentlane] FAKE_AGENT [next to it]  BUILD [1]  0: use them as they are
#   KEEP [0]  1 keeps the working directory (logs, run log, the cluster's log) and says where
#   STATS [0]  1 loads pg_stat_statements and prints the idle phase's statements by server time
# Needs: PostgreSQL's initdb and pg_ctl (Debian: postgresql), pgbouncer for POOLER=transaction,
# python3. As root the cluster and PgBouncer run as user postgres (they refuse root).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
if [ "${BUILD:-1}" = 1 ]; then cargo build --release -p agentlane-cli -p fake-agent --locked -q; fi
A=$(readlink -f "${AGENTLANE:-target/release/agentlane}")
F=$(readlink -f "${FAKE_AGENT:-$(dirname "$A")/fake-agent}")
[ -x "$A" ] || { echo "no agentlane binary at $A" >&2; exit 66; }
[ -x "$F" ] || { echo "no fake-agent binary at $F" >&2; exit 66; }
unset AGENTLANE_STORE AGENTLANE_CONFIG AGENTLANE_HOME AGENTLANE_TOKEN OTEL_EXPORTER_OTLP_ENDPOINT
# The fleet's processes (100 workers, 1,000 agents) need descriptors and processes.
ulimit -n 65536 2>/dev/null || true
echo "date: $(date -u +%FT%TZ)  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "agentlane: $A ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))  loadavg at start: $(cat /proc/loadavg)"
exec python3 "$REPO/scripts/fleet/fleet.py" "$A" "$F"
