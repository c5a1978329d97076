#!/usr/bin/env bash
# kogi next to llama.cpp and onnxruntime-genai on this machine's CPU (issue 17's table), side by side in one run:
# models/tools/bench_engines.py, with every engine fed kogi's exact prompts. Sets up what it needs (the reference
# venv, a release build, llama.cpp's Q4_0 re-quantisation of the GGUF, cached in ~/.cache/kogi/gguf).
#   bash scripts/bench-engines.sh [--rounds 3] [--runs 3] [--threads 2] [--out FILE]
# Default model: the default chat model and the GGUF it was converted from (SmolLM2-135M-Instruct Q4_1).
# Another: MODEL=DIR GGUF=FILE bash scripts/bench-engines.sh (DIR converted by `kogi models add FILE`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
say() { printf '\033[1m[bench-engines]\033[0m %s\n' "$*" >&2; }
cache=${KOGI_CACHE:-$HOME/.cache/kogi}
bash scripts/setup-reference.sh
cargo build -q --release -p kogi-cli
kogi=${CARGO_TARGET_DIR:-$root/target}/release/kogi
py=$cache/reference/bin/python
model=${MODEL:-$("$kogi" --json models | "$py" -c 'import json,sys; print(next(m["dir"] for m in json.load(sys.stdin) if m["name"] == "smollm2-135m-instruct"))')}
gguf=${GGUF:-$cache/gguf/SmolLM2-135M-Instruct.Q4_1.gguf}
best=${gguf%.gguf}.requant-Q4_0.gguf
if [ ! -f "$best" ]; then
  say "re-quantising $(basename "$gguf") to Q4_0 with llama.cpp's quantiser"
  "$py" models/tools/llama_cpp_ref.py quantize --gguf "$gguf" --out "$best" --type q4_0 >&2
fi
say "model $model, GGUF $gguf"
exec "$py" models/tools/bench_engines.py --kogi "$kogi" --model "$model" --gguf "$gguf" --gguf-best "$best" "$@"
