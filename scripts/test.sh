#!/usr/bin/env bash
# Every test: set everything up (first time only), then the whole workspace's tests — unit, property,
# end-to-end through the real CLI binary, the real-data evaluations when ../shared/data exists — the
# front end's unit tests, and the desktop app end to end through its real webview (under Xvfb).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/setup-e2e.sh
bash scripts/setup-reference.sh
bash scripts/setup-speech.sh
.kogi/venv/bin/python models/tools/llama_onnx.py selftest > /dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
bash scripts/check-layers.sh || status=$?
(cd ui && npm run --silent build) || status=$?
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?
# The tests above rewrite ui/src/bindings from the Rust types: any difference from the committed
# files means the front end's types drifted from what the shell sends.
if [ -n "$(git status --porcelain -- ui/src/bindings)" ]; then
  git status --short -- ui/src/bindings >&2
  echo "the TypeScript bindings are out of date: run \`cargo test -p kogi-core bindings\` and \`cargo test -p kogi-desktop bindings\`, then commit ui/src/bindings" >&2
  status=1
fi
(cd ui && npx vitest run --reporter=default) 2>&1 | tee -a "$log" || status=$?
bash scripts/e2e.sh 2>&1 | tee -a "$log" || status=$?
# One closing line over every test binary, the front end's tests and the end-to-end steps (colour codes
# stripped first: vitest colours its summary when CI is set).
sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     /^ +Tests +[0-9]+/ { for (i = 1; i <= NF; i++) { if ($(i) == "passed") p += $(i-1); if ($(i) == "failed") f += $(i-1) } }
     /^e2e: [0-9]+ of [0-9]+ steps passed/ { p += $2; f += $4 - $2 }
     END { printf "%d passed, %d failed\n", p, f }'
exit "$status"
