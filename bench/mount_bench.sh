#!/usr/bin/env bash
# 4 KiB reads at random offsets of a large file through `open-bucket mount` (issue 13): a
# tracker, 6 consumers and a producer on loopback (k=4, m=2, 64 KiB blocks); a file of random
# bytes is copied into the mount and uploaded, the producer's own encoded copy is dropped (so
# every read comes from the consumers), then READS reads of 4 KiB at random offsets, each a
# fresh `dd` (the mount keeps no page cache between opens). Prints the median and the spread of
# the time per read and of the bytes of blocks the producer's daemon fetched per read: it must
# be about one stripe (k × 64 KiB = 256 KiB; two when the read's 256 KiB window straddles a
# stripe boundary), whatever the file size. Every read is also checked against the original.
# Usage: bench/mount_bench.sh BUILD_DIR
#   MOUNT_BENCH_MB (1024)   size of the file
#   MOUNT_BENCH_READS (41)  reads measured
set -uo pipefail
BIN=${1:?usage: mount_bench.sh BUILD_DIR}/open-bucket
. "$(dirname "$0")/../tests/lib.sh"
MB=${MOUNT_BENCH_MB:-1024}
READS=${MOUNT_BENCH_READS:-41}
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "mount_bench needs /dev/fuse and fusermount3 (apt-get install fuse3)" >&2
  exit 1
fi
e2e_setup
MNT="$WORK/mnt"
trap 'grep -q " $MNT fuse" /proc/mounts && "$BIN" unmount "$MNT"; e2e_cleanup' EXIT
start_producer_network 6
mkdir -p "$MNT"
"$BIN" --home "$WORK/producer" mount "$MNT" || exit 1

echo "mount_bench: writing a ${MB} MB file into the mount and waiting for UPLOADED..." >&2
head -c "$((MB * 1000000))" /dev/urandom >"$WORK/big.bin"
SIZE=$(stat -c %s "$WORK/big.bin")
cp "$WORK/big.bin" "$MNT/big.bin" || { echo "cp into the mount failed" >&2; exit 1; }
ID=$(files_json | jq -r '.[] | select(.path == "big.bin") | .id')
uploaded() { files_json | jq -e --arg id "$ID" '.[] | select(.id == $id and .status == "UPLOADED")' >/dev/null; }
wait_for $((120 + MB)) uploaded || { echo "the file did not reach UPLOADED: $(files_json)" >&2; exit 1; }
wait_for 60 [ ! -e "$WORK/producer/slots/$ID" ] || { echo "the producer kept its encoded copy" >&2; exit 1; }

: >"$WORK/times"
: >"$WORK/bytes"
bad_reads=0
for i in $(seq 1 "$READS"); do
  skip=$(((RANDOM * 32768 + RANDOM) % (SIZE / 4096)))
  before=$(fetched producer)
  t0=$(date +%s%N)
  dd if="$MNT/big.bin" of="$WORK/read" bs=4096 skip="$skip" count=1 2>/dev/null
  t1=$(date +%s%N)
  after=$(fetched producer)
  cmp -s "$WORK/read" <(dd if="$WORK/big.bin" bs=4096 skip="$skip" count=1 2>/dev/null) || bad_reads=$((bad_reads + 1))
  echo $(((t1 - t0) / 1000)) >>"$WORK/times"
  echo $((after - before)) >>"$WORK/bytes"
done
# median FILE: the middle value (the lower of the two middle ones); min and max beside it.
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "median %d (min %d, max %d)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
echo "mount_bench: ${MB} MB file, $READS reads of 4 KiB at random offsets through the mount"
echo "  time per read, microseconds:          $(stats "$WORK/times")"
echo "  bytes of blocks fetched per read:     $(stats "$WORK/bytes")   (one stripe = 262144)"
echo "  reads that differ from the original: $bad_reads"
[ "$bad_reads" -eq 0 ]
