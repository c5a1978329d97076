# Sourced by the dev-question benchmarks: builds the release CLI and imports and indexes the raw real lecture into
# a scratch database removed on exit. Sets `kogi` (the binary) and `db` (the database file).
cargo build -q --release -p kogi-cli
kogi=${CARGO_TARGET_DIR:-$root/target}/release/kogi
db=$(mktemp -d)/dev.sqlite3; trap 'rm -rf "$(dirname "$db")"' EXIT
"$kogi" --db "$db" import ../shared/data/LLM2024_day4_raw.txt >&2
"$kogi" --db "$db" --threads 2 index >&2
