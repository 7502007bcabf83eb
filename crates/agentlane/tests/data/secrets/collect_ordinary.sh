#!/bin/sh
# Rebuilds ordinary.txt: real output and files nobody wrote for this test, the
# false-positive set of the redaction corpus test. Run from this directory.
set -eu
repo=$(git rev-parse --show-toplevel)
clis=${CLIS:-/work/main/.real-clis}
cut1k() { cut -c1-1000; }
{
  head -n 2500 "$repo/Cargo.lock"
  git -C "$repo" log --format='%H %s' | head -n 600
  head -n 1500 "$clis/package-lock.json" | cut1k
  for f in "$clis/node_modules/@qwen-code/qwen-code/locales/en.js" \
           "$clis/node_modules/@google/gemini-cli/bundle/chunk-DZZAUXYI.js"; do
    head -n 300 "$f" | cut1k
  done
  python3 -c 'import uuid; [print(uuid.uuid4()) for _ in range(300)]'
  base64 -w 76 /usr/share/doc/python3-pip/html/topics/deps.png | head -n 300
  sha256sum /usr/share/common-licenses/* 2>/dev/null | head -n 50
  cat /usr/share/common-licenses/Apache-2.0 | head -n 250
  head -n 300 /usr/share/common-licenses/GPL-3
  head -n 1200 /var/lib/dpkg/status | cut1k
} > ordinary.txt
wc -l -c ordinary.txt
