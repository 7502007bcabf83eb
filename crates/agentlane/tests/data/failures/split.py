#!/usr/bin/env python3
"""Validate the failure corpus and the precision set, and print the split.

    python3 crates/agentlane/tests/data/failures/split.py [--list tuning|read-r1|heldout]

The split is computed, never stored: an entry whose `source` (the exact
string) hashes with SHA-256 to a first byte below 77 is held out (~30%), the
rest is for tuning. Round one's held-out set (`read-r1`) was measured blind
and then read; it tunes now. Round two's entries (`"round": 2`, collected
from threads round one never used) give the unseen held-out set. The Rust replay harness
(crates/agentlane-cli/tests/failure_corpus.rs) computes the same split.
Exits non-zero when a row is malformed.
"""

import collections
import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
HELDOUT_BELOW = 77
CLIS = ["codex", "claude", "gemini", "qwen", "aider", "opencode", "generic"]
STREAMS = ["stdout", "stderr", "both"]
# Every class of crates/agentlane/src/class.rs but `ok` (a failure is never
# `ok`), plus `unknown` for a message no class fits (replayed: unknown_exit_N).
CLASSES = [
    "payload_invalid", "cwd_missing", "cli_missing", "cli_not_executable",
    "interpreter_missing", "route_not_allowed", "timeout", "auth_unavailable",
    "sandbox_or_policy_block", "rate_limited", "quota_exhausted",
    "network_unavailable", "transient_io", "config_invalid", "killed_by_signal",
    "worker_lost", "unknown",
]
EXPECTS = ["ok"] + CLASSES


def hashed_out(source):
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return digest[0] < HELDOUT_BELOW


def split_of(row):
    """tuning, read-r1 (round one's held-out set: measured blind, then read,
    it tunes now) or heldout (round two's, unseen)."""
    if not hashed_out(row["source"]):
        return "tuning"
    return "read-r1" if row.get("round", 1) == 1 else "heldout"


def load(path, label_key, labels, required):
    errors, rows, ids, messages = [], [], set(), set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path.name}:{n}: not JSON: {e}")
            continue
        where = f"{path.name}:{n} ({row.get('id')})"
        for key in required:
            if key not in row:
                errors.append(f"{where}: missing {key}")
        for key in ("id", "source", "cli", "stream", "message", label_key):
            if not isinstance(row.get(key), str) or not row.get(key).strip():
                errors.append(f"{where}: {key} must be a non-empty string")
        if row.get("cli") not in CLIS:
            errors.append(f"{where}: cli {row.get('cli')!r}")
        if row.get("stream") not in STREAMS:
            errors.append(f"{where}: stream {row.get('stream')!r}")
        if row.get(label_key) not in labels:
            errors.append(f"{where}: {label_key} {row.get(label_key)!r}")
        code = row.get("exit_code")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            errors.append(f"{where}: exit_code {code!r}")
        if row.get("round", 1) not in (1, 2):
            errors.append(f"{where}: round must be 1 or 2")
        if "version" in row and row["version"] is not None and not isinstance(row["version"], str):
            errors.append(f"{where}: version must be a string or null")
        src = row.get("source", "")
        if not (src.startswith("https://") or src.startswith("synthetic-from:https://")):
            errors.append(f"{where}: source must be a URL (or synthetic-from:<url>)")
        if row.get("id") in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(row.get("id"))
        if row.get("message") in messages:
            errors.append(f"{where}: duplicate message")
        messages.add(row.get("message"))
        rows.append(row)
    return rows, errors


SPLITS = ("tuning", "read-r1", "heldout")


def table(title, counter_by_split, keys):
    print(f"\n{title:24} {'tuning':>7} {'read-r1':>8} {'heldout':>8} {'total':>6}")
    for key in keys:
        t, r, h = (counter_by_split[s][key] for s in SPLITS)
        if t or r or h:
            print(f"{key:24} {t:>7} {r:>8} {h:>8} {t + r + h:>6}")


def main():
    corpus, errors = load(
        HERE / "corpus.jsonl", "class", CLASSES,
        ["id", "source", "cli", "version", "stream", "exit_code", "message", "class"],
    )
    precision, perrors = load(
        HERE / "precision.jsonl", "expect", EXPECTS,
        ["id", "source", "cli", "stream", "exit_code", "message", "expect"],
    )
    errors += perrors
    # Round two's held-out set is only unseen if none of its threads was
    # read in round one (nor quoted by a precision output).
    seen = {r["source"] for r in corpus if r.get("round", 1) == 1}
    seen |= {r["source"].removeprefix("synthetic-from:") for r in precision}
    for r in corpus:
        if r.get("round", 1) == 2 and r["source"] in seen:
            errors.append(f"corpus.jsonl ({r['id']}): round two reuses a round-one source {r['source']}")
    for e in errors:
        print(e, file=sys.stderr)

    by_split = collections.Counter(split_of(r) for r in corpus)
    cli = {s: collections.Counter() for s in SPLITS}
    cls = {s: collections.Counter() for s in SPLITS}
    for r in corpus:
        s = split_of(r)
        cli[s][r["cli"]] += 1
        cls[s][r["class"]] += 1
    sources = {r["source"] for r in corpus}
    print(f"corpus: {len(corpus)} entries from {len(sources)} sources; "
          f"tuning {by_split['tuning']}, read-r1 {by_split['read-r1']}, "
          f"heldout {by_split['heldout']} "
          f"({100 * (by_split['heldout'] + by_split['read-r1']) / max(1, len(corpus)):.0f}% hashed out)")
    table("cli", cli, CLIS)
    table("class", cls, CLASSES)
    pexp = collections.Counter(r["expect"] for r in precision)
    pcli = collections.Counter(r["cli"] for r in precision)
    print(f"\nprecision: {len(precision)} outputs; expect {dict(pexp)}; per cli {dict(pcli)}")

    if len(sys.argv) == 3 and sys.argv[1] == "--list":
        for r in corpus:
            if split_of(r) == sys.argv[2]:
                print(f"{r['id']}\t{r['cli']}\t{r['class']}")
    if errors:
        print(f"\n{len(errors)} errors", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
