#!/usr/bin/env bash
# The GPU benchmark of BENCHMARKS.md, on the GPU machine, in three calls made back to back (each carries
# one of scripts/gpu/pack.sh's loads; /tmp survives between calls while the machine stays warm):
#   bash scripts/gpu/bench.sh 1   (carry .gpu/c1) ONNX Runtime CUDA unpacked; random fp16 ONNX models of the
#                                 8B and 3B architectures built
#   bash scripts/gpu/bench.sh 2   (carry .gpu/c2) kogi bench generate on the 8B and 3B models (CUDA, with and
#                                 without CUDA graphs), verification cost K=1..8, 10 questions' GPU memory
#   bash scripts/gpu/bench.sh 3   (carry .gpu/c3) real SmolLM2 fp16: n-gram speculation on RAG prompts; e5-small
#                                 embedding throughput GPU vs CPU; copy bandwidth and transformers generate()
#                                 bf16 on the 3B and 8B architectures; TensorRT requested without its libraries
#   bash scripts/gpu/bench.sh 4   (carry .gpu/c4) provider checks on a tiny model
#   bash scripts/gpu/bench.sh 5   (carry .gpu/c5 from `pack.sh steps`; one call from a cold machine) the decode
#                                 steps side by side on the 3B and 8B models: the exported graph with a
#                                 separate greedy-head run, the step outputs, and CUDA graphs with
#                                 device-fed steps (kogi's default on CUDA); GPU memory over 10 questions
#   bash scripts/gpu/bench.sh 6a|6b|6c (carry .gpu/f1, f2, f3 from `pack.sh final`; three calls back to back from a
#                                 cold machine) the final rerun with the shipped code: 6a builds the 8B model and
#                                 measures verification cost K=1..8 against a CUDA-graph step and an uncaptured one,
#                                 and ONNX Runtime's fp16-accumulation GEMM option; 6b e5 embedding GPU vs CPU;
#                                 6c SmolLM2 fp16 speculation with and without CUDA graphs, TensorRT's error path,
#                                 transformers generate() and copy bandwidth
#   bash scripts/gpu/bench.sh 7a|7b|7c (carry .gpu/f1, f2, f3; back to back from a cold machine) verification
#                                 passes replayed from CUDA graphs: 7a the 8B model's verification cost and its
#                                 decode with and without speculation (random weights: drafts are rejected),
#                                 7b carries the first part of the GGUF, 7c SmolLM2 fp16 speculation
# Every result is JSON under $OUT (the device tool brings it back), packed into one archive per stage.
# ARCHS (stages 1-2, default "8b 3b") and PARTS (stage 3, default "smol e5 hf trt") pick a subset.
set -uo pipefail
stage=${1:?stage 1, 2, 3, 4, 5, 6a, 6b, 6c, 7a, 7b or 7c}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/k
export PYTHONUNBUFFERED=1
log() { echo "[$(date +%T)] $*"; }
# GPU memory sampled every 200 ms for the whole stage (peak = the largest reading).
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader,nounits -lms 200 > "$OUT/smi-$stage.csv" &
smi=$!
trap 'kill $smi 2>/dev/null' EXIT
ort() { [ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ] || { echo "ONNX Runtime is not unpacked: run stage 1 first (the machine went cold?)"; exit 3; }
        export ORT_DYLIB_PATH=/tmp/ort-gpu/libonnxruntime.so.1.31.1 LD_LIBRARY_PATH=/tmp/ort-gpu:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}; }
K=/tmp/k/kogi

case $stage in
1)
  nvidia-smi > "$OUT/nvidia-smi.txt"
  source .gpu/c1/ort/unpack.sh
  mkdir -p /tmp/k/tok && xz -dc .gpu/c1/llama3-tokenizer.json.xz > /tmp/k/tok/tokenizer.json
  cp .gpu/c1/tokenizer_config.json /tmp/k/tok/; [ -f .gpu/c1/LLM2024_day4_raw.txt ] && cp .gpu/c1/LLM2024_day4_raw.txt /tmp/k/
  for a in ${ARCHS:-8b 3b}; do
    log "building the random fp16 $a model"
    [ -f /tmp/m-$a/model.onnx ] || timeout $([ $a = 8b ] && echo 380 || echo 180) python3 models/tools/gpu_models.py \
      llama --arch $a --out /tmp/m-$a --tokenizer-dir /tmp/k/tok | tee "$OUT/build-$a.json"
  done
  du -sb /tmp/m-*
  ;;
