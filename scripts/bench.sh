#!/usr/bin/env bash
# Whole-command benchmarks for docs/performance.md (hyperfine, from Debian).
# Usage: scripts/bench.sh [exec|capture|queue|pg|otel|all]   (needs: apt-get install hyperfine)
# `pg` (part of `all`, skipped there when no server answers) needs a PostgreSQL server
# whose user may create databases: $AGENTLANE_BENCH_POSTGRES, the server's URL without a
# database (default postgres://postgres@127.0.0.1:5432). It works in a private database,
# agentlane_bench_<pid>, recreated before every run and dropped on exit. BENCH_RUNS=N
# changes its number of runs per command (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case "$what" in
  exec | capture | queue | pg | otel | all) ;;
  *) echo "usage: scripts/bench.sh [exec|capture|queue|pg|otel|all]" >&2; exit 64 ;;
esac
command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install hyperfine" >&2; exit 64; }
cargo build --release --workspace --locked -q
A="$PWD/target/release/agentlane"
F="$PWD/target/release/fake-agent"
work=$(mktemp -d)
PG_SERVER=${AGENTLANE_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
PG_QUERY=""  # a query string (?options=...) applies to every connection
case "$PG_SERVER" in *\?*) PG_QUERY="?${PG_SERVER#*\?}"; PG_SERVER=${PG_SERVER%%\?*} ;; esac
PG_SERVER=${PG_SERVER%/}
PG_DB="agentlane_bench_$$"
pg_used=""
cleanup() {
  if [ -n "$pg_used" ]; then
    psql -qX "$PG_SERVER/postgres$PG_QUERY" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
      echo "could not drop database $PG_DB: drop it by hand" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The queue benchmarks' configuration and job files (modes queue and pg).
write_queue_files() {
  [ -f "$work/queue.toml" ] && return 0
  cat > "$work/queue.toml" <<EOF
[queue]
poll = "20ms"
[routes.true]
profile = "generic"
program = "/bin/true"
[routes.throttled]
profile = "generic"
program = "$F"
args = ["--stderr", "Error: 429 Too Many Requests", "--exit", "1"]
[retry.rate_limited]
action = "fail"
[kinds.k]
routes = ["true"]
[kinds.storm]
routes = ["throttled"]
[lanes.main]
EOF
  python3 - "$work/jobs.jsonl" "$work/storm.jsonl" "$work/enqueue.jsonl" <<'PY'
import json, sys
def write(path, n, kind):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"kind": kind, "lane": "main", "prompt": "job %d" % i}) + "\n")
write(sys.argv[1], 2000, "k")
write(sys.argv[2], 10000, "storm")
write(sys.argv[3], 10000, "k")
PY
}

if [ "$what" = exec ] || [ "$what" = all ]; then
  echo "== added latency of agentlane exec over the bare command"
  "$A" --home "$work/h" exec -- /bin/true  # create the home and database first
  hyperfine -N --warmup 50 --runs 1000 \
    "/bin/true" \
    "$A --home $work/h exec -- /bin/true"
fi

