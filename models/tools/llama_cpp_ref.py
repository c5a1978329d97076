#!/usr/bin/env python3
"""llama.cpp reference runner (through llama-cpp-python) for checking kogi's GGUF converter. Test tooling only.

Runs in the reference venv (~/.cache/kogi/reference/bin/python, llama-cpp-python 0.3.36, CPU). JSON to stdout;
llama.cpp's own log goes to stderr (quiet unless --verbose).

  logits     --gguf F --tokens 1,2,3 [--greedy N] [--npy FILE]
             logits at every position of the sequence (float lists; with --npy also a float32 [T, vocab] array),
             and the greedy (argmax) continuation of N tokens from the whole sequence.
  tokenize   --gguf F --text-file T [--whole]
             llama.cpp's token ids for each line of T (newline not included; --whole: the file as one text),
             add_bos=False, special=True (special-token text such as <|im_start|> becomes the special id).
  perplexity --gguf F --text-file T [--ctx 512] [--score half|all]
             perplexity over non-overlapping windows of --ctx tokens, as llama.cpp's llama-perplexity scores it:
             the text is tokenised once (BOS first if the vocab adds one, special text not parsed), cut into
             floor(n/ctx) windows, the first token of each window replaced by BOS when the vocab adds BOS, and
             (--score half, the default and llama-perplexity's rule) only the predictions of the second half of
             each window are scored: tokens ctx/2+1 .. ctx-1. --score all scores tokens 1 .. ctx-1.
  bench      --gguf F [--prompt-tokens 128 | --ids 1,2,3] [--new 128] [--threads 2] [--runs 3] [--flash-attn]
             prefill tokens/s (one batch of N prompt tokens) and decode tokens/s (N new tokens one at a time,
             greedy), medians over the runs after one warm-up; the first run's tokens.
  quantize   --gguf F --out G [--type q4_0|q4_k_m|q8_0]
             the same model re-quantised by llama.cpp's own quantiser.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np


def _llama(path: str, verbose: bool = False, **kw):
    import llama_cpp

    if verbose:
        return llama_cpp.Llama(model_path=path, verbose=True, **kw)
    # even with verbose=False llama.cpp prints some context warnings from C straight to fd 2
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        return llama_cpp.Llama(model_path=path, verbose=False, **kw)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _add_bos(llm) -> bool:
    return bool(llm._model.add_bos_token())


def run_logits(gguf: str, tokens: list[int], greedy: int = 0, threads: int = 2, verbose: bool = False) -> dict:
    n_ctx = max(64, len(tokens) + greedy + 1)
    llm = _llama(gguf, verbose, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True, n_threads=threads,
                 n_threads_batch=threads)
    llm.eval(tokens)
    logits = np.array(llm.scores[:len(tokens)], dtype=np.float32)
    out = []
    for _ in range(greedy):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        llm.eval([nxt])
    return {"gguf": gguf, "tokens": tokens, "n_vocab": int(logits.shape[1]), "logits": logits, "greedy": out}


def cmd_logits(a) -> dict:
    r = run_logits(a.gguf, [int(t) for t in a.tokens.split(",")], a.greedy, a.threads, a.verbose)
    if a.npy:
        np.save(a.npy, r["logits"])
    if a.no_logits:
        del r["logits"]
    else:
        r["logits"] = r["logits"].tolist()
    return r


def cmd_tokenize(a) -> dict:
    llm = _llama(a.gguf, a.verbose, vocab_only=True)
    with open(a.text_file, encoding="utf-8") as f:
        text = f.read()
    pieces = [text] if a.whole else text.split("\n")
    if not a.whole and pieces and pieces[-1] == "":
        pieces.pop()  # the file's final newline does not start another line
    return {"gguf": a.gguf, "add_bos": False, "special": True,
            "lines": [{"text": p, "ids": llm.tokenize(p.encode("utf-8"), add_bos=False, special=True)}
                      for p in pieces]}


def cmd_perplexity(a) -> dict:
    ctx = a.ctx
    llm = _llama(a.gguf, a.verbose, n_ctx=ctx, n_batch=ctx, n_ubatch=min(ctx, 512), logits_all=True,
                 n_threads=a.threads, n_threads_batch=a.threads)
    with open(a.text_file, encoding="utf-8") as f:
        text = f.read()
    add_bos = _add_bos(llm)
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)
    n_windows = len(tokens) // ctx
    if n_windows == 0:
        raise SystemExit(f"{len(tokens)} tokens: fewer than one window of {ctx}")
    first = ctx // 2 if a.score == "half" else 0
    nll, count = 0.0, 0
    for w in range(n_windows):
        window = list(tokens[w * ctx:(w + 1) * ctx])
        if add_bos:
            window[0] = llm.token_bos()
        llm.reset()
        llm.eval(window)
        logits = np.asarray(llm.scores[:ctx], dtype=np.float64)
        # logits at position j predict the original token j+1 (not the BOS substitute)
        target = np.asarray(tokens[w * ctx + first + 1:(w + 1) * ctx])
        z = logits[first:ctx - 1]
        m = z.max(-1)
        logp = z[np.arange(len(target)), target] - m - np.log(np.exp(z - m[:, None]).sum(-1))
        nll -= float(logp.sum())
        count += len(target)
    return {"gguf": a.gguf, "text_file": a.text_file, "ctx": ctx, "score": a.score,
            "scored": f"tokens {first + 1}..{ctx - 1} of each window", "add_bos": add_bos,
            "n_tokens": len(tokens), "n_windows": n_windows, "n_scored": count,
            "nll_mean": nll / count, "perplexity": math.exp(nll / count)}


def cmd_bench(a) -> dict:
    import llama_cpp

    if a.ids:
        a.prompt_tokens = len(a.ids.split(","))
    n_ctx = a.prompt_tokens + a.new + 8
    llm = _llama(a.gguf, a.verbose, n_ctx=n_ctx, n_batch=max(a.prompt_tokens, 1), n_ubatch=max(a.prompt_tokens, 1),
                 logits_all=False, n_threads=a.threads, n_threads_batch=a.threads, flash_attn=a.flash_attn)
    n_vocab = llm.n_vocab()
    if a.ids:
        prompt = [int(x) for x in a.ids.split(",")]
    else:
        # fixed pseudo-random prompt of ordinary tokens (skip the low ids, which are often special)
        prompt = np.random.default_rng(0).integers(min(256, n_vocab // 2), n_vocab, a.prompt_tokens).tolist()
    tokens = []

    def last_logits():
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))

    def once(new):
        llm.reset()
        tokens.clear()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        for _ in range(new):
            tokens.append(int(np.argmax(last_logits())))
            llm.eval([tokens[-1]])
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    once(4)  # warm-up: first-touch of the mapped weights, thread pool start
    runs = [once(a.new) for _ in range(a.runs)]
    prefill = [a.prompt_tokens / p for p, _ in runs]
    decode = [a.new / d for _, d in runs]
    return {"gguf": a.gguf, "threads": a.threads, "prompt_tokens": a.prompt_tokens, "new_tokens": a.new,
            "flash_attn": a.flash_attn, "tokens": tokens[:a.new],
            "runs": a.runs, "prefill_tok_s_median": statistics.median(prefill),
            "decode_tok_s_median": statistics.median(decode), "prefill_tok_s": prefill, "decode_tok_s": decode,
            "note": "decode timing includes llama-cpp-python's per-call Python overhead and an argmax"}


def cmd_quantize(a) -> dict:
    """Re-quantise a GGUF with llama.cpp's own quantiser (as `llama-quantize --allow-requantize`)."""
    import llama_cpp

    types = {"q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0, "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
             "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype, p.nthread, p.allow_requantize = types[a.type], a.threads, True
    part = a.out + ".part"
    rc = llama_cpp.llama_model_quantize(a.gguf.encode(), part.encode(), p)
    if rc != 0:
        sys.exit(f"llama_model_quantize failed ({rc})")
    os.replace(part, a.out)
    return {"gguf": a.gguf, "out": a.out, "type": a.type, "bytes": os.path.getsize(a.out)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--gguf", required=True)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--verbose", action="store_true", help="let llama.cpp log to stderr")
        return p

    p = common(sub.add_parser("logits"))
    p.add_argument("--tokens", required=True, help="comma-separated token ids")
    p.add_argument("--greedy", type=int, default=0)
    p.add_argument("--npy", help="also save the logits as a float32 .npy")
    p.add_argument("--no-logits", action="store_true", help="leave the logits out of the JSON (greedy tokens only)")
    p = common(sub.add_parser("tokenize"))
    p.add_argument("--text-file", required=True)
    p.add_argument("--whole", action="store_true", help="tokenise the whole file as one text")
    p = common(sub.add_parser("perplexity"))
    p.add_argument("--text-file", required=True)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--score", choices=["half", "all"], default="half")
    p = common(sub.add_parser("bench"))
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--ids", help="comma-separated prompt token ids (instead of --prompt-tokens random ones)")
    p.add_argument("--flash-attn", action="store_true")
    p = common(sub.add_parser("quantize"))
    p.add_argument("--out", required=True)
    p.add_argument("--type", choices=["q4_0", "q4_k_m", "q8_0"], default="q4_0")
    a = ap.parse_args(argv)
    a.gguf = os.path.abspath(a.gguf)
    result = {"logits": cmd_logits, "tokenize": cmd_tokenize, "perplexity": cmd_perplexity,
              "bench": cmd_bench, "quantize": cmd_quantize}[a.cmd](a)
    json.dump(result, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
