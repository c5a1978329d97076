#!/usr/bin/env python3
"""A SentencePiece-vocabulary GGUF (tokenizer.ggml.model = "llama", as Llama 2, Mistral, llm-jp-3 and ELYZA files
carry) and llama.cpp's tokenization of text with it, for checking kogi's rebuilt tokenizer. Test tooling only.

Runs in the reference venv (~/.cache/kogi/reference/bin/python: gguf, llama_cpp, sentencepiece; see
scripts/setup-reference.sh). JSON to stdout.

  make      --out DIR [--vocab 4000] [--text FILE ...]
            trains SentencePiece models on the texts (default: the real lecture beside the checkout and README.md)
            as Llama 2's was trained (byte fallback, identity normalisation, digits split, dummy prefix,
            whitespace-only pieces; deterministic), with one user-defined symbol ("GPT"): DIR/bpe.model and
            DIR/unigram.model; and writes tiny random-weight llama GGUFs whose vocabulary is the tokens, scores and
            types of a .model as convert_hf_to_gguf writes them (padded with [PADn] unused tokens):
            DIR/spm-llama.gguf (BPE), DIR/spm-llama-no-prefix.gguf (the same with tokenizer.ggml.add_space_prefix
            = false), DIR/spm-llama-unigram.gguf and DIR/spm-llama-shuffled.gguf (the BPE vocabulary with its ids
            shuffled); each with Llama 2 chat's template. Prints {name: {gguf, spm (null when the .model does not encode as that file should),
            n_tokens, add_space_prefix}}.
  tokenize  --gguf F --text-file T [--spm MODEL] [--whole]
            per line of T (--whole: T as one text): llama.cpp's ids (llama_cpp_ref.py tokenize: no BOS, special-token text parsed, as
            kogi's tokenizer does), llama.cpp's detokenisation of them (llama_detokenize, special tokens left
            out), and with --spm sentencepiece's own ids for the line, for comparison.
"""
from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import llama_cpp_ref  # noqa: E402
import test_models  # noqa: E402

USER_DEFINED = ["GPT"]
# Llama 2 chat's template (system prompt folded into the first user turn), so that kogi imports the file as a chat model
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = '' %}{% endif %}"
    "{% for message in loop_messages %}{% if loop.index0 == 0 %}{% set content = system_message + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)
DEFAULT_TEXTS = [os.path.join(REPO, "..", "shared", "data", "LLM2024_day4.txt"), os.path.join(REPO, "README.md")]


def sentences(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f.read().splitlines():
                out.extend(s.strip() for s in re.split(r"(?<=。)", line) if s.strip())
    return out


def train(texts: list[str], vocab: int, model_type: str) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences(texts)), model_writer=model, model_type=model_type, vocab_size=vocab,
        byte_fallback=True, character_coverage=0.9995, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True,
        user_defined_symbols=USER_DEFINED, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        # one thread, whole input, no sampling: the same model on every run
        num_threads=1, input_sentence_size=0, shuffle_input_sentence=False, max_sentence_length=1 << 16,
        minloglevel=2)
    return model.getvalue()


def vocab_from(model_path: str, vocab_size: int):
    """convert_hf_to_gguf's _create_vocab_sentencepiece: pieces, scores, types; the user-defined symbol as its
    added_tokens_decoder path marks one (USER_DEFINED, score -1000); [PADn] UNUSED entries up to vocab_size."""
    import gguf
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_path)
    T = gguf.TokenType
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    scores = [-10000.0] * vocab_size
    types = [T.UNUSED] * vocab_size
    for i in range(sp.vocab_size()):
        piece = sp.id_to_piece(i)
        t = T.NORMAL
        if sp.is_unknown(i):
            t = T.UNKNOWN
        elif sp.is_control(i):
            t = T.CONTROL
        elif sp.is_unused(i):
            t = T.UNUSED
        elif sp.is_byte(i):
            t = T.BYTE
        tokens[i], scores[i], types[i] = piece, sp.get_score(i), t
        if piece in USER_DEFINED:
            types[i], scores[i] = T.USER_DEFINED, -1000.0
    return tokens, scores, types


