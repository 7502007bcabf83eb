#!/usr/bin/env python3
"""SSE fan-out during a worker run (scripts/bench-serve.sh fanout).

Each pair drains the same queue twice from a fresh store: once with workers
alone ("bare"), once with `agentlane serve` running over the same store and
CLIENTS clients holding GET /api/v1/events open ("serve"); the order
alternates pair by pair. Reported per run: the workers' wall time and
jobs/s, the CPU of the workers (with their /bin/true children), of the
server and of the clients, and for the clients whether each received every
event the store holds for the run (by seq) and how late (arrival minus the
event's recorded time).

With BEFORE_AGENTLANE=BINARY each round also runs both sides with that
binary (store, workers and server: "bare-before", "serve-before"), so a
change to the server is measured against the same bare runs.

Environment: see scripts/bench-serve.sh.
"""

import json
import os
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, Store, loadavg, log, machine  # noqa: E402

A, W = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
STORES = os.environ.get("FANOUT_STORES", "sqlite").split()
JOBS = int(os.environ.get("FANOUT_JOBS", "6000"))
WORKERS = int(os.environ.get("WORKERS", "2"))
CONC = os.environ.get("CONCURRENCY", "2")
PAIRS = int(os.environ.get("PAIRS", "3"))
CLIENTS = int(os.environ.get("CLIENTS", "50"))
PG = os.environ["PG_SERVER"]
BEFORE = os.environ.get("BEFORE_AGENTLANE")
VARIANTS = ["", "-before"] if BEFORE else [""]

CONFIG = os.path.join(W, "fanout.toml")
with open(CONFIG, "w") as f:
    f.write('[queue]\npoll = "20ms"\n[routes.true]\nprofile = "generic"\nprogram = "/bin/true"\n'
            '[kinds.k]\nroutes = ["true"]\n[lanes.main]\n')
JSONL = os.path.join(W, "fanout.jsonl")
with open(JSONL, "w") as f:
    for i in range(JOBS):
        f.write(json.dumps({"kind": "k", "lane": "main", "prompt": f"job {i}"}) + "\n")

n = 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def one(kind, side):
    global n
    n += 1
    store = Store(kind, BEFORE if side.endswith("-before") else A, W, f"fan-{kind}-{n}", CONFIG, PG)
    subprocess.run(store.base + ["enqueue", "--jsonl", JSONL], check=True, stdout=subprocess.DEVNULL)
    srv = clients = None
    out = os.path.join(W, f"sse-{n}.json")
    if side.startswith("serve"):
        srv = Server(store, os.path.join(W, "fan-serve.log"))
        ready = os.path.join(W, f"ready-{n}")
        clients = subprocess.Popen([sys.executable, os.path.join(HERE, "sse_clients.py"), srv.addr, str(CLIENTS), out, ready])
        deadline = time.time() + 30
        while not os.path.exists(ready):
            if time.time() > deadline or clients.poll() is not None:
                sys.exit("the SSE clients did not connect")
            time.sleep(0.05)
    time.sleep(1.0)  # the feed's poller takes its head (every 250 ms); the bare side waits the same
    s0 = store.last_seq()
    srv_cpu0 = srv.cpu() if srv else 0.0
    cl_cpu0 = proc_cpu(clients.pid) if clients else 0.0
    m0, r0, t0 = machine(), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    with open(os.path.join(W, "workers.log"), "a") as wlog:
        procs = [subprocess.Popen(store.base + ["worker", "--lane", "main", "--concurrency", CONC, "--drain"],
                                  stdout=subprocess.DEVNULL, stderr=wlog) for _ in range(WORKERS)]
        rcs = [p.wait() for p in procs]
    t1, r1, m1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN), machine()
    srv_cpu = (srv.cpu() - srv_cpu0) if srv else 0.0
    cl_cpu = (proc_cpu(clients.pid) - cl_cpu0) if clients else 0.0
    if any(rcs):
        sys.exit(f"a worker failed: {rcs}; see {W}/workers.log")
    states = store.sql("SELECT state, count(*) FROM jobs GROUP BY state", capture=True).strip()
    if states != f"succeeded|{JOBS}":
        sys.exit(f"unexpected job states: {states}")
    r = {"store": kind, "side": side, "wall": t1 - t0, "rate": JOBS / (t1 - t0),
         "workers_cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
         "server_cpu": srv_cpu, "clients_cpu": cl_cpu,
         "machine_busy": m1["busy"] - m0["busy"], "idle": m1["idle"] - m0["idle"],
         "steal": m1["steal"] - m0["steal"], "load": loadavg()}
    if side.startswith("serve"):
        time.sleep(1.5)  # six polls: the last events reach the clients
        clients.send_signal(signal.SIGTERM)
        clients.wait(timeout=900)  # parsing 50 streams takes a while on a busy machine
        srv.stop()
        times = store.event_times(s0)
        expected = set(times)
        got = json.load(open(out))
        complete, missing, dup, lagged, errors, lags = 0, 0, 0, 0, [], []
        for c in got:
            ids = [i for i in c["ids"] if i > s0]
            seen = set(ids)
            dup += len(ids) - len(seen)
            miss = len(expected - seen)
            missing += miss
            complete += miss == 0
            lagged += c["lagged"]
            if c["error"]:
                errors.append(c["error"])
            for i, at in zip(c["ids"], c["arrivals"]):
                if i in times and at is not None:
                    lags.append((at - times[i]) * 1e3)
        r.update(events=len(expected), complete=complete, missing=missing, duplicates=dup,
                 lagged=lagged, errors=errors[:3],
                 lag_p50=pct(lags, 0.5), lag_p99=pct(lags, 0.99), lag_max=max(lags) if lags else float("nan"))
        os.remove(out)
    store.drop()
    line = (f"  {kind:6s} {side:12s} {r['wall']:6.2f} s  {r['rate']:5.0f} jobs/s  workers CPU {r['workers_cpu']:5.2f} s  "
            f"server {r['server_cpu']:4.2f} s  clients {r['clients_cpu']:4.2f} s  machine busy {r['machine_busy']:5.2f} s "
            f"idle {r['idle']:4.2f} s  steal {r['steal']:4.2f}  load {r['load']}")
    if side.startswith("serve"):
        line += (f"\n         events {r['events']}, clients complete {r['complete']}/{CLIENTS}, missing {r['missing']}, "
                 f"duplicates {r['duplicates']}, lagged {r['lagged']}, lag p50 {r['lag_p50']:.0f} ms p99 {r['lag_p99']:.0f} ms "
                 f"max {r['lag_max']:.0f} ms" + (f", errors {r['errors']}" if r["errors"] else ""))
    log(line)
    return r


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


