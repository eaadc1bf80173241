#!/usr/bin/env bash
# Screenshots DIR/report.html in headless Chromium (offline: no network, no first-run services)
# into DIR/report.png and checks the image is there and not trivially small.
#   scripts/screenshot-report.sh DIR
set -euo pipefail
dir="${1:?usage: $0 DIR (containing report.html)}"
dir="$(cd "$dir" && pwd)"
[ -f "$dir/report.html" ] || { echo "no $dir/report.html" >&2; exit 2; }

chrome=""
for c in chromium chromium-browser; do
  if command -v "$c" >/dev/null 2>&1; then chrome="$c"; break; fi
done
if [ -z "$chrome" ]; then
  echo "installing chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  chrome=chromium
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
rm -f "$dir/report.png"
"$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --screenshot="$dir/report.png" --window-size=1280,4000 \
  "file://$dir/report.html" 2>"$profile/chromium.log" || {
    cat "$profile/chromium.log" >&2; exit 1; }

[ -f "$dir/report.png" ] || { echo "no screenshot written" >&2; cat "$profile/chromium.log" >&2; exit 1; }
size=$(stat -c %s "$dir/report.png")
if [ "$(head -c 8 "$dir/report.png" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]; then
  echo "report.png is not a PNG" >&2; exit 1
fi
# A blank 1280x4000 page compresses to a few KB; a report with plots is far larger.
if [ "$size" -lt 100000 ]; then
  echo "report.png is only $size bytes: the page looks empty" >&2; exit 1
fi
echo "$dir/report.png ($size bytes)"
