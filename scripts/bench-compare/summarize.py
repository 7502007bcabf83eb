#!/usr/bin/env python3
"""Summarise an OUTDIR written by run.sh (exec-AB.json, exec-BA.json, queue.json) as markdown."""
import json, random, statistics as S, sys, os

out = sys.argv[1]
random.seed(15)


def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p
    i = int(k)
    return v[i] if i + 1 >= len(v) else v[i] + (v[i + 1] - v[i]) * (k - i)


print(f"## Results from `{out}`\n")
print("```")
print(open(os.path.join(out, "machine.txt")).read().rstrip())
s0 = [int(x) for x in open(os.path.join(out, "stat.start")).readline().split()[1:]]
s1 = [int(x) for x in open(os.path.join(out, "stat.end")).readline().split()[1:]]
d = [(b - a) / os.sysconf("SC_CLK_TCK") for a, b in zip(s0, s1)]
print(f"whole run, machine CPU seconds: busy {d[0]+d[1]+d[2]+d[5]+d[6]:.1f}, idle {d[3]:.1f}, iowait {d[4]:.1f}, steal {d[7]:.1f}")
print("```\n")

# ---- exec
blocks = {}
for name in ("exec-AB.json", "exec-BA.json"):
    for r in json.load(open(os.path.join(out, name)))["results"]:
        blocks.setdefault(r["command"], []).append(r["times"])
ms = lambda x: f"{x * 1e3:.2f}"
print("### `agentlane exec -- /bin/true` (hyperfine -N, both binaries in one invocation, two blocks in opposite order)\n")
print("| command | runs | median | mean ± σ | p10 – p90 | min | median per block |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
allt = {}
for name in ("before", "after", "/bin/true"):
    if name not in blocks:
        continue
    t = [x for b in blocks[name] for x in b]
    allt[name] = t
    per = ", ".join(ms(S.median(b)) for b in blocks[name])
    print(f"| {name} | {len(t)} | {ms(S.median(t))} ms | {ms(S.mean(t))} ± {ms(S.stdev(t))} ms | "
          f"{ms(pct(t, .1))} – {ms(pct(t, .9))} ms | {ms(min(t))} ms | {per} ms |")
b, a = allt["before"], allt["after"]
diff = S.median(a) - S.median(b)
boots = []
for _ in range(400):
    boots.append(S.median(random.choices(a, k=len(a))) - S.median(random.choices(b, k=len(b))))
lo, hi = pct(boots, .025), pct(boots, .975)
# block-to-block drift of the same binary: what the machine alone moves a median by
drift = max(abs(S.median(blocks[n][0]) - S.median(blocks[n][1])) for n in ("before", "after"))
per_block = [S.median(blocks["after"][i]) - S.median(blocks["before"][i]) for i in range(2)]
noise = max(drift, (hi - lo) / 2)
regress = all(x > 0 for x in per_block) and diff > noise
print(f"\nafter − before, median: **{diff*1e3:+.3f} ms ({diff / S.median(b) * 100:+.1f}%)**, "
      f"bootstrap 95% CI {lo*1e3:+.3f} … {hi*1e3:+.3f} ms; per block {', '.join(f'{x*1e3:+.3f}' for x in per_block)} ms; "
      f"same binary's block-to-block drift {drift*1e3:.3f} ms.")
if "/bin/true" in allt:
    t0 = S.median(allt["/bin/true"])
    print(f"Added latency over bare `/bin/true` (median): before {ms(S.median(b) - t0)} ms, after {ms(S.median(a) - t0)} ms.")
print(f"\nVerdict (exec): {'**REGRESSION beyond noise**' if regress else 'no regression beyond noise'} "
      f"(criterion: after slower in both blocks and by more than max(drift, CI half-width) = {noise*1e3:.3f} ms).\n")

# ---- queue
q = json.load(open(os.path.join(out, "queue.json")))
jobs = q["jobs"]
scen = []
for r in q["results"]:
    k = (r["store"], r["workers"])
    if k not in scen:
        scen.append(k)
label = {"sqlite": "SQLite (one file, in the home)", "pg": "PostgreSQL (fresh database per run)"}
print(f"### Queue: {jobs} trivial `/bin/true` jobs, `worker --lane main --concurrency {q['concurrency']} --drain`, alternating pairs\n")
print("| store, worker processes | binary | runs | median wall | min – max | jobs/s at median | tree CPU per job (median) | machine CPU per job (median) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
verdicts = []
for store, w in scen:
    rs = [r for r in q["results"] if (r["store"], r["workers"]) == (store, w)]
    wall = {}
    for side in ("before", "after"):
        x = [r for r in rs if r["side"] == side]
        wl = [r["wall"] for r in x]
        wall[side] = wl
        print(f"| {label[store]}, {w} | {side} | {len(wl)} | {S.median(wl):.3f} s | {min(wl):.3f} – {max(wl):.3f} s | "
              f"{jobs / S.median(wl):.0f} | {S.median(r['tree_cpu'] for r in x) / jobs * 1e3:.2f} ms | "
              f"{S.median(r['sys_busy'] for r in x) / jobs * 1e3:.2f} ms |")
    # pairs in recorded order
    bl, al = wall["before"], wall["after"]
    ratios = [x / y for x, y in zip(al, bl)]
    mb, ma = S.median(bl), S.median(al)
    halfrange = max((max(bl) - min(bl)) / 2 / mb, (max(al) - min(al)) / 2 / ma)
    slower = sum(r > 1 for r in ratios)
    change = ma / mb - 1
    regress = change > halfrange and slower >= len(ratios) - 1
    verdicts.append((store, w, change, ratios, halfrange, slower, regress,
                     S.median([r["sys_steal"] for r in rs]), S.median([r["sys_iowait"] for r in rs])))
print()
for store, w, change, ratios, halfrange, slower, regress, steal, iow in verdicts:
    print(f"- {label[store]}, {w} worker process(es): after/before wall per pair "
          f"{', '.join(f'{r:.3f}' for r in ratios)}; median wall {change*100:+.1f}% "
          f"(throughput {(1/(1+change)-1)*100:+.1f}%); after slower in {slower}/{len(ratios)} pairs; "
          f"noise (larger half-range) ±{halfrange*100:.1f}%; per-run steal {steal:.2f} s, iowait {iow:.2f} s (medians). "
          f"Verdict: {'**REGRESSION beyond noise**' if regress else 'no regression beyond noise'}.")
print("\n(criterion: median wall slower by more than the larger half-range of either binary's runs, "
      "and after slower in all pairs but at most one.)")
