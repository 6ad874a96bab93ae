#!/usr/bin/env bash
# The main job on real input, on one node: builds open-bucket, stores a real file (FILE, or the
# open-bucket binary itself) with k=4, m=2, deletes one slot and corrupts another, shows that
# verify names them, gets the file back byte-identical, and cleans up.
# Usage: scripts/demo.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja >/dev/null
ninja -C build -j "$(nproc)" open-bucket >/dev/null
BIN=$PWD/build/open-bucket
FILE=${1:-$BIN}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OPEN_BUCKET_HOME=$WORK/home

run() { echo "\$ open-bucket $*"; "$BIN" "$@"; }
run init
echo "\$ open-bucket data put --k 4 --m 2 $FILE"
CID=$("$BIN" data put --k 4 --m 2 "$FILE")
echo "$CID"
run data ls
run data damage "$CID" --slot 1
run data damage "$CID" --slot 4 --corrupt
run data verify "$CID" || true   # exit 3: damaged but recoverable
run data get "$CID" "$WORK/restored"
cmp "$FILE" "$WORK/restored"
echo "OK: $(stat -c %s "$FILE") bytes of $(basename "$FILE") came back byte-identical with 2 of 6 slots lost"
