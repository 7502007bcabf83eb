#!/usr/bin/env bash
# Whole-command benchmarks for docs/performance.md (hyperfine, from Debian).
# Usage: scripts/bench.sh [exec|capture|all]   (needs: apt-get install hyperfine)
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