2)
  ort; xz -dc .gpu/c2/kogi.xz > $K && chmod +x $K
  cp .gpu/c2/gguf.xz.part-aa /tmp/k/
  for a in ${ARCHS:-8b 3b}; do
    [ -f /tmp/m-$a/model.onnx ] || { echo "no /tmp/m-$a: run stage 1 first"; exit 3; }
    extra=(); [ $a = 8b ] && extra=(--verify-k 8 --questions 10)
    log "kogi bench generate $a (CUDA, no graph)"
    timeout 200 $K --provider cuda --json bench generate --model /tmp/m-$a --prompt-tokens 512,2048 --new-tokens 256 \
      --runs 3 --variants plain,fast --prefill-chunk 2048 --cuda-graph false --gpu-memory "${extra[@]}" > "$OUT/gen-$a.json" 2> "$OUT/gen-$a.err"
    echo "rc=$?"; tail -3 "$OUT/gen-$a.err"
    log "kogi bench generate $a (CUDA graphs)"
    timeout 150 $K --provider cuda --json bench generate --model /tmp/m-$a --prompt-tokens 512,2048 --new-tokens 256 \
      --runs 3 --variants plain,fast --prefill-chunk 2048 --cuda-graph true --gpu-memory > "$OUT/gen-$a-graph.json" 2> "$OUT/gen-$a-graph.err"
    echo "rc=$?"; tail -3 "$OUT/gen-$a-graph.err"
  done
  [ -n "${NO_CHUNK:-}" ] || { log "chunked prefill: 2048-token prompt in 512-token pieces (8B)"
  timeout 90 $K --provider cuda --json bench generate --model /tmp/m-8b --prompt-tokens 2048 --new-tokens 16 --runs 3 \
    --variants plain --prefill-chunk 512 --cuda-graph false > "$OUT/gen-8b-chunk512.json" 2> "$OUT/gen-8b-chunk512.err"
  echo "rc=$?"; tail -3 "$OUT/gen-8b-chunk512.err"; }
  ;;
