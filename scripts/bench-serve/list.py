#!/usr/bin/env python3
"""The job list's latency with 100k jobs (scripts/bench-serve.sh list).

Per store: a fresh store; JOBS jobs enqueued with `agentlane enqueue --jsonl`
(four lanes, three kinds); their states then settled with one SQL UPDATE (no
agent runs: the list reads only the jobs table, so what matters is its rows
and their mix — 85% succeeded, 7% failed with a class, 2% cancelled, 1%
parked, the newest 5% still queued); `agentlane serve`; then `wrk --latency`
on three pages: the first page, a filtered page (failed jobs of one lane)
and a page 50,000 jobs deep (its cursor found by walking the API).

With BEFORE_AGENTLANE=BINARY, that binary serves the store as enqueued and
the binary under test a copy it migrated, side by side, alternating: before
and after on the same rows in the same minutes.

Environment: see scripts/bench-serve.sh.
"""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, Store, loadavg, log  # noqa: E402

A, W = sys.argv[1], sys.argv[2]
STORES = os.environ.get("STORES", "sqlite pg").split()
JOBS = int(os.environ.get("JOBS", "100000"))
DURATION = os.environ.get("WRK_DURATION", "10s")
CONNS = os.environ.get("WRK_CONNECTIONS", "1 4").split()
ROUNDS = int(os.environ.get("ROUNDS", "2"))
PG = os.environ["PG_SERVER"]
BEFORE = os.environ.get("BEFORE_AGENTLANE")
LANES = [("build", 40), ("review", 30), ("docs", 20), ("ops", 10)]
CLASSES = ["rate_limited", "timeout", "auth_unavailable", "network_unavailable",
           "transient_io", "cli_missing", "quota_exhausted"]
HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = os.path.join(W, "list.toml")
with open(CONFIG, "w") as f:
    f.write('[routes.true]\nprofile = "generic"\nprogram = "/bin/true"\n')
    for k in ("review", "fix", "docs"):
        f.write(f'[kinds.{k}]\nroutes = ["true"]\n')
    for lane, _ in LANES:
        f.write(f"[lanes.{lane}]\n")

JSONL = os.path.join(W, "list.jsonl")
with open(JSONL, "w") as f:
    lanes = [lane for lane, w in LANES for _ in range(w)]
    for i in range(JOBS):
        kind = ("review", "fix", "docs")[i % 3]
        f.write(json.dumps({"kind": kind, "lane": lanes[(i * 7) % 100],
                            "prompt": f"job {i}: look at module {i % 97} and report what fails"}) + "\n")


def settle_sql(kind):
    """One UPDATE: states, classes and finish times by row number (deterministic)."""
    n = "rn"
    cls = "CASE " + " ".join(f"WHEN {n} % 7 = {i} THEN '{c}'" for i, c in enumerate(CLASSES)) + " END"
    state = (f"CASE WHEN {n} > {int(JOBS * 0.95)} THEN 'queued' WHEN {n} % 100 < 7 THEN 'failed' "
             f"WHEN {n} % 100 < 9 THEN 'cancelled' WHEN {n} % 100 < 10 THEN 'parked' ELSE 'succeeded' END")
    if kind == "pg":
        return f"""
WITH r AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM jobs),
s AS (SELECT id, rn, ({state})::job_state AS st, {cls} AS cl FROM r)
UPDATE jobs j SET state = s.st, attempts = CASE WHEN s.st = 'queued' THEN 0 ELSE 1 END,
  finished_at = CASE WHEN s.st IN ('queued', 'parked') THEN NULL ELSE j.updated_at END,
  classifier = CASE WHEN s.st IN ('failed', 'parked') THEN s.cl END,
  next_action = CASE s.st WHEN 'failed' THEN 'fail' WHEN 'parked' THEN 'park' ELSE j.next_action END,
  reason = CASE WHEN s.st IN ('failed', 'parked') THEN 'settled by scripts/bench-serve' ELSE j.reason END
FROM s WHERE s.id = j.id;
ANALYZE jobs;"""
    return f"""
CREATE TEMP TABLE s AS SELECT id, rn, {state} AS st, {cls} AS cl
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM jobs);
CREATE UNIQUE INDEX temp.s_id ON s (id);
UPDATE jobs SET
  state = (SELECT st FROM s WHERE s.id = jobs.id),
  classifier = (SELECT CASE WHEN st IN ('failed', 'parked') THEN cl END FROM s WHERE s.id = jobs.id);
UPDATE jobs SET attempts = CASE WHEN state = 'queued' THEN 0 ELSE 1 END,
  finished_at = CASE WHEN state IN ('queued', 'parked') THEN NULL ELSE updated_at END,
  next_action = CASE state WHEN 'failed' THEN 'fail' WHEN 'parked' THEN 'park' ELSE next_action END,
  reason = CASE WHEN state IN ('failed', 'parked') THEN 'settled by scripts/bench-serve' ELSE reason END;
ANALYZE;"""


