#!/usr/bin/env python3
"""Export Llama-architecture decoders to ONNX with onnx.helper + numpy (no torch, no transformers).

Two layouts:
  genai    the onnxruntime-genai layout: com.microsoft GroupQueryAttention (rotary inside), Skip/SimplifiedLayer-
           Normalization, int4 MatMulNBits (block 32, symmetric, accuracy_level 4) or float MatMul.
           Inputs input_ids, attention_mask (int64), past_key_values.{i}.key|value; outputs logits, present.{i}.*.
  optimum  standard ONNX ops only, as `optimum-cli export onnx --task text-generation-with-past` gives:
           extra position_ids input, KV cache grown by Concat, fp32.

Weights come as a dict of numpy arrays with Hugging Face names (model.embed_tokens.weight, model.layers.{i}.
self_attn.q_proj.weight [out, in], ..., model.norm.weight, lm_head.weight when not tied) and a LlamaConfig.

Command line:
  llama_onnx.py random --layout genai|optimum --out DIR --seed N [--vocab N] [--tokenizer PATH] [--precision P]
  llama_onnx.py selftest    # tiny random model: genai == optimum, prefill == token-by-token, within 1e-4
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BLOCK = 32            # int4 block size along K, as the reference builder (onnxruntime-genai -p int4)
ACCURACY_LEVEL = 4    # MatMulNBits computes with int8-quantised activations on CPU, as the reference
GENAI_OPSET = 22
OPTIMUM_OPSET = 17


@dataclass
class LlamaConfig:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    rope_theta: float = 10000.0
    rms_eps: float = 1e-5
    tied_embeddings: bool = True
    max_context: int = 2048
    bos_token_id: int = 1
    eos_token_ids: list = field(default_factory=lambda: [2])
    pad_token_id: int = 2


# ----------------------------------------------------------------------------------------------- weights

def quantize_int4(w_kn: np.ndarray):
    """Symmetric 4-bit blocks of 32 along K with onnxruntime's own C++ quantiser (what
    onnxruntime.quantization.MatMulNBitsQuantizer and the genai builder call), so the bytes match theirs.
    w_kn: [K, N] float32. Returns packed uint8 [N, K/32, 16] and scales float32 [N, K/32]."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    k, n = w_kn.shape
    blocks = (k + BLOCK - 1) // BLOCK
    w = np.ascontiguousarray(w_kn, dtype=np.float32)
    if blocks * BLOCK != k:
        w = np.pad(w, ((0, blocks * BLOCK - k), (0, 0)))
    packed = np.zeros((n, blocks, BLOCK // 2), np.uint8)
    scales = np.zeros((n, blocks), np.float32)
    zero_points = np.zeros((n, (blocks + 1) // 2), np.uint8)  # unused when symmetric
    quantize_matmul_4bits(packed, w, scales, zero_points, BLOCK, n, k, True)
    return packed, scales


def rope_caches(cfg: LlamaConfig):
    """cos/sin [max_context, head_dim/2], float32. inv_freq in float32 arithmetic as torch computes it in the
    genai builder; cos/sin evaluated in float64 and rounded once. torch (MKL's vsCos/vsSin) rounds about 5% of
    the entries to the other neighbouring float; build_smollm2.py carries those fix-ups for its model."""
    dim = cfg.head_dim
    exponent = np.arange(0, dim, 2).astype(np.float32) / np.float32(dim)
    # pow in float64, rounded once: numpy's float32 pow is vectorised (SVML) on AVX-512 machines and
    # differs there in the last bit, which changes the tables with the CPU the model is built on.
    power = np.array([math.pow(cfg.rope_theta, float(e)) for e in exponent]).astype(np.float32)
    inv_freq = (np.float32(1.0) / power).astype(np.float32)
    t = np.arange(cfg.max_context, dtype=np.float32)
    freqs = np.outer(t, inv_freq).astype(np.float32).astype(np.float64)
    return np.cos(freqs).astype(np.float32), np.sin(freqs).astype(np.float32)


def random_weights(cfg: LlamaConfig, seed: int) -> dict:
    """Deterministic random weights, scaled so activations stay O(1) and attention is far from uniform."""
    rng = np.random.default_rng(seed)

    def lin(out_f, in_f):
        return (rng.standard_normal((out_f, in_f), dtype=np.float32) / np.float32(math.sqrt(in_f)))

    def norm():
        return (1.0 + 0.1 * rng.standard_normal(cfg.hidden, dtype=np.float32)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((cfg.vocab, cfg.hidden), dtype=np.float32)}
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = lin(cfg.heads * cfg.head_dim, cfg.hidden) * np.float32(2.0)
        w[p + "self_attn.k_proj.weight"] = lin(cfg.kv_heads * cfg.head_dim, cfg.hidden) * np.float32(2.0)
        w[p + "self_attn.v_proj.weight"] = lin(cfg.kv_heads * cfg.head_dim, cfg.hidden)
        w[p + "self_attn.o_proj.weight"] = lin(cfg.hidden, cfg.heads * cfg.head_dim)
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "mlp.gate_proj.weight"] = lin(cfg.intermediate, cfg.hidden)
        w[p + "mlp.up_proj.weight"] = lin(cfg.intermediate, cfg.hidden)
        w[p + "mlp.down_proj.weight"] = lin(cfg.hidden, cfg.intermediate)
    w["model.norm.weight"] = norm()
    if not cfg.tied_embeddings:
        w["lm_head.weight"] = rng.standard_normal((cfg.vocab, cfg.hidden), dtype=np.float32) * np.float32(0.1)
    return w


def _lm_head(cfg, w):
    return w["model.embed_tokens.weight"] if cfg.tied_embeddings else w["lm_head.weight"]


# ----------------------------------------------------------------------------------------------- graph

class _Graph:
    def __init__(self):
        self.nodes, self.inits, self.late_inits = [], [], []
        self.inputs, self.outputs = [], []
        self._consts = {}

    def init(self, name, array, late=False):
        # late: the genai builder's quantiser appends int4 weights after the float initializers; keeping
        # that order makes model.onnx.data byte-comparable with the reference build.
        (self.late_inits if late else self.inits).append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, name, outputs=None, domain="", n_out=1, **attrs):
        outputs = outputs or [f"{name}/output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def const(self, values, dtype=np.int64, scalar=False):
        """Constant node (not an initializer, so the weight file only holds weights)."""
        arr = np.array(values, dtype=dtype).reshape(() if scalar else (-1,))
        key = f"/model/constants/{np.dtype(dtype).name.upper()}/{values}"
        if key not in self._consts:
            self._consts[key] = self.node("Constant", [], key.replace("constants", "constant_nodes"),
                                          outputs=[key], value=numpy_helper.from_array(arr, key))
        return key

    def model(self, name, opsets):
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.inits + self.late_inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                              producer_name="kogi llama_onnx")
        m.ir_version = 10
        return m


def _kv_io(g, cfg, elem):
    # All keys, then all values: the order the genai builder uses (callers should bind by name anyway).
    for kv in ("key", "value"):
        for i in range(cfg.layers):
            g.inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kv}", elem, ["batch_size", cfg.kv_heads, "past_sequence_length", cfg.head_dim]))
    g.outputs.append(helper.make_tensor_value_info("logits", elem, ["batch_size", "sequence_length", cfg.vocab]))
    for kv in ("key", "value"):
        for i in range(cfg.layers):
            g.outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kv}", elem, ["batch_size", cfg.kv_heads, "total_sequence_length", cfg.head_dim]))