if [ "$what" = capture ] || [ "$what" = all ]; then
  echo "== capture of 1 GiB: straight to a file, through cat, through agentlane"
  hyperfine --warmup 1 --runs 10 -p "rm -rf $work/out $work/h/artifacts/*; sync" \
    "$F --spew 1G > $work/out" \
    "$F --spew 1G | cat > $work/out" \
    "$A --home $work/h exec --json -- $F --spew 1G"
  echo "== peak RSS (VmHWM) of the agentlane process: capturing 2 GiB, then idle"
  for cmd in "$F --spew 2G" "/bin/sleep 1"; do
    rm -rf "$work"/h/artifacts/*
    "$A" --home "$work/h" exec --json -- $cmd > /dev/null &
    pid=$!
    hwm=""
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status" 2>/dev/null || true)
      sleep 0.05
    done
    wait "$pid" || true
    echo "$cmd: $hwm"
  done
fi

if [ "$what" = queue ] || [ "$what" = all ]; then
  echo "== queue throughput: 2000 trivial jobs (/bin/true route), one worker with concurrency 2, every event recorded"
  write_queue_files
  Q="$A --home $work/q --config $work/queue.toml"
  hyperfine --warmup 1 --runs 5 \
    --prepare "rm -rf $work/q && $Q enqueue --jsonl $work/jobs.jsonl > /dev/null" \
    "$Q worker --lane main --concurrency 2 --drain" \
    --prepare "true" "seq 2000 | xargs -P2 -I{} /bin/true" \
    --prepare "true" "seq 2000 | parallel -j2 /bin/true"
  echo "== failure storm: 10000 jobs failing with one fingerprint (rate_limited, action fail)"
  rm -rf "$work/q"
  $Q enqueue --jsonl "$work/storm.jsonl" > /dev/null
  start=$(date +%s.%N)
  $Q worker --lane main --concurrency 2 --drain 2>/dev/null
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'10000 failures in {s:.2f} s = {10000/s:.0f} failures/s')" "$start" "$end"
  $Q incidents --json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(len(v), "incident(s):", [(i["classifier"], i["affected_jobs"], i["occurrences"]) for i in v])'
  $Q status --json | python3 -c 'import json,sys; v=json.load(sys.stdin); print("jobs by state:", [(l["state"], l["count"]) for l in v["lanes"]])'
fi

if [ "$what" = otel ] || [ "$what" = all ]; then
  echo "== the worker's cost of job traces: 2000 trivial jobs, traces off / exported to a local OTLP receiver / to a port nothing listens on"
  write_queue_files
  # A minimal OTLP/HTTP receiver (answers 200 to every POST; the spans are discarded).
  python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' 14318 &
  receiver=$!
  Q="$A --home $work/q --config $work/queue.toml"
  prep="rm -rf $work/q && $Q enqueue --jsonl $work/jobs.jsonl > /dev/null"
  hyperfine --warmup 1 --runs "${BENCH_RUNS:-5}" \
    --prepare "$prep" -n "traces off" "env -u OTEL_EXPORTER_OTLP_ENDPOINT $Q worker --lane main --concurrency 2 --drain" \
    --prepare "$prep" -n "traces to a receiver" "env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318 $Q worker --lane main --concurrency 2 --drain" \
    --prepare "$prep" -n "traces to nothing" "env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14319 $Q worker --lane main --concurrency 2 --drain"
  kill "$receiver"
fi

if [ "$what" = pg ] || [ "$what" = all ]; then
  if ! command -v psql >/dev/null || ! psql -qX "$PG_SERVER/postgres$PG_QUERY" -c "SELECT 1" >/dev/null 2>&1; then
    echo "PostgreSQL does not answer at $PG_SERVER (set AGENTLANE_BENCH_POSTGRES, or install psql)" >&2
    [ "$what" = pg ] && exit 69
    echo "== skipping the PostgreSQL benchmarks"
  else
    write_queue_files
    runs=${BENCH_RUNS:-5}
    pg_used=1
    PGURL="$PG_SERVER/$PG_DB$PG_QUERY"
    QP="$A --home $work/hp --config $work/queue.toml --store '$PGURL'"  # a shell command line
    QS="$A --home $work/hs --config $work/queue.toml"
    # fresh-pg / fresh-sqlite [JSONL]: an empty, migrated store (and its home), then the jobs.
    # The previous run's home is moved aside, not deleted, until the end: on an ext4 without
    # a journal, creating files next to thousands of just-deleted inodes scans them all,
    # and the runs would measure that instead of agentlane.
    mkdir -p "$work/old"
    cat > "$work/fresh-pg" <<EOF
#!/bin/sh
set -e
[ ! -d $work/hp ] || mv $work/hp $work/old/hp.\$\$
psql -qX "$PG_SERVER/postgres$PG_QUERY" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
$QP migrate >/dev/null
[ -z "\${1:-}" ] || $QP enqueue --jsonl "\$1" >/dev/null
EOF
    cat > "$work/fresh-sqlite" <<EOF
#!/bin/sh
set -e
[ ! -d $work/hs ] || mv $work/hs $work/old/hs.\$\$
$QS migrate >/dev/null
[ -z "\${1:-}" ] || $QS enqueue --jsonl "\$1" >/dev/null
EOF
    # workers N AGENTLANE-ARGS...: N worker processes at once, each with
    # concurrency $WORKER_CONCURRENCY (default 2), until the lane is drained;
    # fails if any of them fails.
    cat > "$work/workers" <<'EOF'
#!/bin/sh
n=$1; shift
pids=""
i=0
while [ "$i" -lt "$n" ]; do
  "$@" worker --lane main --concurrency "${WORKER_CONCURRENCY:-2}" --drain 2>>"${0%/*}/workers.log" &
  pids="$pids $!"
  i=$((i + 1))
done
rc=0
for p in $pids; do wait "$p" || rc=$?; done
exit "$rc"
EOF
    chmod +x "$work/fresh-pg" "$work/fresh-sqlite" "$work/workers"

    echo "== queue throughput on PostgreSQL and SQLite: 2000 trivial jobs (/bin/true route), 1, 2 and 4 worker processes (concurrency 2 each; and 2 with concurrency 8), every event recorded; the bare spawn limit (xargs)"
    set --
    for n in 1 2 4; do
      set -- "$@" -n "postgres, $n worker process(es)" --prepare "$work/fresh-pg $work/jobs.jsonl" "$work/workers $n $QP"
    done
    # The same two processes with more jobs in flight each: claims batch, the CPU idles less.
    set -- "$@" -n "postgres, 2 worker processes, concurrency 8 each" --prepare "$work/fresh-pg $work/jobs.jsonl" "WORKER_CONCURRENCY=8 $work/workers 2 $QP"
    for n in 1 2 4; do
      set -- "$@" -n "sqlite (one file), $n worker process(es)" --prepare "$work/fresh-sqlite $work/jobs.jsonl" "$work/workers $n $QS"
    done
    for p in 2 4; do
      set -- "$@" -n "seq 2000 | xargs -P$p -I{} /bin/true" --prepare true "seq 2000 | xargs -P$p -I{} /bin/true"
    done
    hyperfine --warmup 1 --runs "$runs" --export-json "$work/pg-queue.json" "$@" ||
      { echo "a run failed; the workers said:" >&2; tail -n 20 "$work/workers.log" >&2; exit 1; }
    # The last run of each store must have settled every job.
    for q in "$QP" "$QS"; do
      sh -c "$q status --json" | python3 -c 'import json,sys; v=json.load(sys.stdin); s={l["state"]: l["count"] for l in v["lanes"]}; assert s == {"succeeded": 2000}, s; print("last run, jobs by state:", s)'
    done

    echo "== enqueue throughput: agentlane enqueue --jsonl of 10,000 jobs into an empty store"
    hyperfine --warmup 1 --runs "$runs" --export-json "$work/pg-enqueue.json" \
      -n "postgres: enqueue --jsonl (10,000 jobs)" --prepare "$work/fresh-pg" "$QP enqueue --jsonl $work/enqueue.jsonl" \
      -n "sqlite: enqueue --jsonl (10,000 jobs)" --prepare "$work/fresh-sqlite" "$QS enqueue --jsonl $work/enqueue.jsonl"

    python3 - "$work/pg-queue.json" "$work/pg-enqueue.json" <<'PY'
import json, sys
def table(path, jobs, title, base=None):
    results = json.load(open(path))["results"]
    ref = next((r["mean"] for r in results if base and base in r["command"]), None)
    print(f"\n{title}\n")
    print("| command | mean ± σ | jobs/s | user + sys CPU per job (this process tree) |" + (" % of xargs -P2 |" if ref else ""))
    print("| --- | --- | --- | --- |" + (" --- |" if ref else ""))
    for r in results:
        rate = jobs / r["mean"]
        cpu = (r["user"] + r["system"]) / jobs * 1e3
        sd = r["stddev"] or 0.0  # null after a single run
        name = r["command"].replace("|", "\\|")
        line = f"| {name} | {r['mean']:.3f} s ± {sd:.3f} | {rate:.0f} | {cpu:.2f} ms |"
        if ref:
            line += f" {ref / r['mean'] * 100:.0f}% |"
        print(line)
table(sys.argv[1], 2000, "2000 trivial jobs (jobs/s = 2000 / mean):", "xargs -P2")
table(sys.argv[2], 10000, "enqueue of 10,000 jobs (jobs/s = 10000 / mean):")
PY
  fi
fi
