#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need on a fresh machine, then
# runs every test. Everything the tests start binds to 127.0.0.1 and is ended by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

# toxiproxy_rust (a dev-dependency used for compatibility tests) links OpenSSL through reqwest 0.11.
need_pkgs=()
dpkg -s libssl-dev >/dev/null 2>&1 || need_pkgs+=(libssl-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
# The etcd tests (tests/etcd.rs) start real etcd members (3.4 or newer); they fail, not skip,
# without one. On a machine with systemd the Debian package also enables its own etcd service on
# 127.0.0.1:2379/2380: electune never uses those ports (its members get ports the way the harness
# picks node ports, below the ephemeral range) and never talks to that service.
if [ -z "${ELECTUNE_ETCD_BIN:-}" ] && ! command -v etcd >/dev/null 2>&1 && [ ! -x /usr/bin/etcd ]; then
  need_pkgs+=(etcd-server)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing ${need_pkgs[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --no-fail-fast --lib --bins --tests --examples -- --test-threads=2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
