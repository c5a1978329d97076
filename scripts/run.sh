#!/usr/bin/env bash
# The main job: set everything up (first time only), build kogi, and run the demo — import a lecture
# transcript, index it, and answer a search. Arguments go to `kogi demo` (e.g. a transcript file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cargo build --release -p kogi-cli
exec ./target/release/kogi demo "$@"
