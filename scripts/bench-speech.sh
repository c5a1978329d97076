#!/usr/bin/env bash
# Speech recognition speed and accuracy, kogi beside faster-whisper (the reference tooling's, same
# Whisper base weights, same thread count, greedy, VAD on in both), interleaved in one run:
# real-time factor, and CER (Japanese) / WER (English) against what was spoken, for int8 and fp32.
#   scripts/bench-speech.sh [--runs N] [--file NAME] [--hour]
# NAME is a recording of scripts/setup-speech.sh (default ja-10min.wav, its truth beside it).
# --hour: also the peak memory (max RSS) of kogi transcribing one hour (ja-10min six times over).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${KOGI_CACHE:-$HOME/.cache/kogi}
speech=${KOGI_SPEECH:-$cache/speech}
py="$cache/reference/bin/python"
[ -x "$py" ] && [ -f "$speech/ja-10min.wav" ] || { echo "run scripts/setup-reference.sh and scripts/setup-speech.sh first" >&2; exit 1; }
runs=1 file=ja-10min.wav hour=0 threads=${THREADS:-2}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift ;;
    --file) file=$2; shift ;;
    --hour) hour=1 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release -q -p kogi-cli
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
lang=$(case $file in en*) echo en ;; *) echo ja ;; esac)
for r in $(seq "$runs"); do
  for p in int8 fp32; do
    target/release/kogi --json --threads "$threads" transcribe "$speech/$file" --language "$lang" --precision "$p" > "$out/kogi-$p-$r.json"
    ct=$([ "$p" = fp32 ] && echo float32 || echo int8)
    "$py" models/tools/faster_whisper_run.py "$speech/$file" --compute-type "$ct" --language "$lang" --vad --threads "$threads" 2>/dev/null > "$out/fw-$p-$r.json"
  done
done
if [ "$hour" = 1 ]; then
  ffmpeg -loglevel error -y $(for _ in 1 2 3 4 5 6; do printf -- '-i %s ' "$speech/ja-10min.wav"; done) \
    -filter_complex "concat=n=6:v=0:a=1" -c:a flac "$out/hour.flac"
  /usr/bin/time -f '%M' -o "$out/rss" target/release/kogi --json --threads "$threads" transcribe "$out/hour.flac" --language ja > "$out/hour.json" &
  sleep 1
  pid=$(pgrep -n -f "transcribe $out/hour.flac" || true)
  # Resident memory every 5 s: flat means the last samples are no higher than the early ones.
  while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do
    awk '/VmRSS/ { print $2 }' "/proc/$pid/status" >> "$out/rss-samples" 2>/dev/null || true
    sleep 5
  done
  wait
fi
"$py" - "$out" "$speech/${file%.*}.json" "$runs" "$hour" <<'PY'
import json, re, statistics, sys, unicodedata
from pathlib import Path
out, truth, runs, hour = Path(sys.argv[1]), json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4] == "1"
words = truth["text"].isascii()
def units(s):
    s = re.sub(r"[^\w]+", " ", unicodedata.normalize("NFKC", s).lower())
    return s.split() if words else list(s.replace(" ", ""))
def dist(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]
said = units(truth["text"])
res = {"file": Path(sys.argv[2]).stem, "duration_s": truth["duration"], "runs": runs, "metric": "WER" if words else "CER"}
for p in ("int8", "fp32") if runs else ():
    for eng in ("kogi", "fw"):
        d = [json.load(open(out / f"{eng}-{p}-{r}.json")) for r in range(1, runs + 1)]
        text = " ".join(s["text"] for s in d[0]["segments"])
        res[f"{eng} {p}"] = {"rtf_median": statistics.median(x["real_time_factor"] for x in d),
                             "seconds": [round(x["seconds"], 2) for x in d],
                             "error_rate": round(dist(said, units(text)) / len(said), 4),
                             "segments": len(d[0]["segments"])}
    res[f"faster-whisper / kogi speed, {p}"] = round(res[f"fw {p}"]["rtf_median"] / res[f"kogi {p}"]["rtf_median"], 3)
    a = [w["tokens"] for w in json.load(open(out / f"kogi-{p}-1.json"))["windows"]]
    b = [w["tokens"] for w in json.load(open(out / f"fw-{p}-1.json"))["windows"]]
    res[f"identical windows, {p}"] = f"{sum(x == y for x, y in zip(a, b))}/{max(len(a), len(b))}"
if hour:
    h = json.load(open(out / "hour.json"))
    samples = [int(x) / 1024 for x in open(out / "rss-samples").read().split()]
    tenth = lambda q: round(samples[min(len(samples) - 1, int(q * len(samples)))], 1)  # noqa: E731
    res["one hour"] = {"max_rss_mb": round(int(open(out / "rss").read().split()[-1]) / 1024, 1),
                       "rss_mb_at_10_50_90_percent_of_the_run": [tenth(0.1), tenth(0.5), tenth(0.9)],
                       "seconds": round(h["seconds"], 1), "real_time_factor": round(h["real_time_factor"], 4),
                       "segments": len(h["segments"])}
print(json.dumps(res, indent=2, ensure_ascii=False))
PY
