#!/usr/bin/env bash
# Runs a command and prints where the machine's CPU went meanwhile: the wall time,
# the CPU of the PostgreSQL server's processes (utime + stime, with reaped children,
# from /proc; so backends that exit during the run are counted through the
# postmaster), and the whole machine's user, system, idle, I/O wait and steal time
# from /proc/stat. For side-by-side comparisons of the queue on a PostgreSQL running
# on the same machine (docs/performance.md). Usage: scripts/cpu-split.sh COMMAND...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/cpu-split.sh COMMAND..." >&2; exit 64; }
pg_ticks() {
  local total=0 pid s
  for pid in $(pgrep -x postgres || true); do
    s=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + s))
  done
  echo "$total"
}
read -r _ u0 _ s0 i0 w0 _ _ st0 _ < /proc/stat
p0=$(pg_ticks)
t0=$(date +%s.%N)
rc=0
"$@" || rc=$?
t1=$(date +%s.%N)
p1=$(pg_ticks)
read -r _ u1 _ s1 i1 w1 _ _ st1 _ < /proc/stat
hz=$(getconf CLK_TCK)
python3 -c "
import sys
hz = $hz
print(f'wall {$t1 - $t0:.2f}s  postgres {($p1 - $p0) / hz:.2f}s  machine: user {($u1 - $u0) / hz:.2f}s sys {($s1 - $s0) / hz:.2f}s idle {($i1 - $i0) / hz:.2f}s iowait {($w1 - $w0) / hz:.2f}s steal {($st1 - $st0) / hz:.2f}s')
"
exit "$rc"
