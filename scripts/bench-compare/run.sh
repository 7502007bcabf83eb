#!/usr/bin/env bash
# Side-by-side before/after benchmark for issue 15 (exec latency, queue throughput on
# SQLite and PostgreSQL), modelled on scripts/bench.sh (exec, queue, pg).
#
# Usage: run.sh BEFORE_AGENTLANE BEFORE_FAKE_AGENT AFTER_AGENTLANE AFTER_FAKE_AGENT [OUTDIR]
#
# Environment (defaults in brackets):
#   EXEC_RUNS [1000]   hyperfine runs per command, per block; two blocks (order A,B then B,A)
#   EXEC_WARMUP [50]
#   JOBS [2000]        trivial /bin/true jobs per queue run
#   REPS [6]           queue pairs; each pair runs both binaries, order alternating AB, BA, ...
#   SCENARIOS ["sqlite:1 pg:2"]  store:worker-processes; each worker --concurrency 2 --drain
#   CONCURRENCY [2]
#   PG_SERVER [postgres://postgres@127.0.0.1:5432]
# Writes OUTDIR/{exec-AB.json,exec-BA.json,queue.json,summary.md,machine.txt}.
set -euo pipefail
HERE=$(dirname "$(readlink -f "$0")")  # before any cd: $0 may be relative
[ $# -ge 4 ] || { sed -n 2,15p "$0" >&2; exit 64; }
BA=$(readlink -f "$1"); BF=$(readlink -f "$2"); AA=$(readlink -f "$3"); AF=$(readlink -f "$4")
OUT=$(readlink -f "${5:-$(mktemp -d /tmp/bench-compare.XXXXXX)}")
for b in "$BA" "$BF" "$AA" "$AF"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 66; }; done
EXEC_RUNS=${EXEC_RUNS:-1000}; EXEC_WARMUP=${EXEC_WARMUP:-50}
JOBS=${JOBS:-2000}; REPS=${REPS:-6}; SCENARIOS=${SCENARIOS:-"sqlite:1 pg:2"}; CONCURRENCY=${CONCURRENCY:-2}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}; PG_SERVER=${PG_SERVER%/}
unset AGENTLANE_STORE AGENTLANE_CONFIG AGENTLANE_HOME
mkdir -p "$OUT"
W=$(mktemp -d /tmp/perf-work.XXXXXX)
cleanup() {
  for db in $(psql -qAtX "$PG_SERVER/postgres" -c "SELECT datname FROM pg_database WHERE datname LIKE 'agentlane_perf_$$_%'" 2>/dev/null); do
    psql -qX "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W"  # no ./agentlane.toml is found here

{
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel: $(uname -r)"
  echo "mem: $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
  echo "hyperfine: $(hyperfine --version)"
  echo "postgres: $(psql -qAtX "$PG_SERVER/postgres" -c 'SHOW server_version' 2>/dev/null || echo none)"
  echo "loadavg at start: $(cat /proc/loadavg)"
  echo "before: $BA ($(sha256sum "$BA" | cut -c1-12))"
  echo "after:  $AA ($(sha256sum "$AA" | cut -c1-12))"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"
cp /proc/stat "$OUT/stat.start"

# ---- (a) exec latency: one hyperfine invocation with both commands, twice (both orders).
mkdir -p "$W/hb" "$W/ha"
"$BA" --home "$W/hb/h" exec -- /bin/true  # create each home and its database first
"$AA" --home "$W/ha/h" exec -- /bin/true
CB="$BA --home $W/hb/h exec -- /bin/true"
CA="$AA --home $W/ha/h exec -- /bin/true"
echo "== (a) exec latency, block 1 (before, after, /bin/true)"
hyperfine -N --warmup "$EXEC_WARMUP" --runs "$EXEC_RUNS" --export-json "$OUT/exec-AB.json" \
  -n before "$CB" -n after "$CA" -n /bin/true /bin/true
echo "== (a) exec latency, block 2 (after, before)"
hyperfine -N --warmup "$EXEC_WARMUP" --runs "$EXEC_RUNS" --export-json "$OUT/exec-BA.json" \
  -n after "$CA" -n before "$CB"

# ---- (b), (c) queue throughput: configs and job file as scripts/bench.sh writes them.
for side in b a; do
  if [ $side = b ]; then F=$BF; else F=$AF; fi
  cat > "$W/queue-$side.toml" <<EOF
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
done
python3 - "$W/jobs.jsonl" "$JOBS" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"kind": "k", "lane": "main", "prompt": "job %d" % i}) + "\n")
PY
mkdir -p "$W/old"

