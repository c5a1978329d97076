#!/usr/bin/env bash
# The front ends only translate: the desktop shell (src-tauri/src) and the `kogi` command
# (crates/kogi-cli/src) hold no SQL and reach the core through its service layer and domain types,
# never through storage, retrieval, indexing, inference, chunking or generation internals.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='rusqlite|\b(SELECT|INSERT|UPDATE|DELETE|CREATE TABLE)\b|kogi_core::(store|retrieval|index|inference|chunk|generate|app)\b'
if hits=$(grep -rnE "$pattern" src-tauri/src crates/kogi-cli/src); then
  printf 'front ends must go through kogi_core::service (see README, Layout):\n%s\n' "$hits" >&2
  exit 1
fi
echo "layers: front ends use the service layer only"
