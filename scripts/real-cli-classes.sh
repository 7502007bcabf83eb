#!/usr/bin/env bash
# real-cli-classes.sh: run the REAL agent CLIs (installed from npm) through
# `agentlane exec` in failure situations we can produce on any machine, and
# assert the class agentlane gives each run.
#
# Usage: scripts/real-cli-classes.sh            (from the repository root)
#   AGENTLANE=path/to/agentlane   binary to test [default: target/debug/agentlane]
#   CASE_TIMEOUT=60s              agentlane --timeout for each run
#   ONLY=regex                    run only the cases whose name matches
#
# The CLIs go to .real-clis/ (git-ignored), pinned to the versions documented
# in docs/agent-clis.md. Every run gets an empty HOME and a cleared
# environment, stdin from /dev/null (agentlane's default without --prompt).
# Where the outcome depends on whether this machine reaches the providers'
# APIs, a case accepts either class (e.g. network_unavailable|auth_unavailable).
#
# Prints one `PASS name` / `FAIL name (got X ...)` line per case, then
# `N passed, M failed`; exits 1 if any case failed, 2 if it cannot run at all.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIS="$ROOT/.real-clis"
BIN="$CLIS/node_modules/.bin"
AGENTLANE=${AGENTLANE:-$ROOT/target/debug/agentlane}
CASE_TIMEOUT=${CASE_TIMEOUT:-60s}
ONLY=${ONLY:-}
PROMPT="Return the string ok and exit zero"
SYS_PATH=/usr/bin:/bin

die() { echo "real-cli-classes: $*" >&2; exit 2; }

command -v python3 >/dev/null || die "python3 is required to read agentlane's JSON report"
command -v node >/dev/null || die "node is required to install and run the npm CLIs"
[ -x "$AGENTLANE" ] || die "no agentlane binary at $AGENTLANE (build it with cargo build, or set AGENTLANE=)"

# --- install (idempotent; scripts/test has usually done it already) --------
"$ROOT/scripts/install-real-clis.sh" >/dev/null || die "could not install the real CLIs"

# --- scratch space -------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/real-cli-classes.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/shims" "$tmp/empty" "$tmp/noexec"
# A PATH that holds the CLI shims but no node: the npm shims start with
# `#!/usr/bin/env node`, Claude Code 2.x is a native binary and needs no node.
for c in codex claude gemini qwen; do ln -s "$BIN/$c" "$tmp/shims/$c"; done
# A copy of the codex shim without its execute bit.
cp "$(readlink -f "$BIN/codex")" "$tmp/noexec/codex" && chmod a-x "$tmp/noexec/codex"

pass=0; fail=0

