#!/usr/bin/env bash
# Speculation on the real lecture's dev questions (issue 17): the raw lecture imported and indexed into a scratch
# database, then every dev question asked with the model (greedy, the app's default step), once with speculation
# (context + the model's own drafts) and once without (exact greedy steps, one row where every node runs on kogi's
# kernels), alternating. Prints decode tok/s, tokens per pass, acceptance and whether both answers are the same
# text, per question and as medians.
#   bash scripts/bench-dev-speculation.sh [QUESTIONS.jsonl]   (default ../shared/eval/dev.jsonl)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
questions=${1:-../shared/eval/dev.jsonl}
source scripts/dev-lecture-db.sh
python3 - "$kogi" "$db" "$questions" <<'PY'
import json, statistics, subprocess, sys
kogi, db, path = sys.argv[1:4]
qs = [json.loads(l) for l in open(path) if l.strip()]
rows = []
for q in qs:
    out = {}
    for mode, extra in (("spec", []), ("plain", ["--no-speculation"])):
        p = subprocess.run([kogi, "--db", db, "--threads", "2", "--json", "ask", q["question"], "--answer-with", "model"] + extra,
                           capture_output=True, text=True, check=True)
        a = json.loads(p.stdout)
        a = a[0] if isinstance(a, list) else a
        out[mode] = a
    s, p = out["spec"]["stats"], out["plain"]["stats"]
    row = {"id": q["id"], "prompt_tokens": s["prompt_tokens"], "new_tokens": s["new_tokens"],
           "plain": p["decode_tokens_per_s"], "spec": s["decode_tokens_per_s"], "speedup": s["decode_tokens_per_s"] / p["decode_tokens_per_s"],
           "tokens_per_pass": s["new_tokens"] / max(s["forward_passes"], 1), "acceptance": s["accepted"] / max(s["drafted"], 1),
           "model_drafted": s["model_drafted"], "model_accepted": s["model_accepted"], "same": out["spec"]["text"] == out["plain"]["text"]}
    rows.append(row)
    print(f"{row['id']}: {row['prompt_tokens']} prompt tokens, {row['new_tokens']} new; plain {row['plain']:.1f} tok/s, "
          f"speculative {row['spec']:.1f} ({row['speedup']:.2f}×), {row['tokens_per_pass']:.2f} tokens/pass, acceptance "
          f"{row['acceptance']:.2f}, model drafts {row['model_accepted']}/{row['model_drafted']}, same answer: {row['same']}", flush=True)
med = lambda k: statistics.median(r[k] for r in rows)
print(json.dumps({"questions": len(rows), "median_plain": med("plain"), "median_spec": med("spec"), "median_speedup": med("speedup"),
                  "median_tokens_per_pass": med("tokens_per_pass"), "all_same": all(r["same"] for r in rows)}))
PY
