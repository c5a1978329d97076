#!/usr/bin/env python3
"""onnxruntime-genai on a kogi model folder (its genai_config.json), for the speed comparison of
scripts/bench-engines.sh. Benchmark tooling only; runs in the reference venv (~/.cache/kogi/reference).

  genai_bench.py --model DIR --ids 1,2,3 [--new 128] [--runs 3] [--threads 2] [--ngram N,K]

Greedy, CPU, one sequence. Time to first token = appending the prompt and picking the first token; decode =
the tokens after the first ÷ their time. --ngram N,K turns on genai's own n-gram speculation (n-gram size N, at
most K drafted tokens). JSON to stdout: medians after one warm-up, every run, the first run's tokens."""
import argparse
import json
import statistics
import time

import onnxruntime_genai as og


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="comma-separated prompt token ids")
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ngram", help="n-gram size and most drafted tokens, e.g. 4,8")
    ap.add_argument("--profile", help="write ONNX Runtime's per-node profile to files starting with this (ort_profile.py reads it)")
    a = ap.parse_args()
    ids = [int(x) for x in a.ids.split(",")]
    cfg = og.Config(a.model)
    cfg.clear_providers()
    options = {"intra_op_num_threads": a.threads, "inter_op_num_threads": 1}
    if a.profile:
        options["enable_profiling"] = a.profile
    cfg.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
    model = og.Model(cfg)

    def once():
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + a.new, do_sample=False)
        if a.ngram:
            n, k = (int(x) for x in a.ngram.split(","))
            params.set_speculative_options(ngram_size=n, max_draft_tokens=k)
        g = og.Generator(model, params)
        t0 = time.perf_counter()
        g.append_tokens(ids)
        g.generate_next_token()
        t1 = time.perf_counter()
        first = g.token_count()
        while not g.is_done():
            g.generate_next_token()
        t2 = time.perf_counter()
        new = g.token_count() - len(ids)
        stats = g.get_speculative_stats() if a.ngram else None
        return t1 - t0, (g.token_count() - first) / (t2 - t1), [int(t) for t in g.get_sequence(0)][len(ids):], new, stats

    once()
    runs = [once() for _ in range(a.runs)]
    ttft = [r[0] * 1000 for r in runs]
    decode = [r[1] for r in runs]
    out = {"engine": "onnxruntime-genai",
           "model": a.model, "threads": a.threads, "prompt_tokens": len(ids), "new_tokens": runs[0][3], "ngram": a.ngram,
           "ttft_ms": statistics.median(ttft), "ttft_ms_all": ttft,
           "prefill_tok_s": len(ids) / (statistics.median(ttft) / 1000),
           "decode_tok_s": statistics.median(decode), "decode_tok_s_all": decode, "tokens": runs[0][2]}
    if a.ngram:
        out["speculative_stats"] = {k: v for k, v in (runs[0][4] or {}).items() if isinstance(v, (int, float, bool, str))}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
