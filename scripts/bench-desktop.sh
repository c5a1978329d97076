#!/usr/bin/env bash
# Launch-to-usable time of the desktop app: start it RUNS times (default 7) in a virtual display with
# an empty data folder; the window reports when its first screen is drawn and exits. Prints each run
# and the median, as JSON lines.   scripts/bench-desktop.sh [path/to/kogi-desktop] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app=$(realpath "${1:-$root/target/release/kogi-desktop}")
runs=${2:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KOGI_EXIT_WHEN_READY=1 KOGI_HOME="$tmp/home" KOGI_LOG=warn
export KOGI_MODELS=${KOGI_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/kogi/models}
xvfb-run -a -s "-screen 0 1400x900x24" bash -c '
  ms=()
  for i in $(seq "$2"); do
    t0=$(( $(date +%s%N) / 1000000 ))
    out=$("$1")
    in_main=$(sed -n "s/^KOGI_READY_MS=//p" <<<"$out")
    ready=$(( $(sed -n "s/^KOGI_READY_EPOCH_MS=//p" <<<"$out") - t0 ))
    echo "{\"bench\":\"desktop-launch\",\"run\":$i,\"launch_to_usable_ms\":$ready,\"from_main_ms\":$in_main}"
    ms+=("$ready")
  done
  printf "%s\n" "${ms[@]}" | sort -n | awk "{a[NR]=\$1} END {printf \"{\\\"bench\\\":\\\"desktop-launch\\\",\\\"runs\\\":%d,\\\"median_launch_to_usable_ms\\\":%s}\n\", NR, (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}"
' _ "$app" "$runs"
