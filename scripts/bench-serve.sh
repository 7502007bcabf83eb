#!/usr/bin/env bash
# Benchmarks of `agentlane serve` (issue 18) for docs/performance.md:
#   list    the job list's latency (p50/p90/p99/max, req/s; wrk --latency) with 100k jobs,
#           on SQLite and PostgreSQL: the first page, a filtered page, a page 50,000 deep
#   fanout  workers draining /bin/true jobs alone, then beside `agentlane serve` with 50 SSE
#           clients, alternating pairs: the slowdown, and whether every client got every event
# Usage: scripts/bench-serve.sh [list|fanout|all]
# Needs: wrk (apt-get install wrk), python3, psql for PostgreSQL. Helpers: scripts/bench-serve/.
# Environment (defaults in brackets):
#   PG_SERVER [postgres://postgres@127.0.0.1:5432]  a user that may create databases; the
#       runs use private databases agentlane_bench_serve_<pid>_*, dropped at the end
#   STORES ["sqlite pg"]  list: stores (pg is skipped when PostgreSQL does not answer)
#   JOBS [100000] WRK_DURATION [10s] WRK_CONNECTIONS ["1 4"] ROUNDS [2]
#   BEFORE_AGENTLANE  another binary to compare with, side by side: list serves a copy of the
#       same rows with it; fanout runs both sides with it too (bare-before, serve-before)
#   FANOUT_STORES [sqlite] FANOUT_JOBS [6000] WORKERS [2] CONCURRENCY [2] PAIRS [3] CLIENTS [50]
#   AGENTLANE [target/release/agentlane]  BUILD [1]  0 uses the binary as it is
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
what=${1:-all}
case "$what" in list | fanout | all) ;; *) sed -n 2,18p "$0" >&2; exit 64 ;; esac
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 64; }
if [ "${BUILD:-1}" = 1 ]; then cargo build --release -p agentlane-cli --locked -q; fi
A=$(readlink -f "${AGENTLANE:-target/release/agentlane}")
[ -x "$A" ] || { echo "no agentlane binary at $A" >&2; exit 66; }
export PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PG_SERVER=${PG_SERVER%/}
unset AGENTLANE_STORE AGENTLANE_CONFIG AGENTLANE_HOME AGENTLANE_TOKEN
if ! psql -qX "$PG_SERVER/postgres" -c "SELECT 1" >/dev/null 2>&1; then
  echo "PostgreSQL does not answer at $PG_SERVER: SQLite only" >&2
  export STORES=${STORES:-sqlite}; STORES=${STORES//pg/}; FANOUT_STORES=${FANOUT_STORES:-sqlite}
  export FANOUT_STORES=${FANOUT_STORES//pg/}
fi
W=$(mktemp -d /tmp/bench-serve.XXXXXX)
cleanup() {
  for db in $(psql -qAtX "$PG_SERVER/postgres" -c "SELECT datname FROM pg_database WHERE datname LIKE 'agentlane_bench_serve_%'" 2>/dev/null); do
    psql -qX "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$W"
}
trap cleanup EXIT
echo "date: $(date -u +%FT%TZ)  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "agentlane: $A ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))  wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "postgres: $(psql -qAtX "$PG_SERVER/postgres" -c 'SHOW server_version' 2>/dev/null || echo none)  loadavg at start: $(cat /proc/loadavg)"
cd "$W"  # no ./agentlane.toml is found here
if [ "$what" = list ] || [ "$what" = all ]; then python3 "$REPO/scripts/bench-serve/list.py" "$A" "$W"; fi
if [ "$what" = fanout ] || [ "$what" = all ]; then python3 "$REPO/scripts/bench-serve/fanout.py" "$A" "$W"; fi
echo "loadavg at end: $(cat /proc/loadavg)"