3)
  ort; [ -x $K ] || { echo "no kogi: run stage 2 first"; exit 3; }
  cat /tmp/k/gguf.xz.part-aa .gpu/c3/gguf.xz.part-ab | xz -dc > /tmp/k/smollm2.gguf
  [ "$(sha256sum /tmp/k/smollm2.gguf | cut -d' ' -f1)" = "$(cat .gpu/c3/gguf.sha256)" ] || { echo "GGUF damaged in transit"; exit 4; }
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/c3/gguf-*.whl && export PYTHONPATH=/tmp/site
  parts=" ${PARTS:-smol e5 hf trt} "
  has() { [[ $parts == *" $1 "* ]]; }
  log "SmolLM2 fp16 from the GGUF"
  python3 models/tools/gpu_models.py smollm2 --gguf /tmp/k/smollm2.gguf --out /tmp/m-smol | tee "$OUT/build-smol.json"
  has smol && for g in false true; do
    log "SmolLM2 RAG prompt: plain vs n-gram speculation, CUDA graphs $g"
    sfx=$([ $g = true ] && echo -graph)
    timeout 120 $K --provider cuda --json bench generate --model /tmp/m-smol --new-tokens 256 --runs 5 --cuda-graph $g \
      > "$OUT/spec-smol$sfx.json" 2> "$OUT/spec-smol$sfx.err"
    echo "rc=$?"; tail -3 "$OUT/spec-smol$sfx.err"
  done
  has e5 && { log "e5-small embedding throughput"
  mkdir -p /tmp/k/e5tok && xz -dc .gpu/c3/e5-tokenizer.json.xz > /tmp/k/e5tok/tokenizer.json
  python3 models/tools/gpu_models.py e5 --out /tmp/m-e5 --tokenizer /tmp/k/e5tok/tokenizer.json | tee "$OUT/build-e5.json"
  timeout 90 $K --provider cuda --json bench embed --model /tmp/m-e5/fp16 --passages 5000 --runs 3 \
    --file /tmp/k/LLM2024_day4_raw.txt > "$OUT/embed.json" 2> "$OUT/embed.err"; echo "rc=$?"; tail -2 "$OUT/embed.err"
  timeout 90 $K --provider cpu --json bench embed --model /tmp/m-e5/fp32 --passages 1000 --runs 1 \
    --file /tmp/k/LLM2024_day4_raw.txt > "$OUT/embed-cpu.json" 2>> "$OUT/embed.err"; echo "rc=$?"; }
  has hf && { log "transformers generate() bf16 and copy bandwidth"
  timeout 240 python3 scripts/gpu/hf_baseline.py --tokenizer /tmp/k/tok/tokenizer.json --archs 3b,8b \
    --prompts 512,2048 --new 256 --runs 1 --out "$OUT/hf.json" 2>&1 | grep -v -i warn | tail -8; }
  has trt && { log "TensorRT without its libraries: requested, then auto"
  xz -dc .gpu/c3/libonnxruntime_providers_tensorrt.so.xz > /tmp/ort-gpu/libonnxruntime_providers_tensorrt.so
  { ls /usr/lib/x86_64-linux-gnu/libnvinfer* /usr/local/cuda/lib64/libnvinfer* 2>&1
    $K --provider tensorrt bench generate --model /tmp/m-smol --new-tokens 4 --runs 1 --variants plain 2>&1 | tail -4
    echo "rc=$?"
    $K --provider auto --json bench generate --model /tmp/m-smol --new-tokens 4 --runs 1 --variants plain 2>&1 | grep '"provider"'
  } > "$OUT/tensorrt.txt"; cat "$OUT/tensorrt.txt"; }
  ;;
4)
  # Provider checks with the final binary in one call (carry .gpu/c4: the ORT bundle, kogi, the TensorRT bridge):
  # TensorRT requested without TensorRT, auto falling back to CUDA, and the CUDA-graph path, on a tiny model.
  source .gpu/c4/ort/unpack.sh; xz -dc .gpu/c4/kogi.xz > $K && chmod +x $K
  xz -dc .gpu/c4/libonnxruntime_providers_tensorrt.so.xz > /tmp/ort-gpu/libonnxruntime_providers_tensorrt.so
  python3 scripts/gpu/tiny_chat.py /tmp/m-tiny fp16
  run() { $K --provider $1 --json bench generate --model /tmp/m-tiny --prompt-tokens 40 --new-tokens 32 --runs 2 "${@:2}"; }
  { run tensorrt --variants plain 2>&1 | tail -3; echo "rc=$?"
    run auto --variants plain,spec 2>/dev/null | grep -E '"provider"|picks_on_device|identical_output'
    run cuda --variants plain,fast,spec --cuda-graph true 2>/dev/null | grep -E '"provider"|"cuda_graph|identical_output|decode_tokens_per_s"'
  } > "$OUT/providers.txt" 2>&1; cat "$OUT/providers.txt"
  ;;
