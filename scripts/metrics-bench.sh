#!/usr/bin/env bash
# How long one /metrics scrape takes with 100,000 jobs in the store
# (docs/performance.md, issue 18). Usage: scripts/metrics-bench.sh [sqlite|pg]
# The store is filled with `enqueue --jsonl` (100,000 jobs, one transaction),
# then their states are spread in SQL (90% succeeded, 5% failed, 2% parked by
# two classes, the rest queued), with 10,000 preflight events over 3 routes and
# 20 open incidents; `agentlane serve` (release build) is scraped with curl,
# 5 warm-up scrapes then SCRAPES (default 200) timed ones; prints the median
# and p99 in ms. `pg` uses $AGENTLANE_BENCH_POSTGRES (a server URL without
# a database, default postgres://postgres@127.0.0.1:5432) in a private
# database, dropped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-sqlite}
N=${JOBS:-100000}
SCRAPES=${SCRAPES:-200}
cargo build --release -p agentlane-cli -q
A="$PWD/target/release/agentlane"
work=$(mktemp -d)
PG_SERVER=${AGENTLANE_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
PG_DB="agentlane_metrics_bench_$$"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; fi
  if [ "$mode" = pg ]; then
    psql -qX "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/agentlane.toml" <<TOML
[routes.r1]
program = "/bin/true"
[routes.r2]
program = "/bin/true"
[routes.r3]
program = "/bin/true"
[kinds.k]
routes = ["r1", "r2", "r3"]
[lanes.main]
routes = ["r1", "r2", "r3"]
[lanes.side]
routes = ["r1", "r2", "r3"]
TOML
store=()
if [ "$mode" = pg ]; then
  psql -qX "$PG_SERVER/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null
  store=(--store "$PG_SERVER/$PG_DB")
fi
al() { "$A" --home "$work/home" --config "$work/agentlane.toml" "${store[@]}" "$@"; }
[ "$mode" = pg ] && al migrate >/dev/null
python3 - "$N" > "$work/jobs.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"kind": "k", "lane": "main" if i % 4 else "side",
                      "route": "r%d" % (i % 3 + 1), "prompt": "job %d" % i}))
PY
al enqueue --jsonl "$work/jobs.jsonl" >/dev/null
spread="
UPDATE jobs SET state = CAST(CASE
    WHEN n % 100 < 90 THEN 'succeeded' WHEN n % 100 < 95 THEN 'failed'
    WHEN n % 100 < 97 THEN 'parked' ELSE 'queued' END AS STATE_TYPE),
  classifier = CASE WHEN n % 100 >= 90 AND n % 100 < 97 THEN
    (CASE WHEN n % 2 = 0 THEN 'cli_missing' ELSE 'rate_limited' END) END,
  finished_at = CASE WHEN n % 100 < 95 THEN created_at END
FROM (SELECT id AS jid, row_number() OVER (ORDER BY id) AS n FROM jobs) AS numbered
WHERE jobs.id = numbered.jid;"
incidents() { # $1: the SQL of one incident's insert, with NNN for its number
  for i in $(seq 20); do echo "${1//NNN/$i};"; done
}
incident_sql="INSERT INTO incidents (id, failure_fingerprint, classifier, repair_address, priority, host, repair_hint)
  VALUES ('inc-NNN', 'fp-NNN', 'cli_missing', 'runtime', 1, 'h', 'install it')"
preflight() { # 10,000 preflight_checked events over 3 routes
  python3 - <<'PY'
import json
for i in range(10000):
    body = {"kind": "preflight_checked", "route": "r%d" % (i % 3 + 1), "host": "h",
            "cli_resolves": True, "cli_ready": i % 7 != 0, "route_allowed": True,
            "job_kind": None, "classifier": None, "repair_hint": None, "evidence": None,
            "cli_path": None, "env_fingerprint": "e", "checks": [], "probe_dispatches": [], "cached": False}
    print("INSERT INTO events (kind, body) VALUES ('preflight_checked', '%s');" % json.dumps(body))
PY
}
if [ "$mode" = pg ]; then
  spread=${spread//STATE_TYPE/job_state}
  { echo "$spread"; incidents "$incident_sql"; preflight; } | psql -qX -v ON_ERROR_STOP=1 "$PG_SERVER/$PG_DB" >/dev/null
  psql -qX "$PG_SERVER/$PG_DB" -c "ANALYZE" >/dev/null
else
  spread=${spread//STATE_TYPE/TEXT}
  { echo "$spread"; incidents "$incident_sql"; preflight; echo "ANALYZE;"; } | sqlite3 -bail "$work/home/agentlane.db"
fi
# Not through `al`: $! must be the server's own pid, for the cleanup's kill.
"$A" --home "$work/home" --config "$work/agentlane.toml" "${store[@]}" \
  serve --listen 127.0.0.1:0 2> "$work/serve.log" > /dev/null &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url="$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)/metrics"
curl -sf "$url" | grep -E '^agentlane_jobs\{lane="main"' | head -3
for _ in $(seq 5); do curl -sf -o /dev/null "$url"; done
for _ in $(seq "$SCRAPES"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n |
  awk -v mode="$mode" -v n="$N" '{ t[NR] = $1 * 1000 } END {
    printf "%s, %d jobs, %d scrapes: median %.2f ms, p99 %.2f ms, max %.2f ms\n",
      mode, n, NR, t[int(NR * 0.5)], t[int(NR * 0.99)], t[NR] }'