def write_gguf(path: str, tokens, scores, types, space_prefix: bool) -> None:
    import gguf

    size = test_models.SIZES["small"]
    weights = test_models.random_weights("llama", "small", len(tokens))
    w = gguf.GGUFWriter(path, "llama")
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name("kogi test llama sentencepiece")
    w.add_block_count(size["layers"])
    w.add_context_length(test_models.MAX_POSITIONS)
    w.add_embedding_length(size["hidden"])
    w.add_feed_forward_length(size["intermediate"])
    w.add_head_count(size["heads"])
    w.add_head_count_kv(size["kv_heads"])
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_key_length(size["head_dim"])
    w.add_value_length(size["head_dim"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(len(tokens))
    w.add_rope_dimension_count(size["head_dim"])
    # _set_vocab_sentencepiece + SpecialVocab (Llama 2's tokenizer_config: BOS added, EOS not)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(space_prefix)
    w.add_chat_template(CHAT_TEMPLATE)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, size["layers"])
    for name in sorted(weights):
        data = weights[name]
        if name.endswith("q_proj.weight"):
            data = test_models.permute(data, size["heads"])
        elif name.endswith("k_proj.weight"):
            data = test_models.permute(data, size["kv_heads"])
        w.add_tensor(tmap.get_name(name, try_suffixes=(".weight", ".bias")), data.astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def cmd_make(a) -> dict:
    os.makedirs(a.out, exist_ok=True)
    out, trained = {}, set()
    # Llama 2's kind (BPE: a score per merge, all distinct), with and without the space prefix and with shuffled
    # ids; and a unigram model's (log-probabilities, many equal), which llama.cpp merges by score all the same.
    for model_type, prefix, name in (("bpe", True, "spm-llama"), ("bpe", False, "spm-llama-no-prefix"),
                                     ("unigram", True, "spm-llama-unigram"), ("bpe", True, "spm-llama-shuffled")):
        model = os.path.join(a.out, f"{model_type}.model")
        if model_type not in trained:
            trained.add(model_type)
            with open(model, "wb") as f:
                f.write(train(a.text or DEFAULT_TEXTS, a.vocab, model_type))
        # padded as real files are (a vocab_size in config.json larger than the .model)
        tokens, scores, types = vocab_from(model, (a.vocab // 64 + 1) * 64)
        spm_model = model if prefix else None  # the .model itself adds the prefix
        if name.endswith("shuffled"):
            # ids no longer in score order (unk, bos, eos stay): llama.cpp goes by the scores alone
            order = [0, 1, 2] + (3 + np.random.default_rng(7).permutation(len(tokens) - 3)).tolist()
            tokens, scores, types = ([x[i] for i in order] for x in (tokens, scores, types))
            spm_model = None  # sentencepiece's ids are the unshuffled ones
        path = os.path.join(a.out, name + ".gguf")
        write_gguf(path, tokens, scores, types, prefix)
        out[name] = {"gguf": path, "spm": spm_model, "n_tokens": len(tokens), "add_space_prefix": prefix}
    return out


def detokenize(llm, ids: list[int]) -> str:
    import llama_cpp

    arr = (llama_cpp.llama_token * len(ids))(*ids)
    size = 64 + 16 * len(ids)
    buf = ctypes.create_string_buffer(size)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, size, False, False)
    if n < 0:
        raise SystemExit(f"llama_detokenize needs {-n} bytes")
    return buf.raw[:n].decode("utf-8", errors="replace")


def cmd_tokenize(a) -> dict:
    result = llama_cpp_ref.cmd_tokenize(argparse.Namespace(gguf=a.gguf, text_file=a.text_file, whole=a.whole,
                                                           verbose=False))
    llm = llama_cpp_ref._llama(a.gguf, vocab_only=True)
    sp = None
    if a.spm:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=a.spm)
    for line in result["lines"]:
        line["text_from_ids"] = detokenize(llm, line["ids"])
        if sp is not None:
            line["spm_ids"] = sp.encode(line["text"])
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab", type=int, default=4000)
    p.add_argument("--text", nargs="*", help="training texts (default: the lecture and README.md)")
    p = sub.add_parser("tokenize")
    p.add_argument("--gguf", required=True)
    p.add_argument("--text-file", required=True)
    p.add_argument("--spm", help="the .model, to add sentencepiece's own ids")
    p.add_argument("--whole", action="store_true", help="the file as one text")
    a = ap.parse_args(argv)
    if a.cmd == "tokenize":
        a.gguf = os.path.abspath(a.gguf)
    json.dump({"make": cmd_make, "tokenize": cmd_tokenize}[a.cmd](a), sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