5)
  # Decode steps side by side (carry .gpu/c5 from `pack.sh steps`), per model and prompt: the model as exported with
  # the greedy head's separate run (off), the step outputs in the graph (auto), and CUDA graphs with
  # device-fed steps (auto --cuda-graph; on 8B also 10 questions in a row for GPU memory).
  # One call from a cold machine: ONNX Runtime, the tokenizer and the models come first.
  [ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ] || source .gpu/c5/ort/unpack.sh
  ort; xz -dc .gpu/c5/kogi.xz > $K && chmod +x $K
  mkdir -p /tmp/k/tok && xz -dc .gpu/c5/llama3-tokenizer.json.xz > /tmp/k/tok/tokenizer.json && cp .gpu/c5/tokenizer_config.json /tmp/k/tok/
  for a in ${ARCHS:-3b 8b}; do
    log "building the random fp16 $a model"
    [ -f /tmp/m-$a/model.onnx ] || timeout $([ $a = 8b ] && echo 380 || echo 180) python3 models/tools/gpu_models.py \
      llama --arch $a --out /tmp/m-$a --tokenizer-dir /tmp/k/tok > "$OUT/build-$a.json" || { echo "building $a failed"; exit 3; }
  done
  for a in ${ARCHS:-3b 8b}; do
    for cfg in ${CONFIGS:-off auto auto+graph}; do
      mode=${cfg%+graph}; extra=(--device-steps $mode --cuda-graph $([ "$cfg" != "$mode" ] && echo true || echo false))
      [ $a = 8b ] && [ "$cfg" = auto+graph ] && extra+=(--questions 10)
      name=gen-$a-$cfg
      log "kogi bench generate $a $cfg"
      timeout 240 $K --provider cuda --json bench generate --model /tmp/m-$a --prompt-tokens 512,2048 --new-tokens 256 \
        --runs 3 --variants plain,fast --prefill-chunk 2048 --gpu-memory "${extra[@]}" > "$OUT/$name.json" 2> "$OUT/$name.err"
      echo "rc=$?"; tail -2 "$OUT/$name.err"
      python3 - "$OUT/$name.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"no report: {e}")
import hashlib
print(" ", d["provider"], "graph", d["cuda_graph"], "step outputs", d["step_outputs"], "device-fed", d["device_fed_steps"],
      d["device_step_counts"], "load", round(d["load_s"], 1), "s", d["cuda_graph_note"] or "", d["step_outputs_note"] or "")
for r in d["results"]:
    p, f = r["plain"], r["plain_one_row_steps"]
    print(f"  {r['prompt']}: ttft {p['ttft_ms']:.1f} ms, exact {p['decode_tokens_per_s']:.1f} tok/s, one-row {f['decode_tokens_per_s']:.1f} tok/s, same {f.get('same_tokens_as_exact')}, text {hashlib.sha1(r['text'].encode()).hexdigest()[:8]}")
q = d.get("questions") or []
if q:
    print("  questions: MiB", [x["gpu_memory_mib"] for x in q], "tok/s", [round(x["decode_tokens_per_s"], 1) for x in q])
PY
    done
  done
  ;;
6a)
  [ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ] || source .gpu/f1/ort/unpack.sh
  ort; xz -dc .gpu/f1/kogi.xz > $K && chmod +x $K
  mkdir -p /tmp/k/tok && xz -dc .gpu/f1/llama3-tokenizer.json.xz > /tmp/k/tok/tokenizer.json && cp .gpu/f1/tokenizer_config.json /tmp/k/tok/
  nvidia-smi > "$OUT/nvidia-smi.txt"
  log "building the random fp16 8b model"
  [ -f /tmp/m-8b/model.onnx ] || timeout 380 python3 models/tools/gpu_models.py llama --arch 8b --out /tmp/m-8b \
    --tokenizer-dir /tmp/k/tok > "$OUT/build-8b.json" || { echo "building 8b failed"; exit 3; }
  for g in true false; do
    log "8b: verification cost K=1..8, CUDA graphs $g"
    timeout 150 $K --provider cuda --json bench generate --model /tmp/m-8b --prompt-tokens 512 --new-tokens 256 --runs 3 \
      --variants plain,fast --prefill-chunk 2048 --cuda-graph $g --verify-k 8 > "$OUT/verify-8b-graph-$g.json" 2> "$OUT/verify-8b-graph-$g.err"
    echo "rc=$?"; tail -2 "$OUT/verify-8b-graph-$g.err"
  done
  log "8b: ORT_CUDA_GEMM_OPTIONS=1 (fp16 accumulation), CUDA graphs"
  ORT_CUDA_GEMM_OPTIONS=1 timeout 120 $K --provider cuda --json bench generate --model /tmp/m-8b --prompt-tokens 512 \
    --new-tokens 256 --runs 3 --variants plain,fast --prefill-chunk 2048 > "$OUT/gen-8b-gemm16f.json" 2> "$OUT/gen-8b-gemm16f.err"
  echo "rc=$?"; tail -2 "$OUT/gen-8b-gemm16f.err"
  python3 - "$OUT" <<'PY'
