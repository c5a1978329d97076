#!/usr/bin/env python3
"""kogi next to llama.cpp and onnxruntime-genai on the CPU, side by side in one run (issue 17's table). Benchmark
tooling only; runs in the reference venv, called by scripts/bench-engines.sh.

  bench_engines.py --kogi BIN --model DIR --gguf FILE [--gguf-best FILE] [--rounds 3] [--runs 3] [--new 128]
                   [--threads 2] [--long 1000] [--out FILE]

Each round runs every engine once, in turn, as its own process (so they share the machine's state alike):
kogi's `bench generate` on its RAG prompt, its open question and a --long-token prompt (exact greedy steps,
one-row steps, context drafts, context + model drafts); llama.cpp on the GGUF as it is and (--gguf-best) re-quantised
to Q4_0 with flash attention; onnxruntime-genai on kogi's folder, plain and with its n-gram speculation (4, 8).
Every engine is fed kogi's exact prompt token ids. A figure is the median over rounds of each process's median."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd: list[str]) -> dict:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} … failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kogi", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--gguf-best", help="the same model as Q4_0 (llama.cpp's best CPU configuration, with flash attention)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--long", type=int, default=1000)
    ap.add_argument("--out")
    a = ap.parse_args()
    py = sys.executable
    kogi = [a.kogi, "--threads", str(a.threads), "--json", "bench", "generate", "--model", a.model, "--runs", str(a.runs),
            "--new-tokens", str(a.new), "--variants", "plain,fast,spec-context,spec"]
    samples: dict[tuple[str, str], list[dict]] = {}

    def add(prompt, engine, ttft_ms, decode, extra=None):
        samples.setdefault((prompt, engine), []).append({"ttft_ms": ttft_ms, "decode": decode, **(extra or {})})

    prompts: dict[str, list[int]] = {}
    kogi_tokens: dict[str, list[int]] = {}
    started = time.time()
    for r in range(a.rounds):
        print(f"round {r + 1} of {a.rounds} ({time.time() - started:.0f} s)", file=sys.stderr)
        for args in ([], ["--prompt-tokens", str(a.long)]):
            rep = run_json(kogi + args)
            for res in rep["results"]:
                name = res["prompt"].replace(f"synthetic-{a.long}", f"long-{a.long}")
                prompts[name] = res["prompt_ids"]
                kogi_tokens[name] = res["tokens"]
                # Exact steps are one row when every node runs on kogi's kernels, else two (the report says which).
                exact = "kogi, exact greedy, one-row steps (default)" if rep.get("rows_independent") else "kogi, exact two-row steps (default)"
                for key, engine in (("plain", exact), ("plain_one_row_steps", "kogi, one-row steps"),
                                    ("speculative_context_only", "kogi, context drafts"),
                                    ("speculative", "kogi, context + model drafts")):
                    d = res.get(key)
                    if d:
                        add(name, engine, d["ttft_ms"], d["decode_tokens_per_s"],
                            {"tokens_per_pass": d.get("tokens_per_forward_pass"), "identical": res.get("identical_output")})
        for name, ids in prompts.items():
            idl = ",".join(map(str, ids))
            for gguf, fa, engine in ((a.gguf, False, "llama.cpp, the GGUF as it is"),
                                     (a.gguf_best, True, "llama.cpp, Q4_0 + flash attention")):
                if not gguf:
                    continue
                cmd = [py, os.path.join(HERE, "llama_cpp_ref.py"), "bench", "--gguf", gguf, "--ids", idl, "--new", str(a.new),
                       "--threads", str(a.threads), "--runs", str(a.runs)] + (["--flash-attn"] if fa else [])
                d = run_json(cmd)
                add(name, engine, llama_ttft_ms(d, len(ids)), d["decode_tok_s_median"], {"agrees_with_kogi": agree(d["tokens"], kogi_tokens[name])})
            for ngram, engine in ((None, "onnxruntime-genai"), ("4,8", "onnxruntime-genai + n-gram speculation (4, 8)")):
                cmd = [py, os.path.join(HERE, "genai_bench.py"), "--model", a.model, "--ids", idl, "--new", str(a.new),
                       "--threads", str(a.threads), "--runs", str(a.runs)] + (["--ngram", ngram] if ngram else [])
                d = run_json(cmd)
                add(name, engine, d["ttft_ms"], d["decode_tok_s"], {"agrees_with_kogi": agree(d["tokens"], kogi_tokens[name])})
    table = []
    for (prompt, engine), xs in samples.items():
        ttft = statistics.median(x["ttft_ms"] for x in xs)
        row = {"prompt": prompt, "prompt_tokens": len(prompts[prompt]), "engine": engine, "samples": len(xs),
               "ttft_ms": ttft, "prefill_tok_s": len(prompts[prompt]) / (ttft / 1000),
               "decode_tok_s": statistics.median(x["decode"] for x in xs), "decode_all": [x["decode"] for x in xs]}
        for k, pick in (("tokens_per_pass", statistics.median), ("identical", all), ("agrees_with_kogi", min)):
            vals = [x[k] for x in xs if x.get(k) is not None]
            if vals:
                row[k] = pick(vals)
        table.append(row)
    report = {"model": a.model, "gguf": a.gguf, "gguf_best": a.gguf_best, "threads": a.threads, "new_tokens": a.new,
              "rounds": a.rounds, "runs_per_process": a.runs, "seconds": time.time() - started, "rows": table}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
    print(f"| prompt | engine | prefill tok/s (time to first token) | decode tok/s | notes |\n|---|---|---|---|---|")
    for row in table:
        notes = []
        if "tokens_per_pass" in row:
            notes.append(f"{row['tokens_per_pass']:.2f} tokens/pass")
        if "identical" in row:
            notes.append("same output as greedy" if row["identical"] else "output differs from greedy")
        if "agrees_with_kogi" in row:
            notes.append(f"first {row['agrees_with_kogi']} tokens as kogi's")
        print(f"| {row['prompt']} ({row['prompt_tokens']}) | {row['engine']} | {row['prefill_tok_s']:.0f} ({row['ttft_ms']:.0f} ms) | "
              f"{row['decode_tok_s']:.1f} | {', '.join(notes)} |")


def llama_ttft_ms(d: dict, n: int) -> float:
    """llama.cpp's time for an n-token prompt in ms, from its median prefill rate."""
    return n / d["prefill_tok_s_median"] * 1000


def agree(a: list[int], b: list[int]) -> int:
    """How many first tokens two greedy answers share."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n




if __name__ == "__main__":
    main()
