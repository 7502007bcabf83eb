#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*)
from the project's own data: the README's configuration, the built-in rules
and classifier cases, the secrets corpus (values generated with a fixed seed
from its documented formats) and ordinary output. Deterministic: run it again
and nothing changes. `cargo fuzz cmin` then keeps the files that add coverage;
regression inputs (regress-*) are written by hand and never removed.

Usage: python3 fuzz/seeds.py   (from the repository root)
"""
import json
import os
import random
import re
import struct
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
rng = random.Random(13)

CHARSETS = {
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "letters_lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "letters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "digits": "0123456789",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "b64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "b32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "lowalnum": "abcdefghijklmnopqrstuvwxyz0123456789",
    "upalnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "bech32": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
}


def expand(template):
    def one(m):
        cs, n = m.group(1), int(m.group(2))
        return "".join(rng.choice(CHARSETS[cs]) for _ in range(n))
    return re.sub(r"\{(\w+):(\d+)\}", one, template)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# The secrets corpus: one value per family, with its context name.
families = []
for line in read("crates/agentlane/tests/data/secrets/corpus.jsonl").splitlines():
    row = json.loads(line)
    value = row.get("example") or expand(row["generator"])
    families.append((row["family"], row.get("context"), value))
ordinary = read("crates/agentlane/tests/data/secrets/ordinary.txt").splitlines()

# config: the README's and the runbook's TOML blocks; with a rules file and an
# env file served after NUL bytes (see agentlane::fuzzing::config).
blocks = []
for doc in ["README.md", "docs/runbook.md"]:
    blocks += re.findall(r"```toml\n(.*?)```", read(doc), re.S)
rules_text = read("crates/agentlane/src/classify/builtin_rules.toml")
rule_blocks = ["[[rule]]" + b for b in rules_text.split("[[rule]]")[1:]]
for i, b in enumerate(blocks):
    write("config", f"doc-{i}", b)
    # The commented-out settings switched on (the values after them stay comments).
    on = re.sub(r"(?m)^# (\[|[a-z_]+ = )", r"\1", b)
    if on != b:
        write("config", f"doc-{i}-on", on)
env_example = "# agent env\nexport OPENAI_API_KEY=sk-proj-abc123\nHTTPS_PROXY='http://u:p4ssw0rd@proxy:3128'\nEMPTY=\n"
write("config", "with-files", re.sub(r"(?m)^# (\[|[a-z_]+ = )", r"\1", blocks[0]).replace("\nrules_file", "\n# rules_file") +
      '\n[routes.extra]\nprofile = "generic"\nprogram = "/bin/true"\nenv_file = "agent.env"\nrules_file = "rules.toml"\n'
      + "\0" + "".join(rule_blocks[:2]) + "\0" + env_example)
write("config", "queue-and-kinds",
      '[queue]\nlease = "30s"\npoll = "1s"\nprompt_secrets = "redact"\n\n[routes.a]\nprofile = "claude"\nmodel = "opus"\njson = true\ntimeout = "20m"\n'
      '[routes.a.retry.rate_limited]\naction = "retry"\nmax_attempts = 3\nfactor = 2.5\n\n[kinds.fix]\nroutes = ["a"]\nmax_prompt_bytes = 100\n\n[lanes.ci]\n\n[workers.ci]\nenv_clear = true\n\n[preflight]\nttl = "60s"\nprobe_timeout = "5s"\n')

# rules: the built-in rules, a few at a time, and a user file that disables one.
for i in range(0, len(rule_blocks), 8):
    write("rules", f"builtin-{i // 8}", "".join(rule_blocks[i:i + 8]))
write("rules", "user", '[[rule]]\nid = "my.quota"\nclass = "quota_exhausted"\nstream = "any"\npattern = "(?i)monthly quota"\norder = 5\nhint = "wait for {retry_after}"\n\n[[rule]]\nid = "claude.not_logged_in"\ndisabled = true\n')

# env_file: real-looking files, valid and not.
write("env_file", "plain", env_example)
write("env_file", "secrets", "".join(f"{(ctx or fam.upper().replace('-', '_'))}={v}\n" for fam, ctx, v in families[:40]))
write("env_file", "quotes", "A=\"double \\\"quoted\\\" $x\"\nB='single'\n  export C = spaced\nD=\"unterminated\n")
write("env_file", "bad-names", "1ABC=x\nno equals here\n=empty\nKEY WITH SPACE=v\n")
write("env_file", "crlf", "A=1\r\nB=two\r\n# c\r\n")

# jsonl: job lines with prompts holding secrets and ordinary text.
lines = []
for i, (fam, ctx, v) in enumerate(families[:30]):
    prompt = f"{ctx}={v}" if ctx else f"use {v} for the call"
    lines.append(json.dumps({"kind": "fix", "lane": "ci", "prompt": prompt, "priority": i}))
write("jsonl", "secrets", "\n".join(lines[:15]) + "\n")
write("jsonl", "secrets-2", "\n".join(lines[15:]) + "\n")
write("jsonl", "mixed", json.dumps({"kind": "any", "lane": "nightly", "route": "backup", "prompt": "fix the build", "fields": {"ticket": 12, "draft": True}}) + "\n\n"
      + '{"kind":"nope","lane":"ci","prompt":"x"}\n{"kind":"fix","lane":"ci","prompt":"' + "y" * 5000 + '"}\nnot json\n\xff\n')
# Bytes 1..6 are spliced into the fixed secrets before parsing.
write("jsonl", "secret-in-fields", '{"kind":"fix","lane":"ci","prompt":"key \x01 and url \x03"}\n'
      '{"kind":"fix","lane":"ci","prompt":"hook \x02","fields":{"note":"\x01"}}\n')

# classify: the built-in cases (flags: 1 exit code, 2 signal, 4 timed out).
cases = tomllib.loads(read("crates/agentlane/src/classify/builtin_cases.toml"))["case"]
for i, c in enumerate(cases[::max(1, len(cases) // 40)][:40]):
    flags = 0
    code = c.get("exit_code")
    if code is not None:
        flags |= 1
    signal = c.get("signal")
    if signal is not None:
        flags |= 2
    if c.get("timed_out"):
        flags |= 4
    head = bytes([flags]) + struct.pack("<i", code or 0) + bytes([signal or 0])
    write("classify", c["name"], head + c.get("stdout", "").encode() + b"\0" + c.get("stderr", "").encode())

# redact: secrets in context (bytes 1..6 splice in the fixed secrets of
# agentlane::fuzzing::SECRET_ENV), family values, ordinary output.
def cuts(a, b):
    return struct.pack("<HH", a, b)

write("redact", "fixed", cuts(10, 40) + b"key=\x01\nhook \x02 db \x03\n{\"creds\": \x04}\n\x05\nhalf \x06 and \x06\n")
write("redact", "pem-split", cuts(50, 90) + b"log line\n\x05\nafter\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n")
for i in range(0, 60, 20):
    body = "".join(f"{ctx}={v}\n" if ctx else f"token: {v}\n" for _, ctx, v in families[i:i + 20])
    write("redact", f"families-{i // 20}", cuts(100 + i, 700 + i) + body.encode())
write("redact", "ordinary", cuts(333, 1500) + "\n".join(ordinary[:80]).encode())
write("redact", "json-escaped", cuts(7, 77) + json.dumps({"env": "DATABASE_URL=postgresql://app:Zk4pQ9wX2mT7vL1s@db.internal:5432/app", "k": "a/b"}).encode() + b"\n")

# redact_setup: environments (first byte: how often each value repeats).
def env(repeat, pairs):
    return bytes([repeat]) + b"\0".join(n.encode() + b"\0" + v.encode() for n, v in pairs)

write("redact_setup", "families", env(0, [((ctx or fam.upper().replace("-", "_")), v) for fam, ctx, v in families[:25]]))
write("redact_setup", "urls", env(0, [("DATABASE_URL", "postgresql://app:Zk4pQ9wX2mT7vL1s@db/app"), ("HOOK", "https://hooks.slack.com/services/T0/B0/q8R9s0T1u2V3w4X5"), ("PATH", "/usr/bin:/bin"), ("HOME", "/root")]))
write("redact_setup", "long", env(40, [("GCP_SA", '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n", "client_secret": "GOCSPX-a1b2c3d4e5f6g7h8i9j0"}\n')]))
write("redact_setup", "multiline", env(1, [("DEPLOY_KEY", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"), ("ENABLED", "true")]))
