#!/usr/bin/env bash
# What the desktop app's end-to-end tests need beyond scripts/setup.sh: a virtual display (Xvfb),
# WebKitGTK's WebDriver, and tauri-driver in front of it. Idempotent.
set -euo pipefail
say() { printf '\033[1m[setup-e2e]\033[0m %s\n' "$*" >&2; }
need=()
command -v xvfb-run >/dev/null || need+=(xvfb xauth)
command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing system packages: ${need[*]}"
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  say "installing tauri-driver 2.1.0 (crates.io)"
  cargo install tauri-driver --version 2.1.0 --locked --quiet
fi
