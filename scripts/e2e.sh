#!/usr/bin/env bash
# The desktop app end to end: build it (debug), then drive it through its real webview under Xvfb.
# Screenshots and timings land in ui/e2e-out/. Extra arguments go to ui/e2e/run.mjs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
[ -f ui/dist/index.html ] || (cd ui && npm run --silent build)
cargo build -p kogi-desktop --quiet
# No sound card here: a clocked fake audio sink plays recordings in real time (GStreamer's own fallback can stall).
export GST_PLUGIN_FEATURE_RANK="fakeaudiosink:MAX${GST_PLUGIN_FEATURE_RANK:+,$GST_PLUGIN_FEATURE_RANK}"
t0=$(date +%s)
status=0
xvfb-run -a -s "-screen 0 1400x900x24" node ui/e2e/run.mjs --app "$root/target/debug/kogi-desktop" --out "$root/ui/e2e-out" "$@" || status=$?
echo "e2e: finished in $(( $(date +%s) - t0 )) s (exit $status)"
exit "$status"
