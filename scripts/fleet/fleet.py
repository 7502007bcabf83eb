"""The fleet simulation behind scripts/fleet.sh (issue 19); its header says what it reports.

Everything runs for real: a private PostgreSQL cluster (initdb, pg_ctl), PgBouncer when asked,
N `agentlane worker` processes with separate homes (as N hosts), and fake-agent as the agent.
"""

import glob
import json
import math
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

AGENTLANE, FAKE = sys.argv[1], sys.argv[2]
env = os.environ.get
WORKERS = int(env("WORKERS", "100"))
CONCURRENCY = int(env("CONCURRENCY", "10"))
JOBS = int(env("JOBS", "3000"))
SLEEP = float(env("SLEEP", "2"))
MAX_CONNECTIONS = int(env("MAX_CONNECTIONS", "100"))
POOLER = env("POOLER", "none")
POOL_SIZE = int(env("POOL_SIZE", "20"))
STORE_QUERY = env("STORE_QUERY", "")
IDLE = float(env("IDLE", "20"))
CONFIG_EXTRA = env("CONFIG_EXTRA", "")
KEEP = env("KEEP", "0") == "1"
STATS = env("STATS", "0") == "1"
TICK = os.sysconf("SC_CLK_TCK")
ROLE = "agentlane"


def pg_bin():
    found = sorted(
        (int(os.path.basename(os.path.dirname(os.path.dirname(p)))), os.path.dirname(p))
        for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
    )
    if found:
        return found[-1][1]
    return os.path.dirname(shutil.which("initdb") or "/usr/bin/initdb")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


AS_POSTGRES = os.geteuid() == 0


def as_server_user(argv):
    return (["runuser", "-u", "postgres", "--"] + argv) if AS_POSTGRES else argv


def give_to_server_user(path):
    if AS_POSTGRES:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def cpu_of(pid, children=False):
    """CPU seconds of a live process (with its reaped children's when asked); 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is the state (field 3): utime is field 14, cutime 16.
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / TICK


def children_of(ppid):
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == ppid:
            out.append(int(stat.split("/")[2]))
    return out


def tree_cpu(root):
    """A server's CPU so far: its own and its reaped children's, plus its live children's."""
    return cpu_of(root, children=True) + sum(cpu_of(c) for c in children_of(root))