def twin_of(store, name):
    """A copy of STORE's rows (the SQLite home, or a PostgreSQL database made from it)."""
    twin = Store.__new__(Store)
    twin.__dict__.update(store.__dict__)
    twin.name = name
    if store.kind == "pg":
        from common import psql
        twin.db = f"{store.db}_twin"
        psql(PG, "postgres", f"DROP DATABASE IF EXISTS {twin.db} WITH (FORCE)")
        psql(PG, "postgres", f"CREATE DATABASE {twin.db} TEMPLATE {store.db}")
        twin.base = [f"{PG}/{twin.db}" if b == f"{PG}/{store.db}" else b for b in store.base]
    else:
        twin.home = os.path.join(W, name)
        shutil.copytree(store.home, twin.home)
        twin.base = [twin.home if b == store.home else b for b in store.base]
    twin.base = list(twin.base)
    return twin


def wrk(addr, path, conns):
    out = subprocess.run(
        ["wrk", "-t", str(min(int(conns), 2)), "-c", conns, "-d", DURATION, "--latency",
         f"http://{addr}{path}"], check=True, capture_output=True, text=True).stdout

    def ms(s):
        v, unit = re.match(r"([\d.]+)(\w+)", s).groups()
        return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    lat = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if non2xx or errors:
        sys.exit(f"wrk saw errors on {path}:\n{out}")
    return {"p50": ms(pct["50"]), "p90": ms(pct["90"]), "p99": ms(pct["99"]),
            "max": ms(lat.group(1)), "rps": float(rps.group(1))}


def explain(store, pages):
    """The plan of each page's statement in both forms: the one before 0014
    (`(?1 IS NULL OR lane = ?1) AND ...`) and the one after (only the
    conditions given), as the server runs them (PostgreSQL: prepared and
    executed 6 times first, so its plan cache has chosen)."""
    out = []
    for name, (lane, state, cursor) in pages.items():
        given = [(c, v) for c, v in (("lane", lane), ("state", state), ("id <", cursor)) if v is not None]
        if store.kind == "pg":
            old = ("($1::text IS NULL OR lane = $1) AND ($2::text IS NULL OR state::text = $2) "
                   "AND ($4::text IS NULL OR updated_at >= $4::timestamptz) AND ($5::text IS NULL OR kind = $5) "
                   "AND ($6::text IS NULL OR classifier = $6) AND ($7::text IS NULL OR id < $7)")
            args = ", ".join("NULL" if v is None else f"'{v}'" for v in (lane, state)) + ", 51, NULL, NULL, NULL, " + (
                f"'{cursor}'" if cursor else "NULL")
            conds = " AND ".join(
                {"lane": "lane = $%d", "state": "state = ($%d::text)::job_state", "id <": "id < $%d"}[c] % (i + 1)
                for i, (c, _) in enumerate(given)) or "true"
            n = len(given)
            new_types = ", ".join(["text"] * n + ["bigint"])
            new_args = ", ".join([f"'{v}'" for _, v in given] + ["51"])
            for form, prep, a in (("before 0014", f"PREPARE q(text, text, bigint, text, text, text, text) AS SELECT * FROM jobs WHERE {old} ORDER BY id DESC LIMIT $3", args),
                                  ("after 0014", f"PREPARE q({new_types}) AS SELECT * FROM jobs WHERE {conds} ORDER BY id DESC LIMIT ${n + 1}", new_args)):
                sql = f"{prep};\n" + f"EXECUTE q({a});\n" * 6 + f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q({a});"
                plan = [l.strip() for l in store.sql(sql, capture=True).splitlines()
                        if l.strip() and not l.strip()[0].isdigit() and "|" not in l]
                out.append(f"-- {name}, statement {form}: " + " / ".join(plan))
        else:
            import sqlite3
            con = sqlite3.connect(os.path.join(store.home, "agentlane.db"))
            old = ("SELECT * FROM jobs WHERE (?1 IS NULL OR lane = ?1) AND (?2 IS NULL OR state = ?2) "
                   "AND (?4 IS NULL OR updated_at >= ?4) AND (?5 IS NULL OR kind = ?5) "
                   "AND (?6 IS NULL OR classifier = ?6) AND (?7 IS NULL OR id < ?7) ORDER BY id DESC LIMIT ?3")
            new = ("SELECT * FROM jobs WHERE 1" + "".join(f" AND {c} {'' if c == 'id <' else '='} ?".replace("  ", " ")
                                                         for c, _ in given) + " ORDER BY id DESC LIMIT ?")
            for form, sql, a in (("before 0014", old, (lane, state, 51, None, None, None, cursor)),
                                 ("after 0014", new, tuple(v for _, v in given) + (51,))):
                plan = con.execute("EXPLAIN QUERY PLAN " + sql, a).fetchall()
                out.append(f"-- {name}, statement {form}: " + "; ".join(r[-1] for r in plan))
            con.close()
    return "\n".join(out)


