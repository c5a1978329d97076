#!/usr/bin/env bash
# What kogi adds to a server's answers, against llama.cpp's server (the reference tooling's
# llama-cpp-python, scripts/setup-reference.sh) serving the SmolLM2 GGUF on a free local port:
# `kogi bench server` sends the same chat straight to it and through kogi, interleaved, then asks
# questions at once against one at a time. Extra arguments go to `kogi bench server`.
# The server takes --parallel-free requests one after another (llama-cpp-python has no batching).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache=${KOGI_CACHE:-$HOME/.cache/kogi}
py="$cache/reference/bin/python"
gguf="$cache/gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -x "$py" ] && [ -f "$gguf" ] || { echo "run scripts/setup-reference.sh first" >&2; exit 1; }
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/config.json" <<JSON
{"host": "127.0.0.1", "port": $port, "interrupt_requests": false,
 "models": [{"model": "$gguf", "model_alias": "smollm2", "n_ctx": 4096, "n_threads": ${THREADS:-2}, "verbose": false}]}
JSON
"$py" -m llama_cpp.server --config_file "$dir/config.json" > "$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/v1/models" > /dev/null && break; sleep 0.2; done
# KOGI_PROFILE=debug uses the debug build (a quick check; figures come from release).
profile=${KOGI_PROFILE:-release}
if [ "$profile" = release ]; then cargo build --release -q -p kogi-cli; else cargo build -q -p kogi-cli; fi
"target/$profile/kogi" --server "http://127.0.0.1:$port/v1" --server-model smollm2 bench server "$@"