echo "== (b)/(c) queue: $JOBS jobs, scenarios: $SCENARIOS, $REPS alternating pairs"
python3 - "$OUT/queue.json" <<PY
import json, os, resource, subprocess, sys, time
W, JOBS, REPS, CONC = "$W", int("$JOBS"), int("$REPS"), "$CONCURRENCY"
PG, PID = "$PG_SERVER", "$$"
BIN = {"before": "$BA", "after": "$AA"}
CFG = {"before": f"{W}/queue-b.toml", "after": f"{W}/queue-a.toml"}
results = []
n = 0

def stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return {"busy": v[0] + v[1] + v[2] + v[5] + v[6], "idle": v[3], "iowait": v[4], "steal": v[7]}

def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)

def one(store, workers, side):
    global n
    n += 1
    home = f"{W}/q-{side}"
    if os.path.isdir(home):  # moved aside, not deleted (see scripts/bench.sh)
        os.rename(home, f"{W}/old/q-{side}.{n}")
    base = [BIN[side], "--home", home, "--config", CFG[side]]
    db = None
    if store == "pg":
        db = f"agentlane_perf_{PID}_{n}"
        run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db])
        base += ["--store", f"{PG}/{db}"]
    run(base + ["migrate"])
    run(base + ["enqueue", "--jsonl", f"{W}/jobs.jsonl"])
    cmd = base + ["worker", "--lane", "main", "--concurrency", CONC, "--drain"]
    time.sleep(0.2)
    s0, r0, t0 = stat(), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    with open(f"{W}/workers.log", "a") as log:
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log) for _ in range(workers)]
        rcs = [p.wait() for p in procs]
    t1, r1, s1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN), stat()
    if any(rcs):
        sys.exit(f"worker failed: {rcs}; see {W}/workers.log")
    st = json.loads(subprocess.run(base + ["status", "--json"], check=True, capture_output=True).stdout)
    states = {l["state"]: l["count"] for l in st["lanes"]}
    if states != {"succeeded": JOBS}:
        sys.exit(f"unexpected job states {states}")
    if db:
        run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", db])
    d = {k: (s1[k] - s0[k]) / os.sysconf("SC_CLK_TCK") for k in s0}
    r = {"store": store, "workers": workers, "side": side, "wall": t1 - t0,
         "tree_cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
         "sys_busy": d["busy"], "sys_iowait": d["iowait"], "sys_steal": d["steal"],
         "loadavg": open("/proc/loadavg").read().split()[0]}
    results.append(r)
    print(f"  {store} x{workers} {side:6s} {r['wall']:.3f} s  {JOBS / r['wall']:.0f} jobs/s  "
          f"tree CPU {r['tree_cpu']:.2f} s  machine busy {d['busy']:.2f} s  steal {d['steal']:.2f} s  iowait {d['iowait']:.2f} s",
          flush=True)

for sc in "$SCENARIOS".split():
    store, workers = sc.split(":")
    one(store, int(workers), "before")  # warm-up pair, not recorded
    one(store, int(workers), "after")
    del results[-2:]
    for rep in range(REPS):
        order = ["before", "after"] if rep % 2 == 0 else ["after", "before"]
        for side in order:
            one(store, int(workers), side)
json.dump({"jobs": JOBS, "concurrency": CONC, "results": results}, open(sys.argv[1], "w"), indent=1)
PY
cp /proc/stat "$OUT/stat.end"
echo "loadavg at end: $(cat /proc/loadavg)" >> "$OUT/machine.txt"

python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