import json, sys, os
for f in sorted(os.listdir(sys.argv[1])):
    if not f.endswith(".json") or f.startswith("build"): continue
    d = json.load(open(os.path.join(sys.argv[1], f)))
    for r in d["results"]:
        print(f, r["prompt"], "ttft", round(r["plain"]["ttft_ms"], 1), "exact", round(r["plain"]["decode_tokens_per_s"], 1),
              "one-row", round(r["plain_one_row_steps"]["decode_tokens_per_s"], 1), "graph", d["cuda_graph"])
    v = d.get("verify_cost")
    if v: print("  verify:", [(p["drafted_k"], round(p["ms"], 2), round(p["relative_to_one_decode_step"], 2)) for p in v["passes"]])
PY
  ;;
6b)
  ort; [ -x $K ] || { echo "no kogi: run 6a first (the machine went cold?)"; exit 3; }
  cp .gpu/f2/gguf.xz.part-aa /tmp/k/
  mkdir -p /tmp/k/e5tok && xz -dc .gpu/f2/e5-tokenizer.json.xz > /tmp/k/e5tok/tokenizer.json
  log "e5-small embedding throughput, GPU fp16 vs CPU fp32 (random weights of e5-small's shape)"
  python3 models/tools/gpu_models.py e5 --out /tmp/m-e5 --tokenizer /tmp/k/e5tok/tokenizer.json > "$OUT/build-e5.json"
  timeout 90 $K --provider cuda --json bench embed --model /tmp/m-e5/fp16 --passages 5000 --runs 3 \
    --file .gpu/f2/LLM2024_day4_raw.txt > "$OUT/embed.json" 2> "$OUT/embed.err"; echo "rc=$?"; tail -2 "$OUT/embed.err"
  timeout 120 $K --provider cpu --json bench embed --model /tmp/m-e5/fp32 --passages 1000 --runs 1 \
    --file .gpu/f2/LLM2024_day4_raw.txt > "$OUT/embed-cpu.json" 2>> "$OUT/embed.err"; echo "rc=$?"
  grep -h passages_per_s "$OUT"/embed*.json
  ;;
6c)
  ort; [ -x $K ] && [ -f /tmp/k/gguf.xz.part-aa ] || { echo "run 6a and 6b first (the machine went cold?)"; exit 3; }
  cat /tmp/k/gguf.xz.part-aa .gpu/f3/gguf.xz.part-ab | xz -dc > /tmp/k/smollm2.gguf
  [ "$(sha256sum /tmp/k/smollm2.gguf | cut -d' ' -f1)" = "$(cat .gpu/f3/gguf.sha256)" ] || { echo "GGUF damaged in transit"; exit 4; }
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/f3/gguf-*.whl && export PYTHONPATH=/tmp/site
  log "SmolLM2 fp16 from the GGUF"
  python3 models/tools/gpu_models.py smollm2 --gguf /tmp/k/smollm2.gguf --out /tmp/m-smol > "$OUT/build-smol.json"
  for g in true false; do
    log "SmolLM2 RAG prompt: plain vs n-gram speculation, CUDA graphs $g"
    timeout 120 $K --provider cuda --json bench generate --model /tmp/m-smol --new-tokens 256 --runs 5 --cuda-graph $g \
      --verify-k 8 > "$OUT/spec-smol-graph-$g.json" 2> "$OUT/spec-smol-graph-$g.err"
    echo "rc=$?"; tail -2 "$OUT/spec-smol-graph-$g.err"
    grep -o '"speedup[a-z_]*": [0-9.]*\|"identical_output": [a-z]*\|"acceptance_rate": [0-9.]*' "$OUT/spec-smol-graph-$g.json"
  done
  log "TensorRT without its libraries: requested, then auto"
  xz -dc .gpu/f3/libonnxruntime_providers_tensorrt.so.xz > /tmp/ort-gpu/libonnxruntime_providers_tensorrt.so
  { ls /usr/lib/x86_64-linux-gnu/libnvinfer* /usr/local/cuda/lib64/libnvinfer* 2>&1
    $K --provider tensorrt bench generate --model /tmp/m-smol --new-tokens 4 --runs 1 --variants plain 2>&1 | tail -4
    echo "rc=${PIPESTATUS[0]}"
    $K --provider auto --json bench generate --model /tmp/m-smol --new-tokens 4 --runs 1 --variants plain 2>&1 | grep '"provider"'
  } > "$OUT/tensorrt.txt"; cat "$OUT/tensorrt.txt"
  log "transformers generate() bf16 and copy bandwidth"
  timeout 300 python3 scripts/gpu/hf_baseline.py --tokenizer /tmp/k/tok/tokenizer.json --archs 3b,8b \
    --prompts 512,2048 --new 256 --runs 1 --out "$OUT/hf.json" 2>&1 | grep -v -i warn | tail -8
  ;;
