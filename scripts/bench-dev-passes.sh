#!/usr/bin/env bash
# Where a speculative answer's time goes (issue 17): every dev question answered with the model under trace logging,
# plain once and then once per VARIANT (environment settings such as KOGI_ATTENTION=onnxruntime; none: the defaults),
# interleaved question by question. Prints, per variant, its verification passes by width (passes, share of the time,
# ms and tokens a pass) and the total time modelled with each width's median cost pooled over all variants of the run
# — a comparison of drafting rules free of this machine's drift between runs.
#   bash scripts/bench-dev-passes.sh [VARIANT ...]   e.g. X=default KOGI_ATTENTION=onnxruntime
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
source scripts/dev-lecture-db.sh
python3 - "$kogi" "$db" ../shared/eval/dev.jsonl "${@:-X=default}" <<'PY'
import collections, json, os, re, statistics, subprocess, sys
kogi, db, path = sys.argv[1:4]
variants = [dict(kv.split('=', 1) for kv in v.split(',') if kv) for v in sys.argv[4:]]
qs = [json.loads(l) for l in open(path) if l.strip()]
passes = re.compile(r'verified rows=(\d+) drafted=(\d+) accepted=(\d+) us=(\d+)')
steps = re.compile(r'stepped us=(\d+)')
def run(q, env, extra=()):
    p = subprocess.run([kogi, '--db', db, '--threads', '2', '--json', 'ask', q, '--answer-with', 'model', *extra], capture_output=True,
                       text=True, check=True, env={**os.environ, **env, 'KOGI_LOG': 'kogi_core::generate=trace', 'NO_COLOR': '1'})
    return p.stderr
seen = [[] for _ in variants]; pool = collections.defaultdict(list); plain = []
for q in qs:
    plain += [int(x) for x in steps.findall(run(q['question'], {}, ['--no-speculation']))]
    for i, env in enumerate(variants):
        for m in passes.finditer(run(q['question'], env)):
            rows, _, kept, us = map(int, m.groups())
            seen[i].append((rows, kept + 1, us)); pool[rows].append(us)
step = statistics.median(plain) / 1000
cost = {r: statistics.median(v) / 1000 for r, v in pool.items()}
print(f"plain step: median {step:.2f} ms")
for env, ps in zip(variants, seen):
    total = sum(us for _, _, us in ps) / 1000; tokens = sum(t for _, t, _ in ps); model = sum(cost[r] for r, _, _ in ps)
    print(f"{env}: {len(ps)} passes, {tokens} tokens; measured {total:.0f} ms ({tokens / total * step:.3f}× a plain step's pace), "
          f"modelled {model:.0f} ms ({tokens / model * step:.3f}×)")
    for r in sorted({r for r, _, _ in ps}):
        w = [(t, us) for rr, t, us in ps if rr == r]; ms = sum(us for _, us in w) / 1000
        print(f"  rows {r:2d}: {len(w):4d} passes, {100 * ms / total:5.1f}% of the time, {ms / len(w):6.2f} ms and "
              f"{sum(t for t, _ in w) / len(w):5.2f} tokens a pass")
PY