results = []
for kind in STORES:
    sides = [f"{side}{v}" for v in VARIANTS for side in ("bare", "serve")]
    log(f"== {kind}: {JOBS} /bin/true jobs, {WORKERS} worker process(es) at concurrency {CONC}, "
        f"{CLIENTS} SSE clients on the serve side, {PAIRS} rounds of {sides} (+1 warm-up round)")
    for side in sides:
        one(kind, side)  # warm-up, not recorded
    for p in range(PAIRS):
        for side in (sides if p % 2 == 0 else list(reversed(sides))):
            r = one(kind, side)
            r["round"] = p
            results.append(r)

json.dump(results, open(os.path.join(W, "fanout.json"), "w"), indent=1)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


log("\n| store | side | runs | median wall | jobs/s at median | workers CPU per job | server CPU per job | clients CPU per job |")
log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for kind in STORES:
    med = {}
    for side in [f"{side}{v}" for v in VARIANTS for side in ("bare", "serve")]:
        rs = [r for r in results if r["store"] == kind and r["side"] == side]
        walls = sorted(r["wall"] for r in rs)
        med[side] = median(walls)
        cpu = lambda f: median([r[f] for r in rs]) / JOBS * 1e3  # noqa: E731
        log(f"| {kind} | {side} | {len(rs)} | {med[side]:.2f} s ({walls[0]:.2f}–{walls[-1]:.2f}) | {JOBS / med[side]:.0f} | "
            f"{cpu('workers_cpu'):.2f} ms | {cpu('server_cpu'):.2f} ms | {cpu('clients_cpu'):.2f} ms |")
    for v in VARIANTS:
        pairs = []
        for p in range(PAIRS):
            rs = {r["side"]: r for r in results if r["store"] == kind and r["round"] == p}
            pairs.append(rs[f"serve{v}"]["wall"] / rs[f"bare{v}"]["wall"] - 1)
        log(f"\n{kind}{v}: slowdown with serve and {CLIENTS} clients, per round (wall serve / bare - 1): "
            + ", ".join(f"{x * 100:+.1f}%" for x in pairs)
            + f"; of the medians: {(med[f'serve{v}'] / med[f'bare{v}'] - 1) * 100:+.1f}%")
        sv = [r for r in results if r["store"] == kind and r["side"] == f"serve{v}"]
        log(f"{kind}{v}: delivery: {sum(r['complete'] for r in sv)}/{len(sv) * CLIENTS} client runs complete, "
            f"{sum(r['missing'] for r in sv)} events missing, {sum(r['duplicates'] for r in sv)} duplicated, "
            f"{sum(r['lagged'] for r in sv)} 'lagged' notices; events per run {[r['events'] for r in sv]}; lag p50 "
            f"{[round(r['lag_p50']) for r in sv]} ms, p99 {[round(r['lag_p99']) for r in sv]} ms, max {[round(r['lag_max']) for r in sv]} ms")
