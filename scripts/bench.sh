#!/usr/bin/env bash
# Whole-command benchmarks for docs/performance.md (hyperfine, from Debian).
# Usage: scripts/bench.sh [exec|capture|queue|all]   (needs: apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install hyperfine" >&2; exit 64; }
cargo build --release --workspace --locked -q
A="$PWD/target/release/agentlane"
F="$PWD/target/release/fake-agent"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
what=${1:-all}

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
  python3 - "$work/jobs.jsonl" "$work/storm.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write(json.dumps({"kind": "k", "lane": "main", "prompt": "job %d" % i}) + "\n")
with open(sys.argv[2], "w") as f:
    for i in range(10000):
        f.write(json.dumps({"kind": "storm", "lane": "main", "prompt": "job %d" % i}) + "\n")
PY
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
