#!/usr/bin/env bash
# Build a .deb of the desktop app: the release binary, ONNX Runtime beside it (/usr/lib/kogi, where
# kogi looks), the menu entry and icons. Models are not packaged: the app's first run says how to
# get them. (The Tauri CLI's bundler wants its config beside a [package] Cargo.toml; kogi keeps
# tauri.conf.json at the repository root, so the package is put together here with dpkg-deb.)
#   scripts/package-deb.sh [OUT_DIR]   → OUT_DIR/kogi_<version>_amd64.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(realpath -m "${1:-target/debian}")
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
ort=.kogi/ort/libonnxruntime.so.1.31.1
[ -f "$ort" ] || { echo "run scripts/setup.sh first (it fetches ONNX Runtime)" >&2; exit 1; }
(cd ui && npm run --silent build)
cargo build --release -p kogi-desktop
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
install -Dm755 target/release/kogi-desktop "$pkg/usr/bin/kogi-desktop"
install -Dm644 "$ort" "$pkg/usr/lib/kogi/$(basename "$ort")"
# The Japanese dictionary (IPADIC, compiled by kogi from the sources set-up unpacked) beside the
# runtime, where kogi looks when the user's models folder has none; with IPADIC's copyright notice.
ipadic=.kogi/build/ipadic/usr/share/mecab/dic/ipadic
[ -f "$ipadic/matrix.def" ] || ipadic=/usr/share/mecab/dic/ipadic
[ -f "$ipadic/matrix.def" ] || { echo "run scripts/setup.sh first (it unpacks IPADIC)" >&2; exit 1; }
# With the loanword table from UniDic (set-up keeps PyPI's unidic-lite archive), and UniDic's BSD notice.
unidic_archive=$(ls .kogi/build/unidic/unidic-lite-*.tar.gz 2>/dev/null | head -1)
if [ -z "$unidic_archive" ]; then
  python3 -m pip download -q --no-deps --no-binary :all: unidic-lite==1.0.8 -d .kogi/build/unidic >&2
  unidic_archive=$(ls .kogi/build/unidic/unidic-lite-*.tar.gz)
fi
unidic_tmp=$(mktemp -d)
trap 'rm -rf "$pkg" "$unidic_tmp"' EXIT
tar -xzf "$unidic_archive" -C "$unidic_tmp" --wildcards '*/dicdir/sys.dic' '*/dicdir/BSD'
unidic=$(ls -d "$unidic_tmp"/*/unidic_lite/dicdir)
cargo build -q -p kogi-cli --bin kogi
KOGI_MODELS="$pkg/usr/lib/kogi" target/debug/kogi --quiet models dictionary "$ipadic" --loanwords "$unidic" >/dev/null
install -Dm644 "$unidic/BSD" "$pkg/usr/share/doc/kogi/copyright.unidic"
copyright=$(dirname "$(dirname "$(dirname "$(dirname "$ipadic")")")")/share/doc/mecab-ipadic/copyright
[ -f "$copyright" ] && install -Dm644 "$copyright" "$pkg/usr/share/doc/kogi/copyright.ipadic"
install -Dm644 src-tauri/kogi.desktop "$pkg/usr/share/applications/kogi.desktop"
for size in 32x32 128x128; do install -Dm644 "src-tauri/icons/$size.png" "$pkg/usr/share/icons/hicolor/$size/apps/kogi.png"; done
install -Dm644 src-tauri/icons/icon.png "$pkg/usr/share/icons/hicolor/512x512/apps/kogi.png"
size=$(du -sk "$pkg/usr" | cut -f1)
mkdir -p "$pkg/DEBIAN"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: kogi
Version: $version
Architecture: amd64
Maintainer: kogi developers <kogi@localhost>
Installed-Size: $size
Depends: libwebkit2gtk-4.1-0, libgtk-3-0, gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, gstreamer1.0-libav
Recommends: gstreamer1.0-plugins-bad
Section: education
Priority: optional
Description: Question your lecture transcripts, offline
 kogi turns speech-recognition transcripts of lectures into something a student
 can question: correct the recognition errors, then ask a local language model
 that answers from the lecture, with citations that open the passage.
CONTROL
mkdir -p "$out"
deb="$out/kogi_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
echo "$deb"
