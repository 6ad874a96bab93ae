#!/usr/bin/env bash
# `open-bucket demo --free` (the Free tier, without a chain; market_demo_test.sh runs the market
# demo): this runs it on two real files (one not a multiple of the block size) and checks the
# JSON summary says every file was verified after m consumers were lost and that availability
# came back to what it was before the loss.
# Usage: demo_test.sh PATH/TO/open-bucket
set -euo pipefail
BIN=${1:?usage: demo_test.sh PATH/TO/open-bucket}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
head -c 5000001 /dev/urandom >"$WORK/a.bin"
cp "$BIN" "$WORK/b.bin"
"$BIN" demo --free --json --timeout 240 "$WORK/a.bin" "$WORK/b.bin" >"$WORK/summary.json"
jq -e '.ok == true and (.files | length) == 2 and
       all(.files[]; .verified == true and .availabilityAfterRepair == .availabilityBefore
                     and .availabilityAfterLoss < .availabilityBefore)' "$WORK/summary.json" >/dev/null || {
  echo "FAIL: the demo's summary does not show every file verified and repaired:" >&2
  cat "$WORK/summary.json" >&2
  exit 1
}
echo "demo: ok"
