#!/usr/bin/env bash
# install-real-clis.sh: install the REAL agent CLIs from npm into .real-clis/
# (git-ignored), pinned to the versions documented in docs/agent-clis.md.
# Idempotent: does nothing when the pinned versions are there. Run by
# scripts/test BEFORE cargo test (tests/prompt_flags.rs runs these CLIs) and by
# scripts/real-cli-classes.sh. Prints the directory of their executables.
#
# Usage: scripts/install-real-clis.sh   (from anywhere)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIS="$ROOT/.real-clis"
BIN="$CLIS/node_modules/.bin"

PINS=(
  "@openai/codex@0.169.0"
  "@anthropic-ai/claude-code@2.1.197"
  "@google/gemini-cli@0.61.0"
  "@qwen-code/qwen-code@0.15.10"
  "opencode-ai@1.18.33"
)

die() { echo "install-real-clis: $*" >&2; exit 2; }
command -v python3 >/dev/null || die "python3 is required to read the installed versions"
command -v node >/dev/null || die "node is required to install and run the npm CLIs"

installed_version() { # package name -> version installed under .real-clis, or nothing
  python3 - "$CLIS/node_modules/$1/package.json" <<'PY' 2>/dev/null
import json, sys
print(json.load(open(sys.argv[1]))["version"])
PY
}

need_install=0
for pin in "${PINS[@]}"; do
  pkg=${pin%@*}; want=${pin##*@}
  [ "$(installed_version "$pkg")" = "$want" ] || need_install=1
done
if [ "$need_install" = 1 ]; then
  echo "installing ${PINS[*]} into $CLIS" >&2
  mkdir -p "$CLIS"
  npm install --prefix "$CLIS" --no-audit --no-fund --loglevel=error "${PINS[@]}" >&2 \
    || die "npm install failed"
fi
# Claude Code's npm package ships a shell placeholder as bin/claude.exe that its
# postinstall replaces with the native binary; if scripts did not run, run it.
claude_exe="$CLIS/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
if [ -f "$claude_exe" ] && [ "$(head -c 4 "$claude_exe" | od -An -c | tr -d ' ')" != '177ELF' ]; then
  (cd "$CLIS/node_modules/@anthropic-ai/claude-code" && node install.cjs) >&2 \
    || echo "warning: could not install the native claude binary; claude cases will fail" >&2
fi
for c in codex claude gemini qwen opencode; do
  [ -e "$BIN/$c" ] || die "missing $BIN/$c after install"
done
echo "$BIN"
