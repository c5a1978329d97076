#!/usr/bin/env bash
# int4 next to fp16 on the GPU (issue 17): a random Llama-3-8B-architecture GGUF laid out as llama.cpp's Q4_0 files
# (models/tools/random_llama_gguf.py) converted by kogi for both GPU targets, then `kogi bench generate` on each:
# decode, time to first token at 2,048 prompt tokens, GPU memory. Three calls back to back (the machine keeps /tmp
# while warm), from `pack.sh int4`:
#   bash scripts/gpu/int4.sh a   (carry .gpu/i1) ONNX Runtime and the tokenizer unpacked, the GGUF written
#   bash scripts/gpu/int4.sh b   (carry .gpu/i2) kogi unpacked; the GGUF converted to cuda-int4 and benched
#   bash scripts/gpu/int4.sh c   the same GGUF converted to cuda (fp16) and benched
#   bash scripts/gpu/int4.sh f   (carry .gpu/i2 with kogi-before.xz beside kogi.xz) fp16 by the previous build and
#                                by this one, side by side: converted by each, then benched in turn;
#   bash scripts/gpu/int4.sh g   the same two benched again in turn (a second round)
#   bash scripts/gpu/int4.sh h|i (carry .gpu/i2 with kogi-before.xz) one folder converted by this build, fp16 (h) or
#                                int4 (i), benched by the previous build and by this one in turn, twice (runtime changes)
#   bash scripts/gpu/int4.sh j   (carry .gpu/i2) the int4 folder benched with ONNX Runtime's CUTLASS weight-only
#                                kernels (ORT_FPA_INTB_GEMM=1) and without, in turn (call it again for another round)
# JSON and logs land in $OUT; nvidia-smi samples GPU memory every 200 ms for the whole call.
set -uo pipefail
stage=${1:?a, b, c, f, g, h, i or j}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/k
log() { echo "[$(date +%T)] $*"; }
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader,nounits -lms 200 > "$OUT/smi-int4-$stage.csv" &
smi=$!
trap 'kill $smi 2>/dev/null' EXIT
[ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ] || { [ -d .gpu/i1 ] && source .gpu/i1/ort/unpack.sh; }
export ORT_DYLIB_PATH=/tmp/ort-gpu/libonnxruntime.so.1.31.1 LD_LIBRARY_PATH=/tmp/ort-gpu:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
K=/tmp/k/kogi
[ -x $K ] || { [ -f .gpu/i2/kogi.xz ] && xz -dc .gpu/i2/kogi.xz > $K && chmod +x $K; }
export KOGI_HOME=/tmp/k/home KOGI_MODELS=/tmp/k/models
gguf=/tmp/k/r8b-q4_0.gguf
bench() {  # $1 model name
  log "kogi bench generate $1"
  timeout 300 $K --provider cuda --json bench generate --model "$KOGI_MODELS/$1" --prompt-tokens 512,2048 --new-tokens 256 \
    --runs 3 --variants ${VARIANTS:-plain,fast} --prefill-chunk 2048 --gpu-memory --questions 5 > "$OUT/gen-$1.json" 2> "$OUT/gen-$1.err"
  echo "rc=$?"; tail -3 "$OUT/gen-$1.err"
  python3 - "$OUT/gen-$1.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"no report: {e}")
print(" ", d["provider"], "graph", d["cuda_graph"], "device-fed", d["device_fed_steps"], "load", round(d["load_s"], 1), "s",
      "GPU MiB after load", d["gpu_memory_mib"]["after_load"], "after each generation", d["gpu_memory_mib"]["after_each_generation"])
for r in d["results"]:
    p, f = r["plain"], r["plain_one_row_steps"]
    print(f"  {r['prompt']}: ttft {p['ttft_ms']:.1f} ms, exact {p['decode_tokens_per_s']:.1f} tok/s, one-row {f['decode_tokens_per_s']:.1f} tok/s")
    if r.get("speculative"):
        s = r["speculative"]
        print(f"    speculative {s['decode_tokens_per_s']:.1f} tok/s, {s['tokens_per_forward_pass']:.2f} tokens a pass (output identical to plain: checked)")
print("  rows independent of the pass:", d.get("rows_independent"))
q = d.get("questions") or []
if q:
    print("  questions: MiB", [x["gpu_memory_mib"] for x in q], "tok/s", [round(x["decode_tokens_per_s"], 1) for x in q])
PY
}
add() {  # $1 name, $2 target
  log "kogi models add ($2)"
  /usr/bin/time -v $K --provider cuda models add $gguf --name "$1" --target "$2" > "$OUT/add-$1.txt" 2> "$OUT/add-$1.time"
  echo "rc=$?"; tail -2 "$OUT/add-$1.txt"; grep -E "Elapsed|Maximum resident" "$OUT/add-$1.time"
  du -sb "$KOGI_MODELS/$1" | tee -a "$OUT/add-$1.txt"
}
case $stage in
a)
  nvidia-smi > "$OUT/nvidia-smi.txt"
  mkdir -p /tmp/k/tok && xz -dc .gpu/i1/llama3-tokenizer.json.xz > /tmp/k/tok/tokenizer.json && cp .gpu/i1/tokenizer_config.json /tmp/k/tok/
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/i1/gguf-*.whl && export PYTHONPATH=/tmp/site
  log "writing the random 8B Q4_0 GGUF"
  [ -f $gguf ] || python3 models/tools/random_llama_gguf.py --tokenizer-dir /tmp/k/tok --out $gguf | tee "$OUT/gguf.json" || exit 3
  ls -la $gguf; df -h /tmp | tail -1
  ;;