class Psql:
    """One long-lived psql session on the server's socket (a superuser, so it takes one of the
    reserved slots, never one the workers could have): queries answered line by line."""

    def __init__(self, sock_dir, port, db):
        self.p = subprocess.Popen(
            ["psql", "-qAtX", "-h", sock_dir, "-p", str(port), "-U", "postgres", db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def query(self, sql):
        self.p.stdin.write(sql.rstrip(";") + ";\n\\echo __end__\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("psql ended: " + "".join(lines))
            line = line.rstrip("\n")
            if line == "__end__":
                return lines
            lines.append(line)

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(5)
        except Exception:
            self.p.kill()


def main():
    work = tempfile.mkdtemp(prefix="fleet.")
    os.chmod(work, 0o755)
    procs = []
    cluster = None
    bouncer = None
    try:
        bin_dir = pg_bin()
        data = os.path.join(work, "pgdata")
        sock = os.path.join(work, "sock")
        for d in (data, sock):
            os.mkdir(d, 0o700)
            give_to_server_user(d)
        port = free_port()
        subprocess.run(
            as_server_user([f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                            "--no-sync"]),
            check=True, stdout=subprocess.DEVNULL,
        )
        server_log = os.path.join(work, "server.log")
        open(server_log, "w").close()
        give_to_server_user(server_log)
        opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 "
                f"-c max_connections={MAX_CONNECTIONS} -c log_min_messages=warning")
        if STATS:
            opts += (" -c shared_preload_libraries=pg_stat_statements"
                     " -c pg_stat_statements.track_planning=on")
        subprocess.run(
            as_server_user([f"{bin_dir}/pg_ctl", "-D", data, "-l", server_log, "-w", "-o", opts,
                            "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )
        cluster = (bin_dir, data)
        with open(os.path.join(data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        admin = Psql(sock, port, "postgres")
        admin.query(f"CREATE ROLE {ROLE} LOGIN")
        admin.query(f"CREATE DATABASE fleet OWNER {ROLE}")
        admin.close()
        url = f"postgres://{ROLE}@127.0.0.1:{port}/fleet"
        bouncer_pid = None
        if POOLER == "transaction":
            bdir = os.path.join(work, "bouncer")
            os.mkdir(bdir)
            give_to_server_user(bdir)
            bport = free_port()
            with open(os.path.join(bdir, "users.txt"), "w") as f:
                f.write(f'"{ROLE}" ""\n')
            with open(os.path.join(bdir, "pgbouncer.ini"), "w") as f:
                f.write(
                    f"[databases]\n* = host=127.0.0.1 port={port}\n"
                    f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {bport}\n"
                    f"auth_type = trust\nauth_file = {bdir}/users.txt\npool_mode = transaction\n"
                    f"max_client_conn = {WORKERS * 20 + 100}\ndefault_pool_size = {POOL_SIZE}\n"
                    f"unix_socket_dir =\nlogfile = {bdir}/pgbouncer.log\n"
                    "ignore_startup_parameters = extra_float_digits,options\n"
                )
            for name in ("users.txt", "pgbouncer.ini"):
                give_to_server_user(os.path.join(bdir, name))
            exe = next(p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p))
            bouncer = subprocess.Popen(as_server_user([exe, os.path.join(bdir, "pgbouncer.ini")]),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            bouncer_pid = bouncer.pid
            url = f"postgres://{ROLE}@127.0.0.1:{bport}/fleet?pool_mode=transaction"
        if STORE_QUERY:
            url += ("&" if "?" in url else "?") + STORE_QUERY
        run_log = os.path.join(work, "run.log")
        config = os.path.join(work, "agentlane.toml")
        with open(config, "w") as f:
            f.write(
                "# The fleet's jobs sleep; a route a worker has not seen run would run one trial\n"
                "# job alone first, which measures the trial policy, not the store.\n"
                "[queue]\ntrial = false\n"
                f"[routes.sleep]\nprofile = \"generic\"\nprogram = \"{FAKE}\"\n"
                f"args = [\"--run-log\", \"{run_log}\", \"--sleep\", \"{SLEEP}\"]\n"
                "[kinds.nap]\nroutes = [\"sleep\"]\n[lanes.main]\n" + CONFIG_EXTRA + "\n"
            )
        base = ["--config", config, "--store", url]
        # Migrate once, as an operator would, before the fleet starts.
        subprocess.run([AGENTLANE, "--home", os.path.join(work, "admin")] + base + ["migrate"],
                       check=True, stdout=subprocess.DEVNULL)
        mon = Psql(sock, port, "fleet")
        conns = f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{ROLE}'"
        logs = []
        for i in range(WORKERS):
            log = os.path.join(work, f"worker-{i}.log")
            logs.append(log)
            procs.append(subprocess.Popen(
                [AGENTLANE, "--home", os.path.join(work, f"home-{i}")] + base
                + ["worker", "--lane", "main", "--concurrency", str(CONCURRENCY)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                env=dict(os.environ, RUST_LOG="info"),
            ))
        # Every worker either starts or exits (a server out of connections may refuse it).
        deadline = time.time() + 120
        while time.time() < deadline:
            started = sum(1 for log in logs if "worker started" in open(log).read())
            exited = sum(1 for p in procs if p.poll() is not None)
            if started + exited >= WORKERS:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"only {started} of {WORKERS} workers started in 120 s (see {work})")
        refused_at_start = [p.returncode for p in procs if p.poll() is not None]
        if len(refused_at_start) == WORKERS:
            raise SystemExit(f"every worker exited at start (see {work})")
        time.sleep(3)
        # Idle: the lane is empty, every worker has free slots.
        idle_conns = []
        if STATS:
            mon.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            mon.query("SELECT pg_stat_statements_reset()")
        c0, t0 = tree_cpu(postmaster), time.time()
        while time.time() - t0 < IDLE:
            idle_conns.append(int(mon.query(conns)[0]))
            time.sleep(1)
        c1, t1 = tree_cpu(postmaster), time.time()
        idle_cpu = c1 - c0
        if STATS:
            print("idle: statements by total time (ms: plan+exec, calls, per call, query)")
            for r in mon.query(
                    "SELECT round((total_plan_time + total_exec_time)::numeric, 1) || ' | ' || calls"
                    " || ' | ' || round(((total_plan_time + total_exec_time) / greatest(calls, 1))::numeric, 3)"
                    " || ' | ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 90)"
                    " FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC"
                    " LIMIT 12"):
                print("  " + r)
        idle_per = idle_cpu / (WORKERS * (t1 - t0))
        # The run.
        jobs = os.path.join(work, "jobs.jsonl")
        with open(jobs, "w") as f:
            for i in range(JOBS):
                f.write(json.dumps({"kind": "nap", "lane": "main", "prompt": f"job {i}"}) + "\n")
        worker_cpu0 = sum(cpu_of(p.pid, children=True) for p in procs)
        bouncer_cpu0 = tree_cpu(bouncer_pid) if bouncer_pid else 0.0
        s0, start = tree_cpu(postmaster), time.time()
        out = subprocess.run([AGENTLANE, "--home", os.path.join(work, "admin")] + base
                             + ["enqueue", "--jsonl", jobs, "--json"],
                             check=True, capture_output=True, text=True)
        enqueued = time.time() - start
        ids = [e["id"] for e in json.loads(out.stdout)["enqueued"]]
        peak, done = 0, 0
        finished = ("'succeeded','failed','parked','cancelled'")
        while time.time() - start < 600:
            row = mon.query(
                f"SELECT ({conns}), count(*) FILTER (WHERE state IN ({finished})) FROM jobs")[0]
            n, done = (int(x) for x in row.split("|"))
            peak = max(peak, n)
            if done >= JOBS:
                break
            time.sleep(0.1)
        wall = time.time() - start
        s1 = tree_cpu(postmaster)
        worker_cpu = sum(cpu_of(p.pid, children=True) for p in procs) - worker_cpu0
        bouncer_cpu = (tree_cpu(bouncer_pid) - bouncer_cpu0) if bouncer_pid else 0.0
        rows = mon.query("SELECT state, attempts, count(*) FROM jobs GROUP BY 1, 2 ORDER BY 1, 2")
        mon.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        exits = sorted(set(p.returncode for p in procs))
        # The verdict.
        starts, ends, bad_exit = {}, {}, 0
        if os.path.exists(run_log):
            for line in open(run_log):
                r = json.loads(line)
                d = starts if r["event"] == "start" else ends
                d[r["job"]] = d.get(r["job"], 0) + 1
                if r["event"] == "end" and r.get("exit_code") != 0:
                    bad_exit += 1
        not_once = [i for i in ids if starts.get(i) != 1 or ends.get(i) != 1]
        refused = len(re.findall(r"too many clients|remaining connection slots",
                                 open(server_log).read()))
        worker_text = "".join(open(log).read() for log in logs)
        outages = worker_text.count("retrying until it answers")
        lost = len(re.findall(r"worker_lost|cut off", worker_text))
        saturated = worker_text.count("has no connection slot for this client")
        slots = WORKERS * CONCURRENCY
        ideal = math.ceil(JOBS / slots) * SLEEP
        report = {
            "workers": WORKERS, "concurrency": CONCURRENCY, "jobs": JOBS, "sleep_s": SLEEP,
            "max_connections": MAX_CONNECTIONS, "pooler": POOLER,
            "pool_size": POOL_SIZE if POOLER != "none" else None, "store_query": STORE_QUERY,
            "idle": {"seconds": round(t1 - t0, 1), "server_cpu_s": round(idle_cpu, 3),
                     "server_cpu_ms_per_idle_worker_s": round(idle_per * 1000, 3),
                     "connections_max": max(idle_conns), "connections_min": min(idle_conns)},
            "run": {"wall_s": round(wall, 2), "ideal_s": ideal,
                    "efficiency": round(ideal / wall, 3), "enqueue_s": round(enqueued, 2),
                    "connections_peak": peak, "server_cpu_s": round(s1 - s0, 2),
                    "server_cpu_ms_per_job": round((s1 - s0) * 1000 / JOBS, 3),
                    "workers_cpu_s": round(worker_cpu, 2),
                    "pgbouncer_cpu_s": round(bouncer_cpu, 2) if bouncer_pid else None},
            "verdict": {"finished": done, "states": rows, "not_exactly_once": len(not_once),
                        "agent_nonzero_exits": bad_exit, "server_refused_connections": refused,
                        "worker_outage_reports": outages, "worker_saturation_reports": saturated,
                        "worker_lost_mentions": lost, "worker_exit_statuses": exits,
                        "workers_exited_at_start": len(refused_at_start)},
        }
        print(json.dumps(report, indent=1))
        ok = (done >= JOBS and not not_once and not refused_at_start and bad_exit == 0
              and rows == [f"succeeded|1|{JOBS}"])
        print("exactly once: " + ("yes" if ok else "NO"))
        if KEEP:
            print(f"kept: {work}")
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if bouncer is not None:
            bouncer.kill()
        if cluster is not None:
            subprocess.run(as_server_user([f"{cluster[0]}/pg_ctl", "-D", cluster[1], "-m",
                                           "immediate", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not KEEP:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
