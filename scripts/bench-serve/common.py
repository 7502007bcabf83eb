"""Shared by scripts/bench-serve/{list,fanout}.py: stores, `agentlane serve`,
machine CPU from /proc. Standard library only."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def psql(server, db, sql, capture=False):
    """Runs SQL on SERVER/DB with psql; returns its unaligned output if asked."""
    r = subprocess.run(
        ["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", f"{server}/{db}", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return r.stdout if capture else None


class Store:
    """A fresh store: SQLite in its own home, or a private PostgreSQL database."""

    def __init__(self, kind, agentlane, work, name, config, pg_server):
        self.kind, self.work, self.name, self.pg_server = kind, work, name, pg_server
        self.home = os.path.join(work, name)
        self.base = [agentlane, "--home", self.home, "--config", config]
        self.db = None
        if kind == "pg":
            self.db = f"agentlane_bench_serve_{os.getpid()}_{name}".replace("-", "_")
            psql(pg_server, "postgres", f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            psql(pg_server, "postgres", f"CREATE DATABASE {self.db}")
            self.base += ["--store", f"{pg_server}/{self.db}"]
        run(self.base + ["migrate"])

    def sql(self, statement, capture=False):
        """Runs SQL on the store (sqlite3 module for SQLite, psql for PostgreSQL)."""
        if self.kind == "pg":
            return psql(self.pg_server, self.db, statement, capture)
        import sqlite3

        con = sqlite3.connect(os.path.join(self.home, "agentlane.db"), timeout=30)
        try:
            if capture:
                return "\n".join("|".join(str(v) for v in row) for row in con.execute(statement))
            con.executescript(statement)
            con.commit()
        finally:
            con.close()

    def event_times(self, after):
        """seq -> the event's recorded time (seconds since the epoch) for seq > after."""
        if self.kind == "pg":
            q = f"SELECT seq, extract(epoch FROM at) FROM events WHERE seq > {after} ORDER BY seq"
        else:
            q = f"SELECT seq, (julianday(at) - 2440587.5) * 86400.0 FROM events WHERE seq > {after} ORDER BY seq"
        out = self.sql(q, capture=True)
        return {int(s): float(t) for s, t in (l.split("|") for l in out.splitlines() if l)}

    def last_seq(self):
        return int(self.sql("SELECT COALESCE(MAX(seq), 0) FROM events", capture=True).strip())

    def drop(self):
        if self.db:
            psql(self.pg_server, "postgres", f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")


class Server:
    """`agentlane serve --listen 127.0.0.1:0` over a store; knows its port and pid."""

    def __init__(self, store, logfile):
        self.err = open(logfile, "a+")
        start = self.err.tell()
        self.proc = subprocess.Popen(
            store.base + ["serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=self.err,
        )
        deadline = time.time() + 30
        self.addr = None
        while time.time() < deadline and self.addr is None:
            self.err.seek(start)
            m = re.search(r"listening on http://(\S+)", self.err.read())
            if m:
                self.addr = m.group(1)
            elif self.proc.poll() is not None:
                sys.exit(f"agentlane serve exited with {self.proc.returncode}; see {logfile}")
            else:
                time.sleep(0.05)
        if not self.addr:
            sys.exit(f"agentlane serve did not say where it listens; see {logfile}")
        self.get("/healthz")

    def get(self, path):
        with urllib.request.urlopen(f"http://{self.addr}{path}", timeout=30) as r:
            return json.load(r)

    def cpu(self):
        """utime + stime of the server process, in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / HZ

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def machine():
    """user+nice+system+irq+softirq, idle, iowait, steal: CPU seconds since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return {
        "busy": (v[0] + v[1] + v[2] + v[5] + v[6]) / HZ,
        "idle": v[3] / HZ,
        "iowait": v[4] / HZ,
        "steal": v[7] / HZ,
    }


def loadavg():
    return open("/proc/loadavg").read().split()[0]
