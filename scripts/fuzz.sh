#!/usr/bin/env bash
# Fuzzes the profile parser and the proxy's toxic bodies for a bounded time each (default 60 s):
#   bash scripts/fuzz.sh [SECONDS]
# Installs cargo-fuzz on first use. The toolchain here is stable, so the nightly-only flags cargo
# fuzz needs are enabled with RUSTC_BOOTSTRAP (no other toolchain is fetched). A crash leaves its
# input under fuzz/artifacts/<target>/; turn each into a test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/profile fuzz/corpus/toxic_json
cp -n profiles/*.yaml experiments/*.yaml fuzz/corpus/profile/ 2>/dev/null || true
printf '%s' '{"name":"lat","type":"latency","stream":"upstream","attributes":{"latency":7.5,"jitter":1}}' \
  > fuzz/corpus/toxic_json/latency.json
for target in profile toxic_json; do
  echo "fuzzing $target for ${secs}s" >&2
  cargo fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=5
done
