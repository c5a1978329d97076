#!/usr/bin/env python3
"""A random-weight Llama-3-8B-architecture GGUF laid out as llama.cpp's Q4_0 files are (every matrix Q4_0, the
output matrix Q6_K), written block by block with gguf-py and numpy — no llama.cpp needed, so it runs on the GPU
machine. Benchmark tooling only: the weights are noise, the file is for speed and memory.

  random_llama_gguf.py --tokenizer-dir DIR --out FILE [--layers 32] [--seed 0]

DIR holds the Llama 3 tokenizer.json and tokenizer_config.json (../shared/models/llama3-tokenizer)."""
import argparse
import json
import os

import gguf
import numpy as np

V, H, NH, KV, FF, HD = 128256, 4096, 32, 8, 14336, 128


def q4_0(rng, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of 32: fp16 scale d, 16 bytes of nibbles; values d·(q − 8) with std ≈ 1/√cols."""
    blocks = rows * cols // 32
    out = np.empty((blocks, 18), np.uint8)
    out[:, :2] = np.frombuffer(np.full(blocks, 1.0 / (4.6 * np.sqrt(cols)), np.float16).tobytes(), np.uint8).reshape(blocks, 2)
    out[:, 2:] = rng.integers(0, 256, (blocks, 16), dtype=np.uint8)
    return out.reshape(rows, cols // 32 * 18)


def q6_k(rng, rows: int, cols: int) -> np.ndarray:
    """Q6_K super-blocks of 256: ql[128], qh[64], int8 scales[16], fp16 d."""
    blocks = rows * cols // 256
    out = np.empty((blocks, 210), np.uint8)
    out[:, :192] = rng.integers(0, 256, (blocks, 192), dtype=np.uint8)
    out[:, 192:208] = rng.integers(1, 16, (blocks, 16), dtype=np.int8).view(np.uint8)
    out[:, 208:] = np.frombuffer(np.full(blocks, 1.0 / (8 * 32 * np.sqrt(cols)), np.float16).tobytes(), np.uint8).reshape(blocks, 2)
    return out.reshape(rows, cols // 256 * 210)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    tok = json.load(open(os.path.join(a.tokenizer_dir, "tokenizer.json")))
    cfg = json.load(open(os.path.join(a.tokenizer_dir, "tokenizer_config.json")))
    tokens, types = [""] * V, [1] * V
    for t, i in tok["model"]["vocab"].items():
        tokens[i] = t
    for t in tok["added_tokens"]:
        tokens[t["id"]] = t["content"]
        types[t["id"]] = 3 if t["special"] else 4
    for i in range(V):
        if not tokens[i]:
            tokens[i], types[i] = f"[PAD{i}]", 5
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    ids = {t: i for i, t in enumerate(tokens)}
    w = gguf.GGUFWriter(a.out + ".part", "llama")
    w.add_name("random llama-3 8B"); w.add_context_length(8192); w.add_embedding_length(H); w.add_block_count(a.layers)
    w.add_feed_forward_length(FF); w.add_head_count(NH); w.add_head_count_kv(KV); w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5); w.add_rope_dimension_count(HD); w.add_vocab_size(V)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("llama-bpe"); w.add_token_list(tokens); w.add_token_types(types)
    w.add_token_merges(merges); w.add_bos_token_id(ids[cfg["bos_token"]]); w.add_eos_token_id(ids[cfg["eos_token"]])
    w.add_chat_template(cfg["chat_template"])
    rng = np.random.default_rng(a.seed)
    Q4, Q6 = gguf.GGMLQuantizationType.Q4_0, gguf.GGMLQuantizationType.Q6_K
    ones = lambda n: np.ones(n, np.float32)  # noqa: E731
    w.add_tensor("token_embd.weight", q4_0(rng, V, H), raw_dtype=Q4)
    for l in range(a.layers):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", ones(H)); w.add_tensor(p + "ffn_norm.weight", ones(H))
        w.add_tensor(p + "attn_q.weight", q4_0(rng, H, H), raw_dtype=Q4)
        w.add_tensor(p + "attn_k.weight", q4_0(rng, KV * HD, H), raw_dtype=Q4)
        w.add_tensor(p + "attn_v.weight", q4_0(rng, KV * HD, H), raw_dtype=Q4)
        w.add_tensor(p + "attn_output.weight", q4_0(rng, H, H), raw_dtype=Q4)
        w.add_tensor(p + "ffn_gate.weight", q4_0(rng, FF, H), raw_dtype=Q4)
        w.add_tensor(p + "ffn_up.weight", q4_0(rng, FF, H), raw_dtype=Q4)
        w.add_tensor(p + "ffn_down.weight", q4_0(rng, H, FF), raw_dtype=Q4)
    w.add_tensor("output_norm.weight", ones(H))
    w.add_tensor("output.weight", q6_k(rng, V, H), raw_dtype=Q6)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    os.replace(a.out + ".part", a.out)
    print(json.dumps({"gguf": a.out, "bytes": os.path.getsize(a.out), "layers": a.layers}))


if __name__ == "__main__":
    main()