7a)
  [ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ] || source .gpu/f1/ort/unpack.sh
  ort; xz -dc .gpu/f1/kogi.xz > $K && chmod +x $K
  mkdir -p /tmp/k/tok && xz -dc .gpu/f1/llama3-tokenizer.json.xz > /tmp/k/tok/tokenizer.json && cp .gpu/f1/tokenizer_config.json /tmp/k/tok/
  for a in ${ARCHS:-8b 3b}; do
    log "building the random fp16 $a model"
    [ -f /tmp/m-$a/model.onnx ] || timeout 380 python3 models/tools/gpu_models.py llama --arch $a --out /tmp/m-$a \
      --tokenizer-dir /tmp/k/tok > "$OUT/build-$a.json" || { echo "building $a failed"; exit 3; }
    log "$a: decode, speculation, verification cost K=1..8, CUDA graphs (the default)"
    timeout 200 $K --provider cuda --json bench generate --model /tmp/m-$a --prompt-tokens 512,2048 --new-tokens 256 --runs 3 \
      --prefill-chunk 2048 --verify-k 8 --gpu-memory > "$OUT/verify-$a.json" 2> "$OUT/verify-$a.err"
    echo "rc=$?"; grep -v WARN "$OUT/verify-$a.err" | tail -2
  done
  ;;
7b)
  ort; [ -x $K ] || { echo "no kogi: run 7a first (the machine went cold?)"; exit 3; }
  cp .gpu/f2/gguf.xz.part-aa /tmp/k/
  ;;
7c)
  ort; [ -x $K ] && [ -f /tmp/k/gguf.xz.part-aa ] || { echo "run 7a and 7b first (the machine went cold?)"; exit 3; }
  cat /tmp/k/gguf.xz.part-aa .gpu/f3/gguf.xz.part-ab | xz -dc > /tmp/k/smollm2.gguf
  [ "$(sha256sum /tmp/k/smollm2.gguf | cut -d' ' -f1)" = "$(cat .gpu/f3/gguf.sha256)" ] || { echo "GGUF damaged in transit"; exit 4; }
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/f3/gguf-*.whl && export PYTHONPATH=/tmp/site
  python3 models/tools/gpu_models.py smollm2 --gguf /tmp/k/smollm2.gguf --out /tmp/m-smol > "$OUT/build-smol.json"
  for g in true false; do
    log "SmolLM2 RAG prompt: plain vs n-gram speculation, CUDA graphs $g"
    timeout 120 $K --provider cuda --json bench generate --model /tmp/m-smol --new-tokens 256 --runs 5 --cuda-graph $g \
      --verify-k 8 > "$OUT/spec-smol-graph-$g.json" 2> "$OUT/spec-smol-graph-$g.err"
    echo "rc=$?"; grep -v WARN "$OUT/spec-smol-graph-$g.err" | tail -2
    grep -o '"speedup[a-z_]*": [0-9.]*\|"identical_output": [a-z]*\|"acceptance_rate": [0-9.]*' "$OUT/spec-smol-graph-$g.json"
  done
  ;;
esac
kill $smi 2>/dev/null
peak=$(cut -d, -f2 "$OUT/smi-$stage.csv" | sort -n | tail -1)
# The device tool brings back at most 8 files: one archive.
(cd "$OUT" && tar czf "../stage-$stage.tgz" . && rm -rf ./* && mv "../stage-$stage.tgz" .)
log "stage $stage done; peak GPU memory $peak MiB"
