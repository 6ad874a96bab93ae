#!/usr/bin/env bash
# Memory check (DESIGN.md "Performance targets": bounded streaming, RSS under 256 MiB whatever
# the file size): stores a large random file with `open-bucket data put`, retrieves it with
# `data get`, and reports each command's peak resident set size (GNU time's "Maximum resident
# set size") and throughput, then checks the round trip byte for byte.
#
# Usage: [SIZE_MB=1024] [BUILD=build] [LIMIT_MIB=256] bench/rss.sh [BUILD_DIR]
#   The binary is $BUILD/open-bucket (BUILD_DIR argument or $BUILD, default "build").
#   Work happens in a temporary directory under ${TMPDIR:-/tmp}, removed at exit; it needs
#   about 3.5 x SIZE_MB of free space (input, 1.5x of slots for k=4 m=2, output).
# Exit status: 0 when both peaks are under LIMIT_MIB and the output equals the input; 1 otherwise;
# 2 on a usage or set-up failure.
set -euo pipefail

BUILD=${1:-${BUILD:-build}}
SIZE_MB=${SIZE_MB:-1024}
LIMIT_MIB=${LIMIT_MIB:-256}
OB="$BUILD/open-bucket"
TIME=/usr/bin/time

die() { echo "rss.sh: $*" >&2; exit 2; }
[[ -x "$OB" ]] || die "$OB not found; build it first (ninja -C $BUILD open-bucket)"
[[ -x "$TIME" ]] || die "$TIME (GNU time) not found; apt-get install time"
[[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, got '$SIZE_MB'"

work=$(mktemp -d "${TMPDIR:-/tmp}/ob-rss.XXXXXX")
trap 'rm -rf "$work"' EXIT
home="$work/home"
in="$work/input.bin"
out="$work/output.bin"

echo "creating ${SIZE_MB} MiB of random data in $work ..." >&2
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$in"
"$OB" --home "$home" init >/dev/null || die "open-bucket init failed"

now_ns() { date +%s%N; }

# run NAME CMD... : runs CMD under GNU time; sets PEAK_KIB and SECONDS_F; stdout goes to $work/NAME.out
run() {
  local name=$1; shift
  local t0 t1
  t0=$(now_ns)
  if ! "$TIME" -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    echo "rss.sh: $name failed:" >&2
    cat "$work/$name.err" "$work/$name.time" >&2 || true
    exit 1
  fi
  t1=$(now_ns)
  PEAK_KIB=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes):[[:space:]]*//p' "$work/$name.time")
  [[ -n "$PEAK_KIB" ]] || die "no 'Maximum resident set size' in $work/$name.time"
  SECONDS_F=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}

run put "$OB" --home "$home" data put "$in"
put_kib=$PEAK_KIB put_s=$SECONDS_F
cid=$(tail -n 1 "$work/put.out")
[[ -n "$cid" ]] || die "data put printed no CID"

run get "$OB" --home "$home" data get "$cid" "$out"
get_kib=$PEAK_KIB get_s=$SECONDS_F

same=yes
cmp -s "$in" "$out" || same=no
stored_mib=$(du -sm "$home" | cut -f1)

awk -v size_mb="$SIZE_MB" -v limit="$LIMIT_MIB" -v same="$same" -v stored="$stored_mib" \
    -v pk="$put_kib" -v ps="$put_s" -v gk="$get_kib" -v gs="$get_s" -v cid="$cid" '
  function row(op, kib, s,    mib) {
    mib = kib / 1024
    printf "%-5s %14.1f %10.2f %12.1f %12.1f   %s\n", op, mib, s, size_mb / s, size_mb * 1.048576 / s,
           (mib < limit ? "ok" : "OVER")
  }
  BEGIN {
    printf "file: %d MiB of random data, CID %s; node home after put: %d MiB\n", size_mb, cid, stored
    printf "%-5s %14s %10s %12s %12s   %s\n", "op", "peak RSS MiB", "seconds", "MiB/s", "MB/s", "RSS < " limit " MiB"
    row("put", pk, ps)
    row("get", gk, gs)
    printf "round trip: output %s the input\n", (same == "yes" ? "equals" : "DIFFERS FROM")
  }'

if [[ "$same" != yes ]] || (( put_kib >= LIMIT_MIB * 1024 || get_kib >= LIMIT_MIB * 1024 )); then
  echo "rss.sh: FAIL" >&2
  exit 1
fi
echo "rss.sh: PASS" >&2