results = []
for kind in STORES:
    log(f"== {kind}: {JOBS} jobs")
    store = Store(kind, BEFORE or A, W, f"list-{kind}", CONFIG, PG)
    run_start = __import__("time").time()
    subprocess.run(store.base + ["enqueue", "--jsonl", JSONL], check=True, stdout=subprocess.DEVNULL)
    t_enq = __import__("time").time() - run_start
    store.sql(settle_sql(kind))
    counts = store.sql("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state", capture=True)
    log(f"  enqueue --jsonl of {JOBS}: {t_enq:.1f} s; states after settling: {counts.replace(chr(10), ', ')}")
    variants = [("as built", store)]
    if BEFORE:
        # Side by side on the same rows: BEFORE on this store as it is, the
        # binary under test on a copy it migrates (0014 and what else it adds).
        twin = twin_of(store, f"list-{kind}-after")
        twin.base[0] = A
        subprocess.run(twin.base + ["migrate"], check=True, stdout=subprocess.DEVNULL)
        variants = [("before", store), ("after", twin)]
    servers = [(name, s, Server(s, os.path.join(W, f"serve-{kind}.log"))) for name, s in variants]
    first = servers[0][2]
    # The deep cursor: walk 100 pages of 500 (50,000 jobs) through the API.
    cursor, walked = None, 0
    while walked < JOBS // 2:
        page = first.get("/api/v1/jobs?limit=500" + (f"&cursor={cursor}" if cursor else ""))
        walked += len(page["jobs"])
        cursor = page["next_cursor"]
    failed_lane = first.get("/api/v1/jobs?state=failed&lane=ops&limit=500")
    pages = {
        "first page (50 newest)": ("/api/v1/jobs", (None, None, None)),
        "failed jobs of lane ops": ("/api/v1/jobs?state=failed&lane=ops", ("ops", "failed", None)),
        "50 jobs, 50,000 deep (cursor)": (f"/api/v1/jobs?cursor={cursor}", (None, None, cursor)),
    }
    log(f"  walked {walked} jobs to the deep cursor; failed jobs of lane ops on the first page of 500: {len(failed_lane['jobs'])}")
    for name, s, _ in servers:
        log(f"  plans ({name}):\n" + "\n".join("    " + l for l in explain(s, {k: v[1] for k, v in pages.items()}).splitlines()))
    for rnd in range(ROUNDS):
        order = servers if rnd % 2 == 0 else list(reversed(servers))
        for conns in CONNS:
            for page, (path, _) in pages.items():
                for name, s, srv in order:
                    r = wrk(srv.addr, path, conns)
                    r.update(store=kind, variant=name, page=page, conns=int(conns), round=rnd, load=loadavg())
                    results.append(r)
                    log(f"  [{rnd}] {kind:6s} {name:10s} c={conns} {page:32s} p50 {r['p50']:7.2f} ms  p90 {r['p90']:7.2f}  "
                        f"p99 {r['p99']:7.2f}  max {r['max']:7.2f}  {r['rps']:8.0f} req/s  load {r['load']}")
    for _, s, srv in servers:
        srv.stop()
        s.drop()

json.dump(results, open(os.path.join(W, "list.json"), "w"), indent=1)
log("\n| store | binary | page | connections | p50 | p90 | p99 | max | req/s |")
log("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
keys = []
for r in results:
    k = (r["store"], r["variant"], r["page"], r["conns"])
    if k not in keys:
        keys.append(k)
for k in sorted(keys, key=lambda k: (k[0], k[3], k[2], k[1])):
    rs = [r for r in results if (r["store"], r["variant"], r["page"], r["conns"]) == k]
    def med(f):
        xs = sorted(r[f] for r in rs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    rng = lambda f: f"{min(r[f] for r in rs):.2f}–{max(r[f] for r in rs):.2f}"  # noqa: E731
    log(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {med('p50'):.2f} ms | {med('p90'):.2f} ms | "
        f"{med('p99'):.2f} ms ({rng('p99')}) | {max(r['max'] for r in rs):.2f} ms | {med('rps'):.0f} |")
log(f"(median of {ROUNDS} wrk runs of {DURATION} each, alternating; p99 range in brackets; max is the largest)")