def build_genai(cfg: LlamaConfig, w: dict, precision: str = "int4", rope=None) -> onnx.ModelProto:
    """The onnxruntime-genai builder's graph (node and initializer names included).
    rope: optional (cos, sin) [max_context, head_dim/2] float32 tables instead of rope_caches(cfg)."""
    assert precision in ("int4", "fp32", "fp16")
    np_dt = np.float16 if precision == "fp16" else np.float32
    elem = TensorProto.FLOAT16 if precision == "fp16" else TensorProto.FLOAT
    g = _Graph()
    g.inputs += [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
                 helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                               ["batch_size", "total_sequence_length"])]
    _kv_io(g, cfg, elem)
    L, H = cfg.layers, cfg.hidden

    def matmul(path, x, w_kn, output=None):
        wname = path.lstrip("/").replace("/", ".") + ".MatMul.weight"
        out = [output or f"{path}/MatMul/output_0"]
        if precision == "int4":
            packed, scales = quantize_int4(w_kn)
            g.init(wname + "_Q4", packed, late=True)
            g.init(wname + "_scales", scales, late=True)
            k, n = w_kn.shape
            return g.node("MatMulNBits", [x, wname + "_Q4", wname + "_scales"], f"{path}/MatMul_Q4", outputs=out,
                          domain="com.microsoft", K=k, N=n, accuracy_level=ACCURACY_LEVEL, bits=4, block_size=BLOCK)
        g.init(wname, w_kn.astype(np_dt))
        return g.node("MatMul", [x, wname], f"{path}/MatMul", outputs=out)

    # GroupQueryAttention wants seqlens_k = (number of real tokens - 1) per row and the total length, int32.
    sub = "/model/attn_mask_reformat/attn_mask_subgraph"
    one = g.const([1])
    total = g.node("ReduceSum", ["attention_mask", one], f"{sub}/ReduceSum", keepdims=0)
    seqlens_k = g.node("Cast", [g.node("Sub", [total, one], f"{sub}/Sub")], f"{sub}/Sub/Cast", to=TensorProto.INT32)
    width = g.node("Gather", [g.node("Shape", ["attention_mask"], f"{sub}/Shape"), g.const(1, scalar=True)],
                   f"{sub}/Gather", axis=0)
    total_len = g.node("Cast", [width], f"{sub}/Gather/Cast", to=TensorProto.INT32)

    lm_head = _lm_head(cfg, w)
    if precision == "int4" and cfg.tied_embeddings:
        # Tied embeddings: the embedding lookup reads the int4 lm_head weights (GatherBlockQuantized).
        packed_view = g.node("Reshape", ["lm_head.MatMul.weight_Q4", g.const([cfg.vocab, H // 2])],
                             "/model/embed_tokens/Reshape")
        x = g.node("GatherBlockQuantized", [packed_view, "input_ids", "lm_head.MatMul.weight_scales"],
                   "/model/embed_tokens/GatherBlockQuantized", domain="com.microsoft",
                   bits=4, block_size=BLOCK, gather_axis=0, quantize_axis=1)
    else:
        emb = g.init("model.embed_tokens.weight", w["model.embed_tokens.weight"].astype(np_dt))
        x = g.node("Gather", [emb, "input_ids"], "/model/embed_tokens/Gather")

    eps = float(np.float32(cfg.rms_eps))
    residual, mlp_out = x, None
    for i in range(L):
        p, lp = f"model.layers.{i}.", f"/model/layers.{i}"
        ln = g.init(f"{p}input_layernorm.weight", w[p + "input_layernorm.weight"].astype(np_dt))
        if i == 0:
            h = g.node("SimplifiedLayerNormalization", [residual, ln], f"{lp}/input_layernorm/LayerNorm",
                       outputs=[f"{lp}/input_layernorm/output_0"], epsilon=eps, axis=-1, stash_type=1)
        else:
            h, residual = _skip_norm(g, residual, mlp_out, ln, f"{lp}/input_layernorm", eps)
        if i == 0:  # created here so that the initializer order matches the reference
            cos, sin = rope if rope is not None else rope_caches(cfg)
            rope_names = (g.init("cos_cache", cos.astype(np_dt)), g.init("sin_cache", sin.astype(np_dt)))
        a = p + "self_attn."
        qkv_w = np.concatenate([w[a + "q_proj.weight"], w[a + "k_proj.weight"], w[a + "v_proj.weight"]], 0)
        qkv = matmul(f"{lp}/attn/qkv_proj", h, qkv_w.T)
        attn = g.node("GroupQueryAttention",
                      [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total_len,
                       *rope_names, "", "", ""],
                      f"{lp}/attn/GroupQueryAttention",
                      outputs=[f"{lp}/attn/GroupQueryAttention/output_0", f"present.{i}.key", f"present.{i}.value"],
                      domain="com.microsoft", num_heads=cfg.heads, kv_num_heads=cfg.kv_heads,
                      scale=1.0 / math.sqrt(cfg.head_dim), local_window_size=-1, softcap=0.0, do_rotary=1,
                      rotary_interleaved=0)[0]
        o = matmul(f"{lp}/attn/o_proj", attn, w[a + "o_proj.weight"].T)
        post = g.init(f"{p}post_attention_layernorm.weight", w[p + "post_attention_layernorm.weight"].astype(np_dt))
        h, residual = _skip_norm(g, residual, o, post, f"{lp}/post_attention_layernorm", eps)
        m = p + "mlp."
        gate = matmul(f"{lp}/mlp/gate_proj", h, w[m + "gate_proj.weight"].T)
        up = matmul(f"{lp}/mlp/up_proj", h, w[m + "up_proj.weight"].T)
        act = g.node("Mul", [gate, g.node("Sigmoid", [gate], f"{lp}/mlp/act_fn/Sigmoid")], f"{lp}/mlp/act_fn/Mul")
        mlp_out = matmul(f"{lp}/mlp/down_proj", g.node("Mul", [act, up], f"{lp}/mlp/Mul"), w[m + "down_proj.weight"].T)

    fn = g.init(f"model.layers.{L}.final_norm_layernorm.weight", w["model.norm.weight"].astype(np_dt))
    h = g.node("SkipSimplifiedLayerNormalization", [residual, mlp_out, fn],
               f"/model/layers.{L}/final_norm_layernorm/SkipLayerNorm",
               outputs=[f"/model/layers.{L}/final_norm_layernorm/output_0"], domain="com.microsoft", epsilon=eps)
    matmul("/lm_head", h, lm_head.T, output="logits")
    return g.model("main_graph", [("", GENAI_OPSET), ("com.microsoft", 1)])


def _skip_norm(g, residual, skip, gamma, path, eps):
    """SkipSimplifiedLayerNormalization: returns (normed, residual + skip)."""
    outs = g.node("SkipSimplifiedLayerNormalization", [residual, skip, gamma], f"{path}/SkipLayerNorm",
                  outputs=[f"{path}/output_0", "", "", f"{path}/output_3"], domain="com.microsoft", epsilon=eps)
    return outs[0], outs[3]


def build_optimum(cfg: LlamaConfig, w: dict, rope=None) -> onnx.ModelProto:
    """Standard ONNX ops only; fp32. Grouped-query attention by broadcasting [b,kv,rep,s,d] x [b,kv,1,d,T]."""
    g = _Graph()
    F = TensorProto.FLOAT
    g.inputs += [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
                 helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                               ["batch_size", "total_sequence_length"]),
                 helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
    _kv_io(g, cfg, F)
    hd, rep, L = cfg.head_dim, cfg.heads // cfg.kv_heads, cfg.layers
    i64 = lambda v: g.const(v)  # noqa: E731

    def lin(name, x, w_out_in):
        return g.node("MatMul", [x, g.init(name, np.ascontiguousarray(w_out_in.T))], f"/{name}/MatMul")

    def rms(name, x, gamma):
        ms = g.node("ReduceMean", [g.node("Mul", [x, x], f"/{name}/Sq")], f"/{name}/ReduceMean", axes=[-1], keepdims=1)
        eps = g.const(cfg.rms_eps, np.float32, scalar=True)
        inv = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [ms, eps], f"/{name}/AddEps")], f"/{name}/Sqrt")],
                     f"/{name}/Reciprocal")
        return g.node("Mul", [g.node("Mul", [x, inv], f"/{name}/Norm"), g.init(name, gamma)], f"/{name}/Scale")

    x = g.node("Gather", [g.init("model.embed_tokens.weight", w["model.embed_tokens.weight"]), "input_ids"],
               "/embed/Gather")

    # Rotary tables gathered by position_ids: [b, 1, s, hd] (rotate-half layout, cos = [c, c]).
    cos, sin = rope if rope is not None else rope_caches(cfg)
    tables = []
    for nm, t in (("cos", cos), ("sin", sin)):
        full = g.init(f"rotary.{nm}", np.concatenate([t, t], axis=1))
        tables.append(g.node("Unsqueeze", [g.node("Gather", [full, "position_ids"], f"/rotary/{nm}/Gather"), i64([1])],
                             f"/rotary/{nm}/Unsqueeze"))

    # Mask [b, 1, 1, s, T]: key j visible to query i (absolute position past+i) iff j <= past+i and mask[b, j].
    total = g.node("Gather", [g.node("Shape", ["attention_mask"], "/mask/ShapeT"), g.const(1, scalar=True)],
                   "/mask/T", axis=0)
    seq = g.node("Gather", [g.node("Shape", ["input_ids"], "/mask/ShapeS"), g.const(1, scalar=True)], "/mask/S", axis=0)
    past = g.node("Sub", [total, seq], "/mask/Past")
    step = g.const(1, scalar=True)
    kpos = g.node("Range", [g.const(0, scalar=True), total, step], "/mask/KeyPos")
    qpos = g.node("Unsqueeze", [g.node("Range", [past, total, step], "/mask/QueryPos"), i64([1])], "/mask/QueryCol")
    causal = g.node("LessOrEqual", [kpos, qpos], "/mask/Causal")
    pad = g.node("Unsqueeze", [g.node("Cast", ["attention_mask"], "/mask/Bool", to=TensorProto.BOOL), i64([1, 2, 3])],
                 "/mask/Pad")
    allowed = g.node("And", [causal, pad], "/mask/Allowed")
    neg = g.const(float(np.finfo(np.float32).min), np.float32, scalar=True)
    scale = g.const(1.0 / math.sqrt(hd), np.float32, scalar=True)

    def rotate(name, t):
        x1 = g.node("Slice", [t, i64([0]), i64([hd // 2]), i64([3])], f"{name}/X1")
        x2 = g.node("Slice", [t, i64([hd // 2]), i64([hd]), i64([3])], f"{name}/X2")
        rot = g.node("Concat", [g.node("Neg", [x2], f"{name}/Neg"), x1], f"{name}/RotateHalf", axis=-1)
        return g.node("Add", [g.node("Mul", [t, tables[0]], f"{name}/MulCos"),
                              g.node("Mul", [rot, tables[1]], f"{name}/MulSin")], f"{name}/Rotary")

    def heads(name, t, n):  # [b, s, n*hd] -> [b, n, s, hd]
        return g.node("Transpose", [g.node("Reshape", [t, i64([0, 0, n, hd])], f"{name}/Reshape")],
                      f"{name}/Transpose", perm=[0, 2, 1, 3])

    for i in range(L):
        p, lp = f"model.layers.{i}.", f"/model/layers.{i}"
        a = p + "self_attn."
        h = rms(p + "input_layernorm.weight", x, w[p + "input_layernorm.weight"])
        q = rotate(f"{lp}/q", heads(f"{lp}/q", lin(a + "q_proj.weight", h, w[a + "q_proj.weight"]), cfg.heads))
        k = rotate(f"{lp}/k", heads(f"{lp}/k", lin(a + "k_proj.weight", h, w[a + "k_proj.weight"]), cfg.kv_heads))
        v = heads(f"{lp}/v", lin(a + "v_proj.weight", h, w[a + "v_proj.weight"]), cfg.kv_heads)
        pk = g.node("Concat", [f"past_key_values.{i}.key", k], f"{lp}/ConcatK", outputs=[f"present.{i}.key"], axis=2)
        pv = g.node("Concat", [f"past_key_values.{i}.value", v], f"{lp}/ConcatV", outputs=[f"present.{i}.value"],
                    axis=2)
        qg = g.node("Reshape", [q, i64([0, cfg.kv_heads, rep, -1, hd])], f"{lp}/QGroups")
        kt = g.node("Unsqueeze", [g.node("Transpose", [pk], f"{lp}/KT", perm=[0, 1, 3, 2]), i64([2])], f"{lp}/KTG")
        scores = g.node("Mul", [g.node("MatMul", [qg, kt], f"{lp}/QK"), scale], f"{lp}/Scale")
        probs = g.node("Softmax", [g.node("Where", [allowed, scores, neg], f"{lp}/Mask")], f"{lp}/Softmax", axis=-1)
        ctx = g.node("MatMul", [probs, g.node("Unsqueeze", [pv, i64([2])], f"{lp}/VG")], f"{lp}/PV")
        ctx = g.node("Reshape", [ctx, i64([0, cfg.heads, -1, hd])], f"{lp}/CtxHeads")
        ctx = g.node("Transpose", [ctx], f"{lp}/CtxT", perm=[0, 2, 1, 3])
        ctx = g.node("Reshape", [ctx, i64([0, 0, cfg.heads * hd])], f"{lp}/Ctx")
        x = g.node("Add", [x, lin(a + "o_proj.weight", ctx, w[a + "o_proj.weight"])], f"{lp}/ResidualAttn")
        m = p + "mlp."
        h = rms(p + "post_attention_layernorm.weight", x, w[p + "post_attention_layernorm.weight"])
        gate = lin(m + "gate_proj.weight", h, w[m + "gate_proj.weight"])
        act = g.node("Mul", [gate, g.node("Sigmoid", [gate], f"{lp}/SiluSigmoid")], f"{lp}/Silu")
        up = lin(m + "up_proj.weight", h, w[m + "up_proj.weight"])
        down = lin(m + "down_proj.weight", g.node("Mul", [act, up], f"{lp}/GateUp"), w[m + "down_proj.weight"])
        x = g.node("Add", [x, down], f"{lp}/ResidualMlp")

    h = rms("model.norm.weight", x, w["model.norm.weight"])
    g.node("MatMul", [h, g.init("lm_head.weight", np.ascontiguousarray(_lm_head(cfg, w).T))], "/lm_head/MatMul",
           outputs=["logits"])
    return g.model("main_graph", [("", OPTIMUM_OPSET)])


# ----------------------------------------------------------------------------------------------- files

def save_model(model: onnx.ModelProto, out_dir: str, external: bool, name="model.onnx"):
    """Write model.onnx (+ model.onnx.data: every initializer's raw bytes back to back, no padding, in
    initializer order, as the genai builder writes them)."""
    os.makedirs(out_dir, exist_ok=True)
    if external:
        data_name = name + ".data"
        offset = 0
        with open(os.path.join(out_dir, data_name), "wb") as f:
            for t in model.graph.initializer:
                raw = t.raw_data
                f.write(raw)
                t.ClearField("raw_data")
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                    t.external_data.add(key=k, value=v)
                offset += len(raw)
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(model.SerializeToString())


def genai_config(cfg: LlamaConfig) -> dict:
    """genai_config.json as onnxruntime-genai 0.18's builder writes it for a Llama model (keys sorted)."""
    eos = cfg.eos_token_ids[0] if len(cfg.eos_token_ids) == 1 else list(cfg.eos_token_ids)
    return {
        "model": {
            "bos_token_id": cfg.bos_token_id,
            "context_length": cfg.max_context,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": cfg.head_dim,
                "hidden_size": cfg.hidden,
                "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                           "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
                "num_attention_heads": cfg.heads,
                "num_hidden_layers": cfg.layers,
                "num_key_value_heads": cfg.kv_heads,
            },
            "eos_token_id": eos,
            "pad_token_id": cfg.pad_token_id,
            "type": "llama",
            "vocab_size": cfg.vocab,
        },
        "search": {
            "diversity_penalty": 0.0, "do_sample": False, "early_stopping": True, "length_penalty": 1.0,
            "max_length": cfg.max_context, "min_length": 0, "no_repeat_ngram_size": 0, "num_beams": 1,
            "num_return_sequences": 1, "past_present_share_buffer": True, "repetition_penalty": 1.0,
            "temperature": 1.0, "top_k": 50, "top_p": 1.0,
        },
    }


def hf_config(cfg: LlamaConfig) -> dict:
    """A Hugging Face style config.json (what optimum exports carry beside model.onnx)."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": cfg.hidden,
            "intermediate_size": cfg.intermediate, "num_hidden_layers": cfg.layers,
            "num_attention_heads": cfg.heads, "num_key_value_heads": cfg.kv_heads, "head_dim": cfg.head_dim,
            "vocab_size": cfg.vocab, "rope_theta": cfg.rope_theta, "rms_norm_eps": cfg.rms_eps,
            "tie_word_embeddings": cfg.tied_embeddings, "max_position_embeddings": cfg.max_context,
            "bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_ids, "pad_token_id": cfg.pad_token_id,
            "hidden_act": "silu", "use_cache": True}


def export(cfg: LlamaConfig, w: dict, out_dir: str, layout: str, precision="int4", external=True, rope=None):
    """Write model.onnx (+ .data) and genai_config.json (genai) or config.json (optimum) into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    if layout == "genai":
        save_model(build_genai(cfg, w, precision, rope), out_dir, external)
        with open(os.path.join(out_dir, "genai_config.json"), "w") as f:
            f.write(json.dumps(genai_config(cfg), indent=4))
    elif layout == "optimum":
        if precision != "fp32":
            raise SystemExit("the optimum layout is fp32 only")
        save_model(build_optimum(cfg, w, rope), out_dir, external)
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            f.write(json.dumps(hf_config(cfg), indent=2) + "\n")
    else:
        raise SystemExit(f"unknown layout {layout}")


# ----------------------------------------------------------------------------------------------- running

class Decoder:
    """Runs either layout with onnxruntime, batch 1, keeping the KV cache between calls."""

    def __init__(self, model_dir: str, threads: int = 0):
        import onnxruntime as ort

        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), so,
                                            providers=["CPUExecutionProvider"])
        names = {i.name: i for i in self.session.get_inputs()}
        self.position_ids = "position_ids" in names
        self.layers = sum(1 for n in names if n.startswith("past_key_values.") and n.endswith(".key"))
        shape = names["past_key_values.0.key"].shape
        self.kv_heads = shape[1]
        self.head_dim = shape[3] if isinstance(shape[3], int) else self._head_dim_from_config(model_dir)
        self.dtype = np.float16 if "float16" in names["past_key_values.0.key"].type else np.float32
        self.reset()

    @staticmethod
    def _head_dim_from_config(model_dir):
        with open(os.path.join(model_dir, "genai_config.json")) as f:
            return json.load(f)["model"]["decoder"]["head_size"]

    def reset(self):
        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), self.dtype)
        self.past = {f"past_key_values.{i}.{kv}": empty for i in range(self.layers) for kv in ("key", "value")}
        self.length = 0

    def __call__(self, ids) -> np.ndarray:
        """Feed ids (appended to what came before); returns logits [len(ids), vocab] as float32."""
        ids = np.asarray(ids, np.int64).reshape(1, -1)
        n = ids.shape[1]
        feed = {"input_ids": ids, "attention_mask": np.ones((1, self.length + n), np.int64), **self.past}
        if self.position_ids:
            feed["position_ids"] = np.arange(self.length, self.length + n, dtype=np.int64).reshape(1, -1)
        names = [o.name for o in self.session.get_outputs()]
        out = dict(zip(names, self.session.run(names, feed)))
        self.past = {k: out[k.replace("past_key_values.", "present.")] for k in self.past}
        self.length += n
        return out["logits"][0].astype(np.float32)

    def greedy(self, prompt_ids, new_tokens: int):
        """Greedy continuation with the KV cache; returns (token ids, logits of the prefill)."""
        self.reset()
        logits = self(prompt_ids)
        first = logits
        out = []
        for _ in range(new_tokens):
            tok = int(np.argmax(logits[-1]))
            out.append(tok)
            logits = self(np.array([tok]))
        return out, first


# ----------------------------------------------------------------------------------------------- CLI

def tiny_config(vocab: int) -> LlamaConfig:
    return LlamaConfig(layers=2, hidden=64, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=vocab,
                       rope_theta=10000.0, rms_eps=1e-5, tied_embeddings=True, max_context=512)


def _tokenizer_vocab(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    ids = list(tok["model"].get("vocab", {}).values()) if isinstance(tok["model"].get("vocab"), dict) else []
    if isinstance(tok["model"].get("vocab"), list):  # unigram: [[piece, score], ...]
        ids = [len(tok["model"]["vocab"]) - 1]
    ids += [t["id"] for t in tok.get("added_tokens", [])]
    return max(ids) + 1


def cmd_random(args):
    vocab = args.vocab or (_tokenizer_vocab(args.tokenizer) if args.tokenizer else 256)
    cfg = tiny_config(vocab)
    export(cfg, random_weights(cfg, args.seed), args.out, args.layout, args.precision, external=False)
    if args.tokenizer:
        shutil.copyfile(args.tokenizer, os.path.join(args.out, "tokenizer.json"))
        side = os.path.join(os.path.dirname(os.path.abspath(args.tokenizer)), "tokenizer_config.json")
        if os.path.exists(side):
            shutil.copyfile(side, os.path.join(args.out, "tokenizer_config.json"))
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(json.dumps({"out": args.out, "layout": args.layout, "precision": args.precision, "seed": args.seed,
                      "config": asdict(cfg), "bytes": size}))


def selftest(seed=0, tol=1e-4, steps=12) -> dict:
    """genai (fp32) and optimum layouts from the same random weights agree, prefill and incremental."""
    cfg = tiny_config(256)
    w = random_weights(cfg, seed)
    rng = np.random.default_rng(seed + 1)
    prompt = rng.integers(0, cfg.vocab, 9)
    tail = rng.integers(0, cfg.vocab, steps)
    ids = np.concatenate([prompt, tail])
    report = {"seed": seed, "tolerance": tol}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, layout, precision in (("genai_fp32", "genai", "fp32"), ("optimum", "optimum", "fp32"),
                                        ("genai_int4", "genai", "int4")):
            d = os.path.join(tmp, name)
            export(cfg, w, d, layout, precision, external=False)
            dec = Decoder(d)
            full = dec(ids)                       # everything at once
            dec.reset()
            inc = [dec(prompt)]                   # prompt, then one token at a time
            inc += [dec(np.array([t])) for t in tail]
            runs[name] = (full, np.concatenate(inc, 0))
            report[f"{name}_bytes"] = os.path.getsize(os.path.join(d, "model.onnx"))
    checks = {
        "genai_vs_optimum_prefill": np.abs(runs["genai_fp32"][0] - runs["optimum"][0]).max(),
        "genai_vs_optimum_incremental": np.abs(runs["genai_fp32"][1] - runs["optimum"][1]).max(),
        "genai_prefill_vs_incremental": np.abs(runs["genai_fp32"][0] - runs["genai_fp32"][1]).max(),
        "optimum_prefill_vs_incremental": np.abs(runs["optimum"][0] - runs["optimum"][1]).max(),
    }
    report.update({k: float(v) for k, v in checks.items()})
    # int4 (activations quantised to int8 inside MatMulNBits): only loosely comparable to fp32.
    report["int4_prefill_vs_incremental"] = float(np.abs(runs["genai_int4"][0] - runs["genai_int4"][1]).max())
    report["int4_vs_fp32_argmax_agreement"] = float(
        (runs["genai_int4"][0].argmax(-1) == runs["optimum"][0].argmax(-1)).mean())
    report["logit_scale"] = float(np.abs(runs["optimum"][0]).max())
    report["ok"] = bool(all(v <= tol for v in checks.values()) and report["int4_prefill_vs_incremental"] < 0.05)
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random", help="tiny random Llama for tests")
    r.add_argument("--layout", choices=["genai", "optimum"], required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--vocab", type=int, default=0, help="default: the tokenizer's size, else 256")
    r.add_argument("--tokenizer", help="tokenizer.json to copy beside the model (sets the vocabulary size)")
    r.add_argument("--precision", choices=["fp32", "int4", "fp16"], default="fp32")
    s = sub.add_parser("selftest", help="genai == optimum, prefill == incremental on a tiny random model")
    s.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "random":
        cmd_random(args)
    else:
        report = selftest(args.seed)
        print(json.dumps(report, indent=2))
        if not report["ok"]:
            print("selftest FAILED", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
