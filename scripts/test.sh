#!/usr/bin/env bash
# Every test: set everything up (first time only), then the whole workspace's tests — unit, property,
# end-to-end through the real binary, and the real-data retrieval evaluation when ../shared/data exists.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
.kogi/venv/bin/python models/tools/llama_onnx.py selftest
cargo test --workspace --no-fail-fast