b|c|f|g|h|i|j)
  [ -f $gguf ] && [ -x $K ] && [ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ] || { echo "run the stages in order on a warm machine"; exit 3; }
  if [ $stage = j ]; then
    m=r8b-int4
    [ -f "$KOGI_MODELS/$m/manifest.json" ] || add $m cuda-int4
    round=$(date +%H%M%S)
    VARIANTS=plain,fast,spec ORT_FPA_INTB_GEMM=0 bench $m; mv "$OUT/gen-$m.json" "$OUT/gen-$m-ort-$round.json"
    VARIANTS=plain,fast,spec ORT_FPA_INTB_GEMM=1 bench $m; mv "$OUT/gen-$m.json" "$OUT/gen-$m-fpaintb-$round.json"
  elif [ $stage = h ] || [ $stage = i ]; then
    KB=/tmp/k/kogi-before
    [ -x $KB ] || { xz -dc .gpu/i2/kogi-before.xz > $KB && chmod +x $KB; }
    if [ $stage = h ]; then m=r8b-fp16; t=cuda; else m=r8b-int4; t=cuda-int4; fi
    [ -f "$KOGI_MODELS/$m/manifest.json" ] || add $m $t
    for round in 1 2; do
      K=$KB bench $m; mv "$OUT/gen-$m.json" "$OUT/gen-$m-before-$round.json"
      bench $m; mv "$OUT/gen-$m.json" "$OUT/gen-$m-after-$round.json"
    done
  elif [ $stage = f ] || [ $stage = g ]; then
    KB=/tmp/k/kogi-before
    [ -x $KB ] || { xz -dc .gpu/i2/kogi-before.xz > $KB && chmod +x $KB; }
    if [ $stage = f ]; then
      rm -rf "$KOGI_MODELS/r8b-int4"
      K=$KB add r8b-fp16-before cuda
      add r8b-fp16 cuda
    fi
    K=$KB bench r8b-fp16-before; mv "$OUT/gen-r8b-fp16-before.json" "$OUT/gen-r8b-fp16-before-$stage.json"
    bench r8b-fp16; mv "$OUT/gen-r8b-fp16.json" "$OUT/gen-r8b-fp16-$stage.json"
  elif [ $stage = b ]; then
    add r8b-int4 cuda-int4; bench r8b-int4
  else
    rm -rf "$KOGI_MODELS/r8b-int4"  # room on the disk
    add r8b-fp16 cuda; bench r8b-fp16
  fi
  ;;
esac