# run_case NAME EXPECTED PATH [KEY=VALUE ...] -- PROGRAM ARGS...
# EXPECTED is a class, or alternatives joined by '|'; append /N to also
# require exit code N (e.g. auth_unavailable/41).
run_case() {
  local name=$1 expected=$2 path=$3; shift 3
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=(--env "$1"); shift; done
  shift # --
  if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
  local dir="$tmp/cases/$name"
  mkdir -p "$dir/h" "$dir/cwd"
  local report
  report=$("$AGENTLANE" exec --json --home "$tmp/home" --cwd "$dir/cwd" \
      --env-clear --env "PATH=$path" --env "HOME=$dir/h" "${envs[@]}" \
      --timeout "$CASE_TIMEOUT" -- "$@" </dev/null 2>"$dir/agentlane.stderr")
  local got
  got=$(python3 -c '
import json, sys
raw = sys.stdin.read()
try:
    r = json.loads(raw)
except ValueError:
    first = (raw.strip().splitlines() or ["<empty>"])[0][:120]
    print("NO_REPORT", "-", "-", "agentlane printed no JSON report: " + first, sep="\t")
    sys.exit()
code = r.get("exit_code")
ev = (r.get("evidence") or "").replace("\t", " ").replace("\n", " ")[:160]
print(r.get("classifier") or "", "-" if code is None else code, r.get("rule") or "-", ev, sep="\t")
' <<<"$report")
  local cls code rule evidence
  IFS=$'\t' read -r cls code rule evidence <<<"$got"
  local want_cls=${expected%%/*} want_code=""
  [[ $expected == */* ]] && want_code=${expected##*/}
  local ok=0 alt
  IFS='|' read -ra alts <<<"$want_cls"
  for alt in "${alts[@]}"; do [ "$cls" = "$alt" ] && ok=1; done
  if [ "$ok" = 1 ] && [ -n "$want_code" ] && [ "$code" != "$want_code" ]; then ok=0; fi
  if [ "$ok" = 1 ]; then
    echo "PASS $name ($cls, exit $code, rule $rule)"
    pass=$((pass + 1))
  else
    echo "FAIL $name (got $cls, exit $code, rule $rule; expected $expected; evidence: ${evidence:-none})"
    fail=$((fail + 1))
  fi
}

P="$BIN:$SYS_PATH"
FAKE_OPENAI=OPENAI_API_KEY=sk-test-00000000000000000000
FAKE_ANTHROPIC=ANTHROPIC_API_KEY=sk-ant-test-0000000000000000
FAKE_GEMINI=GEMINI_API_KEY=AIzaSyTEST000000000000000000000000000

# --- no credentials at all -----------------------------------------------
run_case claude_no_creds            auth_unavailable/1  "$P" -- claude -p "$PROMPT"
run_case claude_json_no_creds       auth_unavailable/1  "$P" -- claude -p --output-format json "$PROMPT"
run_case claude_stream_json_no_creds auth_unavailable/1 "$P" -- claude -p --output-format stream-json --verbose "$PROMPT"
run_case claude_auth_status         auth_unavailable/1  "$P" -- claude auth status
run_case gemini_no_creds            auth_unavailable/41 "$P" -- gemini -p "$PROMPT"
run_case gemini_json_no_creds       auth_unavailable/41 "$P" -- gemini -p "$PROMPT" --output-format json
run_case qwen_no_creds              auth_unavailable/1  "$P" -- qwen -p "$PROMPT"
# Qwen prints this as one JSON-array line; agentlane must read JSON arrays.
run_case qwen_json_no_creds         auth_unavailable/1  "$P" -- qwen -p "$PROMPT" --output-format json
run_case codex_login_status         auth_unavailable/1  "$P" -- codex login status
# codex exec refuses a directory that is not a git checkout before anything else.
run_case codex_untrusted_dir        sandbox_or_policy_block/1 "$P" -- codex exec "$PROMPT"
# With --skip-git-repo-check and no credentials codex calls the API anyway:
# 401 where the API is reachable, else it retries forever until our timeout.
run_case codex_no_creds             "auth_unavailable|network_unavailable" "$P" -- codex exec --skip-git-repo-check "$PROMPT"

# --- a fake key: the API rejects it, or (offline) the network fails ---------
run_case claude_fake_key            "auth_unavailable|network_unavailable" "$P" CLAUDE_CODE_MAX_RETRIES=1 "$FAKE_ANTHROPIC" -- claude -p "$PROMPT"
run_case qwen_fake_key              "auth_unavailable|network_unavailable" "$P" "$FAKE_OPENAI" OPENAI_MODEL=qwen3-coder-plus -- qwen -p "$PROMPT" --auth-type openai
run_case gemini_untrusted_workspace sandbox_or_policy_block/55 "$P" "$FAKE_GEMINI" -- gemini -p "$PROMPT"
# Gemini retries a network failure for ~4 minutes, so offline this ends by our
# timeout and must be classified from the stderr tail.
run_case gemini_fake_key            "auth_unavailable|network_unavailable" "$P" "$FAKE_GEMINI" -- gemini -p "$PROMPT" --skip-trust

# --- the launch itself fails -------------------------------------------------
run_case codex_without_node         interpreter_missing "$tmp/shims" -- codex exec --skip-git-repo-check "$PROMPT"
run_case gemini_without_node        interpreter_missing "$tmp/shims" -- gemini -p "$PROMPT"
run_case qwen_without_node          interpreter_missing "$tmp/shims" -- qwen -p "$PROMPT"
# Claude Code 2.x is a native executable: no node needed, so it reaches its auth check.
run_case claude_without_node        auth_unavailable/1  "$tmp/shims" -- claude -p "$PROMPT"
run_case codex_not_on_path          cli_missing         "$tmp/empty" -- codex exec "$PROMPT"
run_case codex_not_executable       cli_not_executable  "$P" -- "$tmp/noexec/codex" exec "$PROMPT"

# --- doctor: preflight of the same CLIs as routes (issue 4) -----------------
# No credentials: the CLI resolves but is not ready (auth_unavailable); a PATH
# without node: the npm shims do not resolve (interpreter_missing).
doctor_case() { # NAME ROUTE EXPECTED_RESOLVES EXPECTED_READY EXPECTED_CLASS
  local name=$1 route=$2 resolves=$3 ready=$4 class=$5
  if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
  local got
  got=$(python3 - "$tmp/doctor.json" "$route" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
r = next((r for r in rows if r["route"] == sys.argv[2]), None)
print("missing" if r is None else f'{str(r["cli_resolves"]).lower()} {str(r["cli_ready"]).lower()} {r["classifier"]}')
PY
)
  if [ "$got" = "$resolves $ready $class" ]; then
    echo "PASS $name (cli_resolves $resolves, cli_ready $ready, $class)"
    pass=$((pass + 1))
  else
    echo "FAIL $name (got $got; expected $resolves $ready $class)"
    fail=$((fail + 1))
  fi
}
mkdir -p "$tmp/doctor-home" "$tmp/doctor-cwd"
{
  for c in codex claude gemini qwen; do
    printf '[routes.%s]\nprofile = "%s"\nprogram = "%s"\nenv_clear = true\nenv = { PATH = "%s", HOME = "%s" }\n' \
      "$c" "$c" "$c" "$P" "$tmp/doctor-home"
    printf '[routes.%s_nonode]\nprofile = "%s"\nprogram = "%s"\nenv_clear = true\nenv = { PATH = "%s", HOME = "%s" }\n' \
      "$c" "$c" "$c" "$tmp/shims" "$tmp/doctor-home"
  done
} > "$tmp/doctor.toml"
(cd "$tmp/doctor-cwd" && "$AGENTLANE" --home "$tmp/home" --config "$tmp/doctor.toml" doctor --json) \
  > "$tmp/doctor.json" 2> "$tmp/doctor.stderr"
doctor_case doctor_claude_no_creds  claude true false auth_unavailable
doctor_case doctor_gemini_no_creds  gemini true false auth_unavailable
doctor_case doctor_codex_no_creds   codex  true false auth_unavailable
doctor_case doctor_qwen_no_creds    qwen   true false auth_unavailable
doctor_case doctor_codex_without_node  codex_nonode  false false interpreter_missing
doctor_case doctor_gemini_without_node gemini_nonode false false interpreter_missing
doctor_case doctor_qwen_without_node   qwen_nonode   false false interpreter_missing

# --- matrix: the canary over claude and gemini without credentials (issue 6) ---
# Every cell fails the same way (the missing-cwd control aside): universal, auth_unavailable.
mkdir -p "$tmp/matrix-home" "$tmp/matrix-cwd"
printf '[routes.claude]\nprofile = "claude"\nprogram = "%s"\ntimeout = "60s"\nenv = { HOME = "%s", CLAUDE_CODE_MAX_RETRIES = "1" }\n[routes.gemini]\nprofile = "gemini"\nprogram = "%s"\ntimeout = "60s"\nenv = { HOME = "%s" }\n' \
  "$BIN/claude" "$tmp/matrix-home" "$BIN/gemini" "$tmp/matrix-home" > "$tmp/matrix.toml"
if [ -z "$ONLY" ] || [[ matrix_claude_gemini_no_creds =~ $ONLY ]]; then
  (cd "$tmp/matrix-cwd" && "$AGENTLANE" --home "$tmp/home" --config "$tmp/matrix.toml" matrix --route claude --json) \
    > "$tmp/matrix.json" 2> "$tmp/matrix.stderr"
  got=$(python3 - "$tmp/matrix.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
classes = sorted({r["classifier"] for r in v["rows"] if not r.get("expected")})
routes = sorted({r["route"] for r in v["rows"]})
print(v["shape"], ",".join(classes), ",".join(routes))
PY
)
  if [ "$got" = "universal auth_unavailable claude,gemini" ]; then
    echo "PASS matrix_claude_gemini_no_creds ($got)"
    pass=$((pass + 1))
  else
    echo "FAIL matrix_claude_gemini_no_creds (got $got; expected universal auth_unavailable claude,gemini)"
    fail=$((fail + 1))
  fi
fi

# --- matrix: gemini (an npm shim) under a thin service PATH without node ------
# Every cell fails on auth, but the thin service cell cannot even find node:
# the env-source cell flips to interpreter_missing and the shape is lane_specific.
# (This machine's node is /usr/bin/node, so the thin PATH here is /usr/sbin.)
if [ -z "$ONLY" ] || [[ matrix_gemini_thin_path_without_node =~ $ONLY ]]; then
  (cd "$tmp/matrix-cwd" && "$AGENTLANE" --home "$tmp/home" --config "$tmp/matrix.toml" matrix --route gemini --only env_source --thin-path /usr/sbin --json) \
    > "$tmp/matrix-thin.json" 2> "$tmp/matrix-thin.stderr"
  got=$(python3 - "$tmp/matrix-thin.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
thin = next((r["classifier"] for r in v["rows"] if r["value"] == "thin_service"), "none")
print(v["shape"], v["dimension"], v["rows"][0]["classifier"], thin)
PY
)
  if [ "$got" = "lane_specific env_source auth_unavailable interpreter_missing" ]; then
    echo "PASS matrix_gemini_thin_path_without_node ($got)"
    pass=$((pass + 1))
  else
    echo "FAIL matrix_gemini_thin_path_without_node (got $got; expected lane_specific env_source auth_unavailable interpreter_missing)"
    fail=$((fail + 1))
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
