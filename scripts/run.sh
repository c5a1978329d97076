#!/usr/bin/env bash
# The main job: set everything up (first time only), build the desktop app, add it to the desktop's
# application menu (double-click "kogi"), and start it. Without a display (a headless server) it
# runs inside a virtual one (Xvfb) and says so. `KOGI_BUILD=debug` builds faster, runs slower.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
profile=${KOGI_BUILD:-release}
(cd ui && npm run --silent build)
if [ "$profile" = release ]; then cargo build --release -p kogi-desktop; else cargo build -p kogi-desktop; fi
app="$root/target/$profile/kogi-desktop"
bash scripts/desktop-entry.sh "$app"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  bash scripts/setup-e2e.sh >/dev/null
  echo "[run] no display here: kogi runs inside a virtual display (Xvfb); on a desktop, double-click kogi in the menu" >&2
  exec xvfb-run -a -s "-screen 0 1400x900x24" "$app"
fi
exec "$app"
