#!/usr/bin/env bash
# Model import on the GPU machine, two calls back to back (the machine keeps /tmp while warm):
#   bash scripts/gpu/import.sh a   (carry .gpu/import from `pack.sh import`) the tiny test GGUFs into /tmp/k/gguf
#   bash scripts/gpu/import.sh b   (carry .gpu/c5 from `pack.sh steps`) kogi converts the same GGUFs for the CUDA target (fp16) and the CPU target (MatMulNBits),
# lists them, and generates with each on its provider; the JSON lands in $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/k/gguf
if [ "${1:?a or b}" = a ]; then cp .gpu/import/*.gguf /tmp/k/gguf/ && ls -la /tmp/k/gguf; exit; fi
source .gpu/c5/ort/unpack.sh
xz -dc .gpu/c5/kogi.xz > /tmp/k/kogi && chmod +x /tmp/k/kogi
export KOGI_HOME=/tmp/k/home KOGI_MODELS=/tmp/k/models
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt"
for g in /tmp/k/gguf/*.gguf; do
  n=$(basename "$g" .gguf | tr 'A-Z_' 'a-z-')
  for t in cuda cpu; do
    /usr/bin/time -v /tmp/k/kogi --provider $t models add "$g" --name "$n-$t" --target $t > "$OUT/add-$n-$t.txt" 2> "$OUT/add-$n-$t.time"
    echo "add $n $t: exit $?"
    /tmp/k/kogi --provider $t --json bench generate --model /tmp/k/models/$n-$t --new-tokens 64 --runs 3 --variants plain \
      > "$OUT/gen-$n-$t.json" 2> "$OUT/gen-$n-$t.err"
    echo "generate $n $t: exit $?"
  done
done
/tmp/k/kogi --provider cuda models > "$OUT/models.txt" 2>&1
cat "$OUT/models.txt"
