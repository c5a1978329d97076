#!/usr/bin/env python3
"""A tiny random chat model folder for provider checks on a machine without real models or tokenizers:
llama_onnx.py's random genai-layout model (vocabulary 256) with a hand-written word-level tokenizer.json and a
plain chat template. Usage: tiny_chat.py OUT [fp32|fp16]"""
import json, os, subprocess, sys

out, precision = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "fp16")
here = os.path.dirname(os.path.abspath(__file__))
subprocess.run([sys.executable, os.path.join(here, "..", "..", "models", "tools", "llama_onnx.py"), "random",
                "--layout", "genai", "--precision", precision, "--seed", "5", "--out", out], check=True,
               stdout=subprocess.DEVNULL)
words = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"] + [f"w{i}" for i in range(251)]
tok = {"version": "1.0", "truncation": None, "padding": None,
       "added_tokens": [{"id": i, "content": w, "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": False, "special": True} for i, w in enumerate(words[:5])],
       "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None,
       "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": False},
       "model": {"type": "WordLevel", "vocab": {w: i for i, w in enumerate(words)}, "unk_token": "<unk>"}}
with open(os.path.join(out, "tokenizer.json"), "w") as f:
    json.dump(tok, f)
with open(os.path.join(out, "chat_template.jinja"), "w") as f:
    f.write("{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}<|im_start|>")
print(json.dumps({"out": out, "precision": precision}))
