#!/usr/bin/env python3
"""What a re-quantised model folder loses against the exact conversion of the same file. Benchmark tooling only;
runs in the reference venv (onnxruntime, tokenizers, numpy).

  requant_quality.py --reference DIR [--text FILE ...] [--tokens 700] DIR ...

One pass over each text's first --tokens tokens, every model on the same ids: the mean negative log-likelihood of
the text, KL(reference || model) over each position's next-token distribution, and how often the top token agrees
with the reference's. The reference is `kogi models add FILE --target cpu` (the file's blocks as they are)."""
import argparse
import os

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def logits(folder: str, ids: list[int]) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    s = ort.InferenceSession(os.path.join(folder, "model.onnx"), so)
    feed = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}
    for i in s.get_inputs():
        if i.name.startswith("past"):
            _, heads, _, dim = i.shape
            feed[i.name] = np.zeros((1, heads, 0, dim), dtype=np.float32)
    return s.run(["logits"], feed)[0][0].astype(np.float64)


def log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", required=True)
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--tokens", type=int, default=700)
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    texts = a.text or [os.path.join(here, "..", "..", "README.md")]
    tok = Tokenizer.from_file(os.path.join(a.reference, "tokenizer.json"))
    for path in texts:
        ids = tok.encode(open(path, encoding="utf-8").read()).ids[: a.tokens]
        positions = np.arange(len(ids) - 1)
        ref = log_softmax(logits(a.reference, ids))
        nll = lambda lp: -float(np.mean(lp[positions, ids[1:]]))
        print(f"{os.path.basename(path)}: {len(ids)} tokens; reference {os.path.basename(a.reference.rstrip('/'))} NLL {nll(ref):.4f}")
        for m in a.models:
            lp = log_softmax(logits(m, ids))
            kl = float(np.mean(np.sum(np.exp(ref) * (ref - lp), -1)))
            agree = float(np.mean(ref.argmax(-1) == lp.argmax(-1)))
            print(f"  {os.path.basename(m.rstrip('/')):<16} NLL {nll(lp):.4f} (+{nll(lp) - nll(ref):.4f})  KL {kl:.4f}  top-1 agrees {agree:.3f}")


if __name__ == "__main__":
    main()
