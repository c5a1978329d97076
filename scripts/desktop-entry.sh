#!/usr/bin/env bash
# Put kogi into the user's application menu: a .desktop entry (freedesktop.org) and its icons.
#   scripts/desktop-entry.sh /path/to/kogi-desktop
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app=$(realpath "$1")
data=${XDG_DATA_HOME:-$HOME/.local/share}
for size in 32x32 128x128; do
  install -Dm644 "$root/src-tauri/icons/$size.png" "$data/icons/hicolor/$size/apps/kogi.png"
done
install -Dm644 "$root/src-tauri/icons/icon.png" "$data/icons/hicolor/512x512/apps/kogi.png"
mkdir -p "$data/applications"
sed "s#^Exec=.*#Exec=$app#" "$root/src-tauri/kogi.desktop" > "$data/applications/kogi.desktop"
command -v desktop-file-validate >/dev/null && desktop-file-validate "$data/applications/kogi.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
echo "[run] kogi is in the application menu: $data/applications/kogi.desktop" >&2
