#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer with AddressSanitizer) of the
# parsers and engines that take outside input: every target in fuzz/ for a
# fixed budget each, over a scratch copy of its committed corpus (the repo's
# fuzz/corpus is read, never written). Fails if any target crashes; the
# crashing input stays in fuzz/artifacts/<target>/ (add it to
# fuzz/corpus/<target>/ as regress-<what> once the bug is fixed).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 30 s, all)
#
# Needs nightly features: `cargo +nightly` when that toolchain works, else the
# stable toolchain with RUSTC_BOOTSTRAP=1. Installs cargo-fuzz when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(config rules env_file jsonl classify redact redact_setup)
fi

if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# cargo-fuzz builds release with debug assertions (overflow checks) and ASan by default.
cargo "${toolchain[@]}" fuzz build

# FUZZ_SCRATCH=DIR keeps the grown corpora there (to `cargo fuzz cmin` them
# into fuzz/corpus, see docs/fuzzing.md); by default they are thrown away.
if [ -n "${FUZZ_SCRATCH:-}" ]; then
  scratch=$FUZZ_SCRATCH
  mkdir -p "$scratch"
else
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
fi
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t"
  cp fuzz/corpus/"$t"/* "$scratch/$t/"
  log="$scratch/$t.log"
  # -timeout: one input running a minute is a hang, whatever the machine.
  if cargo "${toolchain[@]}" fuzz run "$t" "$scratch/$t" -- \
      -max_total_time="$budget" -timeout=60 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
      </dev/null >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$t")
    # The panic message and the input's file (not libFuzzer's byte dump of it).
    grep -E -A1 'panicked at|ERROR: |Test unit written|^Failing input' "$log" | cut -c1-400 | head -n 20 >&2
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  summary+=("$(printf '%-13s %-6s %10s runs %7s exec/s  cov %s' "$t" "$status" "${runs:-?}" "${rate:-?}" "${cov:-?}")")
done
printf '%s\n' "fuzz: ${budget}s per target" "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}: inputs in fuzz/artifacts/" >&2
  exit 1
fi
