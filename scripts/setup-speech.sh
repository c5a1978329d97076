#!/usr/bin/env bash
# Speech audio for the speech-recognition tests and benchmarks, synthesised here and never committed:
# Japanese lecture sentences read by Open JTalk (pyopenjtalk-plus ships its dictionary and voice, so
# nothing is fetched at run time), English by espeak-ng, the other containers and codecs and the bad
# inputs by ffmpeg. Output in ~/.cache/kogi/speech (or $KOGI_SPEECH), with a JSON truth beside each
# recording; see tests/speech/synthesize.py. Idempotent: regenerated only when this script, the
# synthesiser, the lecture text or ffmpeg changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\033[1m[setup-speech]\033[0m %s\n' "$*" >&2; }
cache=${KOGI_CACHE:-$HOME/.cache/kogi}
out=${KOGI_SPEECH:-$cache/speech}
venv="$cache/speech-venv"
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing system packages: ${need[*]}"
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# pyopenjtalk-plus's dependencies pinned too: SudachiPy and its dictionary choose the readings of kanji.
want="pyopenjtalk-plus==0.4.1.post10 numpy==2.4.6 SudachiPy==0.7.0 sudachidict-core==20261015 pydantic==2.14.4 \
pydantic-core==2.50.5 annotated-types==0.8.0 typing-extensions==4.16.0 typing-inspection==0.4.5"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.kogi-pins" 2>/dev/null)" != "$want" ]; then
  say "making $venv ($want)"
  rm -rf "$venv.part"
  python3 -m venv "$venv.part"
  # Wheels only: building pyopenjtalk from source needs CMake and a C++ compiler, and takes minutes.
  # shellcheck disable=SC2086
  "$venv.part/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: $want
  echo "$want" > "$venv.part/.kogi-pins"
  rm -rf "$venv" && mv "$venv.part" "$venv"
fi
synth="$root/tests/speech/synthesize.py"
stamp=$( { echo "$want"; ffmpeg -version | head -1; espeak-ng --version; cat "$0" "$synth"
           cat "$root/../shared/data/LLM2024_day4.txt" "$root/examples/sample-lecture.srt" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.kogi-stamp" 2>/dev/null)" != "$stamp" ]; then
  say "synthesising speech audio into $out (about a minute on 2 cores)"
  rm -rf "$out.part"
  mkdir -p "$out.part"
  "$venv/bin/python" "$synth" "$out.part"
  echo "$stamp" > "$out.part/.kogi-stamp"
  rm -rf "$out" && mv "$out.part" "$out"
fi
say "speech audio ready in $out"
