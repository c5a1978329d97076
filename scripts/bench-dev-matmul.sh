#!/usr/bin/env bash
# kogi's own int4 matrix kernel against ONNX Runtime's on the real lecture's dev questions (issue 17): the raw
# lecture imported and indexed into a scratch database, then every dev question asked with the model as the app
# asks it (greedy, speculation on), once with KOGI_MATMUL=onnxruntime and once with KOGI_MATMUL=kogi, alternating.
# Prints time to first token, answer time and decode speed per question and as medians.
#   bash scripts/bench-dev-matmul.sh [QUESTIONS.jsonl]   (default ../shared/eval/dev.jsonl)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
questions=${1:-../shared/eval/dev.jsonl}
source scripts/dev-lecture-db.sh
python3 - "$kogi" "$db" "$questions" <<'PY'
import json, os, statistics, subprocess, sys
kogi, db, path = sys.argv[1:4]
qs = [json.loads(l) for l in open(path) if l.strip()]
rows = []
for q in qs:
    out = {}
    for kernel in ("onnxruntime", "kogi"):
        p = subprocess.run([kogi, "--db", db, "--threads", "2", "--json", "ask", q["question"], "--answer-with", "model"],
                           capture_output=True, text=True, check=True, env=dict(os.environ, KOGI_MATMUL=kernel))
        a = json.loads(p.stdout)
        out[kernel] = a[0] if isinstance(a, list) else a
    o, k = out["onnxruntime"]["stats"], out["kogi"]["stats"]
    row = {"id": q["id"], "prompt_tokens": o["prompt_tokens"], "ttft_ms": [o["ttft_ms"], k["ttft_ms"]], "total_ms": [o["total_ms"], k["total_ms"]],
           "decode": [o["decode_tokens_per_s"], k["decode_tokens_per_s"]], "same": out["onnxruntime"]["text"] == out["kogi"]["text"]}
    rows.append(row)
    print(f"{row['id']}: {row['prompt_tokens']} prompt tokens; first token {o['ttft_ms']:.0f} → {k['ttft_ms']:.0f} ms, answer "
          f"{o['total_ms']:.0f} → {k['total_ms']:.0f} ms, decode {o['decode_tokens_per_s']:.1f} → {k['decode_tokens_per_s']:.1f} tok/s "
          f"(ONNX Runtime's → kogi's), same answer: {row['same']}", flush=True)
med = lambda f: statistics.median(f(r) for r in rows)
print(json.dumps({"questions": len(rows), "median_ttft_ms": [med(lambda r: r["ttft_ms"][0]), med(lambda r: r["ttft_ms"][1])],
                  "median_ttft_speedup": med(lambda r: r["ttft_ms"][0] / r["ttft_ms"][1]),
                  "median_total_ms": [med(lambda r: r["total_ms"][0]), med(lambda r: r["total_ms"][1])],
                  "median_total_speedup": med(lambda r: r["total_ms"][0] / r["total_ms"][1]),
                  "median_decode": [med(lambda r: r["decode"][0]), med(lambda r: r["decode"][1])], "same_answers": sum(r["same"] for r in rows)}))
PY
